//! hype over the Model Context Protocol: the sandbox and browser tools an
//! agent uses, the `hype://events` resource, and the two transports —
//! streamable HTTP ([`http_service`], mounted at `/mcp` by hype-api) and
//! stdio ([`serve_stdio`], `hype mcp`).
//!
//! The tools are generic over a [`Backend`]: in hyped they call the core
//! in-process (hype-api implements the backend over it), in `hype mcp` they
//! call hyped's REST API ([`RestBackend`]). This crate must not depend on
//! the core, so the CLI that links it stays a client. The tools must not
//! decide what the core decides (names, limits, lifecycle); browser work
//! goes through `hype-cdp`, only to the browser of a sandbox the backend
//! resolves. Each call's start and end (arguments redacted) is broadcast to
//! in-process observers ([`HypeMcp::subscribe_tool_calls`]; hyped's AG-UI
//! stream shows them), with no knowledge of who listens.

mod args;
mod backend;
mod browser;
mod calls;
mod catalogue;
mod config;
mod devtools;
mod error;
mod glob;
mod groups;
mod guest;
mod input;
mod monitor;
mod observe;
mod rest;
mod sandbox;
mod server;
mod snapshot;
mod tabs;
mod testing;

use std::sync::Arc;

use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;

pub use backend::{
    gather, is_directory, too_big, Backend, BackendError, BackendResult, CdpAccess, ErrorKind,
};
pub use calls::{ToolCallRecord, MAX_ARGS, MAX_RESULT, MAX_STRING, REDACTED, REDACTED_FIELDS};
pub use config::{
    parse_caps, Cap, McpConfig, SessionCapsError, UnknownCap, DEFAULT_SNAPSHOT_BUDGET,
};
pub use error::ToolError;
pub use rest::RestBackend;
pub use server::{catalogue, HypeMcp, EVENTS_URI};

#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error("MCP over stdio: {0}")]
    Stdio(String),
}

/// The streamable-HTTP service for `/mcp`: sessions for protocol versions
/// that have them (each gets its own current sandbox), stateless requests
/// for those that do not. Host and Origin are checked by the server that
/// mounts it (hype-api applies its rules to every route), so rmcp's own
/// narrower host list is off.
pub fn http_service<B: Backend>(
    server: HypeMcp<B>,
    shutdown: CancellationToken,
) -> StreamableHttpService<HypeMcp<B>, LocalSessionManager> {
    let cfg = StreamableHttpServerConfig::default()
        .with_cancellation_token(shutdown)
        .disable_allowed_hosts();
    StreamableHttpService::new(
        move || Ok(server.fresh_session()),
        Arc::new(LocalSessionManager::default()),
        cfg,
    )
}

/// Serves MCP on stdin/stdout against hyped's REST API until the client
/// closes the stream or `shutdown` fires, with the tool groups `caps`
/// (the process is the one session, so they are its caps; what the tools
/// may do is what hyped lets the client's credentials do).
pub async fn serve_stdio(
    client: hype_client::Client,
    caps: std::collections::BTreeSet<Cap>,
    shutdown: CancellationToken,
) -> Result<(), McpError> {
    let config = McpConfig {
        caps,
        ..McpConfig::default()
    };
    let server = HypeMcp::with_config(
        RestBackend::new(client, shutdown.clone()),
        shutdown.clone(),
        config,
    );
    let running = server
        .clone()
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| McpError::Stdio(e.to_string()))?;
    let ct = running.cancellation_token();
    tokio::select! {
        r = running.waiting() => { r.map_err(|e| McpError::Stdio(e.to_string()))?; }
        _ = shutdown.cancelled() => ct.cancel(),
    }
    shutdown.cancel();
    server.closed().await;
    server.backend.closed().await;
    Ok(())
}
