//! Error types. Every variant names what was being done (the API operation,
//! the socket, the binary or file path) because these errors end up in logs
//! and VM event records far from the call site.

use std::path::PathBuf;
use std::time::Duration;

/// Failure of a call to the CH API.
#[derive(Debug, thiserror::Error)]
pub enum ChError {
    /// The socket could not be reached or the HTTP exchange broke off; CH is
    /// probably not running (or not yet listening).
    #[error("cloud-hypervisor {operation}: cannot talk to API socket {}: {source}", socket.display())]
    Transport {
        operation: &'static str,
        socket: PathBuf,
        #[source]
        source: hyper_util::client::legacy::Error,
    },

    /// CH did not answer in time.
    #[error("cloud-hypervisor {operation}: no answer on {} within {timeout:?}", socket.display())]
    Timeout {
        operation: &'static str,
        socket: PathBuf,
        timeout: Duration,
    },

    /// CH answered with a non-2xx status; `message` is its own explanation.
    #[error("cloud-hypervisor {operation} failed with HTTP {status}: {message}")]
    Api {
        operation: &'static str,
        socket: PathBuf,
        status: u16,
        message: String,
    },

    /// Reading the response body failed midway.
    #[error("cloud-hypervisor {operation}: reading response from {}: {source}", socket.display())]
    Body {
        operation: &'static str,
        socket: PathBuf,
        #[source]
        source: hyper::Error,
    },

    /// The request body could not be serialised.
    #[error("cloud-hypervisor {operation}: encoding request: {source}")]
    Encode {
        operation: &'static str,
        #[source]
        source: serde_json::Error,
    },

    /// CH answered 2xx but the body does not match the expected schema.
    #[error("cloud-hypervisor {operation}: unexpected response body {body:?}: {source}")]
    Decode {
        operation: &'static str,
        socket: PathBuf,
        body: String,
        #[source]
        source: serde_json::Error,
    },

    /// The request could not be built (e.g. a socket path that does not fit
    /// in a URI).
    #[error("cloud-hypervisor {operation}: building request for {}: {source}", socket.display())]
    Request {
        operation: &'static str,
        socket: PathBuf,
        #[source]
        source: hyper::http::Error,
    },

    /// `wait_for_socket` gave up; `last` is the last ping failure.
    #[error("cloud-hypervisor API socket {} not answering after {waited:?}: {last}", socket.display())]
    NotReady {
        socket: PathBuf,
        waited: Duration,
        #[source]
        last: Box<ChError>,
    },
}

impl ChError {
    /// HTTP status if CH itself rejected the request.
    pub fn status(&self) -> Option<u16> {
        match self {
            ChError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Failure to find, extract or verify an embedded CH binary.
#[derive(Debug, thiserror::Error)]
pub enum BinaryError {
    #[error("cloud-hypervisor {version} for {arch} is not embedded in this build (available: {available})")]
    NotEmbedded {
        version: String,
        arch: String,
        available: String,
    },

    #[error("extracting cloud-hypervisor to {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("locking {}: {source}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: nix::Error,
    },

    /// The bytes just written do not hash to the recorded sha256: the build
    /// embedded something other than what build.rs hashed.
    #[error("cloud-hypervisor extracted to {} has sha256 {actual}, expected {expected}", path.display())]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
}

/// Failure to identify an external CH binary.
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    #[error("running {} --version: {source}", path.display())]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{} --version exited with {status}: {stderr}", path.display())]
    Failed {
        path: PathBuf,
        status: std::process::ExitStatus,
        stderr: String,
    },

    #[error("cannot parse a cloud-hypervisor version from {output:?}")]
    Unparsable { output: String },

    #[error("{} --version printed {output:?}, which is not a cloud-hypervisor version", path.display())]
    NotCloudHypervisor { path: PathBuf, output: String },
}
