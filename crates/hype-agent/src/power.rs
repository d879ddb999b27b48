//! Powering the machine off: the only way the agent ever stops. When the
//! agent has handed PID 1 to an imported disk's own init, it asks that
//! system to shut down instead, so its services stop and its filesystems
//! are unmounted cleanly.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use nix::sys::reboot::{reboot, RebootMode};

use crate::log;

/// How long a browser with a kept profile gets to close before power-off
/// (within hyped's 10 s for a stop).
const BROWSER_CLOSE: Duration = Duration::from_secs(5);
/// Set once the guest's own init is PID 1.
static GUEST_INIT: OnceLock<()> = OnceLock::new();
/// Where `poweroff` lives on systemd, sysvinit and busybox systems alike.
const POWEROFF: &[&str] = &[
    "/sbin/poweroff",
    "/usr/sbin/poweroff",
    "/bin/poweroff",
    "/usr/bin/poweroff",
];

/// From now on, shutting down is the guest's init's business.
pub fn hand_to_guest_init() {
    let _ = GUEST_INIT.set(());
}

/// Shuts the guest down as the host asked: through the guest's own
/// `poweroff` when its init runs (falling back to powering off here if
/// that cannot even start), else at once.
pub fn shutdown() {
    if GUEST_INIT.get().is_none() {
        crate::browser::stop(BROWSER_CLOSE);
        power_off();
    }
    let Some(tool) = POWEROFF.iter().map(Path::new).find(|p| p.exists()) else {
        log!("the guest has no poweroff command; powering off directly");
        power_off();
    };
    match Command::new(tool).status() {
        // The init now stops everything, this agent included.
        Ok(status) if status.success() => log!("asked the guest's init to power off"),
        Ok(status) => {
            log!("{} {status}; powering off directly", tool.display());
            power_off();
        }
        Err(e) => {
            log!("cannot run {}: {e}; powering off directly", tool.display());
            power_off();
        }
    }
}

/// Syncs and powers off. Never returns: if the kernel refuses, it falls back
/// to a reboot (hyped starts QEMU with `-no-reboot`, so that also ends the
/// VM) and then idles, because PID 1 must not exit.
pub fn power_off() -> ! {
    nix::unistd::sync();
    let Err(e) = reboot(RebootMode::RB_POWER_OFF);
    log!("power off failed: {e}; rebooting instead");
    let Err(e) = reboot(RebootMode::RB_AUTOBOOT);
    log!("reboot failed: {e}; idling");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
