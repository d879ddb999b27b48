//! cloud-hypervisor VMs through hyped, against the real binary named by
//! `HYPE_CH_BINARY`; without it each test says it was skipped and passes.
//!
//! On a host whose nested KVM cannot run the guest to the end, the guest
//! dies some seconds in and that death must reach users as `VM_CRASHED`
//! with CH's own reason. Where the guest runs, standby is exercised too;
//! a host that cannot snapshot must get a clear error and keep the VM.

mod common;

use std::time::Duration;

use common::Server;
use hype_types::{EventType, VmState, VmmKind};

fn ch_binary() -> Option<std::path::PathBuf> {
    match std::env::var_os("HYPE_CH_BINARY") {
        Some(p) => Some(p.into()),
        None => {
            println!("skipped: HYPE_CH_BINARY not set");
            None
        }
    }
}

async fn create_ch(s: &Server, name: &str) -> anyhow::Result<hype_types::Vm> {
    Ok(s.client
        .create_vm(&serde_json::from_value(serde_json::json!({
            "name": name, "cpu_cores": 1, "memory_mb": 256, "vmm": "cloud-hypervisor"
        }))?)
        .await?)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ch_vm_records_its_version_and_its_end_carries_chs_reason() -> anyhow::Result<()> {
    let Some(binary) = ch_binary() else {
        return Ok(());
    };
    let version = hype_ch::external_binary(&binary)?.version.to_string();
    let tmp = tempfile::tempdir()?;
    let s = Server::start_in(tmp.path(), &["--boot-timeout", "120"])?;
    assert!(s
        .client
        .version()
        .await?
        .cloud_hypervisor
        .available
        .contains(&version));
    let mut events = s.client.vm_events(Some("chv"), None).await?;
    let vm = create_ch(&s, "chv").await?;
    assert_eq!(vm.vmm.kind, VmmKind::CloudHypervisor);
    assert_eq!(vm.vmm.version.as_deref(), Some(version.as_str()));
    assert_eq!(vm.vmm.accel.as_deref(), Some("kvm"), "CH runs on KVM only");
    let ev = s
        .wait_event(&mut events, Duration::from_secs(180), |e| {
            matches!(e.event_type, EventType::VmRunning | EventType::VmCrashed)
        })
        .await?;
    if ev.event_type == EventType::VmCrashed {
        let detail = ev.detail.unwrap_or_default();
        println!("the guest died (nested KVM): {detail}");
        // CH's error, not a line of its backtrace.
        assert!(detail.starts_with("VMM exited"), "{detail}");
        assert!(
            detail.contains("error") || detail.contains("did not report ready"),
            "{detail}"
        );
        assert!(
            !detail.contains("backtrace") && !detail.contains(".rs:"),
            "{detail}"
        );
    } else {
        match s.client.vm_action("chv", "snapshot").await {
            Ok(vm) => {
                assert_eq!(vm.state, VmState::Standby);
                let vm = s.client.vm_action("chv", "restore").await?;
                assert_eq!(vm.state, VmState::Running);
                assert_eq!(vm.vmm.version.as_deref(), Some(version.as_str()));
                println!("snapshotted and restored");
                // Where CH can snapshot, it can fork: the fork is its own
                // CH VM, running (its agent took its identity).
                let made = s
                    .client
                    .fork_vm(
                        "chv",
                        &serde_json::from_value(serde_json::json!({"name": "chf"}))?,
                    )
                    .await?;
                assert!(made.failed.is_empty(), "{:?}", made.failed);
                let fork = &made.vms[0];
                assert_eq!(fork.state, VmState::Running);
                assert_eq!(fork.vmm.kind, VmmKind::CloudHypervisor);
                assert_eq!(fork.vmm.version.as_deref(), Some(version.as_str()));
                assert_ne!(fork.vmm.pid, vm.vmm.pid);
                assert_eq!(s.client.get_vm("chv").await?.state, VmState::Running);
                s.client.delete_vm("chf").await?;
                println!("forked");
            }
            Err(e) => {
                println!("skipped standby: this host cannot snapshot: {e}");
                assert!(
                    e.to_string()
                        .contains("could not be snapshotted (it is still running)"),
                    "{e}"
                );
                assert_eq!(s.client.get_vm("chv").await?.state, VmState::Running);
            }
        }
    }
    s.client.delete_vm("chv").await?;
    assert!(s.vmm_pids().is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_of_cloud_hypervisor_is_reported_as_crashed_within_a_second() -> anyhow::Result<()> {
    if ch_binary().is_none() {
        return Ok(());
    }
    let s = Server::start()?;
    let vm = create_ch(&s, "chk").await?;
    let pid = vm.vmm.pid.expect("CH is up once create answers");
    s.kill_expecting_crash("chk", pid).await?;
    assert_eq!(s.client.get_vm("chk").await?.vmm.pid, None);
    s.client.delete_vm("chk").await?;
    Ok(())
}
