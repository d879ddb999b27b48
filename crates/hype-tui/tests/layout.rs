//! The screen as drawn on ratatui's TestBackend, at the smallest supported
//! size (80x24) and a larger one: what a person would look for on it.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent};
use hype_tui::app::{App, Conn, Msg};
use hype_tui::jobs::Job;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use ratatui::Terminal;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

fn now() -> OffsetDateTime {
    OffsetDateTime::parse("2026-11-22T01:10:05Z", &Rfc3339).unwrap()
}

fn vm(name: &str, state: &str, ip: Option<&str>) -> hype_types::Vm {
    serde_json::from_value(serde_json::json!({
        "name": name, "id": format!("id-{name}"), "state": state,
        "cpu_cores": 2, "memory_mb": 1536, "image": "base", "kernel_cmdline": "",
        "ip": ip, "mac": null, "network": {"egress": true, "tap": null},
        "vmm": {"kind": "qemu", "version": "7.2.22", "pid": 42, "accel": "tcg"},
        "cdp_url": null, "ttl_seconds": null, "idle_timeout_seconds": null, "persist": false, "record": false,
        "created_at": "2026-11-22T01:00:00Z", "updated_at": "2026-11-22T01:00:05Z"
    }))
    .unwrap()
}

fn event(id: i64, t: &str, vm: &str, state: &str, at: &str) -> hype_types::Event {
    serde_json::from_value(serde_json::json!({
        "id": id, "type": t, "vm": vm, "state": state, "at": at, "detail": null
    }))
    .unwrap()
}

/// A job in the wire shape agreed for `/api/v1/jobs` and `JOB_*` events.
fn job(id: &str, image: &str, state: &str, done: u64, total: u64) -> Job {
    let ev = serde_json::json!({
        "id": 7, "type": "JOB_PROGRESS", "at": "2026-11-22T01:10:04Z",
        "job": {
            "id": id, "kind": "vsphere_export", "state": state, "image": image,
            "source": {"url": "https://vc.example/sdk", "username": "admin",
                       "vm": "/dc/vm/web01", "insecure": false},
            "progress": {"phase": "downloading", "bytes_done": done, "bytes_total": total,
                         "files_done": 1, "files_total": 2,
                         "percent": done as f64 * 100.0 / total as f64, "eta_seconds": 90},
            "error": null, "created_at": "2026-11-22T01:09:00Z",
            "updated_at": "2026-11-22T01:10:04Z", "started_at": "2026-11-22T01:09:01Z",
            "finished_at": null
        }
    });
    serde_json::from_value::<hype_tui::jobs::JobEvent>(ev)
        .unwrap()
        .job
}

fn app(color: bool) -> App {
    let mut app = App::new("http://127.0.0.1:7777", color, now());
    app.update(Msg::Connected);
    app.update(Msg::Vms(vec![
        vm("web-01", "running", Some("192.168.127.2")),
        vm("web-02", "paused", Some("192.168.127.3")),
        vm("db", "stopped", None),
    ]));
    for (i, (t, v, s)) in [
        ("VM_CREATED", "web-01", "creating"),
        ("VM_STARTING", "web-01", "starting"),
        ("VM_RUNNING", "web-01", "running"),
        ("VM_PAUSED", "web-02", "paused"),
    ]
    .into_iter()
    .enumerate()
    {
        app.update(Msg::Event(event(
            i as i64 + 1,
            t,
            v,
            s,
            &format!("2026-11-22T01:0{i}:00Z"),
        )));
    }
    app
}

fn draw(app: &App, w: u16, h: u16) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| hype_tui::ui::render(app, f)).unwrap();
    t.backend().buffer().clone()
}

fn lines(b: &Buffer) -> Vec<String> {
    let w = b.area.width as usize;
    b.content
        .chunks(w)
        .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
        .collect()
}

fn screen(b: &Buffer) -> String {
    lines(b).join("\n")
}

fn key(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::from(c))
}

#[test]
fn warm_pools_show_in_the_header() {
    let mut a = app(true);
    let pool: hype_types::Pool = serde_json::from_value(serde_json::json!({
        "name": "warm", "image": "browser", "cpu_cores": 2, "memory_mb": 1536, "size": 4,
        "ready": 3, "starting": 1, "state": "filling", "error": null, "snapshot": "pool-warm-1",
        "claims": 5, "misses": 0, "last_refill_ms": 900, "created_at": "2026-12-06T10:00:00Z"
    }))
    .unwrap();
    a.update(Msg::Pools(vec![pool]));
    let l = lines(&draw(&a, 80, 24));
    assert!(l[0].contains("pool warm 3/4  3 VMs"), "{}", l[0]);
}

#[test]
fn dashboard_at_80x24_and_120x40() {
    for (w, h) in [(80, 24), (120, 40)] {
        let b = draw(&app(true), w, h);
        let l = lines(&b);
        let s = screen(&b);
        assert!(l[0].contains("hype  http://127.0.0.1:7777"), "{s}");
        assert!(l[0].contains("3 VMs  ● connected"), "{s}");
        assert!(!l[0].contains("pool"), "{s}");
        for col in ["NAME▲", "STATE", "ADDRESS", "VMM", "UPTIME", "CPU", "MEM"] {
            assert!(l[2].contains(col), "{w}x{h}: no {col} in the header:\n{s}");
        }
        let row = l.iter().find(|r| r.contains("web-01")).unwrap();
        for cell in [
            "running",
            "192.168.127.2",
            "qemu 7.2.22",
            "9m",
            "2",
            "1536 MiB",
        ] {
            assert!(row.contains(cell), "{w}x{h}: no {cell} in {row:?}");
        }
        let stopped = l.iter().find(|r| r.contains("db ")).unwrap();
        assert!(
            stopped.contains(" - "),
            "no uptime when stopped: {stopped:?}"
        );
        assert!(s.contains("01:03:00 VM_PAUSED      web-02"), "{s}");
        let foot = &l[h as usize - 1];
        for hint in [
            "? help", "q quit", "c new", "p pause", "u resume", "d del", "l log",
        ] {
            assert!(
                foot.contains(hint),
                "{w}x{h}: footer lacks {hint}: {foot:?}"
            );
        }
        assert!(!s.contains("Import jobs"), "no job pane without jobs");
    }
}

#[test]
fn sort_filter_and_selection_show() {
    let mut app = app(true);
    app.update(Msg::Key(KeyEvent::from(KeyCode::Char('s'))));
    app.update(Msg::Key(KeyEvent::from(KeyCode::Char('S'))));
    for c in "/wb".chars() {
        app.update(Msg::Key(KeyEvent::from(KeyCode::Char(c))));
    }
    let b = draw(&app, 80, 24);
    let l = lines(&b);
    assert!(
        l[2].contains("STATE▼") && !l[2].contains("NAME▲"),
        "{}",
        l[2]
    );
    assert!(l[1].contains("VMs 2/3 filter: wb_"), "{}", l[1]);
    // By state, reversed: running after paused, then reversed.
    assert!(
        l[3].contains("web-01") && l[4].contains("web-02"),
        "{}",
        screen(&b)
    );
    assert!(!screen(&b).contains("db "));
    // The selected row is highlighted across the table.
    assert_eq!(b[(2, 3)].bg, Color::DarkGray);
    assert_eq!(b[(2, 4)].bg, Color::Reset);
}

#[test]
fn help_overlay_fits_at_80x24() {
    let mut app = app(true);
    app.update(key(KeyCode::Char('?')));
    let s = screen(&draw(&app, 80, 24));
    for k in [
        "Keys",
        "create a VM",
        "pause it",
        "resume it",
        "snapshot it",
        "delete it (asks first)",
        "serial log",
        "any key closes this help",
    ] {
        assert!(s.contains(k), "help lacks {k}:\n{s}");
    }
    app.update(key(KeyCode::Char('x')));
    assert!(!screen(&draw(&app, 80, 24)).contains("any key closes"));
}

#[test]
fn delete_asks_in_a_dialog() {
    let mut app = app(true);
    app.update(key(KeyCode::Char('d')));
    let s = screen(&draw(&app, 80, 24));
    assert!(s.contains("Delete VM db?"), "{s}");
    assert!(s.contains("y delete   n keep"), "{s}");
    app.update(key(KeyCode::Char('n')));
    let s = screen(&draw(&app, 80, 24));
    assert!(!s.contains("Delete VM") && s.contains(" kept db"), "{s}");
}

#[test]
fn create_form_fits() {
    let mut app = app(true);
    app.update(key(KeyCode::Char('c')));
    for c in "s1".chars() {
        app.update(key(KeyCode::Char(c)));
    }
    let s = screen(&draw(&app, 80, 24));
    for f in [
        "Create VM",
        "name: s1_",
        "cpus: 1",
        "memory (MiB): 512",
        "(server default)",
    ] {
        assert!(s.contains(f), "form lacks {f}:\n{s}");
    }
}

#[test]
fn import_jobs_have_progress_bars() {
    let mut app = app(true);
    app.update(Msg::Jobs(vec![job(
        "0193a",
        "web01",
        "running",
        1 << 30,
        1 << 31,
    )]));
    app.update(Msg::Job(Box::new(job(
        "0193b",
        "db01",
        "pending",
        0,
        1 << 30,
    ))));
    for (w, h) in [(80, 24), (120, 40)] {
        let b = draw(&app, w, h);
        let s = screen(&b);
        assert!(s.contains("Import jobs"), "{s}");
        let l = lines(&b);
        let web = l.iter().find(|r| r.contains("web01")).unwrap();
        let bar = web.split('[').nth(1).unwrap().split(']').next().unwrap();
        let filled = bar.chars().filter(|c| *c == '#').count();
        assert!(
            filled.abs_diff(bar.len() - filled) <= 1,
            "half full: {web:?}"
        );
        assert!(web.contains(" 50% downloading 1.0 GiB/2.0 GiB"), "{web:?}");
        assert!(web.contains("vsphere"), "{web:?}");
        let db = l.iter().find(|r| r.contains("db01")).unwrap();
        assert!(db.contains("[...") && db.contains("  0%"), "{db:?}");
        // The VM table still shows its header and rows.
        assert!(s.contains("NAME▲") && s.contains("web-02"), "{s}");
    }
    // A progress event moves the bar.
    app.update(Msg::Job(Box::new(job(
        "0193a",
        "web01",
        "running",
        1 << 31,
        1 << 31,
    ))));
    let s = screen(&draw(&app, 80, 24));
    assert!(s.contains("] 100% downloading 2.0 GiB/2.0 GiB"), "{s}");
}

#[test]
fn disconnected_banner_and_recovery() {
    let mut app = app(true);
    app.update(Msg::Lost {
        why: "cannot reach hyped".into(),
        retry_in: Duration::from_millis(2000),
    });
    assert!(matches!(app.conn, Conn::Lost { .. }));
    let b = draw(&app, 80, 24);
    let top = &lines(&b)[0];
    assert!(
        top.starts_with(" DISCONNECTED from http://127.0.0.1:7777: retrying in 2.0 s"),
        "{top:?}"
    );
    assert_eq!(b[(3, 0)].bg, Color::Red);
    assert!(screen(&b).contains("web-01"), "the last known VMs stay");
    app.update(Msg::Connected);
    let top = lines(&draw(&app, 80, 24))[0].clone();
    assert!(top.contains("● connected"), "{top:?}");
}

#[test]
fn logs_view_follows_and_scrolls() {
    let mut app = app(true);
    app.update(key(KeyCode::Char('l')));
    for i in 0..100 {
        app.update(Msg::Log {
            vm: "db".into(),
            line: format!("line {i}"),
        });
    }
    app.update(Msg::Log {
        vm: "other".into(),
        line: "not ours".into(),
    });
    let s = screen(&draw(&app, 80, 24));
    assert!(s.contains("Serial log: db (following)"), "{s}");
    assert!(s.contains("line 99") && !s.contains("not ours"), "{s}");
    app.update(key(KeyCode::PageUp));
    let s = screen(&draw(&app, 80, 24));
    assert!(s.contains("20 lines back") && s.contains("line 79") && !s.contains("line 99"));
    app.update(Msg::LogEnd {
        vm: "db".into(),
        why: "VM deleted".into(),
    });
    assert!(screen(&draw(&app, 80, 24)).contains("(ended: VM deleted)"));
}

/// Every cell of every screen, without colour: NO_COLOR leaves none.
#[test]
fn no_color_means_no_colour_anywhere() {
    let mut app = app(false);
    app.update(Msg::Jobs(vec![job("j", "web01", "running", 1, 2)]));
    app.update(Msg::Done(Err("VM 'db' is not running".into())));
    let mut screens = vec![draw(&app, 80, 24)];
    for k in ['?', 'd', 'c'] {
        app.update(key(KeyCode::Char(k)));
        screens.push(draw(&app, 80, 24));
        app.update(key(KeyCode::Esc));
    }
    app.update(Msg::Lost {
        why: "gone".into(),
        retry_in: Duration::from_secs(1),
    });
    screens.push(draw(&app, 120, 40));
    for b in &screens {
        for c in &b.content {
            assert_eq!((c.fg, c.bg), (Color::Reset, Color::Reset), "{c:?}");
        }
    }
    // ... while the same screens in colour do use colour.
    let coloured = draw(&self::app(true), 80, 24);
    assert!(coloured.content.iter().any(|c| c.fg != Color::Reset));
}

/// Below 80x24 the screen is cramped but drawing never fails.
#[test]
fn tiny_terminals_do_not_break_drawing() {
    let mut app = app(true);
    app.update(Msg::Jobs(vec![job("j", "web01", "running", 1, 2)]));
    for k in ['?', 'd', 'c', 'l'] {
        for (w, h) in [(1, 1), (20, 5), (40, 10), (79, 23)] {
            app.update(key(KeyCode::Char(k)));
            draw(&app, w, h);
            app.update(key(KeyCode::Esc));
            draw(&app, w, h);
        }
    }
}

#[test]
fn import_form_masks_the_password_and_the_picker_fills_the_screen() {
    let mut a = app(false);
    a.update(key(KeyCode::Char('i')));
    for c in "https://xcp1".chars() {
        a.update(key(KeyCode::Char(c)));
    }
    a.update(key(KeyCode::Tab));
    a.update(key(KeyCode::Tab));
    for c in "pw-42".chars() {
        a.update(key(KeyCode::Char(c)));
    }
    let s = screen(&draw(&a, 80, 24));
    assert!(s.contains("Import from a source"), "{s}");
    assert!(s.contains("url: https://xcp1"), "{s}");
    assert!(
        s.contains("password: *****_") && !s.contains("pw-42"),
        "{s}"
    );

    a.update(key(KeyCode::Enter));
    assert!(screen(&draw(&a, 80, 24)).contains("Reading the VMs of https://xcp1"));
    let vm = |name: &str, template: bool| -> hype_types::SourceVm {
        serde_json::from_value(serde_json::json!({
            "name": name, "uuid": format!("{name}-uuid"), "power_state": "on",
            "guest_os": "Debian 12", "template": template,
            "disks": [{"size_bytes": 21474836480u64, "bus": "xen", "slot": "0"}], "nics": []
        }))
        .unwrap()
    };
    a.update(Msg::Inventory(Ok(hype_types::Inventory {
        kind: hype_types::SourceKind::Xcpng,
        url: "https://xcp1".into(),
        vms: vec![
            vm("db01", false),
            vm("tmpl", true),
            vm("web01", false),
            // A source's names reach the terminal: escapes must not.
            vm("evil\x1b]0;owned\x07\x1b[2J", false),
        ],
    })));
    for c in "web ".chars() {
        a.update(key(KeyCode::Char(c)));
    }
    for (w, h) in [(80, 24), (120, 40)] {
        let l = lines(&draw(&a, w, h));
        assert!(l[0].starts_with(" Import from xcpng https://xcp1"), "{l:?}");
        assert!(l[0].trim_end().ends_with("1 picked"), "{l:?}");
        assert!(l[2].contains("VMs 4/4"), "{l:?}");
        let row = |n: &str| l.iter().find(|r| r.contains(&format!(" {n} "))).unwrap();
        assert!(row("web01").starts_with("│[x] web01"), "{l:?}");
        assert!(row("web01").contains("20.0 GiB xen"), "{l:?}");
        assert!(row("db01").starts_with("│[ ] db01"), "{l:?}");
        assert!(row("tmpl").starts_with("│ -  tmpl"), "{l:?}");
        assert!(row("tmpl").contains("template, not a VM"), "{l:?}");
        assert!(l[h as usize - 1].contains("Space/Tab pick"), "{l:?}");
    }
    a.update(key(KeyCode::Char('e')));
    a.update(key(KeyCode::Char('v')));
    let b = draw(&a, 80, 24);
    assert!(screen(&b).contains("│[ ] evil0;owned"), "{}", screen(&b));
    assert!(!b.content.iter().any(|c| c.symbol().contains('\x1b')));
}
