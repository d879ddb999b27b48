//! Arguments of the tools in capability groups (`--mcp-caps`): vision,
//! pdf, network and storage as playwright-mcp has them, and hype's `cdp`.

use schemars::JsonSchema;
use serde::Deserialize;

use super::MouseButton;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MouseMove {
    /// X in viewport CSS pixels.
    pub x: f64,
    /// Y in viewport CSS pixels.
    pub y: f64,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MouseClick {
    /// X in viewport CSS pixels.
    pub x: f64,
    /// Y in viewport CSS pixels.
    pub y: f64,
    /// Mouse button (default left).
    #[serde(default)]
    pub button: Option<MouseButton>,
    /// Number of clicks (2 is a double click; default 1).
    #[serde(default)]
    pub click_count: Option<f64>,
    /// Milliseconds between press and release (default 0).
    #[serde(default)]
    pub delay: Option<f64>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MouseDrag {
    /// Start X in viewport CSS pixels.
    pub start_x: f64,
    /// Start Y in viewport CSS pixels.
    pub start_y: f64,
    /// End X in viewport CSS pixels.
    pub end_x: f64,
    /// End Y in viewport CSS pixels.
    pub end_y: f64,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MouseButtonArgs {
    /// Mouse button (default left).
    #[serde(default)]
    pub button: Option<MouseButton>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MouseWheel {
    /// Horizontal scroll in pixels.
    pub delta_x: f64,
    /// Vertical scroll in pixels.
    pub delta_y: f64,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PdfSave {
    /// Accepted for compatibility; the PDF is returned as an embedded resource, not saved.
    #[serde(default)]
    pub filename: Option<String>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RouteArgs {
    /// URL glob: `**` any characters, `*` any but '/', `{a,b}` either (e.g. "**/api/users").
    pub pattern: String,
    /// Status of the stub response (default 200).
    #[serde(default)]
    pub status: Option<f64>,
    /// Body of the stub response.
    #[serde(default)]
    pub body: Option<String>,
    /// Content-Type of the stub response.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Headers "Name: Value" to add (to the stub, or to the request let through).
    #[serde(default)]
    pub headers: Option<Vec<String>>,
    /// Comma-separated header names to remove from the request.
    #[serde(default)]
    pub remove_headers: Option<String>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Unroute {
    /// The pattern to remove; all routes when omitted.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NetState {
    Online,
    Offline,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkStateSet {
    /// online or offline.
    pub state: NetState,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CookieList {
    /// Only cookies of this domain.
    #[serde(default)]
    pub domain: Option<String>,
    /// Only cookies of this path.
    #[serde(default)]
    pub path: Option<String>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CookieName {
    /// The cookie's name.
    pub name: String,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CookieSet {
    /// The cookie's name.
    pub name: String,
    /// The cookie's value.
    pub value: String,
    /// Domain (default: the current page's).
    #[serde(default)]
    pub domain: Option<String>,
    /// Path (default "/").
    #[serde(default)]
    pub path: Option<String>,
    /// Expiry in seconds since the epoch; a session cookie when omitted.
    #[serde(default)]
    pub expires: Option<f64>,
    /// Hidden from scripts.
    #[serde(default)]
    pub http_only: Option<bool>,
    /// Sent over https only.
    #[serde(default)]
    pub secure: Option<bool>,
    /// Strict, Lax or None.
    #[serde(default)]
    pub same_site: Option<SameSite>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StorageKey {
    /// The item's key.
    pub key: String,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StorageSet {
    /// The item's key.
    pub key: String,
    /// The item's value.
    pub value: String,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StorageState {
    /// Accepted for compatibility; the state is returned as JSON, not saved.
    // Accepted so playwright-mcp calls parse; hype has no use for it.
    #[allow(dead_code)]
    #[serde(default)]
    pub filename: Option<String>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStorageState {
    /// Not readable here (hype has no workspace files); pass `state` instead.
    // Accepted so playwright-mcp calls parse; hype has no use for it.
    #[allow(dead_code)]
    #[serde(default)]
    pub filename: Option<String>,
    /// The JSON browser_storage_state returned: {cookies, origins}.
    #[serde(default)]
    pub state: Option<serde_json::Value>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cdp {
    /// The CDP method, e.g. "Runtime.evaluate" or "Page.getLayoutMetrics".
    pub method: String,
    /// Its parameters (default {}).
    #[serde(default)]
    pub params: Option<serde_json::Map<String, serde_json::Value>>,
    /// Send to the browser target instead of the current tab.
    #[serde(default)]
    pub browser: bool,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}
