//! The browser tools: their names, descriptions and argument types by
//! group, and the dispatch from a name to the code. playwright-mcp's names
//! and argument shapes; the descriptions are hype's own.

use std::collections::BTreeSet;

use rmcp::model::Tool;

use crate::args::*;
use crate::backend::Backend;
use crate::config::Cap;
use crate::error::ToolError;
use crate::server::{parse, tool, HypeMcp, Output};

const SANDBOX_NOTE: &str = " Acts on `sandbox` when given, else on the session's current sandbox (the one last created, used or chosen with sandbox_use).";

fn core_tools() -> Vec<Tool> {
    let shot = "Take a screenshot of the current page (the viewport, the full page, or one element) and return it as an image (PNG by default, JPEG or WebP). Act on elements with browser_snapshot's refs, not on the picture.";
    vec![
        tool::<Navigate>("browser_navigate", "Navigate the current tab to a URL and wait for the page to load; returns the page's accessibility snapshot."),
        tool::<OnSandbox>("browser_navigate_back", "Go back to the previous page of the current tab's history."),
        tool::<Snapshot>("browser_snapshot", "Capture the accessibility tree of the current page as text: one line per element, `- role \"name\" [ref=eN]`, nested by indentation, cut to hyped's snapshot budget. Use the refs as `target` with the other tools; `target` and `depth` narrow the snapshot."),
        tool::<Find>("browser_find", "Search the current page's accessibility snapshot for text or a regular expression; returns the matching lines with their refs, their path from the root and a few lines around them. Cheaper than a whole snapshot."),
        tool::<Click>("browser_click", "Click an element by its ref from browser_snapshot (or a CSS selector matching one element); returns the new snapshot. A dialog the click opens is reported, not waited for."),
        tool::<Hover>("browser_hover", "Move the mouse over an element (ref or CSS selector)."),
        tool::<Drag>("browser_drag", "Drag one element onto another (refs or CSS selectors)."),
        tool::<Drop>("browser_drop", "Drop files (paths in the sandbox) or data (MIME type to value) onto an element, as if dragged in from outside the page."),
        tool::<Type>("browser_type", "Type text into an editable element (ref or CSS selector), optionally pressing Enter; returns the new snapshot."),
        tool::<PressKey>("browser_press_key", "Press a key on the keyboard (Enter, Tab, Escape, ArrowDown, or a character)."),
        tool::<FillForm>("browser_fill_form", "Fill several form fields at once: text boxes, checkboxes, radio buttons, <select> comboboxes and sliders, each by ref or CSS selector."),
        tool::<SelectOption>("browser_select_option", "Select options of a <select> element by value or visible text."),
        tool::<FileUpload>("browser_file_upload", "Answer the file chooser a click opened with files that are in the sandbox (absolute `paths`) or given inline (`files`, by name and content), or cancel it by giving none."),
        tool::<HandleDialog>("browser_handle_dialog", "Accept or dismiss the alert, confirm, prompt or beforeunload dialog open in the current tab (with text for a prompt)."),
        tool::<Screenshot>("browser_take_screenshot", shot),
        tool::<Screenshot>("browser_screenshot", shot),
        tool::<Evaluate>("browser_evaluate", "Evaluate a JavaScript function on the page, or on one element (ref or CSS selector), and return its result as JSON."),
        tool::<RunCode>("browser_run_code_unsafe", "Run an `async (page) => ...` function inside the current page, with a small Playwright-like `page` (title, url, content, evaluate, goto, locator(selector).click/fill/textContent/inputValue/count, waitForTimeout). Off unless hyped was started with --mcp-allow-unsafe-code."),
        tool::<WaitFor>("browser_wait_for", "Wait for text to appear or disappear on the page, or for a number of seconds."),
        tool::<Tabs>("browser_tabs", "List, open (optionally at a URL), close or select the browser's tabs. The selected tab is the one the other browser tools act on."),
        tool::<OnSandbox>("browser_close", "Close every tab of the sandbox's browser, leaving one blank tab; the sandbox keeps running."),
        tool::<Resize>("browser_resize", "Resize the page's viewport (CSS pixels)."),
        tool::<EmulateMedia>("browser_emulate_media", "Emulate CSS media features (color scheme, reduced motion, forced colors, contrast) and the media type (screen or print) in the current tab; an omitted or null one is reset."),
        tool::<ConsoleMessages>("browser_console_messages", "The console messages (and uncaught errors) of the current tab since its last navigation, or all kept for the sandbox since it started; from a level up."),
        tool::<NetworkRequests>("browser_network_requests", "The network requests the sandbox's browser made (kept since it started), numbered; static resources left out unless asked for."),
        tool::<NetworkRequest>("browser_network_request", "One network request by its number from browser_network_requests: headers and bodies of the request and its response."),
    ]
}

fn group_tools(cap: Cap) -> Vec<Tool> {
    match cap {
        Cap::Vision => vec![
            tool::<MouseMove>("browser_mouse_move_xy", "Move the mouse to a point of the viewport (CSS pixels)."),
            tool::<MouseClick>("browser_mouse_click_xy", "Click at a point of the viewport (CSS pixels)."),
            tool::<MouseDrag>("browser_mouse_drag_xy", "Drag the mouse from one point of the viewport to another, left button held."),
            tool::<MouseButtonArgs>("browser_mouse_down", "Press a mouse button where the mouse is."),
            tool::<MouseButtonArgs>("browser_mouse_up", "Release a mouse button where the mouse is."),
            tool::<MouseWheel>("browser_mouse_wheel", "Turn the mouse wheel where the mouse is (scrolls the page)."),
        ],
        Cap::Pdf => vec![tool::<PdfSave>("browser_pdf_save", "Print the current page to PDF and return it as an embedded resource.")],
        Cap::Network => vec![
            tool::<RouteArgs>("browser_route", "Answer the sandbox's requests whose URL matches a glob with a stub (status, body, content type, headers), or let them through with headers changed."),
            tool::<Unroute>("browser_unroute", "Remove a route (by its pattern), or all routes."),
            tool::<OnSandbox>("browser_route_list", "List the sandbox's routes."),
            tool::<NetworkStateSet>("browser_network_state_set", "Take the sandbox's browser offline or back online."),
        ],
        Cap::Storage => vec![
            tool::<CookieList>("browser_cookie_list", "List the browser's cookies, optionally of one domain or path."),
            tool::<CookieName>("browser_cookie_get", "Show the cookies with a name."),
            tool::<CookieSet>("browser_cookie_set", "Set a cookie (for the current page's site unless `domain` is given)."),
            tool::<CookieName>("browser_cookie_delete", "Delete the cookies with a name."),
            tool::<OnSandbox>("browser_cookie_clear", "Delete every cookie of the browser."),
            tool::<StorageState>("browser_storage_state", "The browser's cookies and the current origin's localStorage, as JSON for browser_set_storage_state."),
            tool::<SetStorageState>("browser_set_storage_state", "Restore cookies and localStorage from the JSON browser_storage_state returned (`state`)."),
            tool::<OnSandbox>("browser_localstorage_list", "List the current origin's localStorage items."),
            tool::<StorageKey>("browser_localstorage_get", "Read one localStorage item."),
            tool::<StorageSet>("browser_localstorage_set", "Set one localStorage item."),
            tool::<StorageKey>("browser_localstorage_delete", "Delete one localStorage item."),
            tool::<OnSandbox>("browser_localstorage_clear", "Delete every localStorage item of the current origin."),
            tool::<OnSandbox>("browser_sessionstorage_list", "List the current tab's sessionStorage items."),
            tool::<StorageKey>("browser_sessionstorage_get", "Read one sessionStorage item."),
            tool::<StorageSet>("browser_sessionstorage_set", "Set one sessionStorage item."),
            tool::<StorageKey>("browser_sessionstorage_delete", "Delete one sessionStorage item."),
            tool::<OnSandbox>("browser_sessionstorage_clear", "Delete every sessionStorage item of the current tab."),
        ],
        Cap::Devtools => vec![
            tool::<Highlight>("browser_highlight", "Draw a lasting outline over an element (ref or CSS selector) on the page, for a person watching the sandbox or a screenshot; browser_hide_highlight removes it."),
            tool::<HideHighlight>("browser_hide_highlight", "Remove the highlight browser_highlight drew over an element (same `target`, or `element`), or every highlight when neither is given."),
            tool::<VideoChapter>("browser_video_chapter", "Show a full-screen chapter card (title, optional description, blurred backdrop) over the page for `duration` milliseconds."),
            tool::<Resume>("browser_resume", "Playwright's debugger resume. hype does not pause page scripts, so this answers with what to use instead."),
            tool::<OnSandbox>("browser_annotate", "Playwright Dashboard annotations. hype has no dashboard; this answers with what to use instead (hyped's console live view, screenshots)."),
            tool::<OnSandbox>("browser_start_recording", "Playwright's action recorder. hype does not record actions as code; this answers with what to use instead."),
            tool::<OnSandbox>("browser_stop_recording", "Playwright's action recorder. hype does not record actions as code; this answers with what to use instead."),
            tool::<OnSandbox>("browser_start_tracing", "Start recording a Chrome performance trace of the sandbox's browser (CDP Tracing); browser_stop_tracing returns it."),
            tool::<OnSandbox>("browser_stop_tracing", "Stop the trace browser_start_tracing began and return it as an embedded JSON resource (Chrome's trace event format, for DevTools' Performance panel or Perfetto; up to 10 MiB)."),
            tool::<StartVideo>("browser_start_video", "Video recording. hype does not encode videos; this answers with what to use instead (the console's live view, screenshots)."),
            tool::<OnSandbox>("browser_stop_video", "Video recording. hype does not encode videos; this answers with what to use instead."),
            tool::<VideoShowActions>("browser_video_show_actions", "Action callouts for videos. hype does not encode videos; this answers with what to use instead."),
            tool::<OnSandbox>("browser_video_hide_actions", "Action callouts for videos. hype does not encode videos; this answers with what to use instead."),
        ],
        Cap::Testing => vec![
            tool::<GenerateLocator>("browser_generate_locator", "A Playwright locator for an element (ref or CSS selector) to use in a test: getByRole with its accessible name when it has one, else a CSS path."),
            tool::<VerifyElementVisible>("browser_verify_element_visible", "Check that an element with a role and accessible name (as browser_snapshot shows them) is on the page; a tool error if not."),
            tool::<VerifyTextVisible>("browser_verify_text_visible", "Check that text is visible on the page (hidden elements do not count); a tool error if not."),
            tool::<VerifyListVisible>("browser_verify_list_visible", "Check that a list (ref or CSS selector) shows each of the given items; a tool error naming those it does not."),
            tool::<VerifyValue>("browser_verify_value", "Check a form field's value (text, `true`/`false` for a checkbox or radio, an option's value or text for a combobox); a tool error with the actual value if it differs."),
        ],
        Cap::Cdp => vec![tool::<Cdp>("browser_cdp", "Send one raw Chrome DevTools Protocol command to the current tab (or, with `browser`, to the browser) and return its result. Events are not returned.")],
    }
}

/// The group a tool belongs to; None for a core tool or no tool.
pub(crate) fn cap_of(name: &str) -> Option<Cap> {
    static GROUPS: std::sync::OnceLock<Vec<(Cap, Vec<String>)>> = std::sync::OnceLock::new();
    GROUPS
        .get_or_init(|| {
            Cap::ALL
                .into_iter()
                .map(|c| {
                    (
                        c,
                        group_tools(c).into_iter().map(|t| t.name.into()).collect(),
                    )
                })
                .collect()
        })
        .iter()
        .find(|(_, names)| names.iter().any(|n| n == name))
        .map(|(c, _)| *c)
}

/// The browser tools listed with the groups `caps`.
pub(crate) fn browser_tools(caps: &BTreeSet<Cap>) -> Vec<Tool> {
    let mut tools = core_tools();
    for c in caps {
        tools.extend(group_tools(*c));
    }
    for t in &mut tools {
        let d = t.description.clone().unwrap_or_default();
        t.description = Some(format!("{d}{SANDBOX_NOTE}").into());
    }
    tools
}

/// A listed devtools tool hype cannot run: its arguments are still
/// checked, then the answer says what to use instead.
fn unsupported<T: serde::de::DeserializeOwned>(name: &str, a: serde_json::Value) -> Output {
    let _: T = parse(name, a)?;
    let why = crate::devtools::unsupported(name).unwrap_or("hype does not run it");
    Err(ToolError::Invalid(format!(
        "{name} is not available on hype: {why}"
    )))
}

impl<B: Backend> HypeMcp<B> {
    /// Runs a browser tool; `name` is one listed (the caller checked).
    pub(crate) async fn dispatch_browser(&self, name: &str, args: serde_json::Value) -> Output {
        let a = args;
        match name {
            "browser_navigate" => self.navigate(parse(name, a)?).await,
            "browser_navigate_back" => self.navigate_back(parse(name, a)?).await,
            "browser_snapshot" => self.snapshot(parse(name, a)?).await,
            "browser_find" => self.find(parse(name, a)?).await,
            "browser_click" => self.click(parse(name, a)?).await,
            "browser_hover" => self.hover(parse(name, a)?).await,
            "browser_drag" => self.drag(parse(name, a)?).await,
            "browser_drop" => self.drop_on(parse(name, a)?).await,
            "browser_type" => self.type_text(parse(name, a)?).await,
            "browser_press_key" => self.press_key(parse(name, a)?).await,
            "browser_fill_form" => self.fill_form(parse(name, a)?).await,
            "browser_select_option" => self.select_option(parse(name, a)?).await,
            "browser_file_upload" => self.file_upload(parse(name, a)?).await,
            "browser_handle_dialog" => self.handle_dialog(parse(name, a)?).await,
            "browser_take_screenshot" | "browser_screenshot" => {
                self.screenshot(parse(name, a)?).await
            }
            "browser_evaluate" => self.evaluate(parse(name, a)?).await,
            "browser_run_code_unsafe" => self.run_code(parse(name, a)?).await,
            "browser_wait_for" => self.wait_for(parse(name, a)?).await,
            "browser_tabs" => self.tabs(parse(name, a)?).await,
            "browser_close" => self.close(parse(name, a)?).await,
            "browser_resize" => self.resize(parse(name, a)?).await,
            "browser_emulate_media" => self.emulate_media(parse(name, a)?).await,
            "browser_console_messages" => self.console_messages(parse(name, a)?).await,
            "browser_network_requests" => self.network_requests(parse(name, a)?).await,
            "browser_network_request" => self.network_request(parse(name, a)?).await,
            "browser_mouse_move_xy" => self.mouse_move(parse(name, a)?).await,
            "browser_mouse_click_xy" => self.mouse_click(parse(name, a)?).await,
            "browser_mouse_drag_xy" => self.mouse_drag(parse(name, a)?).await,
            "browser_mouse_down" => self.mouse_down(parse(name, a)?, true).await,
            "browser_mouse_up" => self.mouse_down(parse(name, a)?, false).await,
            "browser_mouse_wheel" => self.mouse_wheel(parse(name, a)?).await,
            "browser_pdf_save" => self.pdf_save(parse(name, a)?).await,
            "browser_route" => self.route(parse(name, a)?).await,
            "browser_unroute" => self.unroute(parse(name, a)?).await,
            "browser_route_list" => self.route_list(parse(name, a)?).await,
            "browser_network_state_set" => self.network_state_set(parse(name, a)?).await,
            "browser_cookie_list" => self.cookie_list(parse(name, a)?).await,
            "browser_cookie_get" => self.cookie_get(parse(name, a)?).await,
            "browser_cookie_set" => self.cookie_set(parse(name, a)?).await,
            "browser_cookie_delete" => self.cookie_delete(parse(name, a)?).await,
            "browser_cookie_clear" => self.cookie_clear(parse(name, a)?).await,
            "browser_storage_state" => self.storage_state(parse(name, a)?).await,
            "browser_set_storage_state" => self.set_storage_state(parse(name, a)?).await,
            "browser_cdp" => self.cdp(parse(name, a)?).await,
            "browser_highlight" => self.highlight(parse(name, a)?).await,
            "browser_hide_highlight" => self.hide_highlight(parse(name, a)?).await,
            "browser_video_chapter" => self.video_chapter(parse(name, a)?).await,
            "browser_start_tracing" => self.start_tracing(parse(name, a)?).await,
            "browser_stop_tracing" => self.stop_tracing(parse(name, a)?).await,
            "browser_resume" => unsupported::<Resume>(name, a),
            "browser_start_video" => unsupported::<StartVideo>(name, a),
            "browser_video_show_actions" => unsupported::<VideoShowActions>(name, a),
            "browser_annotate"
            | "browser_start_recording"
            | "browser_stop_recording"
            | "browser_stop_video"
            | "browser_video_hide_actions" => unsupported::<OnSandbox>(name, a),
            "browser_generate_locator" => self.generate_locator(parse(name, a)?).await,
            "browser_verify_element_visible" => self.verify_element_visible(parse(name, a)?).await,
            "browser_verify_text_visible" => self.verify_text_visible(parse(name, a)?).await,
            "browser_verify_list_visible" => self.verify_list_visible(parse(name, a)?).await,
            "browser_verify_value" => self.verify_value(parse(name, a)?).await,
            _ => self.dispatch_storage(name, a).await,
        }
    }

    async fn dispatch_storage(&self, name: &str, a: serde_json::Value) -> Output {
        let Some(rest) = name.strip_prefix("browser_") else {
            return Err(ToolError::Invalid(format!("unknown tool '{name}'")));
        };
        let (kind, op) = match rest.split_once("storage_") {
            Some(("local", op)) => ("local", op),
            Some(("session", op)) => ("session", op),
            _ => return Err(ToolError::Invalid(format!("unknown tool '{name}'"))),
        };
        match op {
            "list" | "clear" => {
                let OnSandbox { sandbox } = parse(name, a)?;
                let op = if op == "list" { "list" } else { "clear" };
                self.web_storage(sandbox, kind, op, None, None).await
            }
            "get" | "delete" => {
                let StorageKey { key, sandbox } = parse(name, a)?;
                let op = if op == "get" { "get" } else { "delete" };
                self.web_storage(sandbox, kind, op, Some(key), None).await
            }
            "set" => {
                let StorageSet {
                    key,
                    value,
                    sandbox,
                } = parse(name, a)?;
                self.web_storage(sandbox, kind, "set", Some(key), Some(value))
                    .await
            }
            _ => Err(ToolError::Invalid(format!("unknown tool '{name}'"))),
        }
    }
}
