//! The `testing` and `devtools` groups against a real headless Chromium
//! on loopback (tests/common): pages are data: URLs, nothing leaves the
//! host.

mod common;

use std::time::Duration;

use common::{find_ref, serve, text};
use serde_json::{json, Value};

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

    // A Chrome trace of what the page did in between.
    let e = t.err("browser_stop_tracing", json!({})).await;
    assert!(e.contains("call browser_start_tracing first"), "{e}");
    t.ok("browser_start_tracing", json!({})).await;
    t.eval("() => { for (let i = 0; i < 1e6; i++); return 1; }")
        .await;
    let r = t
        .mcp
        .call("browser_stop_tracing", json!({"sandbox": "local"}))
        .await;
    let trace = r
        .content
        .iter()
        .find_map(|c| c.as_resource())
        .map(|r| match &r.resource {
            rmcp::model::ResourceContents::BlobResourceContents {
                blob, mime_type, ..
            } => {
                assert_eq!(mime_type.as_deref(), Some("application/json"));
                base64::Engine::decode(&base64::engine::general_purpose::STANDARD, blob).unwrap()
            }
            other => panic!("{other:?}"),
        });
    let trace: Value = serde_json::from_slice(&trace.unwrap_or_else(|| panic!("{}", text(&r))))?;
    assert!(
        trace["traceEvents"]
            .as_array()
            .is_some_and(|e| e.len() > 10),
        "{trace}"
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
