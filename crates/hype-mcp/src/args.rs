//! Tool arguments: one type per tool, unknown fields refused, doc comments
//! becoming the descriptions in each tool's JSON schema. Browser tools take
//! playwright-mcp's argument shapes plus an optional `sandbox`.

use schemars::JsonSchema;
use serde::Deserialize;

/// No arguments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxCreate {
    /// Name of the new sandbox (lowercase letters, digits and '-', up to 63
    /// characters). A name is generated when omitted.
    #[serde(default)]
    pub name: Option<String>,
    /// Virtual CPUs (default 2).
    #[serde(default)]
    pub cpu: Option<u32>,
    /// Memory in MiB (default 1536; a browser needs at least about 1024).
    #[serde(default)]
    pub memory: Option<u32>,
    /// Delete the sandbox this many seconds after its creation.
    #[serde(default)]
    pub ttl: Option<u32>,
    /// Boot image (default "browser", headless Chromium).
    #[serde(default)]
    pub image: Option<String>,
    /// How long to wait for the sandbox to be running, in seconds (default
    /// 300). On timeout the sandbox is left starting; check it with sandbox_get.
    #[serde(default)]
    pub wait_seconds: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxName {
    /// The sandbox's name, as sandbox_list shows it.
    pub name: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxLogs {
    /// The sandbox's name, as sandbox_list shows it.
    pub name: String,
    /// How many of the last lines of the serial console to return (default 100).
    #[serde(default)]
    pub lines: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Navigate {
    /// The URL to load (http, https, data: or about:).
    pub url: String,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MouseButton {
    Left,
    Right,
    Middle,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Click {
    /// Human-readable description of the element (for the record).
    #[serde(default)]
    pub element: Option<String>,
    /// The element's ref from the last browser_snapshot, e.g. "e12".
    #[serde(rename = "ref")]
    pub target: String,
    /// Double-click instead of a single click.
    #[serde(default)]
    pub double_click: bool,
    /// Mouse button (default left).
    #[serde(default)]
    pub button: Option<MouseButton>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Type {
    /// Human-readable description of the element (for the record).
    #[serde(default)]
    pub element: Option<String>,
    /// The editable element's ref from the last browser_snapshot, e.g. "e12".
    #[serde(rename = "ref")]
    pub target: String,
    /// The text to type.
    pub text: String,
    /// Press Enter afterwards.
    #[serde(default)]
    pub submit: bool,
    /// Type one key at a time (for pages that react to each key).
    #[serde(default)]
    pub slowly: bool,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PressKey {
    /// A key name such as Enter, Tab, Escape, Backspace, ArrowLeft, or a single character such as "a".
    pub key: String,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ImageType {
    #[default]
    Png,
    Jpeg,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Screenshot {
    /// Image format (default png).
    #[serde(default, rename = "type")]
    pub format: Option<ImageType>,
    /// Accepted for compatibility; the image is returned in the result, not saved.
    #[serde(default)]
    pub filename: Option<String>,
    /// Human-readable description of the element, when shooting one element.
    #[serde(default)]
    pub element: Option<String>,
    /// Ref of one element to shoot (from browser_snapshot); the viewport when omitted.
    #[serde(default, rename = "ref")]
    pub target: Option<String>,
    /// The whole scrollable page instead of the viewport.
    #[serde(default)]
    pub full_page: bool,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Evaluate {
    /// JavaScript function source: `() => document.title`, or `(element) => element.textContent` with a ref.
    pub function: String,
    /// Human-readable description of the element, when passing one.
    #[serde(default)]
    pub element: Option<String>,
    /// Ref of an element to pass to the function (from browser_snapshot).
    #[serde(default, rename = "ref")]
    pub target: Option<String>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TabAction {
    List,
    New,
    Close,
    Select,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tabs {
    /// list, new, close or select.
    pub action: TabAction,
    /// Tab index (from list) for select and close; close without one closes the current tab.
    #[serde(default)]
    pub index: Option<usize>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WaitFor {
    /// Seconds to wait.
    #[serde(default)]
    pub time: Option<f64>,
    /// Wait until this text appears on the page.
    #[serde(default)]
    pub text: Option<String>,
    /// Wait until this text is gone from the page.
    #[serde(default)]
    pub text_gone: Option<String>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn playwright_shapes_parse() {
        let c: Click = serde_json::from_value(
            json!({"element": "Go button", "ref": "e5", "doubleClick": true, "button": "right"}),
        )
        .unwrap();
        assert_eq!(c.target, "e5");
        assert!(c.double_click);
        assert_eq!(c.button, Some(MouseButton::Right));
        let s: Screenshot =
            serde_json::from_value(json!({"type": "jpeg", "fullPage": true})).unwrap();
        assert_eq!(s.format, Some(ImageType::Jpeg));
        assert!(s.full_page);
        let w: WaitFor = serde_json::from_value(json!({"textGone": "Loading"})).unwrap();
        assert_eq!(w.text_gone.as_deref(), Some("Loading"));
        let t: Tabs = serde_json::from_value(json!({"action": "select", "index": 1})).unwrap();
        assert_eq!((t.action, t.index), (TabAction::Select, Some(1)));
    }

    #[test]
    fn unknown_and_missing_fields_are_refused() {
        let e = serde_json::from_value::<Navigate>(json!({"url": "x", "uri": "y"})).unwrap_err();
        assert!(e.to_string().contains("unknown field `uri`"), "{e}");
        let e = serde_json::from_value::<Click>(json!({"element": "x"})).unwrap_err();
        assert!(e.to_string().contains("missing field `ref`"), "{e}");
        assert!(serde_json::from_value::<NoArgs>(json!({"a": 1})).is_err());
        assert!(serde_json::from_value::<Tabs>(json!({"action": "open"})).is_err());
    }

    #[test]
    fn schemas_describe_and_close_the_arguments() {
        let s = serde_json::to_value(schemars::schema_for!(Click)).unwrap();
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(s["required"], json!(["ref"]));
        assert!(s["properties"]["ref"]["description"]
            .as_str()
            .unwrap()
            .contains("browser_snapshot"));
        assert!(s["properties"]["doubleClick"].is_object());
    }
}
