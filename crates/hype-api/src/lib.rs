//! hyped's HTTP face: the `/api/v1` REST routes, the SSE event streams, auth
//! (the key, the web console's sessions, and live links that open one VM's
//! live view and nothing else), metrics, the generated OpenAPI document, and
//! the console's pages (from `hype-console`) beside them.
//!
//! Handlers only extract, call [`hype_core::Hype`], and map the result;
//! errors become status codes by their kind alone ([`error`]). Nothing here
//! decides lifecycle, touches VMMs or reads the store. [`run`] serves until the shutdown token fires,
//! then waits for every connection and core task to finish.

mod agui;
mod auth;
pub mod error;
mod extract;
pub mod guard;
mod limit;
mod live_links;
mod mcp_backend;
mod metrics;
pub mod openapi;
mod routes;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::ServiceExt;
use hype_core::{CoreConfig, Hype};
use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;

pub use auth::AuthConfig;
pub use guard::PublicHost;
pub use session::DEFAULT_TTL as DEFAULT_SESSION_TTL;

/// The shortest API key hyped accepts: a short key is guessed.
pub const MIN_KEY_LEN: usize = 16;

/// Everything `run` needs beyond the listener.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub core: CoreConfig,
    pub api_key: Option<String>,
    /// Who may connect; empty means loopback only when no key is set, and
    /// anyone with the key otherwise.
    pub allow_cidrs: Vec<IpNet>,
    /// Host names (besides IP addresses and localhost) browsers may reach
    /// hyped by, and whose pages may use it.
    pub public_hosts: Vec<PublicHost>,
    /// Requests per second per client (bursts of twice that); 0 is no limit.
    pub rate_limit: u32,
    /// `/mcp`'s tool groups and limits.
    pub mcp: hype_mcp::McpConfig,
    /// How long a console login lasts.
    pub session_ttl: std::time::Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("refusing to listen on {addr} without an API key: set --api-key / HYPE_API_KEY, or listen on a loopback address")]
    KeyRequired { addr: SocketAddr },
    #[error("the API key is {len} characters long; it must have at least {MIN_KEY_LEN} (a short key is guessed)")]
    KeyTooShort { len: usize },
    #[error("cannot read the listener's address")]
    Listener(#[source] std::io::Error),
    #[error(transparent)]
    Core(#[from] hype_core::CoreError),
    #[error("server error")]
    Serve(#[source] std::io::Error),
}

#[derive(Clone)]
pub(crate) struct AppState {
    pub hype: Hype,
    pub auth: Arc<AuthConfig>,
    pub guard: Arc<guard::SiteGuard>,
    /// The live links made, by their tokens' digests.
    pub links: Arc<live_links::LiveLinks>,
    pub metrics: Arc<metrics::Metrics>,
    pub shutdown: CancellationToken,
    /// The MCP tools over the core, for `/mcp`.
    pub mcp: hype_mcp::HypeMcp<mcp_backend::CoreBackend>,
}

/// Serves the API on `listener` until `shutdown` is cancelled.
pub async fn run(
    cfg: ServerConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let addr = listener.local_addr().map_err(ServeError::Listener)?;
    if let Some(k) = &cfg.api_key {
        if k.chars().count() < MIN_KEY_LEN {
            return Err(ServeError::KeyTooShort {
                len: k.chars().count(),
            });
        }
    }
    if !addr.ip().is_loopback() && cfg.api_key.is_none() {
        return Err(ServeError::KeyRequired { addr });
    }
    let hype = Hype::start(cfg.core.clone(), shutdown.clone()).await?;
    let state = AppState {
        hype: hype.clone(),
        auth: Arc::new(AuthConfig::new(
            cfg.api_key.clone(),
            cfg.allow_cidrs.clone(),
            cfg.session_ttl,
        )),
        guard: Arc::new(guard::SiteGuard::new(cfg.public_hosts.clone())),
        links: Default::default(),
        metrics: Arc::new(metrics::Metrics::default()),
        shutdown: shutdown.clone(),
        mcp: hype_mcp::HypeMcp::with_config(
            mcp_backend::CoreBackend::new(hype.clone()),
            shutdown.clone(),
            cfg.mcp.clone(),
        ),
    };
    let mcp = state.mcp.clone();
    // Clients (Playwright among them) ask for `/json/version/`: one
    // documented route serves both spellings.
    let limiter = limit::config(cfg.rate_limit);
    if let Some(l) = &limiter {
        tokio::spawn(limit::prune(l.clone(), shutdown.clone()));
    }
    let app = NormalizePathLayer::trim_trailing_slash().layer(routes::router(state, limiter));
    tracing::info!(%addr, data_dir = %cfg.core.data_dir.display(), "hyped listening");
    let served = axum::serve(
        listener,
        ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<SocketAddr>(
            app,
        ),
    )
    .with_graceful_shutdown({
        let s = shutdown.clone();
        async move { s.cancelled().await }
    })
    .await;
    // Whatever ended serving, make every core task stop and wait for them.
    shutdown.cancel();
    mcp.closed().await;
    hype.closed().await;
    tracing::info!("hyped stopped");
    served.map_err(ServeError::Serve)
}
