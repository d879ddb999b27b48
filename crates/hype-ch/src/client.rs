//! Typed client for the CH API on its unix socket.
//!
//! Every call opens a fresh connection (no pooling): CH's HTTP server is a
//! single-threaded loop, and a socket path may be reused by a new CH process
//! after a restart or restore, where a pooled connection would be stale.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use hyperlocal::UnixConnector;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::{
    DeviceConfig, DiskConfig, NetConfig, PciDeviceInfo, RestoreConfig, VmConfig, VmCounters,
    VmInfo, VmRemoveDevice, VmResize, VmSnapshotConfig, VmmPingResponse,
};
use crate::error::ChError;

/// Default per-request timeout. Long enough for `vm.snapshot`/`vm.restore`
/// of a few GiB on a local disk; raise it with [`ChClient::with_timeout`] for
/// bigger guests.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

const API_PREFIX: &str = "/api/v1/";

/// Client for one CH process, addressed by its `--api-socket` path.
#[derive(Debug, Clone)]
pub struct ChClient {
    socket: PathBuf,
    timeout: Duration,
    http: Client<UnixConnector, Full<Bytes>>,
}

impl ChClient {
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(UnixConnector);
        Self {
            socket: socket.into(),
            timeout: DEFAULT_TIMEOUT,
            http,
        }
    }

    /// Replaces the per-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// `GET vmm.ping`: is the VMM up, and which build is it.
    pub async fn ping(&self) -> Result<VmmPingResponse, ChError> {
        let body = self.call(Method::GET, "vmm.ping", None).await?;
        self.decode("vmm.ping", body)
    }

    /// `PUT vmm.shutdown`: stops the VM (if any) and makes the CH process exit.
    pub async fn shutdown_vmm(&self) -> Result<(), ChError> {
        self.call(Method::PUT, "vmm.shutdown", None).await.map(drop)
    }

    /// `PUT vm.create`: defines the VM without booting it.
    pub async fn create(&self, config: &VmConfig) -> Result<(), ChError> {
        self.put_json("vm.create", config).await.map(drop)
    }

    pub async fn boot(&self) -> Result<(), ChError> {
        self.put_empty("vm.boot").await
    }

    pub async fn info(&self) -> Result<VmInfo, ChError> {
        let body = self.call(Method::GET, "vm.info", None).await?;
        self.decode("vm.info", body)
    }

    pub async fn counters(&self) -> Result<VmCounters, ChError> {
        let body = self.call(Method::GET, "vm.counters", None).await?;
        self.decode("vm.counters", body)
    }

    pub async fn pause(&self) -> Result<(), ChError> {
        self.put_empty("vm.pause").await
    }

    pub async fn resume(&self) -> Result<(), ChError> {
        self.put_empty("vm.resume").await
    }

    /// `PUT vm.shutdown`: hard stop of the guest; the VMM keeps running and
    /// the VM can be booted again.
    pub async fn shutdown(&self) -> Result<(), ChError> {
        self.put_empty("vm.shutdown").await
    }

    pub async fn reboot(&self) -> Result<(), ChError> {
        self.put_empty("vm.reboot").await
    }

    /// `PUT vm.power-button`: ACPI power button, i.e. ask the guest to shut
    /// down cleanly. Returns as soon as the event is injected.
    pub async fn power_button(&self) -> Result<(), ChError> {
        self.put_empty("vm.power-button").await
    }

    /// `PUT vm.snapshot`: the VM must be paused first.
    pub async fn snapshot(&self, config: &VmSnapshotConfig) -> Result<(), ChError> {
        self.put_json("vm.snapshot", config).await.map(drop)
    }

    /// `PUT vm.restore`: only on a VMM with no VM created; the restored VM
    /// is left paused.
    pub async fn restore(&self, config: &RestoreConfig) -> Result<(), ChError> {
        self.put_json("vm.restore", config).await.map(drop)
    }

    pub async fn delete(&self) -> Result<(), ChError> {
        self.put_empty("vm.delete").await
    }

    pub async fn resize(&self, resize: &VmResize) -> Result<(), ChError> {
        self.put_json("vm.resize", resize).await.map(drop)
    }

    /// `PUT vm.add-disk`: `Some` when hot-plugged into a running VM, `None`
    /// when cold-added before boot (CH answers 204 then).
    pub async fn add_disk(&self, disk: &DiskConfig) -> Result<Option<PciDeviceInfo>, ChError> {
        self.put_device("vm.add-disk", disk).await
    }

    /// `PUT vm.add-net`; see [`ChClient::add_disk`] for the return value.
    pub async fn add_net(&self, net: &NetConfig) -> Result<Option<PciDeviceInfo>, ChError> {
        self.put_device("vm.add-net", net).await
    }

    /// `PUT vm.add-device` (VFIO); see [`ChClient::add_disk`].
    pub async fn add_device(
        &self,
        device: &DeviceConfig,
    ) -> Result<Option<PciDeviceInfo>, ChError> {
        self.put_device("vm.add-device", device).await
    }

    pub async fn remove_device(&self, device: &VmRemoveDevice) -> Result<(), ChError> {
        self.put_json("vm.remove-device", device).await.map(drop)
    }

    async fn put_empty(&self, operation: &'static str) -> Result<(), ChError> {
        self.call(Method::PUT, operation, None).await.map(drop)
    }

    async fn put_json<T: Serialize>(
        &self,
        operation: &'static str,
        body: &T,
    ) -> Result<Bytes, ChError> {
        let json =
            serde_json::to_vec(body).map_err(|source| ChError::Encode { operation, source })?;
        self.call(Method::PUT, operation, Some(json)).await
    }

    async fn put_device<T: Serialize>(
        &self,
        operation: &'static str,
        body: &T,
    ) -> Result<Option<PciDeviceInfo>, ChError> {
        let answer = self.put_json(operation, body).await?;
        if answer.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        self.decode(operation, answer).map(Some)
    }

    fn decode<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        body: Bytes,
    ) -> Result<T, ChError> {
        serde_json::from_slice(&body).map_err(|source| ChError::Decode {
            operation,
            socket: self.socket.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
            source,
        })
    }

    /// One request/response exchange; non-2xx answers become
    /// [`ChError::Api`] with CH's message.
    async fn call(
        &self,
        method: Method,
        operation: &'static str,
        json: Option<Vec<u8>>,
    ) -> Result<Bytes, ChError> {
        let request = self.build_request(method, operation, json)?;
        let exchange = async {
            let response =
                self.http
                    .request(request)
                    .await
                    .map_err(|source| ChError::Transport {
                        operation,
                        socket: self.socket.clone(),
                        source,
                    })?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|source| ChError::Body {
                    operation,
                    socket: self.socket.clone(),
                    source,
                })?
                .to_bytes();
            Ok::<_, ChError>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| ChError::Timeout {
                operation,
                socket: self.socket.clone(),
                timeout: self.timeout,
            })??;
        if !status.is_success() {
            return Err(ChError::Api {
                operation,
                socket: self.socket.clone(),
                status: status.as_u16(),
                message: error_message(status, &body),
            });
        }
        Ok(body)
    }

    fn build_request(
        &self,
        method: Method,
        operation: &'static str,
        json: Option<Vec<u8>>,
    ) -> Result<Request<Full<Bytes>>, ChError> {
        // hyperlocal's connector finds the socket in the URI host as hex; built
        // here rather than with `hyperlocal::Uri::new`, which panics on error.
        let uri = format!(
            "unix://{}:0{API_PREFIX}{operation}",
            hex::encode(self.socket.as_os_str().as_encoded_bytes())
        );
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(hyper::header::HOST, "localhost")
            .header(hyper::header::ACCEPT, "application/json");
        let body = match json {
            Some(json) => {
                builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(json))
            }
            None => Full::new(Bytes::new()),
        };
        builder.body(body).map_err(|source| ChError::Request {
            operation,
            socket: self.socket.clone(),
            source,
        })
    }
}

/// CH answers a failed request with its error chain, top to root, as a JSON
/// array of strings (v48 through v53); join it into one line. Anything else
/// is passed through as text, and an empty body becomes the status text.
fn error_message(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body).trim().to_owned();
    if text.is_empty() {
        return status.canonical_reason().unwrap_or("no message").to_owned();
    }
    if let Ok(chain) = serde_json::from_str::<Vec<String>>(&text) {
        return chain.join(": ");
    }
    if let Ok(message) = serde_json::from_str::<String>(&text) {
        return message;
    }
    text
}

/// Polls `vmm.ping` on `socket` until it answers or `deadline` passes.
/// Use right after spawning CH: the socket appears a moment after the
/// process starts, and connecting before that fails.
pub async fn wait_for_socket(
    socket: impl Into<PathBuf>,
    deadline: Instant,
) -> Result<VmmPingResponse, ChError> {
    const POLL_INTERVAL: Duration = Duration::from_millis(20);
    let started = Instant::now();
    let socket = socket.into();
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        // Each attempt is bounded by what is left so a VMM that accepts but
        // never answers cannot hold us past the deadline.
        let client = ChClient::new(socket.clone()).with_timeout(remaining.max(POLL_INTERVAL));
        let last = match client.ping().await {
            Ok(pong) => return Ok(pong),
            Err(err) => err,
        };
        if Instant::now() + POLL_INTERVAL >= deadline {
            return Err(ChError::NotReady {
                socket,
                waited: started.elapsed(),
                last: Box::new(last),
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
