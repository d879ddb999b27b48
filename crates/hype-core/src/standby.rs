//! Standby: a VM's state saved to `{data}/vms/<name>/snapshot` and its VMM
//! released, then brought back on the same backend (for cloud-hypervisor,
//! the same version). The VM keeps its address and tap meanwhile.
//!
//! Each step is ordered so a failure leaves the VM either as it was
//! (running or paused, no snapshot kept) or cleanly in standby with its
//! snapshot intact: the snapshot is written aside and renamed into place
//! only when complete, the state changes only after that, and a snapshot
//! is removed only once a restored VM runs.

use std::path::Path;
use std::time::{Duration, Instant};

use hype_store::VmmUpdate;
use hype_types::{Transition, Vm, VmState};
use hype_vmm::process::{self, ExitWatch};
use hype_vmm::Vmm;

use crate::supervisor::Watched;
use crate::{CoreError, Hype, Result};

/// The snapshot of a VM in standby, inside its run directory.
pub(crate) const SNAPSHOT_DIR: &str = "snapshot";
/// Where a snapshot is written before it is complete.
const PARTIAL_DIR: &str = "snapshot.partial";
/// How long a VMM gets to exit after its state was saved.
const QUIT_TIMEOUT: Duration = Duration::from_secs(10);

impl Hype {
    /// Pauses the VM, saves its state and stops its VMM: `standby`.
    pub async fn snapshot_vm(&self, name: &str) -> Result<Vm> {
        let a = self.begin(name, Some(Transition::Snapshot)).await?;
        let rec = &a.rec;
        let vmm = self.inner.backends.of_record(rec)?;
        let Some(rt) = self.inner.runtimes.get(name) else {
            return Err(CoreError::Unsupported {
                name: name.into(),
                what: "no VMM is supervised for it; stop and start it first".into(),
            });
        };
        let run_dir = &a.run_dir;
        let partial = run_dir.join(PARTIAL_DIR);
        let dest = run_dir.join(SNAPSHOT_DIR);
        let started = Instant::now();
        reset_dir(&partial)?;
        // A confined VMM writes the state itself, as the VM's uid.
        if let Some(uid) = rec.uid.filter(|_| self.inner.jail.is_some()) {
            std::os::unix::fs::chown(&partial, Some(uid), Some(uid)).map_err(|source| {
                CoreError::Io {
                    path: partial.clone(),
                    source,
                }
            })?;
        }
        let was_running = rec.state == VmState::Running;
        let saved = async {
            if was_running {
                vmm.pause(name, run_dir).await?;
            }
            vmm.snapshot(name, run_dir, &partial).await
        }
        .await;
        if let Err(source) = saved {
            let _ = std::fs::remove_dir_all(&partial);
            if was_running {
                if let Err(e) = vmm.resume(name, run_dir).await {
                    tracing::error!(vm = name, error = %e, "cannot resume after a failed snapshot");
                }
            }
            return Err(CoreError::Snapshot {
                name: name.into(),
                state: rec.state,
                source,
            });
        }
        let size = commit(&partial, &dest)?;
        let detail = format!(
            "state saved in {} ms ({} MiB) to {}",
            started.elapsed().as_millis(),
            size >> 20,
            dest.display()
        );
        let update = VmmUpdate {
            pid: Some(None),
            ..Default::default()
        };
        let rec = match self
            .inner
            .store
            .transition(name, Transition::Snapshot, Some(detail), update)
            .await
        {
            Ok((rec, _)) => rec,
            Err(e) => {
                // The VMM changed state under us (it died): no standby.
                let _ = std::fs::remove_dir_all(&dest);
                if was_running {
                    let _ = vmm.resume(name, run_dir).await;
                }
                return Err(e.into());
            }
        };
        // In standby the supervisor records the exit as nothing.
        if let Err(e) = vmm.quit(name, run_dir).await {
            tracing::warn!(vm = name, error = %e, "VMM did not take quit; killing it");
            process::signal_group(rt.pid, nix::sys::signal::Signal::SIGKILL);
        }
        if tokio::time::timeout(QUIT_TIMEOUT, rt.wait_exited())
            .await
            .is_err()
        {
            process::kill_and_reap(rt.pid).await;
            rt.wait_exited().await;
        }
        hype_vmm::remove_sockets(run_dir);
        Ok(self.to_view(rec))
    }

    /// Starts a VMM from the VM's snapshot and lets the guest run on.
    pub async fn restore_vm(&self, name: &str) -> Result<Vm> {
        let a = self.begin(name, Some(Transition::Restore)).await?;
        let rec = &a.rec;
        let from = a.run_dir.join(SNAPSHOT_DIR);
        if !from.is_dir() {
            return Err(CoreError::SnapshotMissing {
                name: name.into(),
                path: from,
            });
        }
        let vmm = self
            .inner
            .backends
            .for_saved_state(
                &self.inner.cfg,
                name,
                rec.vmm_kind,
                rec.vmm_version.as_deref(),
            )
            .await?;
        let plan = self.plan_for(rec, vmm).await?;
        let net = self.attach_network(rec).await?;
        let spec = self.vm_spec(rec, &plan, net.as_ref()).await?;
        let started = Instant::now();
        let launched =
            plan.vmm
                .restore(&spec, &from)
                .await
                .map_err(|source| CoreError::Restore {
                    name: name.into(),
                    source,
                })?;
        let watch = match ExitWatch::new(launched.pid) {
            Ok(w) => w,
            Err(e) => {
                process::kill_and_reap(launched.pid).await;
                return Err(CoreError::Io {
                    path: format!("/proc/{}", launched.pid).into(),
                    source: e,
                });
            }
        };
        let detail = format!(
            "VMM pid {} restored in {} ms",
            launched.pid,
            started.elapsed().as_millis()
        );
        let update = VmmUpdate {
            pid: Some(Some(launched.pid)),
            version: launched.version.clone(),
            ..Default::default()
        };
        let rec = match self
            .inner
            .store
            .transition(name, Transition::Restore, Some(detail), update)
            .await
        {
            Ok((rec, _)) => rec,
            Err(e) => {
                process::kill_and_reap(launched.pid).await;
                return Err(e.into());
            }
        };
        crate::supervisor::spawn(
            &self.inner.supervisor_deps(),
            Watched {
                id: rec.id.clone(),
                name: name.into(),
                dir: rec.dir.clone(),
                vmm: plan.vmm.clone(),
                watch,
                booting: false,
                has_agent: rec.has_agent,
                launched_at: started,
                reconfigure: None,
                fresh_kernel: false,
            },
        );
        // The guest has moved on: this state must never be loaded again.
        if let Err(e) = std::fs::remove_dir_all(&from) {
            tracing::warn!(vm = name, error = %e, "cannot remove a used snapshot");
        }
        Ok(self.to_view(rec))
    }
}

/// Removes a snapshot that was being written when hyped stopped.
pub(crate) fn discard_partial(run_dir: &Path) {
    let _ = std::fs::remove_dir_all(run_dir.join(PARTIAL_DIR));
}

/// An empty directory at `dir`, whatever was there.
fn reset_dir(dir: &Path) -> Result<()> {
    let io = |source| CoreError::Io {
        path: dir.to_owned(),
        source,
    };
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    std::fs::create_dir_all(dir).map_err(io)
}

/// Makes the snapshot in `partial` durable and moves it to `dest`;
/// returns its size in bytes.
fn commit(partial: &Path, dest: &Path) -> Result<u64> {
    let io = |path: &Path, source| CoreError::Io {
        path: path.to_owned(),
        source,
    };
    let mut size = 0;
    for entry in std::fs::read_dir(partial).map_err(|e| io(partial, e))? {
        let path = entry.map_err(|e| io(partial, e))?.path();
        if path.is_file() {
            let f = std::fs::File::open(&path).map_err(|e| io(&path, e))?;
            f.sync_all().map_err(|e| io(&path, e))?;
            size += f.metadata().map_err(|e| io(&path, e))?.len();
        }
    }
    match std::fs::remove_dir_all(dest) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(dest, e)),
    }
    std::fs::rename(partial, dest).map_err(|e| io(dest, e))?;
    if let Some(parent) = dest.parent() {
        std::fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(|e| io(parent, e))?;
    }
    Ok(size)
}
