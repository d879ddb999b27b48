//! Arguments of playwright-mcp's `devtools` and `testing` groups.

use schemars::JsonSchema;
use serde::Deserialize;

use super::FieldType;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Highlight {
    /// Human-readable description of the element (names the highlight).
    #[serde(default)]
    pub element: Option<String>,
    /// The element: its ref from the last browser_snapshot, or a CSS
    /// selector matching one element.
    #[serde(alias = "ref")]
    pub target: String,
    /// Extra inline CSS for the overlay, e.g. "outline: 2px dashed red".
    #[serde(default)]
    pub style: Option<String>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HideHighlight {
    /// The description given to browser_highlight, if it was given one.
    #[serde(default)]
    pub element: Option<String>,
    /// The element whose highlight to remove; without it (and without
    /// `element`) every highlight goes.
    #[serde(default, alias = "ref")]
    pub target: Option<String>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

// Parsed so a call made for playwright-mcp is checked; hype does not
// run this tool (see devtools.rs), so nothing reads the fields.
#[allow(dead_code)]
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resume {
    /// Pause again before the next action (step by step).
    #[serde(default)]
    pub step: Option<bool>,
    /// Pause at `<file>:<line>`.
    #[serde(default)]
    pub location: Option<String>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

// Parsed so a call made for playwright-mcp is checked; hype does not
// run this tool (see devtools.rs), so nothing reads the fields.
#[allow(dead_code)]
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VideoSize {
    /// Video width.
    pub width: f64,
    /// Video height.
    pub height: f64,
}

// Parsed so a call made for playwright-mcp is checked; hype does not
// run this tool (see devtools.rs), so nothing reads the fields.
#[allow(dead_code)]
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartVideo {
    /// File name to save the video to.
    #[serde(default)]
    pub filename: Option<String>,
    /// Video size.
    #[serde(default)]
    pub size: Option<VideoSize>,
    /// Frames per second.
    #[serde(default)]
    pub fps: Option<f64>,
    /// Draw a cursor travelling to each action point.
    #[serde(default)]
    pub cursor: Option<bool>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VideoChapter {
    /// The chapter's title.
    pub title: String,
    /// A line under the title.
    #[serde(default)]
    pub description: Option<String>,
    /// How long the card stays, in milliseconds (default 2000).
    #[serde(default)]
    pub duration: Option<f64>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ActionPosition {
    TopLeft,
    Top,
    TopRight,
    BottomLeft,
    Bottom,
    BottomRight,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ActionCursor {
    None,
    Pointer,
}

// Parsed so a call made for playwright-mcp is checked; hype does not
// run this tool (see devtools.rs), so nothing reads the fields.
#[allow(dead_code)]
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionStyle {
    /// CSS of the marker on the action point.
    #[serde(default)]
    pub point: Option<String>,
    /// CSS of the box over the target element.
    #[serde(default)]
    pub highlight: Option<String>,
    /// CSS of the action's title.
    #[serde(default)]
    pub title: Option<String>,
}

// Parsed so a call made for playwright-mcp is checked; hype does not
// run this tool (see devtools.rs), so nothing reads the fields.
#[allow(dead_code)]
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VideoShowActions {
    /// How long each annotation stays, in milliseconds.
    #[serde(default)]
    pub duration: Option<f64>,
    /// Where the action's title goes.
    #[serde(default)]
    pub position: Option<ActionPosition>,
    /// Cursor decoration of pointer actions.
    #[serde(default)]
    pub cursor: Option<ActionCursor>,
    /// Styles of the decorations.
    #[serde(default)]
    pub style: Option<ActionStyle>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateLocator {
    /// Human-readable description of the element (for the record).
    // Accepted so playwright-mcp calls parse; hype has no use for it.
    #[allow(dead_code)]
    #[serde(default)]
    pub element: Option<String>,
    /// The element: its ref from the last browser_snapshot, or a CSS
    /// selector matching one element.
    #[serde(alias = "ref")]
    pub target: String,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerifyElementVisible {
    /// The element's role, as in the snapshot's `- role "name"`.
    pub role: String,
    /// The element's accessible name, as in the snapshot's `- role "name"`.
    pub accessible_name: String,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyTextVisible {
    /// Text that must be visible on the page.
    pub text: String,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyListVisible {
    /// Human-readable description of the list.
    pub element: String,
    /// The list: its ref from the last browser_snapshot, or a CSS selector.
    #[serde(alias = "ref")]
    pub target: String,
    /// Texts that must each be visible inside the list.
    pub items: Vec<String>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyValue {
    /// textbox, checkbox, radio, combobox or slider.
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// Human-readable description of the element.
    pub element: String,
    /// The element: its ref from the last browser_snapshot, or a CSS selector.
    #[serde(alias = "ref")]
    pub target: String,
    /// The expected value; `true` or `false` for a checkbox or radio.
    pub value: String,
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
        let v: VerifyValue = serde_json::from_value(
            json!({"type": "checkbox", "element": "Remember me", "target": "e3", "value": "true"}),
        )
        .unwrap();
        assert_eq!(v.kind, FieldType::Checkbox);
        let e: VerifyElementVisible =
            serde_json::from_value(json!({"role": "button", "accessibleName": "Sign in"})).unwrap();
        assert_eq!(e.accessible_name, "Sign in");
        let a: VideoShowActions = serde_json::from_value(
            json!({"position": "bottom-left", "cursor": "none", "style": {"point": "color: red"}}),
        )
        .unwrap();
        assert_eq!(a.position, Some(ActionPosition::BottomLeft));
        assert_eq!(a.cursor, Some(ActionCursor::None));
        let h: HideHighlight = serde_json::from_value(json!({})).unwrap();
        assert!(h.target.is_none());
    }

    #[test]
    fn unknown_and_missing_fields_are_refused() {
        let e =
            serde_json::from_value::<VerifyListVisible>(json!({"element": "l", "target": "e1"}))
                .unwrap_err();
        assert!(e.to_string().contains("missing field `items`"), "{e}");
        let e = serde_json::from_value::<Highlight>(json!({"target": "e1", "colour": "red"}))
            .unwrap_err();
        assert!(e.to_string().contains("unknown field `colour`"), "{e}");
        let e = serde_json::from_value::<StartVideo>(json!({"size": {"width": 1}})).unwrap_err();
        assert!(e.to_string().contains("missing field `height`"), "{e}");
        assert!(serde_json::from_value::<VideoShowActions>(json!({"position": "middle"})).is_err());
    }
}
