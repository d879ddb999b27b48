//! `hype tui` as a person uses it: the real binary in a real terminal
//! (tmux, 80x24), driven by key presses and read off the screen, against a
//! real hyped booting real QEMU guests, across a restart of hyped.

mod common;

use std::time::{Duration, Instant};

use common::tmux::Tmux;
use common::{free_port, hype, kill_vmms, start_hyped};

/// The table row of `vm`, if shown.
fn row<'a>(screen: &'a str, vm: &str) -> Option<&'a str> {
    screen.lines().find(|l| l.starts_with(&format!("│{vm} ")))
}

fn row_has(screen: &str, vm: &str, state: &str) -> bool {
    row(screen, vm).is_some_and(|r| r.contains(&format!(" {state} ")))
}

/// How many event-pane lines say `kind` about `vm`.
fn events(screen: &str, kind: &str, vm: &str) -> usize {
    let needle = format!("{kind:<14} {vm}");
    screen
        .lines()
        .filter(|l| {
            l.contains(&needle)
                && l[l.find(&needle).unwrap() + needle.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric() && c != '-')
        })
        .count()
}

/// SGR parameters that set a colour (foreground or background).
fn colour_codes(styled: &str) -> Vec<String> {
    let mut found = vec![];
    for seq in styled.split('\x1b').skip(1) {
        let Some(params) = seq.strip_prefix('[').and_then(|s| s.split_once('m')) else {
            continue;
        };
        for p in params.0.split(';') {
            if let Ok(n) = p.parse::<u32>() {
                if (30..=49).contains(&n) && n != 39 && n != 49 || (90..=107).contains(&n) {
                    found.push(p.to_owned());
                }
            }
        }
    }
    found
}

#[test]
fn dashboard_driven_by_keys_across_a_restart() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let listen = format!("127.0.0.1:{}", free_port()?);
    let mut a = start_hyped(tmp.path(), &listen)?;
    let base = a.base.clone();
    let result = drive(&Tmux::new(tmp.path()), tmp.path(), &listen, &base, &mut a);
    kill_vmms(tmp.path());
    result
}

fn drive(
    t: &Tmux,
    data: &std::path::Path,
    listen: &str,
    base: &str,
    a: &mut common::Hyped,
) -> anyhow::Result<()> {
    let long = Duration::from_secs(180);
    let short = Duration::from_secs(20);

    // NO_COLOR: bold and reverse only, in a real terminal too.
    t.start("plain", base, "NO_COLOR=1")?;
    t.start("tui", base, "NO_COLOR=")?;
    for s in ["plain", "tui"] {
        t.wait(s, "the empty dashboard", short, |s| {
            s.contains("● connected") && s.contains("no VMs yet: press c to create one")
        })?;
    }
    let plain = t.screen_styled("plain")?;
    assert_eq!(colour_codes(&plain), Vec::<String>::new(), "{plain}");
    assert!(!colour_codes(&t.screen_styled("tui")?).is_empty());
    t.keys("plain", &["q"])?;

    // Create through the form; the row goes to running.
    t.keys("tui", &["c"])?;
    t.type_text("tui", "tui1")?;
    t.keys("tui", &["Tab", "Tab", "BSpace", "BSpace", "BSpace"])?;
    t.type_text("tui", "256")?;
    t.keys("tui", &["Tab"])?;
    t.type_text("tui", "base")?;
    let s = t.screen("tui")?;
    assert!(
        s.contains("memory (MiB): 256") && s.contains("image: base_"),
        "{s}"
    );
    t.keys("tui", &["Enter"])?;
    let s = t.wait("tui", "tui1 running", long, |s| {
        row_has(s, "tui1", "running")
    })?;
    let r = row(&s, "tui1").unwrap();
    assert!(r.contains("qemu ") && r.contains("256 MiB"), "{r}");
    let uptime = r.split_whitespace().nth(5).unwrap_or_default();
    assert!(
        uptime.ends_with('s') && uptime[..uptime.len() - 1].parse::<u32>().is_ok(),
        "uptime in seconds: {r}"
    );
    assert!(!t.alive("plain"), "q quits");
    let s = t.wait("tui", "the events of the boot", short, |s| {
        events(s, "VM_RUNNING", "tui1") == 1
    })?;
    for kind in ["VM_CREATED", "VM_STARTING"] {
        assert_eq!(events(&s, kind, "tui1"), 1, "{kind}:\n{s}");
    }

    // Pause and resume.
    t.keys("tui", &["p"])?;
    t.wait("tui", "tui1 paused", short, |s| {
        row_has(s, "tui1", "paused") && events(s, "VM_PAUSED", "tui1") == 1
    })?;
    t.keys("tui", &["u"])?;
    t.wait("tui", "tui1 resumed", short, |s| {
        row_has(s, "tui1", "running") && events(s, "VM_RESUMED", "tui1") == 1
    })?;

    // Standby and back.
    t.keys("tui", &["n"])?;
    t.wait("tui", "tui1 in standby", short, |s| {
        row_has(s, "tui1", "standby") && events(s, "VM_SNAPSHOTTED", "tui1") == 1
    })?;
    t.keys("tui", &["R"])?;
    t.wait("tui", "tui1 restored", short, |s| {
        row_has(s, "tui1", "running") && events(s, "VM_RESTORED", "tui1") == 1
    })?;

    // An action the API refuses says why in the status line.
    t.keys("tui", &["u"])?;
    t.wait("tui", "the resume refusal", short, |s| {
        s.contains("VM 'tui1' is running; cannot resume it")
    })?;

    // The serial log, then back.
    t.keys("tui", &["l"])?;
    t.wait("tui", "the serial log", short, |s| {
        s.contains("Serial log: tui1 (following)") && s.contains("hype-agent")
    })?;
    t.keys("tui", &["Escape"])?;
    t.wait("tui", "the table again", short, |s| s.contains("NAME▲"))?;

    // hyped restarts: the dashboard says it is disconnected, then catches
    // up on what happened meanwhile, each event once.
    a.stop();
    t.wait("tui", "the disconnected banner", short, |s| {
        s.lines()
            .next()
            .is_some_and(|l| l.contains("DISCONNECTED from"))
    })?;
    let _b = start_hyped(data, listen)?;
    let (code, _, err) = hype(
        base,
        &["vms", "create", "tui2", "--memory", "256", "--no-wait"],
    );
    assert_eq!(code, 0, "{err}");
    let s = t.wait("tui", "reconnection and tui2", short, |s| {
        s.contains("● connected") && events(s, "VM_STARTING", "tui2") == 1
    })?;
    assert_eq!(events(&s, "VM_CREATED", "tui2"), 1, "exactly once:\n{s}");
    assert!(row(&s, "tui2").is_some(), "{s}");
    assert!(row_has(&s, "tui1", "running"), "tui1 lived on: {s}");

    // Filter by name, then clear it.
    t.keys("tui", &["/"])?;
    t.type_text("tui", "ui2")?;
    t.keys("tui", &["Enter"])?;
    let s = t.wait("tui", "the filtered table", short, |s| {
        s.contains("filter: ui2")
    })?;
    assert!(
        row(&s, "tui2").is_some() && row(&s, "tui1").is_none(),
        "{s}"
    );
    t.keys("tui", &["Escape"])?;
    t.wait("tui", "both rows again", short, |s| {
        row(s, "tui1").is_some() && row(s, "tui2").is_some()
    })?;

    // Delete asks first; "n" keeps the VM, "y" deletes it.
    t.keys("tui", &["d"])?;
    t.wait("tui", "the confirmation", short, |s| {
        s.contains("Delete VM tui1?")
    })?;
    t.keys("tui", &["n"])?;
    t.wait("tui", "kept", short, |s| s.contains("kept tui1"))?;
    t.keys("tui", &["d"])?;
    t.keys("tui", &["y"])?;
    t.wait("tui", "tui1 gone", short, |s| {
        row(s, "tui1").is_none() && events(s, "VM_DELETED", "tui1") == 1
    })?;
    t.keys("tui", &["d"])?;
    t.wait("tui", "the confirmation", short, |s| {
        s.contains("Delete VM tui2?")
    })?;
    t.keys("tui", &["y"])?;
    t.wait("tui", "no VMs", short, |s| s.contains("no VMs yet"))?;

    // Help, then quit.
    t.keys("tui", &["?"])?;
    t.wait("tui", "the help", short, |s| {
        s.contains("any key closes this help")
    })?;
    t.keys("tui", &["Escape"])?;
    t.keys("tui", &["q"])?;
    let until = Instant::now() + short;
    while t.alive("tui") {
        anyhow::ensure!(Instant::now() < until, "q did not quit");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, out, _) = hype(base, &["vms", "list", "-o", "json"]);
    assert!(!out.contains("tui1") && !out.contains("tui2"), "{out}");
    Ok(())
}

#[test]
fn without_a_terminal_it_says_so() {
    let (code, out, err) = hype("http://127.0.0.1:9", &["tui"]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains("hype tui needs a terminal"), "{err}");
}
