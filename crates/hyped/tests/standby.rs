//! Standby end to end on QEMU (the backend this host can run): the VM's
//! state goes to disk, its VMM away, and it comes back where it was, even
//! across a restart of hyped. cloud-hypervisor's side of the same calls is
//! exercised against a real binary in `hype-vmm`'s tests.

mod common;

use std::time::Duration;

use common::Server;
use hype_types::{EventType, VmState};

/// Boot banners in the console log: a restored guest must not print a
/// second one (the log is appended to across VMM processes).
fn boots(log: &str) -> usize {
    log.matches("Linux version").count()
}

#[tokio::test(flavor = "multi_thread")]
async fn standby_saves_the_guest_and_restore_brings_it_back_across_a_restart() -> anyhow::Result<()>
{
    let tmp = tempfile::tempdir()?;
    let mut a = Server::start_in(tmp.path(), &[])?;
    let vm = a.create_running("nap").await?;
    let first_pid = vm.vmm.pid.unwrap();
    let mut events = a.client.vm_events(Some("nap"), None).await?;

    let vm = a.client.vm_action("nap", "snapshot").await?;
    assert_eq!((vm.state, vm.vmm.pid), (VmState::Standby, None));
    assert!(a.vmm_pids().is_empty(), "standby releases the VMM");
    let snap = tmp.path().join("vms/nap/snapshot");
    assert!(
        std::fs::metadata(snap.join("qemu-state"))?.len() > 1 << 20,
        "the guest's memory is on disk"
    );
    assert!(!tmp.path().join("vms/nap/snapshot.partial").exists());
    let ev = a
        .wait_event(&mut events, Duration::from_secs(5), |e| {
            e.event_type == EventType::VmSnapshotted
        })
        .await?;
    assert_eq!(ev.state, VmState::Standby);
    assert!(ev.detail.unwrap_or_default().contains("state saved in"));

    // A VM in standby takes nothing but restore (and delete).
    for action in ["start", "stop", "pause", "resume", "snapshot"] {
        let err = a.client.vm_action("nap", action).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("VM 'nap' is standby; cannot {action} it")
        );
    }

    // Standby outlives hyped.
    a.stop();
    let b = Server::start_in(tmp.path(), &[])?;
    assert_eq!(b.client.get_vm("nap").await?.state, VmState::Standby);
    let mut events = b.client.vm_events(Some("nap"), None).await?;

    let vm = b.client.vm_action("nap", "restore").await?;
    assert_eq!(vm.state, VmState::Running);
    let pid = vm.vmm.pid.expect("a restored VM has a VMM");
    assert_ne!(pid, first_pid);
    assert_eq!(b.vmm_pids(), vec![pid]);
    assert!(!snap.exists(), "a used snapshot is removed");
    let ev = b
        .wait_event(&mut events, Duration::from_secs(5), |e| {
            e.event_type == EventType::VmRestored
        })
        .await?;
    assert_eq!(ev.state, VmState::Running);

    // The same guest carries on: its agent answers, it did not boot again.
    let net = b.client.guest_network("nap").await?;
    assert!(net.interfaces.iter().any(|i| i.name == "lo"), "{net:?}");
    assert_eq!(boots(&b.client.logs("nap").await?), 1, "no second boot");

    // From paused too; the restored guest runs.
    b.client.vm_action("nap", "pause").await?;
    assert_eq!(
        b.client.vm_action("nap", "snapshot").await?.state,
        VmState::Standby
    );
    assert_eq!(
        b.client.vm_action("nap", "restore").await?.state,
        VmState::Running
    );
    b.client.guest_network("nap").await?;

    b.client.delete_vm("nap").await?;
    assert!(b.vmm_pids().is_empty());
    assert!(!tmp.path().join("vms/nap").exists());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_that_fails_leaves_the_vm_in_standby_with_its_snapshot() -> anyhow::Result<()> {
    let s = Server::start()?;
    s.create_running("torn").await?;
    s.client.vm_action("torn", "snapshot").await?;
    let state = s.data.join("vms/torn/snapshot/qemu-state");
    let full = std::fs::metadata(&state)?.len();
    // A snapshot cut short (a full disk, a copy gone wrong).
    std::fs::OpenOptions::new()
        .write(true)
        .open(&state)?
        .set_len(full / 2)?;

    let err = s.client.vm_action("torn", "restore").await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("VM 'torn' could not be restored (it stays in standby)"),
        "{msg}"
    );
    let vm = s.client.get_vm("torn").await?;
    assert_eq!((vm.state, vm.vmm.pid), (VmState::Standby, None));
    assert!(s.vmm_pids().is_empty(), "no VMM is left behind");
    assert_eq!(std::fs::metadata(&state)?.len(), full / 2, "snapshot kept");

    s.client.delete_vm("torn").await?;
    assert!(!s.data.join("vms/torn").exists());
    Ok(())
}
