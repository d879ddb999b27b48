use std::path::PathBuf;

use crate::soap::Fault;

/// Why an export failed. Each variant names what the user must look at.
#[derive(Debug, thiserror::Error)]
pub enum VsphereError {
    #[error("invalid export request: {message}")]
    InvalidSpec { message: String },
    #[error("the server certificate of {url} is not trusted ({message}); set insecure: true only for a self-signed vCenter you trust")]
    Certificate { url: String, message: String },
    #[error("cannot reach {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("login as {username} refused: wrong user name or password")]
    LoginFailed { username: String },
    #[error("virtual machine {vm} not found")]
    VmNotFound { vm: String },
    #[error("{vm} is a template, not a virtual machine; deploy a VM from it and export that")]
    IsTemplate { vm: String },
    #[error("{count} virtual machines are named {vm}; give its inventory path (/datacenter/vm/folder/name)")]
    AmbiguousVm { vm: String, count: usize },
    #[error("virtual machine {vm} is powered on; shut it down or set shutdown: true")]
    VmPoweredOn { vm: String },
    #[error("virtual machine {vm} did not power off within {seconds} s of a guest shutdown")]
    ShutdownTimeout { vm: String, seconds: u64 },
    #[error("virtual machine {vm} has no virtual disk to export")]
    NoDisks { vm: String },
    #[error("{operation} failed: {fault}")]
    Soap { operation: String, fault: Fault },
    #[error("{operation}: unexpected answer from the server: {message}")]
    Protocol { operation: String, message: String },
    #[error("the export lease failed: {message}")]
    LeaseError { message: String },
    #[error("the export lease was not ready after {seconds} s")]
    LeaseTimeout { seconds: u64 },
    #[error("{file}: announced size {size} bytes is beyond any virtual disk (max {max})")]
    AbsurdSize { file: String, size: u64, max: u64 },
    #[error("{dest}: {needed} bytes needed, {available} available")]
    InsufficientSpace {
        dest: PathBuf,
        needed: u64,
        available: u64,
    },
    #[error("{path} already exists; export into an empty directory")]
    DestinationExists { path: PathBuf },
    #[error("downloading {file}: {source}")]
    Download {
        file: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("downloading {file}: HTTP {status}")]
    HttpStatus { file: String, status: u16 },
    #[error("resuming {file}: the server's bytes before offset {offset} differ from those kept; fetching the file from its start")]
    Diverged { file: String, offset: u64 },
    #[error("downloading {file}: got {got} of {expected} bytes")]
    Truncated {
        file: String,
        expected: u64,
        got: u64,
    },
    #[error("downloading {file}: more than the announced {expected} bytes")]
    Oversized { file: String, expected: u64 },
    /// Neither the server nor the lease gave a length, and the file grew
    /// past what its disk's capacity can explain.
    #[error("downloading {file}: no length was announced and the file passed {limit} bytes, more than its disk's capacity allows")]
    TooLong { file: String, limit: u64 },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("export cancelled")]
    Cancelled,
}

impl VsphereError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// Classifies a failed request to the SOAP endpoint: an untrusted
    /// certificate is worth its own message, the rest is a connection error.
    pub(crate) fn transport(url: &str, source: reqwest::Error) -> Self {
        match certificate_problem(&source) {
            Some(message) => Self::Certificate {
                url: url.to_string(),
                message,
            },
            None => Self::Connect {
                url: url.to_string(),
                source,
            },
        }
    }
}

/// reqwest hides the TLS library's error behind hyper's and an io::Error
/// (whose `source()` skips the inner error), so walk both ways.
pub(crate) fn certificate_problem(err: &reqwest::Error) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        let mut texts = vec![e.to_string()];
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            texts.push(inner.to_string());
        }
        if let Some(t) = texts
            .into_iter()
            .find(|t| t.to_ascii_lowercase().contains("certificate"))
        {
            return Some(t);
        }
        cur = e.source();
    }
    None
}
