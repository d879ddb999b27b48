//! The browser tools against a real headless Chromium on loopback (Debian's
//! `chromium`): hype-mcp's server with a backend whose one sandbox, "local",
//! is that browser. Sites are data: URLs and routes (answered by the
//! browser itself), so nothing leaves the host. The end-to-end test with a
//! sandbox microVM is crates/hyped/tests/mcp.rs.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use hype_mcp::{
    Backend, BackendError, BackendResult, Cap, CdpAccess, ErrorKind, HypeMcp, McpConfig,
};
use hype_types::files::UploadSpec;
use hype_types::{
    CreateVm, Download, Event, ExecRequest, ExecResult, ForkResult, ForkVm, Uploaded, Vm,
};
use rmcp::model::CallToolResult;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

struct Browser(std::process::Child, #[allow(dead_code)] tempfile::TempDir);

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start() -> anyhow::Result<(Browser, SocketAddrV4)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let profile = tempfile::tempdir()?;
    let child = Command::new("/usr/lib/chromium/chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-address=127.0.0.1",
        ])
        .arg(format!("--remote-debugging-port={port}"))
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok((
        Browser(child, profile),
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, port),
    ))
}

/// One sandbox, "local": the Chromium at `endpoint`.
struct Local {
    endpoint: SocketAddrV4,
}

fn none<T>() -> BackendResult<T> {
    Err(BackendError::new(
        ErrorKind::Unsupported,
        "not in this test",
    ))
}

impl Backend for Local {
    type Lease = ();
    async fn create(&self, _: CreateVm) -> BackendResult<Vm> {
        none()
    }
    async fn fork(&self, _: &str, _: ForkVm) -> BackendResult<ForkResult> {
        none()
    }
    async fn list(&self) -> BackendResult<Vec<Vm>> {
        none()
    }
    async fn get(&self, _: &str) -> BackendResult<Vm> {
        none()
    }
    async fn delete(&self, _: &str) -> BackendResult<()> {
        none()
    }
    async fn logs(&self, _: &str) -> BackendResult<String> {
        none()
    }
    async fn cdp(&self, name: &str, doc: &str) -> BackendResult<CdpAccess> {
        if name != "local" {
            return Err(BackendError::new(
                ErrorKind::NotFound,
                format!("no sandbox '{name}'"),
            ));
        }
        let d = if doc == "json/version" {
            hype_cdp::Discovery::Version
        } else {
            hype_cdp::Discovery::List
        };
        let doc = hype_cdp::discover(self.endpoint, d)
            .await
            .map_err(|e| BackendError::new(ErrorKind::Unavailable, e.to_string()))?;
        Ok(CdpAccess { doc, bearer: None })
    }
    async fn events(&self) -> BackendResult<BoxStream<'static, Event>> {
        Ok(Box::pin(futures::stream::pending()))
    }
    async fn recent_events(&self, _: usize) -> BackendResult<Vec<Event>> {
        Ok(vec![])
    }
    async fn exec(&self, _: &str, _: ExecRequest) -> BackendResult<ExecResult> {
        none()
    }
    async fn read_file(&self, _: &str, _: &str, _: u64) -> BackendResult<Vec<u8>> {
        none()
    }
    async fn write_file(&self, _: &str, _: UploadSpec, _: Vec<u8>) -> BackendResult<Uploaded> {
        none()
    }
    async fn downloads(&self, _: &str) -> BackendResult<Vec<Download>> {
        none()
    }
    async fn download(&self, _: &str, _: &str, _: u64) -> BackendResult<Vec<u8>> {
        none()
    }
    fn lease(&self, _: &str) -> Self::Lease {}
}

fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text())
        .map(|t| t.text.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

struct T {
    mcp: HypeMcp<Local>,
}

impl T {
    async fn ok(&self, tool: &str, mut args: Value) -> String {
        args["sandbox"] = json!("local");
        let r = self.mcp.call(tool, args.clone()).await;
        assert_ne!(r.is_error, Some(true), "{tool} {args}: {}", text(&r));
        text(&r)
    }
    async fn err(&self, tool: &str, mut args: Value) -> String {
        args["sandbox"] = json!("local");
        let r = self.mcp.call(tool, args.clone()).await;
        assert_eq!(
            r.is_error,
            Some(true),
            "{tool} {args} should fail: {}",
            text(&r)
        );
        text(&r)
    }
    async fn eval(&self, f: &str) -> Value {
        serde_json::from_str(&self.ok("browser_evaluate", json!({"function": f})).await).unwrap()
    }
}

fn find_ref(snap: &str, line: &str) -> String {
    let l = snap
        .lines()
        .find(|l| l.contains(line))
        .unwrap_or_else(|| panic!("no {line} in\n{snap}"));
    let i = l.find("[ref=").unwrap();
    l[i + 5..].split(']').next().unwrap().to_owned()
}

const PAGE: &str = r#"<title>form</title><h1>Shop</h1>
<label>User <input id=user></label>
<label>Keep <input type=checkbox id=keep></label>
<select id=color aria-label=Colour><option value=r>Red</option><option value=g>Green</option></select>
<input type=file id=up aria-label=Upload onchange="document.title='file '+this.files[0].name">
<button id=del onclick="document.getElementById('out').textContent = confirm('Really?') ? 'deleted' : 'kept'">Delete</button>
<p id=out>nothing</p>
<script>console.log('shop loaded'); console.error('oops');</script>"#;

/// A Chromium that answers CDP, and an MCP server with every group on
/// whose one sandbox it is.
async fn serve() -> anyhow::Result<(Browser, T)> {
    let (b, endpoint) = start()?;
    let until = Instant::now() + Duration::from_secs(60);
    while hype_cdp::discover(endpoint, hype_cdp::Discovery::Version)
        .await
        .is_err()
    {
        assert!(Instant::now() < until, "chromium did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cfg = McpConfig {
        caps: Cap::ALL.into_iter().collect(),
        snapshot_budget: 2000,
        ..McpConfig::default()
    };
    let t = T {
        mcp: HypeMcp::with_config(Local { endpoint }, CancellationToken::new(), cfg),
    };
    Ok((b, t))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_core_and_group_tools_drive_a_real_chromium() -> anyhow::Result<()> {
    let (_b, t) = serve().await?;

    // A data: page (a new renderer process) straight away.
    let nav = t
        .ok(
            "browser_navigate",
            json!({"url": "data:text/html,<title>first</title><p>hi"}),
        )
        .await;
    assert!(nav.contains("Page Title: first"), "{nav}");

    // A site answered by a route, so it has an http origin (cookies, storage).
    t.ok(
        "browser_route",
        json!({"pattern": "http://shop.test/**", "body": PAGE, "contentType": "text/html"}),
    )
    .await;
    t.ok("browser_route", json!({"pattern": "**/api/data", "body": "{\"stub\":true}", "contentType": "application/json"})).await;
    let nav = t
        .ok("browser_navigate", json!({"url": "http://shop.test/"}))
        .await;
    assert!(
        nav.contains("Page Title: form") && nav.contains("heading \"Shop\""),
        "{nav}"
    );

    // Console messages from before anyone asked.
    let c = t
        .ok("browser_console_messages", json!({"level": "info"}))
        .await;
    assert!(
        c.contains("[info] shop loaded") && c.contains("[error] oops"),
        "{c}"
    );
    let c = t
        .ok("browser_console_messages", json!({"level": "error"}))
        .await;
    assert!(!c.contains("shop loaded"), "{c}");

    // Fill a form by refs and selectors; select; check.
    let snap = t.ok("browser_snapshot", json!({})).await;
    let user = find_ref(&snap, "textbox \"User\"");
    t.ok(
        "browser_fill_form",
        json!({"fields": [
        {"name": "User", "type": "textbox", "target": user, "value": "ann"},
        {"name": "Keep", "type": "checkbox", "target": "#keep", "value": "true"},
        {"name": "Colour", "type": "combobox", "target": "#color", "value": "Green"}]}),
    )
    .await;
    assert_eq!(
        t.eval("() => [user.value, keep.checked, color.value].join()")
            .await,
        "ann,true,g"
    );
    t.ok(
        "browser_select_option",
        json!({"target": "#color", "values": ["Red"]}),
    )
    .await;
    assert_eq!(t.eval("() => color.value").await, "r");
    let e = t
        .err(
            "browser_select_option",
            json!({"target": "#color", "values": ["Blue"]}),
        )
        .await;
    assert!(
        e.contains("no option [\"Blue\"]") && e.contains("Red"),
        "{e}"
    );
    let e = t.err("browser_click", json!({"target": "#nothing"})).await;
    assert!(e.contains("matches 0 elements"), "{e}");

    // A confirm() ends the click that opened it; the agent answers it.
    let c = t
        .ok(
            "browser_click",
            json!({"target": "#del", "element": "Delete"}),
        )
        .await;
    assert!(
        c.contains("\"confirm\" dialog with message \"Really?\""),
        "{c}"
    );
    let e = t.err("browser_snapshot", json!({})).await;
    assert!(e.contains("browser_handle_dialog"), "{e}");
    let h = t.ok("browser_handle_dialog", json!({"accept": true})).await;
    assert!(h.contains("Accepted") && h.contains("deleted"), "{h}");

    // A file chooser, answered with a file of the browser's machine.
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), "hello")?;
    let c = t.ok("browser_click", json!({"target": "#up"})).await;
    assert!(c.contains("File chooser"), "{c}");
    let e = t
        .err("browser_file_upload", json!({"paths": ["/no/such/file"]}))
        .await;
    assert!(e.contains("not in the sandbox"), "{e}");
    t.ok("browser_click", json!({"target": "#up"})).await;
    let path = file.path().display().to_string();
    t.ok("browser_file_upload", json!({"paths": [path]})).await;
    let name = file
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    t.ok("browser_wait_for", json!({"text": "deleted"})).await;
    assert_eq!(t.eval("() => document.title").await, format!("file {name}"));

    // Storage and cookies on the routed origin.
    t.ok(
        "browser_cookie_set",
        json!({"name": "flavour", "value": "oat"}),
    )
    .await;
    assert!(t
        .ok("browser_cookie_get", json!({"name": "flavour"}))
        .await
        .contains("\"oat\""));
    t.ok(
        "browser_localstorage_set",
        json!({"key": "k", "value": "v"}),
    )
    .await;
    assert_eq!(
        t.ok("browser_localstorage_get", json!({"key": "k"})).await,
        "v"
    );
    let st = t.ok("browser_storage_state", json!({})).await;
    assert!(st.contains("flavour") && st.contains("\"k\""), "{st}");

    // A second page, back, tabs.
    t.ok(
        "browser_navigate",
        json!({"url": "http://shop.test/api/data"}),
    )
    .await;
    assert!(t
        .eval("() => document.body.innerText")
        .await
        .as_str()
        .unwrap()
        .contains("stub"));
    let back = t.ok("browser_navigate_back", json!({})).await;
    assert!(back.contains("Page URL: http://shop.test/"), "{back}");
    let tabs = t
        .ok(
            "browser_tabs",
            json!({"action": "new", "url": "data:text/html,<title>two</title><p>second page"}),
        )
        .await;
    assert!(tabs.contains("(current) [two]"), "{tabs}");
    t.ok("browser_wait_for", json!({"text": "second page"}))
        .await;
    t.ok("browser_tabs", json!({"action": "select", "index": 0}))
        .await;
    assert_eq!(t.eval("() => location.href").await, "http://shop.test/");

    // Network requests, with the stubbed one's body.
    let n = t
        .ok(
            "browser_network_requests",
            json!({"static": false, "filter": "api/data"}),
        )
        .await;
    let no = n
        .lines()
        .find(|l| l.contains("api/data"))
        .and_then(|l| l.split('.').next())
        .expect(&n)
        .to_owned();
    let one = t
        .ok(
            "browser_network_request",
            json!({"index": no.parse::<u64>()?, "part": "response-headers"}),
        )
        .await;
    assert!(
        one.contains("200") && one.contains("application/json"),
        "{one}"
    );

    // Snapshot budget, find, pdf, screenshot, vision, emulation, cdp.
    let long = "<p>line</p>".repeat(1000);
    t.ok(
        "browser_route",
        json!({"pattern": "http://long.test/", "body": long, "contentType": "text/html"}),
    )
    .await;
    let s = t
        .ok("browser_navigate", json!({"url": "http://long.test/"}))
        .await;
    assert!(s.contains("# [cut: ") && s.len() < 3000, "{}", s.len());
    let f = t.ok("browser_find", json!({"text": "LINE"})).await;
    assert!(f.contains("Match 1"), "{f}");
    let pdf = t
        .mcp
        .call("browser_pdf_save", json!({"sandbox": "local"}))
        .await;
    assert!(serde_json::to_string(&pdf.content)?.contains("application/pdf"));
    t.ok("browser_mouse_click_xy", json!({"x": 10, "y": 10}))
        .await;
    t.ok("browser_mouse_wheel", json!({"deltaX": 0, "deltaY": 100}))
        .await;
    t.ok("browser_emulate_media", json!({"colorScheme": "dark"}))
        .await;
    assert_eq!(
        t.eval("() => matchMedia('(prefers-color-scheme: dark)').matches")
            .await,
        true
    );
    t.ok("browser_resize", json!({"width": 500, "height": 400}))
        .await;
    assert_eq!(t.eval("() => innerWidth").await, 500);
    let r = t
        .ok(
            "browser_cdp",
            json!({"method": "Runtime.evaluate", "params": {"expression": "1+1"}}),
        )
        .await;
    assert!(r.contains("\"value\": 2"), "{r}");
    let e = t
        .err(
            "browser_run_code_unsafe",
            json!({"code": "async (page) => 1"}),
        )
        .await;
    assert!(e.contains("--mcp-allow-unsafe-code"), "{e}");
    let e = t.err("browser_click", json!({"target": "e99999999"})).await;
    assert!(e.contains("browser_snapshot"), "{e}");
    t.ok("browser_close", json!({})).await;
    Ok(())
}

const CHECKS: &str = r#"<title>checks</title><h1>Tasks</h1>
<ul id=todo aria-label=Todo><li>Milk</li><li>Bread</li></ul>
<label>Name <input id=name value=Ann></label>
<label>Done <input type=checkbox id=done checked></label>
<select id=size aria-label=Size><option value=s>Small</option><option value=l selected>Large</option></select>
<p style="display:none">secret text</p><div><span>plain</span></div>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_testing_and_devtools_groups_check_and_mark_a_real_page() -> anyhow::Result<()> {
    let (_b, t) = serve().await?;
    let url = format!("data:text/html,{}", CHECKS.replace('#', "%23"));
    let snap = t.ok("browser_navigate", json!({"url": url})).await;
    let name = find_ref(&snap, "textbox \"Name\"");
    let done = find_ref(&snap, "checkbox \"Done\"");
    let todo = find_ref(&snap, "list \"Todo\"");

    // Assertions pass on what is there and fail, saying what is, on what is not.
    t.ok(
        "browser_verify_element_visible",
        json!({"role": "heading", "accessibleName": "Tasks"}),
    )
    .await;
    let e = t
        .err(
            "browser_verify_element_visible",
            json!({"role": "heading", "accessibleName": "Task"}),
        )
        .await;
    assert!(e.contains("no heading named \"Task\""), "{e}");
    t.ok("browser_verify_text_visible", json!({"text": "Tasks"}))
        .await;
    let e = t
        .err(
            "browser_verify_text_visible",
            json!({"text": "secret text"}),
        )
        .await;
    assert!(e.contains("not visible"), "{e}");
    t.ok(
        "browser_verify_list_visible",
        json!({"element": "todo", "target": todo, "items": ["Milk", "Bread"]}),
    )
    .await;
    let e = t
        .err(
            "browser_verify_list_visible",
            json!({"element": "todo", "target": todo, "items": ["Milk", "Eggs"]}),
        )
        .await;
    assert!(
        e.contains("does not show \"Eggs\"") && e.contains("Bread"),
        "{e}"
    );
    t.ok(
        "browser_verify_value",
        json!({"type": "textbox", "element": "name", "target": name, "value": "Ann"}),
    )
    .await;
    let e = t
        .err(
            "browser_verify_value",
            json!({"type": "textbox", "element": "name", "target": "#name", "value": "Bob"}),
        )
        .await;
    assert!(e.contains("name is \"Ann\", not \"Bob\""), "{e}");
    t.ok(
        "browser_verify_value",
        json!({"type": "checkbox", "element": "done", "target": done, "value": "true"}),
    )
    .await;
    t.err(
        "browser_verify_value",
        json!({"type": "checkbox", "element": "done", "target": done, "value": "false"}),
    )
    .await;
    t.ok(
        "browser_verify_value",
        json!({"type": "combobox", "element": "size", "target": "#size", "value": "Large"}),
    )
    .await;
    t.ok(
        "browser_verify_value",
        json!({"type": "combobox", "element": "size", "target": "#size", "value": "l"}),
    )
    .await;

    // Locators: by role and name where there is one, else a CSS path that
    // finds the same element.
    let l = t
        .ok("browser_generate_locator", json!({"target": name}))
        .await;
    assert_eq!(l, "getByRole('textbox', { name: 'Name' })");
    let l = t
        .ok("browser_generate_locator", json!({"target": "div > span"}))
        .await;
    let css = l
        .strip_prefix("locator('")
        .and_then(|l| l.strip_suffix("')"))
        .unwrap_or_else(|| panic!("{l}"));
    assert_eq!(
        t.eval(&format!(
            "() => document.querySelector({css:?}).textContent"
        ))
        .await,
        "plain"
    );

    // A highlight is an overlay over the element until it is hidden.
    let h = t
        .ok(
            "browser_highlight",
            json!({"element": "todo list", "target": todo, "style": "outline-color: red"}),
        )
        .await;
    assert!(h.contains("Highlighted todo list"), "{h}");
    let over = t.eval("() => { const o = document.querySelector('[data-hype-highlight]'); const a = o.getBoundingClientRect(), b = document.getElementById('todo').getBoundingClientRect(); return [a.x === b.x && a.width === b.width, o.style.outlineColor]; }").await;
    assert_eq!(over, json!([true, "red"]));
    let e = t
        .err("browser_hide_highlight", json!({"target": "#nothing"}))
        .await;
    assert!(e.contains("no highlight of #nothing"), "{e}");
    t.ok("browser_hide_highlight", json!({"target": todo}))
        .await;
    assert_eq!(
        t.eval("() => document.querySelectorAll('[data-hype-highlight]').length")
            .await,
        0
    );

    // A chapter card covers the page, then goes by itself.
    t.ok(
        "browser_video_chapter",
        json!({"title": "Part 2", "description": "checkout", "duration": 300}),
    )
    .await;
    assert_eq!(
        t.eval("() => document.querySelector('[data-hype-chapter]').innerText")
            .await,
        "Part 2\ncheckout"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        t.eval("() => document.querySelectorAll('[data-hype-chapter]').length")
            .await,
        0
    );

    // What hype cannot run says so and what to use; bad arguments are still bad.
    let e = t.err("browser_start_video", json!({})).await;
    assert!(
        e.contains("not available on hype") && e.contains("browser_take_screenshot"),
        "{e}"
    );
    let e = t.err("browser_start_video", json!({"fps": "fast"})).await;
    assert!(
        e.contains("invalid arguments for browser_start_video"),
        "{e}"
    );
    Ok(())
}
