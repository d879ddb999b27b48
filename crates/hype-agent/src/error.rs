//! Errors of the agent's boot steps and of the host's requests. None of them
//! is fatal: PID 1 logs them (or reports them to the host) and goes on, so
//! they carry enough context to be read on a console.

use std::net::Ipv4Addr;
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

    #[error("probe target {0:?} is not an IPv4 address")]
    ProbeTarget(String),

    #[error("probe timeout_ms must be above 0")]
    ProbeTimeout,

    #[error("{what} {target}: {source}")]
    Probe {
        what: &'static str,
        target: Ipv4Addr,
        #[source]
        source: nix::Error,
    },

    #[error("no root filesystem on {}: {seen}", .device.display())]
    NoRoot { device: PathBuf, seen: String },

    #[error("no init on {} (tried {tried})", .device.display())]
    NoInit { device: PathBuf, tried: String },

    #[error("device {} did not appear within {waited:?}", .path.display())]
    NoDevice { path: PathBuf, waited: Duration },

    #[error("no user {user:?} in {}", .path.display())]
    NoUser { user: &'static str, path: PathBuf },

    #[error("cdp relay: {what}: {source}")]
    Relay {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot start a thread for {what}: {source}")]
    Thread {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}
