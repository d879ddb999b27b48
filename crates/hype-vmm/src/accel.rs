//! Which accelerator guests get. `/dev/kvm` existing is not enough: nested
//! KVM implementations exist that accept the ioctls and then fail to run an
//! unmodified Linux guest. So hyped boots a tiny probe guest under KVM once
//! at start and falls back to TCG when it does not come up.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::process;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "kvm" => Some(Accel::Kvm),
            "tcg" => Some(Accel::Tcg),
            _ => None,
        }
    }
}

/// What the probe concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    pub kvm_usable: bool,
    pub reason: String,
}

/// The marker `hype-agent` prints on the console in probe mode.
pub const PROBE_MARKER: &str = "HYPE_PROBE_OK";

/// A guest KVM runs prints its first console bytes within a few hundred
/// milliseconds; a nested KVM that cannot run one spins silently (QEMU 10
/// reports no internal error), burning a core until the deadline.
const FIRST_OUTPUT: Duration = Duration::from_secs(3);

/// Boots `kernel` + `initramfs` under KVM with `hype.probe=1` and waits up to
/// `deadline` for the agent's marker on the serial console.
pub async fn probe_kvm(
    qemu: &Path,
    kernel: &Path,
    initramfs: &Path,
    work_dir: &Path,
    deadline: Duration,
) -> ProbeResult {
    let no = |reason: String| ProbeResult {
        kvm_usable: false,
        reason,
    };
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        return no(format!("/dev/kvm cannot be opened: {e}"));
    }
    if let Err(e) = std::fs::create_dir_all(work_dir) {
        return no(format!("cannot create {}: {e}", work_dir.display()));
    }
    let console = work_dir.join("probe-console.log");
    let log = work_dir.join("probe-qemu.log");
    let _ = std::fs::remove_file(&console);
    let _ = std::fs::remove_file(&log);
    let mut cmd = Command::new(qemu);
    cmd.args([
        "-M", "microvm", "-accel", "kvm", "-cpu", "host", "-smp", "1", "-m", "128",
    ])
    .args([
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
    ])
    .arg("-kernel")
    .arg(kernel)
    .arg("-initrd")
    .arg(initramfs)
    .args(["-append", "console=ttyS0 panic=-1 hype.probe=1"])
    .arg("-serial")
    .arg(format!("file:{}", console.display()));
    // The probe must not outlive hyped: a nested KVM that cannot run the
    // guest spins a host core in the kernel for as long as it lives, and a
    // hyped killed during its probe (kill -9, a crash) would leave it so.
    let parent = std::process::id();
    // SAFETY: between fork and exec, only async-signal-safe calls (prctl,
    // getppid) on values copied before the fork.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // hyped died before the line above: nobody waits for this.
            if libc::getppid() as u32 != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    let pid = match process::spawn_detached(&mut cmd, &log) {
        Ok(pid) => pid,
        Err(e) => return no(format!("cannot run {}: {e}", qemu.display())),
    };
    let watch = process::ExitWatch::new(pid).ok();
    let started = Instant::now();
    let result = loop {
        let console_text = std::fs::read_to_string(&console).unwrap_or_default();
        let qemu_text = std::fs::read_to_string(&log).unwrap_or_default();
        if console_text.contains(PROBE_MARKER) {
            break ProbeResult {
                kvm_usable: true,
                reason: format!(
                    "a probe guest booted under KVM in {} ms",
                    started.elapsed().as_millis()
                ),
            };
        }
        if let Some(line) = qemu_text.lines().find(|l| l.contains("KVM internal error")) {
            break no(format!(
                "/dev/kvm cannot run a Linux guest here (nested KVM?): {}",
                line.trim()
            ));
        }
        if !process::is_alive(pid) {
            let last = qemu_text
                .lines()
                .last()
                .unwrap_or("no output")
                .trim()
                .to_owned();
            break no(format!("the KVM probe guest died: {last}"));
        }
        if console_text.is_empty() && started.elapsed() > FIRST_OUTPUT.min(deadline) {
            break no(format!(
                "a probe guest printed nothing under KVM within {} s (nested KVM that cannot run a guest?)",
                FIRST_OUTPUT.as_secs()
            ));
        }
        if started.elapsed() > deadline {
            break no(format!(
                "a probe guest did not boot under KVM within {} s",
                deadline.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    process::signal_group(pid, Signal::SIGKILL);
    match watch {
        Some(w) => {
            w.exited().await;
        }
        None => {
            process::reap(pid);
        }
    }
    result
}
