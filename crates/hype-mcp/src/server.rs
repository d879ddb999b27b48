//! The MCP server handler: the tool catalogue, argument checking, the
//! session's current sandbox, and the `hype://events` resource with its
//! update notifications.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use rmcp::handler::server::common::schema_for_type;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeRequestParams, InitializeResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult,
    Resource, ResourceContents, ResourceUpdatedNotificationParam, ServerCapabilities, ServerConfig,
    SubscribeRequestParams, Tool, UnsubscribeRequestParams,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::args::*;
use crate::backend::Backend;
use crate::calls::{CallFeed, ToolCallRecord};
use crate::config::{Cap, McpConfig};
use crate::error::ToolError;
use crate::monitor::Monitor;
use hype_types::EventType;

pub const EVENTS_URI: &str = "hype://events";
const RECENT: usize = 100;

pub(crate) type Output = Result<Vec<ContentBlock>, ToolError>;

/// State of one MCP session (one stdio process, or one HTTP session of a
/// protocol version with sessions). Stateless requests get a fresh one.
#[derive(Default)]
pub(crate) struct Session {
    pub current: Option<String>,
    pub watching: Option<CancellationToken>,
    /// The tools of this session's groups, fixed by the first request
    /// that names them (`initialize` on the session protocol).
    pub tools: Option<Arc<Vec<Tool>>>,
}

/// Shared by every session of one server.
pub(crate) struct Shared {
    /// Each sandbox's browser, followed from when it was first seen.
    pub monitors: tokio::sync::Mutex<HashMap<String, Arc<Monitor>>>,
    pub config: McpConfig,
    /// The tools listed and callable under `config`'s own groups.
    pub tools: Arc<Vec<Tool>>,
    /// The tools of each set of groups sessions asked for, made once.
    pub catalogues: Mutex<HashMap<BTreeSet<Cap>, Arc<Vec<Tool>>>>,
    pub shutdown: CancellationToken,
    /// Notification tasks of subscribed sessions.
    pub tasks: TaskTracker,
    /// Every tool call's start and end, for in-process observers.
    pub calls: CallFeed,
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
        Self::with_config(backend, shutdown, McpConfig::default())
    }

    /// A server with `config`'s tool groups and limits. Inside a Tokio
    /// runtime it also starts following each browser sandbox from the
    /// moment it runs, so the console and network tools can answer for
    /// what happened before the first tool call.
    pub fn with_config(backend: B, shutdown: CancellationToken, config: McpConfig) -> Self {
        let server = Self {
            backend: Arc::new(backend),
            shared: Arc::new(Shared {
                monitors: tokio::sync::Mutex::default(),
                tools: Arc::new(catalogue(&config.caps)),
                catalogues: Mutex::default(),
                config,
                shutdown,
                tasks: TaskTracker::new(),
                calls: CallFeed::default(),
            }),
            session: Arc::default(),
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            let s = server.clone();
            server
                .shared
                .tasks
                .spawn(async move { s.follow_sandboxes().await });
        }
        server
    }

    /// Starts a sandbox's monitor when it runs and drops it when it stops.
    async fn follow_sandboxes(self) {
        let Ok(mut events) = self.backend.events().await else {
            return;
        };
        loop {
            let e = tokio::select! {
                _ = self.shared.shutdown.cancelled() => break,
                e = events.next() => match e { Some(e) => e, None => break },
            };
            let vm = e.vm.clone();
            match e.event_type {
                EventType::VmRunning | EventType::VmResumed | EventType::VmRestored => {
                    let s = self.clone();
                    // Not a browser, or not answering yet: the first tool
                    // call tries again.
                    self.shared.tasks.spawn(async move {
                        let _ = s.monitor(&vm).await;
                    });
                }
                EventType::VmStopped | EventType::VmCrashed | EventType::VmDeleted => {
                    self.drop_monitor(&vm).await
                }
                _ => {}
            }
        }
        for (_, m) in self.shared.monitors.lock().await.drain() {
            m.closed.cancel();
        }
    }

    /// Waits for the tasks this server started (they end on shutdown).
    pub async fn closed(&self) {
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
    }

    /// Each tool call's start (its arguments redacted) and end, from now
    /// on, across every session of this server. A receiver that falls
    /// behind misses records (`Lagged`).
    pub fn subscribe_tool_calls(&self) -> tokio::sync::broadcast::Receiver<ToolCallRecord> {
        self.shared.calls.subscribe()
    }

    /// What the operator switched on.
    pub fn config(&self) -> &McpConfig {
        &self.shared.config
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

    /// Calls a listed tool as `tools/call` does, without a transport (for
    /// in-process callers and tests); an unknown name is a tool error here.
    pub async fn call(&self, name: &str, args: serde_json::Value) -> CallToolResult {
        if !self.shared.tools.iter().any(|t| t.name == name) {
            let why = match crate::catalogue::cap_of(name) {
                Some(cap) => not_enabled(name, cap),
                None => format!("unknown tool '{name}'; tools/list shows the tools"),
            };
            return CallToolResult::error(vec![ContentBlock::text(why)]);
        }
        self.run(name, args).await
    }

    /// The tools of this session: those of the groups it connected with
    /// (the `caps` query parameter of the request's URL, added to hyped's),
    /// or hyped's alone where there is no URL (stdio, in-process).
    fn session_tools(&self, ctx: &RequestContext<RoleServer>) -> Result<Arc<Vec<Tool>>, ErrorData> {
        if let Some(t) = &self.session.lock().expect("session lock").tools {
            return Ok(t.clone());
        }
        let query = ctx
            .extensions
            .get::<http::request::Parts>()
            .and_then(|p| p.uri.query());
        let caps = self
            .shared
            .config
            .caps_for_query(query)
            .map_err(|e| ErrorData::invalid_params(e.to_string(), None))?;
        let tools = if caps == self.shared.config.caps {
            self.shared.tools.clone()
        } else {
            self.shared
                .catalogues
                .lock()
                .expect("catalogues lock")
                .entry(caps)
                .or_insert_with_key(|caps| Arc::new(catalogue(caps)))
                .clone()
        };
        self.session.lock().expect("session lock").tools = Some(tools.clone());
        Ok(tools)
    }

    /// Runs a listed tool, publishing its start and end to observers.
    async fn run(&self, name: &str, args: serde_json::Value) -> CallToolResult {
        let call = self.shared.calls.started(name, &args);
        let out = self.dispatch(name, args).await;
        call.finish(out.as_ref().map(|_| ()));
        match out {
            Ok(content) => CallToolResult::success(content),
            Err(e) => CallToolResult::error(vec![ContentBlock::text(e.to_string())]),
        }
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
            "sandbox_use" => self.sandbox_use(parse(name, args)?).await,
            "sandbox_fork" => self.sandbox_fork(parse(name, args)?).await,
            "sandbox_exec" => self.sandbox_exec(parse(name, args)?).await,
            "sandbox_read_file" => self.sandbox_read_file(parse(name, args)?).await,
            "sandbox_write_file" => self.sandbox_write_file(parse(name, args)?).await,
            "sandbox_list_downloads" => self.sandbox_list_downloads(parse(name, args)?).await,
            "sandbox_get_download" => self.sandbox_get_download(parse(name, args)?).await,
            _ => self.dispatch_browser(name, args).await,
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
pub(crate) fn parse<T: DeserializeOwned>(
    tool: &str,
    args: serde_json::Value,
) -> Result<T, ToolError> {
    serde_json::from_value(args).map_err(|e| ToolError::Arguments {
        tool: tool.into(),
        why: e.to_string(),
    })
}

/// The tool error for a tool of a group the session does not have.
fn not_enabled(name: &str, cap: Cap) -> String {
    format!(
        "{name} is in the '{cap}' capability group, which this session does not have: \
         connect to hyped's MCP endpoint with ?caps={cap} (e.g. /mcp?caps={cap}), \
         or start hyped with --mcp-caps {cap}"
    )
}

/// The tools of every group, made once.
fn every_tool() -> &'static [Tool] {
    static ALL: std::sync::OnceLock<Vec<Tool>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| catalogue(&Cap::ALL.into_iter().collect()))
}

pub(crate) fn tool<T: JsonSchema + 'static>(name: &'static str, description: &'static str) -> Tool {
    Tool::new(name, description, schema_for_type::<T>())
}

/// Every tool listed with the groups `caps`, with its description and
/// input schema.
pub fn catalogue(caps: &BTreeSet<Cap>) -> Vec<Tool> {
    let mut tools = vec![
        tool::<SandboxCreate>("sandbox_create", "Create a sandbox (a microVM with headless Chromium by default) and wait until it is running; with `snapshot`, fork it from that named snapshot (its pages, cookies and memory as they were). It becomes this session's current sandbox, which the browser tools use."),
        tool::<SandboxFork>("sandbox_fork", "Fork a running sandbox into one or `count` new ones that start where it is now (same pages, cookies and memory), each with its own name and address; the source goes on running. Answers with each fork made and each that failed; the session's current sandbox stays as it was."),
        tool::<NoArgs>("sandbox_list", "List the sandboxes with their state, image, CPUs and memory."),
        tool::<SandboxName>("sandbox_get", "Show one sandbox: state, resources, address, CDP URL, timestamps."),
        tool::<SandboxUse>("sandbox_use", "Make a sandbox this session's current one: browser tools called without `sandbox` act on it. Over the sessionless protocol version there is no session to remember it; name the sandbox on each call there."),
        tool::<SandboxName>("sandbox_delete", "Stop and delete a sandbox and everything in it."),
        tool::<SandboxLogs>("sandbox_logs", "The last lines of a sandbox's serial console (boot messages, guest agent)."),
        tool::<SandboxExec>("sandbox_exec", "Run a command inside the sandbox (a shell line, or a program and its arguments) and wait for it to end; returns its exit code, stdout and stderr. Runs as the sandbox's unprivileged user unless `user` says otherwise; killed after `timeout` seconds."),
        tool::<SandboxReadFile>("sandbox_read_file", "Read a file in the sandbox: text comes back as text, other bytes as an embedded resource (up to 10 MiB)."),
        tool::<SandboxWriteFile>("sandbox_write_file", "Write a file in the sandbox (text or base64), replacing any file at that path; its directory must exist."),
        tool::<SandboxDownloads>("sandbox_list_downloads", "List the files the sandbox's browser downloaded: name, size, sha256, the URL and page they came from, when."),
        tool::<SandboxGetDownload>("sandbox_get_download", "Fetch a file the sandbox's browser downloaded, by its name from sandbox_list_downloads, as an embedded resource (up to 10 MiB)."),
    ];
    tools.extend(crate::catalogue::browser_tools(caps));
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
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListToolsResult, ErrorData>> + Send + '_ {
        std::future::ready(
            self.session_tools(&context)
                .map(|t| ListToolsResult::with_all_items((*t).clone())),
        )
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        // A session's groups are settled when it starts, so a bad `caps`
        // fails the handshake rather than a later call.
        self.session_tools(&context)?;
        context.peer.set_peer_info(request.clone());
        self.negotiate_initialize(&request)
    }

    /// Any tool of any group: rmcp reads its schema to check request
    /// headers before it knows the session; whether the session may call
    /// it is `call_tool`'s question.
    fn get_tool(&self, name: &str) -> Option<Tool> {
        every_tool().iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = serde_json::Value::Object(request.arguments.unwrap_or_default());
        let tools = self.session_tools(&context)?;
        if !tools.iter().any(|t| t.name == request.name) {
            if let Some(cap) = crate::catalogue::cap_of(&request.name) {
                let why = not_enabled(&request.name, cap);
                return Ok(CallToolResult::error(vec![ContentBlock::text(why)]).into());
            }
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown tool '{}'; tools/list shows the tools",
                    request.name
                ),
                None,
            ));
        }
        Ok(self.run(&request.name, args).await.into())
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
        let tools = catalogue(&Cap::ALL.into_iter().collect());
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
    fn hype_lists_its_own_sandbox_tools_first() {
        let tools = catalogue(&Default::default());
        let own: Vec<&str> = tools
            .iter()
            .map(|t| t.name.as_ref())
            .take_while(|n| n.starts_with("sandbox_"))
            .collect();
        assert_eq!(
            own,
            [
                "sandbox_create",
                "sandbox_fork",
                "sandbox_list",
                "sandbox_get",
                "sandbox_use",
                "sandbox_delete",
                "sandbox_logs",
                "sandbox_exec",
                "sandbox_read_file",
                "sandbox_write_file",
                "sandbox_list_downloads",
                "sandbox_get_download"
            ]
        );
        let fork = tools.iter().find(|t| t.name == "sandbox_fork").unwrap();
        let s = serde_json::Value::Object((*fork.input_schema).clone());
        assert_eq!(s["required"], serde_json::json!(["sandbox", "name"]));
    }

    #[test]
    fn each_group_tool_names_its_group() {
        let core = catalogue(&Default::default());
        for cap in Cap::ALL {
            let with = catalogue(&[cap].into_iter().collect());
            assert!(with.len() > core.len(), "{cap}");
            for t in with
                .iter()
                .filter(|t| !core.iter().any(|c| c.name == t.name))
            {
                assert_eq!(crate::catalogue::cap_of(&t.name), Some(cap), "{}", t.name);
            }
        }
        assert_eq!(crate::catalogue::cap_of("browser_click"), None);
        assert_eq!(crate::catalogue::cap_of("browser_nope"), None);
        assert_eq!(
            not_enabled("browser_pdf_save", Cap::Pdf),
            "browser_pdf_save is in the 'pdf' capability group, which this session does not have: \
             connect to hyped's MCP endpoint with ?caps=pdf (e.g. /mcp?caps=pdf), or start hyped with --mcp-caps pdf"
        );
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
