//! Powering the machine off: the only way the agent ever stops.

use std::time::Duration;

use nix::sys::reboot::{reboot, RebootMode};

use crate::log;

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
