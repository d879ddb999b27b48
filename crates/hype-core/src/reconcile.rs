//! Start-up reconciliation: the store says what should exist, the process
//! table says what does. VMMs that survived a restart of hyped are adopted;
//! VMs whose VMM vanished are marked crashed; creations cut short by a crash
//! of hyped are undone; stale sockets go. Any other VMM of this data
//! directory (spawned by a hyped that died before recording it) is killed:
//! it would hold a tap and a disk that nothing accounts for.

use std::time::Instant;

use hype_store::{VmRecord, VmmUpdate};
use hype_types::{Transition, VmState};
use hype_vmm::process::{self, ExitWatch};
use hype_vmm::Vmm;
use nix::sys::signal::Signal;

use crate::backends::VmmBackend;
use crate::supervisor::{self, Watched};
use crate::{Hype, Result};

pub(crate) async fn run(hype: &Hype) -> Result<()> {
    let inner = &hype.inner;
    let mut adopted_pids = vec![];
    let recs = inner.store.list_vms().await?;
    // Every VM's run directory; those not adopted have no VMM any more.
    let mut vmm_gone: std::collections::HashSet<String> =
        recs.iter().map(|r| r.dir.clone()).collect();
    for rec in recs {
        let run_dir = inner.cfg.vm_dir(&rec);
        let vmm = inner.backends.of_record(&rec).ok();
        // A fork that had not taken its identity is half-made: its guest
        // still has its source's address and entropy.
        let half_made = rec.state == VmState::Creating
            || (rec.state == VmState::Starting && rec.snapshot.is_some());
        if half_made {
            // hyped died between recording the VM and launching it (or
            // recording the launch, or the fork's identity): kill any VMM
            // it left and undo.
            if let Some(vmm) = &vmm {
                kill_orphans(vmm, &run_dir);
            }
            let _ = std::fs::remove_dir_all(&run_dir);
            inner
                .store
                .delete_vm(
                    &rec.name,
                    Some("creation interrupted by a restart of hyped".into()),
                )
                .await?;
            tracing::info!(vm = %rec.name, "removed a half-created VM");
            continue;
        }
        match rec.state {
            VmState::Creating => unreachable!("half-made, undone above"),
            VmState::Starting | VmState::Running | VmState::Paused | VmState::Stopping => {
                let adopted = match (&vmm, rec.vmm_pid) {
                    (Some(vmm), Some(pid)) => adopt(hype, vmm, &rec, pid),
                    _ => false,
                };
                if adopted {
                    adopted_pids.extend(rec.vmm_pid);
                    vmm_gone.remove(&rec.dir);
                }
                if !adopted {
                    let (t, detail) = if rec.state == VmState::Stopping {
                        (Transition::Exited, "VMM exited while hyped was down")
                    } else {
                        (Transition::Crash, "VMM vanished while hyped was down")
                    };
                    inner
                        .store
                        .transition(
                            &rec.name,
                            t,
                            Some(detail.into()),
                            VmmUpdate {
                                pid: Some(None),
                                ..Default::default()
                            },
                        )
                        .await?;
                    hype_vmm::remove_sockets(&run_dir);
                    tracing::warn!(vm = %rec.name, detail, "VM not adopted");
                }
            }
            VmState::Standby => {
                // hyped died after saving the state but before the VMM
                // exited: the snapshot is complete, the VMM is surplus.
                if let Some(vmm) = &vmm {
                    kill_orphans(vmm, &run_dir);
                }
                crate::standby::discard_partial(&run_dir);
                hype_vmm::remove_sockets(&run_dir);
            }
            VmState::Stopped | VmState::Crashed => {
                hype_vmm::remove_sockets(&run_dir);
            }
        }
    }
    kill_strays(&inner.cfg.vms_dir(), &adopted_pids);
    // A VMM that died with hyped down left its (empty) groups; the
    // supervisor that would have removed them was gone too.
    if let Some(jail) = &inner.jail {
        for dir in &vmm_gone {
            jail.cgroups.remove(dir);
        }
    }
    remove_stray_ram(hype, &adopted_pids).await?;
    hype.reconcile_snapshots().await?;
    hype.reconcile_network().await
}

/// Removes RAM files no live VMM maps: they hold host memory (tmpfs).
async fn remove_stray_ram(hype: &Hype, adopted: &[u32]) -> Result<()> {
    let live: std::collections::HashSet<String> = hype
        .inner
        .store
        .list_vms()
        .await?
        .into_iter()
        .filter(|r| r.vmm_pid.is_some_and(|p| adopted.contains(&p)))
        .map(|r| format!("{}.ram", r.dir))
        .collect();
    let own = crate::ram::dir(&hype.inner.cfg);
    if let Ok(entries) = std::fs::read_dir(&own) {
        for e in entries.flatten() {
            if !live.contains(&*e.file_name().to_string_lossy()) {
                tracing::info!(path = %e.path().display(), "removing the RAM of a VM no VMM runs");
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    // Other hypeds' too, when nothing maps them any more: it reads every
    // process's maps, so off the runtime's threads.
    let removed = tokio::task::spawn_blocking(move || {
        crate::ram::sweep_strays(crate::ram::ROOT.as_ref(), &own, crate::ram::STRAY_AGE)
    })
    .await
    .unwrap_or_default();
    for path in removed {
        tracing::info!(path = %path.display(), "removed RAM no hyped keeps (its hyped is gone)");
    }
    Ok(())
}

/// Kills every VMM whose command line names a VM directory of this hyped
/// but that was not adopted: a VMM no row accounts for. A VMM names its
/// control socket there (QMP or cloud-hypervisor's API); other processes
/// that merely read a VM's files (a `tail` of its console) are left alone.
fn kill_strays(vms_dir: &std::path::Path, adopted: &[u32]) {
    const VMM_MARKS: &[&str] = &[
        hype_vmm::spec_files::QMP_SOCK,
        hype_vmm::spec_files::CH_SOCK,
        #[cfg(test)]
        "vmm-double",
    ];
    let needle = format!("{}/", vms_dir.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if adopted.contains(&pid) || pid == std::process::id() {
            continue;
        }
        let names_ours = process::cmdline(pid).is_some_and(|argv| {
            argv.iter()
                .any(|a| a.contains(&needle) && VMM_MARKS.iter().any(|m| a.contains(m)))
        });
        if names_ours && process::is_alive(pid) {
            tracing::warn!(pid, "killing a VMM no VM accounts for");
            process::signal_group(pid, Signal::SIGKILL);
        }
    }
}

/// Takes a surviving VMM under supervision again. The pidfd is opened before
/// the ownership check so the check is about the process we will watch.
fn adopt(hype: &Hype, vmm: &VmmBackend, rec: &VmRecord, pid: u32) -> bool {
    let (name, state) = (rec.name.as_str(), rec.state);
    let Ok(watch) = ExitWatch::new(pid) else {
        return false;
    };
    let run_dir = hype.inner.cfg.vm_dir(rec);
    if !process::is_alive(pid) || !vmm.owns_process(pid, &run_dir) {
        return false;
    }
    tracing::info!(vm = name, pid, state = %state, "adopted a running VMM");
    let booting = state == VmState::Starting;
    let rt = supervisor::spawn(
        &hype.inner.supervisor_deps(),
        Watched {
            id: rec.id.clone(),
            name: name.into(),
            dir: rec.dir.clone(),
            vmm: vmm.clone(),
            watch,
            booting,
            has_agent: rec.has_agent,
            launched_at: Instant::now(),
            reconfigure: None,
            fresh_kernel: false,
        },
    );
    if state == VmState::Stopping {
        // The stop that was under way has lost its waiter; finish it hard.
        process::signal_group(rt.pid, Signal::SIGKILL);
    }
    true
}

/// Kills VMM processes for `run_dir` that the store never heard of.
fn kill_orphans(vmm: &VmmBackend, run_dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if vmm.owns_process(pid, run_dir) {
            tracing::info!(pid, "killing an orphaned VMM");
            process::signal_group(pid, Signal::SIGKILL);
        }
    }
}
