//! What the tools need from hyped, behind one trait with two
//! implementations: hype-api's in-process backend calls the core (hyped's
//! `/mcp`), [`crate::RestBackend`] calls hyped's REST API (`hype mcp` over
//! stdio). The tools never decide anything the core decides. Failures carry
//! the one classification of hype's errors, [`ErrorKind`].

use std::future::Future;

use futures::stream::BoxStream;
use hype_types::files::UploadSpec;
pub use hype_types::ErrorKind;
use hype_types::{
    CreateVm, Download, Event, ExecRequest, ExecResult, ForkResult, ForkVm, Uploaded, Vm,
};

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

    /// Runs a process in the guest to its end (`POST .../exec`).
    fn exec(
        &self,
        name: &str,
        req: ExecRequest,
    ) -> impl Future<Output = BackendResult<ExecResult>> + Send;
    /// A guest file's bytes; a directory, or a file over `limit` bytes, is
    /// refused (the REST API streams those).
    fn read_file(
        &self,
        name: &str,
        path: &str,
        limit: u64,
    ) -> impl Future<Output = BackendResult<Vec<u8>>> + Send;
    /// Writes `data` to `spec.path` in the guest (unpacks it there, for an
    /// archive).
    fn write_file(
        &self,
        name: &str,
        spec: UploadSpec,
        data: Vec<u8>,
    ) -> impl Future<Output = BackendResult<Uploaded>> + Send;
    /// What the sandbox's browser downloaded, oldest first.
    fn downloads(&self, name: &str) -> impl Future<Output = BackendResult<Vec<Download>>> + Send;
    /// One downloaded file's bytes, refused over `limit`.
    fn download(
        &self,
        name: &str,
        file: &str,
        limit: u64,
    ) -> impl Future<Output = BackendResult<Vec<u8>>> + Send;
}

/// A file's bytes as they come, refused once they pass `limit` (the rest
/// is never read); both backends' reads end here.
pub async fn gather<B, E>(
    body: impl futures::Stream<Item = Result<B, E>>,
    what: &str,
    limit: u64,
    map: impl Fn(E) -> BackendError,
) -> BackendResult<Vec<u8>>
where
    B: AsRef<[u8]>,
{
    use futures::StreamExt as _;
    let mut body = std::pin::pin!(body);
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(chunk.map_err(&map)?.as_ref());
        if out.len() as u64 > limit {
            return Err(too_big(what, limit));
        }
    }
    Ok(out)
}

/// The refusal of a file over the most a tool answer carries.
pub fn too_big(what: &str, limit: u64) -> BackendError {
    BackendError::new(
        ErrorKind::Invalid,
        format!(
            "{what} is over {} MiB, more than a tool answer carries; copy it with `hype vms cp` or GET .../files of the REST API",
            limit >> 20
        ),
    )
}

/// The refusal of a directory where a file was asked for.
pub fn is_directory(path: &str) -> BackendError {
    BackendError::new(
        ErrorKind::Conflict,
        format!(
            "{path} is a directory: read the files in it one by one (sandbox_exec `ls` lists them)"
        ),
    )
}
