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

/// Writes the paused VM's state to `dest/qemu-state` and waits until the
/// stream is complete.
pub(crate) async fn save(name: &str, qmp_path: &Path, dest: &Path) -> Result<()> {
    let fail = |command: &str, message: String| VmmError::Qmp {
        vm: name.into(),
        command: command.into(),
        message,
    };
    let mut qmp = Qmp::connect(qmp_path)
        .await
        .map_err(|e| fail("qmp_capabilities", e.to_string()))?;
    let uri = format!("file:{}", dest.join(STATE_FILE).display());
    qmp.execute("migrate", Some(json!({ "uri": uri })))
        .await
        .map_err(|e| fail("migrate", e.to_string()))?;
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
            _ => tokio::time::sleep(POLL).await,
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
