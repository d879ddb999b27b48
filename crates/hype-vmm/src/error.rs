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
    #[error("VM '{vm}': file {path}")]
    Io {
        vm: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("VM '{vm}': {what} is not supported by {backend}")]
    NotSupported {
        vm: String,
        what: &'static str,
        backend: &'static str,
    },
}
