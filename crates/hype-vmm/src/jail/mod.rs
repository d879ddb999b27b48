//! Confinement of VMM processes, after Firecracker's jailer: each VMM runs
//! as a uid and gid of its own (from a range hyped owns), in new mount,
//! PID, IPC and UTS namespaces (and, for QEMU, an empty network namespace:
//! its tap comes in as an open file descriptor), with a root of its own
//! that holds only the files its VM needs, bind-mounted at the paths they
//! have on the host, in a cgroup that bounds its memory, CPU and
//! processes, and with seccomp on (the backend's own filters).
//!
//! The namespaces are made by `hype-jailer`, a small single-threaded
//! binary beside hyped: it reads a [`JailSpec`], joins the VM's cgroup,
//! unshares, forks the VMM as PID 1 of its namespace, prints that child's
//! pid and exits. The child sets up its root, drops to the VM's uid and
//! executes the VMM. hyped is a child subreaper, so the VMM becomes its
//! child and its exit status is hyped's to read, as for an unconfined VMM.

pub mod cgroup;
mod child;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::{Result, VmmError};

pub use child::main as jailer_main;

/// The jail every VMM of a hyped gets, as hyped was configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JailConfig {
    /// The `hype-jailer` binary.
    pub jailer: PathBuf,
    /// An empty directory each jail mounts its own root over (in its own
    /// mount namespace, so the host never sees it).
    pub root: PathBuf,
    /// Where VMs' cgroups are made.
    pub cgroups: cgroup::Cgroups,
}

/// What a VM's jail holds, as the backend asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JailSpec {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub root: PathBuf,
    /// The VM's run directory: writable, and the VMM's working directory.
    pub run_dir: PathBuf,
    /// Files and directories the VMM may use, at their host paths.
    pub binds: Vec<Bind>,
    /// Device nodes bound in (`/dev/null`, `/dev/net/tun`, ...).
    pub devices: Vec<PathBuf>,
    /// Device nodes made in the jail for its uid alone (`/dev/kvm`), as
    /// Firecracker's jailer does: reached with no host group (a host
    /// without a `kvm` group has /dev/kvm root's only), and no other uid
    /// gains them.
    pub own_devices: Vec<PathBuf>,
    /// A tap opened by the jailer (as root) and passed in as `fd`.
    pub tap: Option<TapFd>,
    /// Run in an empty network namespace (the VMM then needs its tap as
    /// a descriptor: a tap cannot be opened by name from there).
    pub new_net: bool,
    /// `cgroup.procs` files to join before anything else.
    pub cgroup_procs: Vec<PathBuf>,
    pub exe: PathBuf,
    pub args: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    pub path: PathBuf,
    pub writable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TapFd {
    pub name: String,
    pub fd: i32,
}

/// The descriptor number a passed tap gets in the VMM.
pub const TAP_FD: i32 = 3;

/// The spec's file in the run directory (root's, 0600).
const SPEC_FILE: &str = "jail.json";

/// Runs the jailer for `spec` with output to `log`; returns the VMM's pid
/// (in hyped's namespace) once the jailer has forked it. The VMM's own
/// failures (a bad root, an exec that fails) show in `log`.
pub fn spawn(cfg: &JailConfig, spec: &JailSpec, log: &Path) -> Result<u32> {
    let io = |path: &Path| {
        let path = path.to_owned();
        let vm = spec.name.clone();
        move |source| VmmError::Io { vm, path, source }
    };
    let file = spec.run_dir.join(SPEC_FILE);
    let text = serde_json::to_vec(spec).expect("a jail spec serialises");
    std::fs::write(&file, text).map_err(io(&file))?;
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(io(log))?;
    let child = Command::new(&cfg.jailer)
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(out))
        .output()
        .map_err(|source| VmmError::Spawn {
            vm: spec.name.clone(),
            binary: cfg.jailer.clone(),
            source,
        })?;
    let _ = std::fs::remove_file(&file);
    let pid = String::from_utf8_lossy(&child.stdout).trim().parse::<u32>();
    match (child.status.success(), pid) {
        (true, Ok(pid)) => Ok(pid),
        _ => Err(VmmError::EarlyExit {
            vm: spec.name.clone(),
            reason: format!(
                "the jailer failed ({}): {}",
                child.status,
                crate::launch::last_log_line(log)
            ),
        }),
    }
}

/// Makes hyped the reaper of orphaned descendants, so that a VMM whose
/// jailer exited is hyped's child (its exit status readable). Call once,
/// early, in hyped.
pub fn become_subreaper() -> std::io::Result<()> {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer flag.
    let r = unsafe { nix::libc::prctl(nix::libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The device nodes every VMM gets.
pub fn base_devices() -> Vec<PathBuf> {
    [
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
    ]
    .into_iter()
    .map(PathBuf::from)
    .collect()
}
