//! What the tools need from hyped, behind one trait with two
//! implementations: [`crate::LocalBackend`] calls the core in-process
//! (hyped's `/mcp`), [`crate::RestBackend`] calls hyped's REST API (`hype
//! mcp` over stdio). The tools never decide anything the core decides.

use std::future::Future;

use futures::stream::BoxStream;
use hype_types::{CreateVm, Event, Vm};

/// A failed backend call, in words a model can act on.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct BackendError {
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No such sandbox.
    NotFound,
    /// The request was refused as it stands (bad values, wrong state).
    Refused,
    /// hyped or the browser could not be reached, or failed.
    Failed,
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

    fn create(&self, req: CreateVm) -> impl Future<Output = BackendResult<Vm>> + Send;
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
