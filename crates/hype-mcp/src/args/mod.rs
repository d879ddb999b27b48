//! Tool arguments: one type per tool, unknown fields refused, doc comments
//! becoming the descriptions in each tool's JSON schema. Browser tools take
//! playwright-mcp's (0.0.83) argument names, types and required fields,
//! plus an optional `sandbox`; `tests/mcp` holds that version and
//! crates/hyped/tests/mcp_conformance.rs compares the two catalogues.
//! Element arguments are `target`, a ref from browser_snapshot or a CSS
//! selector matching one element; `ref`, the name of earlier versions, is
//! still accepted.

mod caps;
mod core;
mod extra;
mod guest;

pub use self::caps::*;
pub use self::core::*;
pub use self::extra::*;
pub use self::guest::*;

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
    /// Fork the sandbox from this named snapshot instead of booting it: it
    /// starts with the snapshot's pages, cookies and memory, and takes its
    /// image, CPUs and memory from the snapshot (leave cpu, memory and
    /// image out).
    #[serde(default)]
    pub snapshot: Option<String>,
    /// Take a ready sandbox from this warm pool (see hyped's pools): it is
    /// running at once, with the pool's image, CPUs and memory (leave cpu,
    /// memory and image out). Without it, a pool of the asked shape serves
    /// the create anyway.
    #[serde(default)]
    pub pool: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxFork {
    /// The running sandbox to fork, as sandbox_list shows it. It is paused
    /// only while its state is saved, then goes on running.
    pub sandbox: String,
    /// Name of the fork; with `count`, the forks are NAME-1 .. NAME-K.
    pub name: String,
    /// How many forks to make (1 to 64; default one, named `name`).
    #[serde(default)]
    pub count: Option<u32>,
    /// Delete each fork this many seconds after its creation.
    #[serde(default)]
    pub ttl: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxUse {
    /// The sandbox the browser tools act on from now on in this session, as
    /// sandbox_list shows it.
    pub name: String,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn playwright_shapes_parse() {
        let c: Click = serde_json::from_value(
            json!({"element": "Go button", "target": "e5", "doubleClick": true, "button": "right"}),
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
        assert_eq!((t.action, t.index), (TabAction::Select, Some(1.0)));
    }

    #[test]
    fn unknown_and_missing_fields_are_refused() {
        let e = serde_json::from_value::<Navigate>(json!({"url": "x", "uri": "y"})).unwrap_err();
        assert!(e.to_string().contains("unknown field `uri`"), "{e}");
        let e = serde_json::from_value::<Click>(json!({"element": "x"})).unwrap_err();
        assert!(e.to_string().contains("missing field `target`"), "{e}");
        let old: Click = serde_json::from_value(json!({"ref": "e7"})).unwrap();
        assert_eq!(old.target, "e7");
        assert!(serde_json::from_value::<NoArgs>(json!({"a": 1})).is_err());
        assert!(serde_json::from_value::<Tabs>(json!({"action": "open"})).is_err());
    }

    #[test]
    fn schemas_describe_and_close_the_arguments() {
        let s = serde_json::to_value(schemars::schema_for!(Click)).unwrap();
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(s["required"], json!(["target"]));
        assert!(s["properties"]["target"]["description"]
            .as_str()
            .unwrap()
            .contains("browser_snapshot"));
        assert!(s["properties"]["doubleClick"].is_object());
    }
}
