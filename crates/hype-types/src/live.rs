//! The live view's WebSocket (`/api/v1/vms/{name}/live/ws`): what a viewer
//! sends (input for the sandbox's browser, a tab to watch) and the text
//! frames hyped sends besides the frames themselves (binary, one JPEG
//! each).
//!
//! Input is checked here, before it reaches CDP: the event kinds CDP
//! knows, finite coordinates, bounded text, so a viewer cannot make hyped
//! send the browser something it did not mean.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The most characters a key event's `key`, `code` or `text` may hold (a
/// key name such as `ArrowLeft`, or one typed grapheme).
pub const MAX_KEY_FIELD: usize = 32;
/// The largest wheel step, in CSS pixels, and the largest coordinate: far
/// beyond any screen, small enough that CDP never sees a silly number.
pub const MAX_COORDINATE: f64 = 1_000_000.0;

/// A text frame a viewer sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LiveInput {
    /// A mouse event, at page CSS pixels (`Input.dispatchMouseEvent`).
    Mouse(MouseInput),
    /// A key event (`Input.dispatchKeyEvent`).
    Key(KeyInput),
    /// Watch another tab: the target id from the `tabs` list.
    Tab { id: String },
}

/// What a mouse does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum MouseAction {
    MousePressed,
    MouseReleased,
    MouseMoved,
    MouseWheel,
}

/// A mouse button as CDP names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MouseButton {
    #[default]
    None,
    Left,
    Middle,
    Right,
    Back,
    Forward,
}

/// A mouse event from the viewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MouseInput {
    pub action: MouseAction,
    pub x: f64,
    pub y: f64,
    #[serde(default)]
    pub button: MouseButton,
    #[serde(default, rename = "clickCount")]
    pub click_count: u8,
    #[serde(default, rename = "deltaX")]
    pub delta_x: f64,
    #[serde(default, rename = "deltaY")]
    pub delta_y: f64,
    /// Alt 1, Control 2, Meta 4, Shift 8, summed.
    #[serde(default)]
    pub modifiers: u8,
}

/// What a key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum KeyAction {
    KeyDown,
    KeyUp,
    Char,
}

/// A key event from the viewer, as the browser's `KeyboardEvent` has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyInput {
    pub action: KeyAction,
    /// `KeyboardEvent.key`: `a`, `Enter`, `ArrowLeft`.
    #[serde(default)]
    pub key: String,
    /// `KeyboardEvent.code`: `KeyA`, `Enter`.
    #[serde(default)]
    pub code: String,
    /// The text the key types, if any (a printable key without Control
    /// or Meta).
    #[serde(default)]
    pub text: String,
    /// Alt 1, Control 2, Meta 4, Shift 8, summed.
    #[serde(default)]
    pub modifiers: u8,
}

impl LiveInput {
    /// Checks what serde cannot: finite, bounded numbers and short key
    /// names.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            LiveInput::Mouse(m) => {
                for (what, v) in [
                    ("x", m.x),
                    ("y", m.y),
                    ("deltaX", m.delta_x),
                    ("deltaY", m.delta_y),
                ] {
                    if !v.is_finite() || v.abs() > MAX_COORDINATE {
                        return Err(format!("{what} must be a number within ±{MAX_COORDINATE}"));
                    }
                }
                if m.modifiers > 15 || m.click_count > 3 {
                    return Err("modifiers are 0 to 15 and clickCount 0 to 3".into());
                }
                Ok(())
            }
            LiveInput::Key(k) => {
                for (what, v) in [("key", &k.key), ("code", &k.code), ("text", &k.text)] {
                    if v.chars().count() > MAX_KEY_FIELD {
                        return Err(format!("{what} is over {MAX_KEY_FIELD} characters"));
                    }
                }
                if k.modifiers > 15 {
                    return Err("modifiers are 0 to 15".into());
                }
                if k.key.is_empty() && k.text.is_empty() {
                    return Err("a key event needs a key or a text".into());
                }
                Ok(())
            }
            LiveInput::Tab { id } => {
                let ok = !id.is_empty()
                    && id.len() <= 128
                    && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
                if ok {
                    Ok(())
                } else {
                    Err("a tab id is 1 to 128 letters, digits or dashes".into())
                }
            }
        }
    }
}

/// One tab of the sandbox's browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LiveTab {
    pub id: String,
    pub title: String,
    pub url: String,
    /// Whether it is the tab being shown.
    pub current: bool,
}

/// A text frame hyped sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveNotice {
    /// The browser's tabs, sent first and whenever they change.
    Tabs { tabs: Vec<LiveTab> },
    /// The size of the page the next frames show, in CSS pixels: the
    /// coordinates mouse events are in. Sent when it changes.
    /// The frames themselves may be smaller (the screencast scales the
    /// page down to at most 1280x800).
    Viewport { width: f64, height: f64 },
    /// An input frame was refused (the view goes on), or the view failed
    /// (then hyped closes it).
    Error { code: String, message: String },
    /// What this viewer may do, sent first: `interactive` false for a
    /// read-only live link, whose input hyped refuses.
    Access { interactive: bool },
}

/// The longest a live link may last: a day. A link is a bearer secret
/// meant for sharing; a longer one is a standing credential.
pub const MAX_LINK_SECONDS: u64 = 86_400;
/// How long a live link lasts unless asked otherwise: an hour.
pub const DEFAULT_LINK_SECONDS: u64 = 3_600;

/// `POST /api/v1/vms/{name}/live-links`: a link to one VM's live view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLiveLink {
    /// Seconds until the link stops working, 1 to 86400 (default 3600).
    #[serde(default = "default_link_seconds")]
    #[schema(default = 3600, minimum = 1, maximum = 86400)]
    pub expires_in: u64,
    /// Whether the link's viewer may send input (mouse, keys, tab
    /// switches); false (the default) makes a view-only link.
    #[serde(default)]
    pub interactive: bool,
}

fn default_link_seconds() -> u64 {
    DEFAULT_LINK_SECONDS
}

impl Default for CreateLiveLink {
    fn default() -> Self {
        Self {
            expires_in: DEFAULT_LINK_SECONDS,
            interactive: false,
        }
    }
}

impl CreateLiveLink {
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_LINK_SECONDS).contains(&self.expires_in) {
            return Err(format!(
                "expires_in must be 1 to {MAX_LINK_SECONDS} seconds, not {}",
                self.expires_in
            ));
        }
        Ok(())
    }
}

/// A live link, as made. The token is in `url` too; hyped keeps only its
/// digest and cannot show it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LiveLink {
    /// The live page with the token: open it in any browser, no login.
    pub url: String,
    pub token: String,
    /// When the link stops working (RFC 3339, UTC).
    pub expires_at: String,
    pub interactive: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<LiveInput, String> {
        let i: LiveInput = serde_json::from_str(s).map_err(|e| e.to_string())?;
        i.validate()?;
        Ok(i)
    }

    #[test]
    fn a_click_parses_with_cdp_names() {
        let i = parse(
            r#"{"type":"mouse","action":"mousePressed","x":10.5,"y":20,"button":"left","clickCount":1}"#,
        )
        .unwrap();
        let LiveInput::Mouse(m) = i else { panic!() };
        assert_eq!(m.action, MouseAction::MousePressed);
        assert_eq!(m.button, MouseButton::Left);
        assert_eq!((m.x, m.y, m.click_count, m.modifiers), (10.5, 20.0, 1, 0));
    }

    #[test]
    fn a_wheel_parses_with_its_deltas() {
        let LiveInput::Mouse(m) =
            parse(r#"{"type":"mouse","action":"mouseWheel","x":1,"y":2,"deltaY":-120}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (m.delta_x, m.delta_y, m.button),
            (0.0, -120.0, MouseButton::None)
        );
    }

    #[test]
    fn keys_and_tabs_parse() {
        let k = parse(
            r#"{"type":"key","action":"keyDown","key":"a","code":"KeyA","text":"a","modifiers":8}"#,
        )
        .unwrap();
        assert!(matches!(
            k,
            LiveInput::Key(KeyInput {
                action: KeyAction::KeyDown,
                modifiers: 8,
                ..
            })
        ));
        let t = parse(r#"{"type":"tab","id":"ABC-123"}"#).unwrap();
        assert_eq!(
            t,
            LiveInput::Tab {
                id: "ABC-123".into()
            }
        );
    }

    #[test]
    fn unknown_fields_types_and_actions_are_refused() {
        for bad in [
            r#"{"type":"mouse","action":"mousePressed","x":1,"y":1,"extra":1}"#,
            r#"{"type":"mouse","action":"mouseDragged","x":1,"y":1}"#,
            r#"{"type":"mouse","action":"mousePressed","x":1}"#,
            r#"{"type":"key","action":"rawKeyDown","key":"a"}"#,
            r#"{"type":"key","action":"keyDown","key":"a","repeat":true}"#,
            r#"{"type":"tab","id":"x","url":"http://evil"}"#,
            r#"{"type":"navigate","url":"http://evil"}"#,
            r#"{"type":"mouse","action":"mousePressed","x":1,"y":1,"button":"fourth"}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad} was taken");
        }
    }

    #[test]
    fn out_of_range_values_are_refused() {
        for bad in [
            r#"{"type":"mouse","action":"mouseMoved","x":1e300,"y":1}"#,
            r#"{"type":"mouse","action":"mouseMoved","x":1,"y":1,"modifiers":16}"#,
            r#"{"type":"mouse","action":"mousePressed","x":1,"y":1,"clickCount":9}"#,
            r#"{"type":"key","action":"keyDown"}"#,
            r#"{"type":"key","action":"char","text":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#,
            r#"{"type":"tab","id":"../../browser"}"#,
            r#"{"type":"tab","id":""}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad} was taken");
        }
    }

    #[test]
    fn notices_say_their_type() {
        let n = LiveNotice::Tabs {
            tabs: vec![LiveTab {
                id: "T".into(),
                title: "t".into(),
                url: "about:blank".into(),
                current: true,
            }],
        };
        assert_eq!(
            serde_json::to_value(&n).unwrap(),
            serde_json::json!({"type":"tabs","tabs":[{"id":"T","title":"t","url":"about:blank","current":true}]})
        );
        let v = LiveNotice::Viewport {
            width: 800.0,
            height: 600.0,
        };
        assert_eq!(serde_json::to_value(&v).unwrap()["type"], "viewport");
        assert_eq!(
            serde_json::to_value(LiveNotice::Access { interactive: false }).unwrap(),
            serde_json::json!({"type":"access","interactive":false})
        );
    }

    #[test]
    fn a_live_link_request_has_defaults_bounds_and_no_unknown_fields() {
        let d: CreateLiveLink = serde_json::from_str("{}").unwrap();
        assert_eq!(d, CreateLiveLink::default());
        assert!(!d.interactive);
        assert_eq!(d.expires_in, 3600);
        d.validate().unwrap();
        let one: CreateLiveLink =
            serde_json::from_str(r#"{"expires_in":1,"interactive":true}"#).unwrap();
        one.validate().unwrap();
        for bad in [0, 86_401, u64::MAX] {
            let r = CreateLiveLink {
                expires_in: bad,
                interactive: false,
            };
            let e = r.validate().unwrap_err();
            assert!(
                e.contains("expires_in") && e.contains(&bad.to_string()),
                "{e}"
            );
        }
        let e = serde_json::from_str::<CreateLiveLink>(r#"{"expires":5}"#).unwrap_err();
        assert!(e.to_string().contains("expires"), "{e}");
        assert!(serde_json::from_str::<CreateLiveLink>(r#"{"expires_in":-1}"#).is_err());
        assert!(serde_json::from_str::<CreateLiveLink>(r#"{"interactive":"yes"}"#).is_err());
    }
}
