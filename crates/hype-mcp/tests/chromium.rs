//! The browser tools against a real headless Chromium on loopback (Debian's
//! `chromium`): hype-mcp's server with a backend whose one sandbox, "local",
//! is that browser. Sites are data: URLs and routes (answered by the
//! browser itself), so nothing leaves the host. The end-to-end test with a
//! sandbox microVM is crates/hyped/tests/mcp.rs.

mod common;

use common::{find_ref, serve};
use serde_json::json;

const PAGE: &str = r#"<title>form</title><h1>Shop</h1>
<label>User <input id=user></label>
<label>Keep <input type=checkbox id=keep></label>
<select id=color aria-label=Colour><option value=r>Red</option><option value=g>Green</option></select>
<input type=file id=up aria-label=Upload onchange="document.title='file '+this.files[0].name">
<button id=del onclick="document.getElementById('out').textContent = confirm('Really?') ? 'deleted' : 'kept'">Delete</button>
<p id=out>nothing</p>
<script>console.log('shop loaded'); console.error('oops');</script>"#;

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
