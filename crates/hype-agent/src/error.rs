//! Errors of the agent's boot steps. None of them is fatal: PID 1 logs them
//! and goes on, so they carry enough context to be read on a console.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("mount {fstype} on {target}: {source}")]
    Mount {
        fstype: &'static str,
        target: &'static str,
        #[source]
        source: nix::Error,
    },

    #[error("{what} {}: {source}", .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("load module {}: {source}", .path.display())]
    Module {
        path: PathBuf,
        #[source]
        source: nix::Error,
    },

    #[error("module {} is compressed; the image build must store it uncompressed", .0.display())]
    CompressedModule(PathBuf),

    #[error("no virtio-serial port named {name:?} after {waited:?}")]
    PortNotFound {
        name: &'static str,
        waited: Duration,
    },

    #[error("vsock port {port}: {what}: {source}")]
    Vsock {
        what: &'static str,
        port: u32,
        #[source]
        source: nix::Error,
    },

    #[error("network interface {name} did not appear within {waited:?}")]
    NoInterface {
        name: &'static str,
        waited: Duration,
    },

    #[error("netlink {what}: {source}")]
    Netlink {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error("unexpected /proc/uptime contents {0:?}")]
    BadUptime(String),
}
