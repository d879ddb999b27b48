//! What the tools need from hyped, behind one trait with two
//! implementations: hype-api's in-process backend calls the core (hyped's
//! `/mcp`), [`crate::RestBackend`] calls hyped's REST API (`hype mcp` over
//! stdio). The tools never decide anything the core decides. Failures carry
//! the one classification of hype's errors, [`ErrorKind`].

use std::future::Future;

use futures::stream::BoxStream;
pub use hype_types::ErrorKind;
use hype_types::{CreateVm, Event, ForkResult, ForkVm, Vm};

/// A failed backend call, in words a model can act on.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct BackendError {
    pub kind: ErrorKind,
    pub message: String,
}

impl BackendError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

pub type BackendResult<T> = Result<T, BackendError>;

/// Where a browser's CDP endpoints are and how to authenticate to them.
#[derive(Debug, Clone)]
pub struct CdpAccess {
    /// `/json/version` or `/json/list`, WebSocket URLs usable from here.
    pub doc: serde_json::Value,
    /// Sent as `Authorization: Bearer` on the WebSocket handshake.
    pub bearer: Option<String>,
}

pub trait Backend: Send + Sync + 'static {
    /// Keeps a sandbox counted as in use (idle timeouts) while held.
    type Lease: Send;

    /// A new VM; with `snapshot`, a fork of that named snapshot.
    fn create(&self, req: CreateVm) -> impl Future<Output = BackendResult<Vm>> + Send;
    /// `POST /vms/{vm}/fork`: snapshots `vm` and forks it; each fork is
    /// made or fails on its own.
    fn fork(&self, vm: &str, req: ForkVm)
        -> impl Future<Output = BackendResult<ForkResult>> + Send;
    fn list(&self) -> impl Future<Output = BackendResult<Vec<Vm>>> + Send;
    fn get(&self, name: &str) -> impl Future<Output = BackendResult<Vm>> + Send;
    fn delete(&self, name: &str) -> impl Future<Output = BackendResult<()>> + Send;
    /// The whole serial console log.
    fn logs(&self, name: &str) -> impl Future<Output = BackendResult<String>> + Send;
    /// `doc` is `json/version` or `json/list`.
    fn cdp(&self, name: &str, doc: &str) -> impl Future<Output = BackendResult<CdpAccess>> + Send;
    /// Lifecycle events from now on.
    fn events(&self) -> impl Future<Output = BackendResult<BoxStream<'static, Event>>> + Send;
    /// Up to `limit` of the most recent events, oldest first.
    fn recent_events(&self, limit: usize)
        -> impl Future<Output = BackendResult<Vec<Event>>> + Send;
    fn lease(&self, name: &str) -> Self::Lease;
}
