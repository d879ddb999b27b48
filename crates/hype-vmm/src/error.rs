use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum VmmError {
    #[error("VM '{vm}': cannot start {binary}")]
    Spawn {
        vm: String,
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("VM '{vm}': the VMM exited during start-up: {reason}")]
    EarlyExit { vm: String, reason: String },
    #[error("VM '{vm}': {path} did not appear within {secs} s")]
    SocketTimeout {
        vm: String,
        path: PathBuf,
        secs: u64,
    },
    #[error("VM '{vm}': cannot connect to {path}")]
    Connect {
        vm: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("VM '{vm}': QMP {command} failed: {message}")]
    Qmp {
        vm: String,
        command: String,
        message: String,
    },
    /// CH refused or could not be reached; `source` carries CH's own
    /// message. Boxed: `ChError` is large and this enum travels in every
    /// `Result` of the core.
    #[error("VM '{vm}': {source}")]
    Ch {
        vm: String,
        #[source]
        source: Box<hype_ch::ChError>,
    },
    /// The hybrid vsock handshake with CH failed (the guest is not
    /// listening yet, or CH closed the connection).
    #[error("VM '{vm}': vsock port {port} via {path}: {reason}")]
    VsockHandshake {
        vm: String,
        path: PathBuf,
        port: u32,
        reason: String,
    },
    #[error("VM '{vm}': file {path}")]
    Io {
        vm: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A saved state whose config does not fit the VM it would start (a
    /// snapshot not saved for forks, devices other than the fork's).
    #[error("VM '{vm}': the saved state does not fit: {reason}")]
    SavedConfig { vm: String, reason: String },
    #[error("VM '{vm}': {what} is not supported by {backend}")]
    NotSupported {
        vm: String,
        what: &'static str,
        backend: &'static str,
    },
}
