//! Virtual machine monitors behind one trait: how to launch a VM, drive it
//! (pause, resume, power button), reach its guest agent, and recognise its
//! process after a restart of hyped.
//!
//! Each backend owns its wire protocol (QMP for QEMU, the REST API for
//! cloud-hypervisor) and its files inside the VM's run directory. This crate
//! must not touch the store nor decide lifecycle states: it reports what
//! happened and the core decides what that means. [`AnyVmm`] dispatches to
//! the backend a VM was created with.

pub mod accel;
pub mod cloud_hypervisor;
mod error;
pub mod jail;
mod launch;
pub mod process;
pub mod qemu;
pub mod ram;
mod spec;

use std::path::Path;

use hype_types::VmmKind;
use tokio::net::UnixStream;

pub use accel::Accel;
pub use cloud_hypervisor::CloudHypervisor;
pub use error::VmmError;
pub use qemu::Qemu;
pub use spec::{
    files as spec_files, Boot, Disk, DiskFormat, Firmware, Launched, Memory, NicModel, StorageBus,
    VmJail, VmSpec,
};

/// Removes a run directory's sockets; they are stale once the VMM is gone.
pub fn remove_sockets(run_dir: &Path) {
    for f in [
        spec_files::QMP_SOCK,
        spec_files::AGENT_SOCK,
        spec_files::CH_SOCK,
        spec_files::VSOCK_SOCK,
    ] {
        let _ = std::fs::remove_file(run_dir.join(f));
    }
}

pub type Result<T, E = VmmError> = std::result::Result<T, E>;

/// What every backend does. Methods take the VM's run directory because
/// everything a backend needs to find a VM again lives there (sockets,
/// logs), which is what lets VMMs outlive hyped.
#[allow(async_fn_in_trait)]
pub trait Vmm {
    fn kind(&self) -> VmmKind;
    /// The version new VMs get.
    fn version(&self) -> Option<String>;
    /// Kernel parameters this backend needs under `accel`.
    fn cmdline_extra(&self, accel: Accel) -> Vec<String>;
    /// Starts the VMM in its own process group and returns once it is
    /// reachable. Leaves no process behind on error.
    async fn launch(&self, spec: &VmSpec) -> Result<Launched>;
    async fn pause(&self, name: &str, run_dir: &Path) -> Result<()>;
    async fn resume(&self, name: &str, run_dir: &Path) -> Result<()>;
    /// Asks the guest's firmware to shut down (ACPI power button).
    async fn power_button(&self, name: &str, run_dir: &Path) -> Result<()>;
    /// Resets the guest as the reset line would: it boots again from the
    /// start, in the same VMM process with the same devices.
    async fn reset(&self, name: &str, run_dir: &Path) -> Result<()>;
    /// A byte stream to the guest agent (protocol in `hype-agent-proto`).
    async fn connect_agent(&self, name: &str, run_dir: &Path) -> Result<UnixStream>;
    /// Saves the state of the paused VM into the existing, empty directory
    /// `dest`. The VMM keeps running (paused) whether or not it succeeds.
    async fn snapshot(&self, name: &str, run_dir: &Path, dest: &Path) -> Result<()>;
    /// Starts a VMM with `spec`'s devices from the snapshot in `from` and
    /// lets the guest run on. Leaves no process behind on error.
    async fn restore(&self, spec: &VmSpec, from: &Path) -> Result<Launched>;
    /// Saves the paused VM's device state to the file `state`, without its
    /// RAM (its `Memory::Shared` file holds that), so that forks can start
    /// from the two. The VM stays paused; `resume` lets it go on.
    async fn save_for_forks(&self, name: &str, run_dir: &Path, state: &Path) -> Result<()>;
    /// Starts a VMM with `spec` (its memory a snapshot's RAM, mapped
    /// privately) from the device state `state`, and lets the guest run.
    /// Leaves no process behind on error.
    async fn fork(&self, spec: &VmSpec, state: &Path) -> Result<Launched>;
    /// Asks the VMM process to exit (the guest is not told).
    async fn quit(&self, name: &str, run_dir: &Path) -> Result<()>;
    /// Whether the VMM is executing the guest (not paused, not yet
    /// waiting to start): all hyped can know of a guest without an agent.
    async fn guest_running(&self, name: &str, run_dir: &Path) -> Result<bool>;
    /// Whether `pid` is this backend's VMM for the VM in `run_dir`; guards
    /// adoption against a recycled pid.
    fn owns_process(&self, pid: u32, run_dir: &Path) -> bool;
    /// The VMM's own account of why it ended, from its log.
    fn exit_reason(&self, run_dir: &Path) -> Option<String>;
}

/// The backend a VM runs on.
#[derive(Debug, Clone)]
pub enum AnyVmm {
    Qemu(Qemu),
    CloudHypervisor(CloudHypervisor),
}

impl Vmm for AnyVmm {
    fn kind(&self) -> VmmKind {
        match self {
            AnyVmm::Qemu(q) => q.kind(),
            AnyVmm::CloudHypervisor(c) => c.kind(),
        }
    }
    fn version(&self) -> Option<String> {
        match self {
            AnyVmm::Qemu(q) => q.version(),
            AnyVmm::CloudHypervisor(c) => c.version(),
        }
    }
    fn cmdline_extra(&self, accel: Accel) -> Vec<String> {
        match self {
            AnyVmm::Qemu(q) => q.cmdline_extra(accel),
            AnyVmm::CloudHypervisor(c) => c.cmdline_extra(accel),
        }
    }
    async fn launch(&self, spec: &VmSpec) -> Result<Launched> {
        match self {
            AnyVmm::Qemu(q) => q.launch(spec).await,
            AnyVmm::CloudHypervisor(c) => c.launch(spec).await,
        }
    }
    async fn pause(&self, name: &str, run_dir: &Path) -> Result<()> {
        match self {
            AnyVmm::Qemu(q) => q.pause(name, run_dir).await,
            AnyVmm::CloudHypervisor(c) => c.pause(name, run_dir).await,
        }
    }
    async fn resume(&self, name: &str, run_dir: &Path) -> Result<()> {
        match self {
            AnyVmm::Qemu(q) => q.resume(name, run_dir).await,
            AnyVmm::CloudHypervisor(c) => c.resume(name, run_dir).await,
        }
    }
    async fn power_button(&self, name: &str, run_dir: &Path) -> Result<()> {
        match self {
            AnyVmm::Qemu(q) => q.power_button(name, run_dir).await,
            AnyVmm::CloudHypervisor(c) => c.power_button(name, run_dir).await,
        }
    }
    async fn reset(&self, name: &str, run_dir: &Path) -> Result<()> {
        match self {
            AnyVmm::Qemu(q) => q.reset(name, run_dir).await,
            AnyVmm::CloudHypervisor(c) => c.reset(name, run_dir).await,
        }
    }
    async fn connect_agent(&self, name: &str, run_dir: &Path) -> Result<UnixStream> {
        match self {
            AnyVmm::Qemu(q) => q.connect_agent(name, run_dir).await,
            AnyVmm::CloudHypervisor(c) => c.connect_agent(name, run_dir).await,
        }
    }
    async fn snapshot(&self, name: &str, run_dir: &Path, dest: &Path) -> Result<()> {
        match self {
            AnyVmm::Qemu(q) => q.snapshot(name, run_dir, dest).await,
            AnyVmm::CloudHypervisor(c) => c.snapshot(name, run_dir, dest).await,
        }
    }
    async fn restore(&self, spec: &VmSpec, from: &Path) -> Result<Launched> {
        match self {
            AnyVmm::Qemu(q) => q.restore(spec, from).await,
            AnyVmm::CloudHypervisor(c) => c.restore(spec, from).await,
        }
    }
    async fn save_for_forks(&self, name: &str, run_dir: &Path, state: &Path) -> Result<()> {
        match self {
            AnyVmm::Qemu(q) => q.save_for_forks(name, run_dir, state).await,
            AnyVmm::CloudHypervisor(c) => c.save_for_forks(name, run_dir, state).await,
        }
    }
    async fn fork(&self, spec: &VmSpec, state: &Path) -> Result<Launched> {
        match self {
            AnyVmm::Qemu(q) => q.fork(spec, state).await,
            AnyVmm::CloudHypervisor(c) => c.fork(spec, state).await,
        }
    }
    async fn quit(&self, name: &str, run_dir: &Path) -> Result<()> {
        match self {
            AnyVmm::Qemu(q) => q.quit(name, run_dir).await,
            AnyVmm::CloudHypervisor(c) => c.quit(name, run_dir).await,
        }
    }
    async fn guest_running(&self, name: &str, run_dir: &Path) -> Result<bool> {
        match self {
            AnyVmm::Qemu(q) => q.guest_running(name, run_dir).await,
            AnyVmm::CloudHypervisor(c) => c.guest_running(name, run_dir).await,
        }
    }
    fn owns_process(&self, pid: u32, run_dir: &Path) -> bool {
        match self {
            AnyVmm::Qemu(q) => q.owns_process(pid, run_dir),
            AnyVmm::CloudHypervisor(c) => c.owns_process(pid, run_dir),
        }
    }
    fn exit_reason(&self, run_dir: &Path) -> Option<String> {
        match self {
            AnyVmm::Qemu(q) => q.exit_reason(run_dir),
            AnyVmm::CloudHypervisor(c) => c.exit_reason(run_dir),
        }
    }
}
