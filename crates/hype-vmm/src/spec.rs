use std::path::PathBuf;

use crate::Accel;

/// Everything a backend needs to launch one VM.
#[derive(Debug, Clone)]
pub struct VmSpec {
    pub name: String,
    pub id: String,
    pub cpu_cores: u32,
    pub memory_mb: u32,
    /// Uncompressed ELF (PVH) kernel; QEMU also takes a bzImage.
    pub kernel: PathBuf,
    pub initramfs: Option<PathBuf>,
    /// Shared read-only root disk, if the image has one.
    pub rootfs: Option<PathBuf>,
    /// The VM's own writable disk, after the root disk (`/dev/vdb`).
    pub data_disk: Option<PathBuf>,
    pub cmdline: String,
    /// `{data}/vms/<name>`: sockets, console log, VMM log.
    pub run_dir: PathBuf,
    pub accel: Accel,
    /// Host tap device and guest MAC, when the VM is networked.
    pub tap: Option<String>,
    pub mac: Option<String>,
}

/// A VMM that is up and reachable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launched {
    pub pid: u32,
    pub version: Option<String>,
}

/// Well-known files in a run directory.
pub mod files {
    pub const CONSOLE_LOG: &str = "console.log";
    pub const VMM_LOG: &str = "vmm.log";
    pub const QMP_SOCK: &str = "qmp.sock";
    pub const AGENT_SOCK: &str = "agent.sock";
    /// cloud-hypervisor's API socket.
    pub const CH_SOCK: &str = "ch.sock";
    /// cloud-hypervisor's hybrid vsock socket (the host end of the guest's
    /// vsock device).
    pub const VSOCK_SOCK: &str = "vsock.sock";
}
