//! What every backend does the same way while a VMM starts: a clean run
//! directory, the process spawned detached with its output in `vmm.log`, and,
//! if start-up fails, the process group killed and reaped or its death
//! explained from its own log.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::spec::files;
use crate::{process, Result, VmSpec, VmmError};

/// A VMM process between spawn and "reachable".
pub(crate) struct Starting {
    pub pid: u32,
    vm: String,
    log: PathBuf,
}

/// Creates the run directory, removes `stale` sockets (VMMs refuse to bind
/// over them) and spawns `cmd` there.
pub(crate) fn spawn(
    spec: &VmSpec,
    binary: &Path,
    mut cmd: Command,
    stale: &[&str],
) -> Result<Starting> {
    std::fs::create_dir_all(&spec.run_dir).map_err(|source| VmmError::Io {
        vm: spec.name.clone(),
        path: spec.run_dir.clone(),
        source,
    })?;
    for f in stale {
        let _ = std::fs::remove_file(spec.run_dir.join(f));
    }
    let log = spec.run_dir.join(files::VMM_LOG);
    cmd.current_dir(&spec.run_dir);
    let pid = process::spawn_detached(&mut cmd, &log).map_err(|source| VmmError::Spawn {
        vm: spec.name.clone(),
        binary: binary.to_owned(),
        source,
    })?;
    Ok(Starting {
        pid,
        vm: spec.name.clone(),
        log,
    })
}

impl Starting {
    pub fn is_alive(&self) -> bool {
        process::is_alive(self.pid)
    }

    /// Kills the group and reaps it, leaving no process behind.
    pub fn kill(&self) {
        process::signal_group(self.pid, Signal::SIGKILL);
        // Give the kernel a moment to turn it into a zombie, then reap.
        std::thread::sleep(Duration::from_millis(20));
        process::reap(self.pid);
    }

    /// The error for a VMM that died during start-up: its exit status and
    /// the last thing it logged, which usually says why.
    pub fn early_exit(&self) -> VmmError {
        let exit = process::reap(self.pid);
        VmmError::EarlyExit {
            vm: self.vm.clone(),
            reason: format!("{exit}: {}", last_log_line(&self.log)),
        }
    }
}

pub(crate) fn last_log_line(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_owned()
}
