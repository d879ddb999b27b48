//! Standby on QEMU: the VM's state goes to a file through QEMU's migration
//! stream (`migrate` to a `file:` URI), and comes back by starting QEMU
//! with the same devices and `-incoming` from that file. QEMU writes and
//! reads the file itself: its seccomp filter forbids spawning a helper.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{Qmp, QmpError};
use crate::{Result, VmmError};

/// The migration stream inside a snapshot directory.
pub(crate) const STATE_FILE: &str = "qemu-state";
/// Bounds saving and loading; TCG writes about 1 GB/s, KVM more.
const DEADLINE: Duration = Duration::from_secs(300);
const POLL: Duration = Duration::from_millis(50);

/// The `-incoming` argument that loads `from`'s state.
pub(crate) fn incoming_arg(from: &Path) -> String {
    format!("file:{}", from.join(STATE_FILE).display())
}

/// The error of QMP command `command` on VM `name`.
fn qmp_error(name: &str, command: &str, message: String) -> VmmError {
    VmmError::Qmp {
        vm: name.into(),
        command: command.into(),
        message,
    }
}

/// Writes the paused VM's state to `dest/qemu-state` and waits until the
/// stream is complete.
pub(crate) async fn save(name: &str, qmp_path: &Path, dest: &Path) -> Result<()> {
    migrate_to(name, qmp_path, &dest.join(STATE_FILE), false).await
}

/// Writes the paused VM's device state (not its shared RAM) to `state`.
pub(crate) async fn save_device_state(name: &str, qmp_path: &Path, state: &Path) -> Result<()> {
    migrate_to(name, qmp_path, state, true).await
}

/// Migrates the paused VM to the file `to` and waits until it is complete;
/// with `shared_ram_out`, RAM the VM shares from a file is left out.
async fn migrate_to(name: &str, qmp_path: &Path, to: &Path, shared_ram_out: bool) -> Result<()> {
    let fail = |command: &str, message: String| qmp_error(name, command, message);
    let mut qmp = Qmp::connect(qmp_path)
        .await
        .map_err(|e| fail("qmp_capabilities", e.to_string()))?;
    if shared_ram_out {
        ignore_shared(&mut qmp)
            .await
            .map_err(|e| fail("migrate-set-capabilities", e.to_string()))?;
    }
    let uri = format!("file:{}", to.display());
    qmp.execute("migrate", Some(json!({ "uri": uri })))
        .await
        .map_err(|e| fail("migrate", e.to_string()))?;
    wait_migrated(name, &mut qmp).await
}

/// Migration with the guest's RAM left out: it lives in a file the VM
/// shares, which the snapshot keeps (QEMU's `x-ignore-shared`).
async fn ignore_shared(qmp: &mut Qmp) -> std::result::Result<(), QmpError> {
    qmp.execute(
        "migrate-set-capabilities",
        Some(json!({"capabilities": [{"capability": "x-ignore-shared", "state": true}]})),
    )
    .await
    .map(drop)
}

/// Loads `state` into a QEMU started with `-incoming defer` and lets the
/// guest run. `alive` tells whether the process still exists.
pub(crate) async fn load_device_state(
    name: &str,
    qmp_path: &Path,
    state: &Path,
    alive: impl Fn() -> bool,
) -> Result<()> {
    let fail = |command: &str, message: String| qmp_error(name, command, message);
    let mut qmp = Qmp::connect(qmp_path)
        .await
        .map_err(|e| fail("qmp_capabilities", e.to_string()))?;
    ignore_shared(&mut qmp)
        .await
        .map_err(|e| fail("migrate-set-capabilities", e.to_string()))?;
    let uri = format!("file:{}", state.display());
    qmp.execute("migrate-incoming", Some(json!({ "uri": uri })))
        .await
        .map_err(|e| fail("migrate-incoming", e.to_string()))?;
    drop(qmp);
    resume_loaded(name, qmp_path, alive).await
}

/// Waits until an outgoing migration has completed.
async fn wait_migrated(name: &str, qmp: &mut Qmp) -> Result<()> {
    let fail = |command: &str, message: String| qmp_error(name, command, message);
    let started = Instant::now();
    loop {
        let status = qmp
            .execute("query-migrate", None)
            .await
            .map_err(|e| fail("query-migrate", e.to_string()))?;
        match status["status"].as_str().unwrap_or("") {
            "completed" => return Ok(()),
            "failed" | "cancelled" => {
                let why = status["error-desc"]
                    .as_str()
                    .unwrap_or("QEMU gave no reason")
                    .to_owned();
                return Err(fail("migrate", why));
            }
            _ if started.elapsed() > DEADLINE => {
                let _ = qmp.execute("migrate_cancel", None).await;
                return Err(fail(
                    "migrate",
                    format!("not complete after {} s", DEADLINE.as_secs()),
                ));
            }
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// Waits for an `-incoming` QEMU to finish loading its state, then lets
/// the guest run. `alive` tells whether the process still exists.
pub(crate) async fn resume_loaded(
    name: &str,
    qmp_path: &Path,
    alive: impl Fn() -> bool,
) -> Result<()> {
    let fail = |command: &str, message: String| VmmError::Qmp {
        vm: name.into(),
        command: command.into(),
        message,
    };
    let started = Instant::now();
    loop {
        let mut qmp = Qmp::connect(qmp_path)
            .await
            .map_err(|e| fail("qmp_capabilities", e.to_string()))?;
        let status = match qmp.execute("query-status", None).await {
            Ok(s) => s,
            // QEMU exits when the stream is corrupt; the caller explains it.
            Err(QmpError::Closed | QmpError::Io(_)) if !alive() => {
                return Err(fail("query-status", "QEMU exited while loading".into()))
            }
            Err(e) => return Err(fail("query-status", e.to_string())),
        };
        match status["status"].as_str().unwrap_or("") {
            "inmigrate" if started.elapsed() > DEADLINE => {
                return Err(fail(
                    "query-status",
                    format!("state not loaded after {} s", DEADLINE.as_secs()),
                ))
            }
            "inmigrate" => tokio::time::sleep(POLL).await,
            "paused" | "postmigrate" | "prelaunch" => {
                return qmp
                    .execute("cont", None)
                    .await
                    .map(drop)
                    .map_err(|e| fail("cont", e.to_string()))
            }
            "running" => return Ok(()),
            other => return Err(fail("query-status", format!("unexpected state {other:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_is_a_file_qemu_opens_itself() {
        assert_eq!(
            incoming_arg(Path::new("/d/vms/a/snapshot")),
            "file:/d/vms/a/snapshot/qemu-state"
        );
    }
}
