//! Arguments of playwright-mcp's core tools.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Navigate {
    /// The URL to load (http, https, data: or about:).
    pub url: String,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

/// Only `sandbox`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OnSandbox {
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Snapshot only this element and what is inside it: a ref from an
    /// earlier snapshot, or a CSS selector matching one element.
    #[serde(default)]
    pub target: Option<String>,
    /// Accepted for compatibility; the snapshot is returned, not saved.
    // Accepted so playwright-mcp calls parse; hype has no use for it.
    #[allow(dead_code)]
    #[serde(default)]
    pub filename: Option<String>,
    /// Limit the depth of the tree (levels below the top).
    #[serde(default)]
    pub depth: Option<f64>,
    /// Add each element's bounding box as [box=x,y,width,height] (viewport CSS pixels).
    #[serde(default)]
    pub boxes: Option<bool>,
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

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
pub enum Modifier {
    Alt,
    Control,
    ControlOrMeta,
    Meta,
    Shift,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Click {
    /// Human-readable description of the element (for the record).
    #[serde(default)]
    pub element: Option<String>,
    /// The element: its ref from the last browser_snapshot (e.g. "e12"), or
    /// a CSS selector matching one element.
    #[serde(alias = "ref")]
    pub target: String,
    /// Double-click instead of a single click.
    #[serde(default)]
    pub double_click: bool,
    /// Mouse button (default left).
    #[serde(default)]
    pub button: Option<MouseButton>,
    /// Modifier keys held during the click.
    #[serde(default)]
    pub modifiers: Vec<Modifier>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

/// One element, for hover.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hover {
    /// Human-readable description of the element (for the record).
    #[serde(default)]
    pub element: Option<String>,
    /// The element: its ref from the last browser_snapshot (e.g. "e12"), or
    /// a CSS selector matching one element.
    #[serde(alias = "ref")]
    pub target: String,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Drag {
    /// Human-readable description of the element dragged.
    #[serde(default)]
    pub start_element: Option<String>,
    /// The element dragged: a ref or a CSS selector matching one element.
    pub start_target: String,
    /// Human-readable description of the element dropped on.
    #[serde(default)]
    pub end_element: Option<String>,
    /// The element dropped on: a ref or a CSS selector matching one element.
    pub end_target: String,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Drop {
    /// Human-readable description of the element (for the record).
    #[serde(default)]
    pub element: Option<String>,
    /// The element to drop on: a ref or a CSS selector matching one element.
    #[serde(alias = "ref")]
    pub target: String,
    /// Absolute paths of files in the sandbox to drop onto the element.
    #[serde(default)]
    pub paths: Option<Vec<String>>,
    /// Data to drop, MIME type to value (e.g. {"text/plain": "hello"}).
    #[serde(default)]
    pub data: Option<BTreeMap<String, String>>,
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
    /// The editable element: its ref from the last browser_snapshot (e.g.
    /// "e12"), or a CSS selector matching one element.
    #[serde(alias = "ref")]
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
    Webp,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    #[default]
    Css,
    Device,
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
    /// The element to shoot: a ref from browser_snapshot or a CSS selector;
    /// the viewport when omitted.
    #[serde(default, alias = "ref")]
    pub target: Option<String>,
    /// The whole scrollable page instead of the viewport.
    #[serde(default)]
    pub full_page: bool,
    /// css (default): CSS pixels; device: device pixels.
    // Accepted so playwright-mcp calls parse; hype has no use for it.
    #[allow(dead_code)]
    #[serde(default)]
    pub scale: Option<Scale>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Evaluate {
    /// JavaScript function source: `() => document.title`, or `(element) => element.textContent` with a target.
    pub function: String,
    /// Human-readable description of the element, when passing one.
    #[serde(default)]
    pub element: Option<String>,
    /// An element to pass to the function: a ref or a CSS selector.
    #[serde(default, alias = "ref")]
    pub target: Option<String>,
    /// Accepted for compatibility; the result is returned, not saved.
    // Accepted so playwright-mcp calls parse; hype has no use for it.
    #[allow(dead_code)]
    #[serde(default)]
    pub filename: Option<String>,
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
    pub index: Option<f64>,
    /// For new: the URL to open in the new tab.
    #[serde(default)]
    pub url: Option<String>,
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

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resize {
    /// Viewport width in CSS pixels.
    pub width: f64,
    /// Viewport height in CSS pixels.
    pub height: f64,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum ConsoleLevel {
    Error,
    Warning,
    #[default]
    Info,
    Debug,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsoleMessages {
    /// The least severe level returned (default info): error, warning, info or debug.
    #[serde(default)]
    pub level: Option<ConsoleLevel>,
    /// All messages kept since the sandbox's browser was first seen, not
    /// only those of the current tab since its last navigation.
    #[serde(default)]
    pub all: Option<bool>,
    /// Accepted for compatibility; the messages are returned, not saved.
    // Accepted so playwright-mcp calls parse; hype has no use for it.
    #[allow(dead_code)]
    #[serde(default)]
    pub filename: Option<String>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HandleDialog {
    /// Accept (OK) or dismiss (Cancel) the dialog.
    pub accept: bool,
    /// The text to answer a prompt() with.
    #[serde(default)]
    pub prompt_text: Option<String>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ColorScheme {
    Light,
    Dark,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ReducedMotion {
    Reduce,
    NoPreference,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ForcedColors {
    Active,
    None,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Contrast {
    More,
    NoPreference,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MediaType {
    Screen,
    Print,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EmulateMedia {
    /// prefers-color-scheme: light or dark; null resets it.
    #[serde(default)]
    pub color_scheme: Option<ColorScheme>,
    /// prefers-reduced-motion: reduce or no-preference; null resets it.
    #[serde(default)]
    pub reduced_motion: Option<ReducedMotion>,
    /// forced-colors: active or none; null resets it.
    #[serde(default)]
    pub forced_colors: Option<ForcedColors>,
    /// prefers-contrast: more or no-preference; null resets it.
    #[serde(default)]
    pub contrast: Option<Contrast>,
    /// The CSS media type: screen or print; null resets it.
    #[serde(default)]
    pub media: Option<MediaType>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileUpload {
    /// Absolute paths, in the sandbox, of the files to give the open file
    /// chooser; omitted, the chooser is cancelled.
    #[serde(default)]
    pub paths: Option<Vec<String>>,
    /// Files given here instead, by name and content: hype puts them in
    /// the sandbox and chooses them (with any `paths`).
    #[serde(default)]
    pub files: Option<Vec<super::InlineFile>>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Textbox,
    Checkbox,
    Radio,
    Combobox,
    Slider,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FormField {
    /// Human-readable description of the element (for the record).
    // Accepted so playwright-mcp calls parse; hype has no use for it.
    #[allow(dead_code)]
    #[serde(default)]
    pub element: Option<String>,
    /// The field: a ref from browser_snapshot or a CSS selector matching one element.
    #[serde(alias = "ref")]
    pub target: String,
    /// Human-readable field name.
    pub name: String,
    /// textbox, checkbox, radio, combobox or slider.
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// The value: text; `true`/`false` for a checkbox or radio; an option's text for a combobox.
    pub value: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FillForm {
    /// Fields to fill in, in order.
    pub fields: Vec<FormField>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectOption {
    /// Human-readable description of the element (for the record).
    #[serde(default)]
    pub element: Option<String>,
    /// The `<select>`: a ref from browser_snapshot or a CSS selector.
    #[serde(alias = "ref")]
    pub target: String,
    /// The options to select, by value or by visible text.
    pub values: Vec<String>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Find {
    /// Text to look for in the snapshot (case-insensitive).
    #[serde(default)]
    pub text: Option<String>,
    /// A regular expression to look for; `/re/i` for case-insensitive.
    #[serde(default)]
    pub regex: Option<String>,
    /// Accepted for compatibility; the matches are returned, not saved.
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
pub struct NetworkRequests {
    /// Include successful static resources (images, fonts, scripts, style sheets); default false.
    #[serde(default, rename = "static")]
    pub include_static: Option<bool>,
    /// Only requests whose URL matches this regular expression.
    #[serde(default)]
    pub filter: Option<String>,
    /// Accepted for compatibility; the list is returned, not saved.
    // Accepted so playwright-mcp calls parse; hype has no use for it.
    #[allow(dead_code)]
    #[serde(default)]
    pub filename: Option<String>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RequestPart {
    RequestHeaders,
    RequestBody,
    ResponseHeaders,
    ResponseBody,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkRequest {
    /// The request's number in browser_network_requests.
    pub index: u64,
    /// Only this part: request-headers, request-body, response-headers or response-body.
    #[serde(default)]
    pub part: Option<RequestPart>,
    /// Accepted for compatibility; the details are returned, not saved.
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
pub struct RunCode {
    /// A JavaScript function `async (page) => { ... }`; see the tool's description for what `page` offers.
    #[serde(default)]
    pub code: Option<String>,
    /// Not supported: hype has no workspace to load code from; pass `code`.
    // Accepted so playwright-mcp calls parse; hype has no use for it.
    #[allow(dead_code)]
    #[serde(default)]
    pub filename: Option<String>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}
