//! The MCP server handler: the tool catalogue, argument checking, the
//! session's current sandbox, and the `hype://events` resource with its
//! update notifications.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use rmcp::handler::server::common::schema_for_type;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents,
    ResourceUpdatedNotificationParam, ServerCapabilities, ServerConfig, SubscribeRequestParams,
    Tool, UnsubscribeRequestParams,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::args::*;
use crate::backend::Backend;
use crate::error::ToolError;

pub const EVENTS_URI: &str = "hype://events";
const RECENT: usize = 100;

pub(crate) type Output = Result<Vec<ContentBlock>, ToolError>;

/// State of one MCP session (one stdio process, or one HTTP session of a
/// protocol version with sessions). Stateless requests get a fresh one.
#[derive(Default)]
pub(crate) struct Session {
    pub current: Option<String>,
    pub watching: Option<CancellationToken>,
}

/// The tabs of one sandbox's browser as the tools number them.
#[derive(Default)]
pub(crate) struct TabState {
    /// Target ids in the order they were first seen. The browser's own list
    /// is reordered by activation, which would make indexes shift.
    pub order: Vec<String>,
    /// The tab the browser tools act on.
    pub selected: Option<String>,
}

/// Shared by every session of one server.
pub(crate) struct Shared {
    pub tabs: Mutex<HashMap<String, TabState>>,
    pub shutdown: CancellationToken,
    /// Notification tasks of subscribed sessions.
    pub tasks: TaskTracker,
}

/// The tools and resources, over a [`Backend`].
pub struct HypeMcp<B> {
    pub(crate) backend: Arc<B>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) session: Arc<Mutex<Session>>,
}

impl<B> Clone for HypeMcp<B> {
    fn clone(&self) -> Self {
        Self {
            backend: self.backend.clone(),
            shared: self.shared.clone(),
            session: self.session.clone(),
        }
    }
}

impl<B: Backend> HypeMcp<B> {
    pub fn new(backend: B, shutdown: CancellationToken) -> Self {
        Self {
            backend: Arc::new(backend),
            shared: Arc::new(Shared {
                tabs: Mutex::default(),
                shutdown,
                tasks: TaskTracker::new(),
            }),
            session: Arc::default(),
        }
    }

    /// Waits for the tasks this server started (they end on shutdown).
    pub async fn closed(&self) {
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
    }

    /// The same server with a session state of its own.
    pub fn fresh_session(&self) -> Self {
        Self {
            backend: self.backend.clone(),
            shared: self.shared.clone(),
            session: Arc::default(),
        }
    }

    /// The sandbox a browser tool acts on: the one named, or the session's
    /// current one.
    pub(crate) fn sandbox(&self, named: Option<String>) -> Result<String, ToolError> {
        named.or_else(|| self.current()).ok_or(ToolError::NoSandbox)
    }

    pub(crate) fn set_current(&self, name: Option<String>) {
        self.session.lock().expect("session lock").current = name;
    }

    pub(crate) fn current(&self) -> Option<String> {
        self.session.lock().expect("session lock").current.clone()
    }

    async fn dispatch(&self, name: &str, args: serde_json::Value) -> Output {
        match name {
            "sandbox_create" => self.sandbox_create(parse(name, args)?).await,
            "sandbox_list" => {
                let NoArgs {} = parse(name, args)?;
                self.sandbox_list().await
            }
            "sandbox_get" => self.sandbox_get(parse(name, args)?).await,
            "sandbox_delete" => self.sandbox_delete(parse(name, args)?).await,
            "sandbox_logs" => self.sandbox_logs(parse(name, args)?).await,
            "browser_navigate" => self.navigate(parse(name, args)?).await,
            "browser_snapshot" => self.snapshot(parse(name, args)?).await,
            "browser_click" => self.click(parse(name, args)?).await,
            "browser_type" => self.type_text(parse(name, args)?).await,
            "browser_press_key" => self.press_key(parse(name, args)?).await,
            "browser_take_screenshot" | "browser_screenshot" => {
                self.screenshot(parse(name, args)?).await
            }
            "browser_evaluate" => self.evaluate(parse(name, args)?).await,
            "browser_tabs" => self.tabs(parse(name, args)?).await,
            "browser_wait_for" => self.wait_for(parse(name, args)?).await,
            _ => Err(ToolError::Invalid(format!("unknown tool '{name}'"))),
        }
    }

    /// Sends `notifications/resources/updated` for [`EVENTS_URI`] on each
    /// lifecycle event until the client unsubscribes or goes away.
    async fn watch(&self, peer: rmcp::Peer<RoleServer>) -> Result<(), ToolError> {
        let stop = {
            let mut s = self.session.lock().expect("session lock");
            if s.watching.is_some() {
                return Ok(());
            }
            let t = self.shared.shutdown.child_token();
            s.watching = Some(t.clone());
            t
        };
        let mut events = self.backend.events().await?;
        self.shared.tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    e = events.next() => {
                        if e.is_none() || peer.is_transport_closed() {
                            return;
                        }
                        let n = ResourceUpdatedNotificationParam::new(EVENTS_URI);
                        if peer.notify_resource_updated(n).await.is_err() {
                            return;
                        }
                    }
                    // A client that left without unsubscribing.
                    _ = tokio::time::sleep(Duration::from_secs(30)) => {
                        if peer.is_transport_closed() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(())
    }
}

/// Arguments as the tool's type, or the tool error that says what is wrong.
fn parse<T: DeserializeOwned>(tool: &str, args: serde_json::Value) -> Result<T, ToolError> {
    serde_json::from_value(args).map_err(|e| ToolError::Arguments {
        tool: tool.into(),
        why: e.to_string(),
    })
}

fn tool<T: JsonSchema + 'static>(name: &'static str, description: &'static str) -> Tool {
    Tool::new(name, description, schema_for_type::<T>())
}

const SANDBOX_NOTE: &str = " Acts on `sandbox` when given, else on the session's current sandbox (the one last created or used).";

/// Every tool, with its description and input schema.
pub fn catalogue() -> &'static [Tool] {
    static TOOLS: std::sync::LazyLock<Vec<Tool>> = std::sync::LazyLock::new(build_catalogue);
    &TOOLS
}

fn build_catalogue() -> Vec<Tool> {
    let shot = "Take a screenshot of the current page (the viewport, the full page, or one element by ref) and return it as an image (PNG by default, or JPEG).";
    let mut tools = vec![
        tool::<SandboxCreate>("sandbox_create", "Create a sandbox (a microVM with headless Chromium by default) and wait until it is running. It becomes this session's current sandbox, which the browser tools use."),
        tool::<NoArgs>("sandbox_list", "List the sandboxes with their state, image, CPUs and memory."),
        tool::<SandboxName>("sandbox_get", "Show one sandbox: state, resources, address, CDP URL, timestamps."),
        tool::<SandboxName>("sandbox_delete", "Stop and delete a sandbox and everything in it."),
        tool::<SandboxLogs>("sandbox_logs", "The last lines of a sandbox's serial console (boot messages, guest agent)."),
    ];
    let with_note = |mut t: Tool| -> Tool {
        let d = t.description.clone().unwrap_or_default();
        t.description = Some(format!("{d}{SANDBOX_NOTE}").into());
        t
    };
    for t in [
        tool::<Navigate>("browser_navigate", "Navigate the current tab to a URL and wait for the page to load; returns the page's accessibility snapshot."),
        tool::<Snapshot>("browser_snapshot", "Capture the accessibility tree of the current page as text: one line per element, `- role \"name\" [ref=eN]`, nested by indentation. Use the refs with browser_click, browser_type, browser_evaluate and browser_take_screenshot."),
        tool::<Click>("browser_click", "Click an element by its ref from browser_snapshot; returns the new snapshot."),
        tool::<Type>("browser_type", "Type text into an editable element by its ref from browser_snapshot, optionally pressing Enter; returns the new snapshot."),
        tool::<PressKey>("browser_press_key", "Press a key on the keyboard (Enter, Tab, Escape, ArrowDown, or a character)."),
        tool::<Screenshot>("browser_take_screenshot", shot),
        tool::<Screenshot>("browser_screenshot", shot),
        tool::<Evaluate>("browser_evaluate", "Evaluate a JavaScript function on the page, or on one element by ref, and return its result as JSON."),
        tool::<Tabs>("browser_tabs", "List, open, close or select the browser's tabs. The selected tab is the one the other browser tools act on."),
        tool::<WaitFor>("browser_wait_for", "Wait for text to appear or disappear on the page, or for a number of seconds."),
    ] {
        tools.push(with_note(t));
    }
    tools
}

impl<B: Backend> ServerHandler for HypeMcp<B> {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_resources_subscribe()
                .build(),
        )
        .with_server_info(Implementation::new("hype", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "hype runs browser sandboxes: microVMs with headless Chromium. Call sandbox_create, \
             then browser_navigate and browser_snapshot; act on elements by the refs in the \
             snapshot. Delete sandboxes you no longer need with sandbox_delete. The resource \
             hype://events lists recent sandbox lifecycle events.",
        )
    }

    fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListToolsResult, ErrorData>> + Send + '_ {
        std::future::ready(Ok(ListToolsResult::with_all_items(catalogue().to_vec())))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        catalogue().iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = serde_json::Value::Object(request.arguments.unwrap_or_default());
        if !catalogue().iter().any(|t| t.name == request.name) {
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown tool '{}'; tools/list shows the tools",
                    request.name
                ),
                None,
            ));
        }
        Ok(match self.dispatch(&request.name, args).await {
            Ok(content) => CallToolResult::success(content),
            Err(e) => CallToolResult::error(vec![ContentBlock::text(e.to_string())]),
        }
        .into())
    }

    fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListResourcesResult, ErrorData>> + Send + '_ {
        std::future::ready(Ok(ListResourcesResult::with_all_items(vec![
            Resource::new(EVENTS_URI, "events")
                .with_title("Sandbox lifecycle events")
                .with_description(
                    "The most recent sandbox lifecycle events (VM_CREATED, VM_RUNNING, VM_DELETED, ...) \
                     as a JSON array, oldest first. Subscribe to be notified of new ones.",
                )
                .with_mime_type("application/json"),
        ])))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        if request.uri != EVENTS_URI {
            return Err(ErrorData::resource_not_found(
                format!("no resource '{}'; resources/list shows them", request.uri),
                None,
            ));
        }
        let events = self
            .backend
            .recent_events(RECENT)
            .await
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        let text = serde_json::to_string_pretty(&events).unwrap_or_default();
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(text, EVENTS_URI).with_mime_type("application/json")
        ])
        .into())
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if request.uri != EVENTS_URI {
            return Err(ErrorData::resource_not_found(
                format!("cannot subscribe to '{}'; only {EVENTS_URI}", request.uri),
                None,
            ));
        }
        self.watch(context.peer)
            .await
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        _request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if let Some(t) = self.session.lock().expect("session lock").watching.take() {
            t.cancel();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_is_described_and_takes_only_known_fields() {
        let tools = catalogue();
        let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), tools.len(), "unique names");
        for t in tools {
            assert!(
                t.description.as_deref().is_some_and(|d| d.len() > 20),
                "{}",
                t.name
            );
            let s = &serde_json::Value::Object((*t.input_schema).clone());
            assert_eq!(s["type"], "object", "{}", t.name);
            assert_eq!(s["additionalProperties"], false, "{}", t.name);
            for (field, schema) in s["properties"].as_object().into_iter().flatten() {
                assert!(schema["description"].is_string(), "{}.{field}", t.name);
            }
            if t.name.starts_with("browser_") {
                assert!(s["properties"]["sandbox"].is_object(), "{}", t.name);
            }
        }
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        let e = parse::<Navigate>("browser_navigate", serde_json::json!({})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid arguments for browser_navigate: missing field `url`; see the tool's input schema for the accepted fields"
        );
    }
}
