//! The VM lifecycle end to end: a real hyped, real SQLite, real QEMU guests.

mod common;

use std::time::{Duration, Instant};

use common::Server;
use hype_types::{EventType, VmState};

#[tokio::test(flavor = "multi_thread")]
async fn create_run_pause_stop_start_delete() -> anyhow::Result<()> {
    let s = Server::start()?;
    let vm = s.create_running("e2e").await?;
    assert_eq!(vm.state, VmState::Running);
    let pid = vm.vmm.pid.expect("a running VM has a VMM pid");
    assert!(["kvm", "tcg"].contains(&vm.vmm.accel.as_deref().unwrap_or("")));
    assert!(
        vm.kernel_cmdline.contains("hype.name=e2e"),
        "{}",
        vm.kernel_cmdline
    );
    assert_eq!(s.vmm_pids(), vec![pid]);

    let log = s.client.logs("e2e").await?;
    assert!(
        log.contains("hype-agent"),
        "console log shows the agent booting:\n{log}"
    );

    assert_eq!(
        s.client.vm_action("e2e", "pause").await?.state,
        VmState::Paused
    );
    let err = s.client.vm_action("e2e", "pause").await.unwrap_err();
    assert_eq!(err.to_string(), "VM 'e2e' is paused; cannot pause it");
    assert_eq!(
        s.client.vm_action("e2e", "resume").await?.state,
        VmState::Running
    );

    // Stop goes through the agent: the guest powers off, QEMU exits 0.
    let stopped = s.client.vm_action("e2e", "stop").await?;
    assert_eq!(stopped.state, VmState::Stopped);
    assert_eq!(stopped.vmm.pid, None);
    assert!(s.vmm_pids().is_empty());

    let mut events = s.client.vm_events(Some("e2e"), Some(0)).await?;
    assert_eq!(
        s.client.vm_action("e2e", "start").await?.state,
        VmState::Starting
    );
    let ev = s
        .wait_event(&mut events, Duration::from_secs(180), |e| {
            e.event_type == EventType::VmRunning && e.id > 4
        })
        .await;
    assert!(ev.is_ok(), "restarted VM runs again: {ev:?}");

    s.client.delete_vm("e2e").await?;
    let err = s.client.get_vm("e2e").await.unwrap_err();
    assert_eq!(err.to_string(), "no VM named 'e2e'");
    assert!(s.vmm_pids().is_empty(), "delete kills the VMM");
    assert!(
        !s.data.join("vms/e2e").exists(),
        "delete removes the VM's files"
    );

    // The whole story, in order, replayed from the store.
    let mut replay = s.client.vm_events(Some("e2e"), Some(0)).await?;
    let mut types = vec![];
    loop {
        let ev = s
            .wait_event(&mut replay, Duration::from_secs(5), |_| true)
            .await?;
        types.push(ev.event_type);
        if ev.event_type == EventType::VmDeleted {
            break;
        }
    }
    use EventType::*;
    assert_eq!(
        types,
        [
            VmCreated, VmStarting, VmRunning, VmPaused, VmResumed, VmStopped, VmStarting,
            VmRunning, VmDeleted
        ]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_of_the_vmm_is_reported_as_crashed_within_a_second() -> anyhow::Result<()> {
    let s = Server::start()?;
    let vm = s.create_running("victim").await?;
    let ev = s
        .kill_expecting_crash("victim", vm.vmm.pid.unwrap())
        .await?;
    assert_eq!(ev.state, VmState::Crashed);
    let vm = s.client.get_vm("victim").await?;
    assert_eq!((vm.state, vm.vmm.pid), (VmState::Crashed, None));
    // hyped itself is fine and the VM can be started again.
    assert_eq!(
        s.client.vm_action("victim", "start").await?.state,
        VmState::Starting
    );
    s.client.delete_vm("victim").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_creates_of_one_name_one_wins_nothing_leaks() -> anyhow::Result<()> {
    let s = Server::start()?;
    let body: hype_types::CreateVm =
        serde_json::from_value(serde_json::json!({"name": "race", "memory_mb": 256}))?;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let c = s.client.clone();
            let b = body.clone();
            tokio::spawn(async move { c.create_vm(&b).await })
        })
        .collect();
    let (mut won, mut taken) = (0, 0);
    for t in tasks {
        match t.await? {
            Ok(_) => won += 1,
            Err(hype_client::ClientError::Api { status, code, .. }) => {
                assert_eq!((status.as_u16(), code.as_str()), (409, "name_taken"));
                taken += 1;
            }
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!((won, taken), (1, 49));
    assert_eq!(s.client.list_vms(None).await?.len(), 1);
    assert_eq!(s.vmm_pids().len(), 1, "exactly one VMM");
    s.client.delete_vm("race").await?;
    assert!(s.vmm_pids().is_empty());
    assert_eq!(
        std::fs::read_dir(s.data.join("vms"))?.count(),
        0,
        "no files left"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn vmms_survive_a_restart_and_watchers_miss_nothing() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let mut a = Server::start_in(tmp.path(), &[])?;
    let vm = a.create_running("keeper").await?;
    let pid = vm.vmm.pid.unwrap();
    // A watcher reads everything so far and remembers where it was.
    let mut w = a.client.vm_events(None, Some(0)).await?;
    let seen = a
        .wait_event(&mut w, Duration::from_secs(5), |e| {
            e.event_type == EventType::VmRunning
        })
        .await?;
    a.stop();
    assert!(hype_vmm_alive(pid), "the VMM outlives hyped");

    let b = Server::start_in(tmp.path(), &[])?;
    let vm = b.client.get_vm("keeper").await?;
    assert_eq!(
        (vm.state, vm.vmm.pid),
        (VmState::Running, Some(pid)),
        "adopted"
    );
    b.client.vm_action("keeper", "pause").await?;
    b.client.vm_action("keeper", "resume").await?;
    b.client.delete_vm("keeper").await?;

    // Reconnect after the restart with the last id seen.
    let mut w = b.client.vm_events(None, Some(seen.id)).await?;
    let mut got = vec![];
    while got.last().map(|e: &hype_types::Event| e.event_type) != Some(EventType::VmDeleted) {
        got.push(
            b.wait_event(&mut w, Duration::from_secs(5), |_| true)
                .await?,
        );
    }
    let ids: Vec<i64> = got.iter().map(|e| e.id).collect();
    let expect: Vec<i64> = (seen.id + 1..=seen.id + 3).collect();
    assert_eq!(ids, expect, "no gap, no duplicate: {got:?}");
    assert_eq!(
        got.iter().map(|e| e.event_type).collect::<Vec<_>>(),
        [
            EventType::VmPaused,
            EventType::VmResumed,
            EventType::VmDeleted
        ]
    );
    drop(a);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vmm_that_died_while_hyped_was_down_is_marked_crashed() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let mut a = Server::start_in(tmp.path(), &[])?;
    let vm = a.create_running("ghost").await?;
    a.stop();
    let pid = vm.vmm.pid.unwrap();
    let groups = hype_groups(pid);
    assert!(groups.iter().all(|g| g.is_dir()), "{groups:?}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    while hype_vmm_alive(pid) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // What a hyped killed with its data directory leaves in /dev/shm: a
    // RAM directory nobody will start again to free, with a file no VMM
    // maps. Beside it, a live hyped's file whose VMM is about to map it.
    let dead = std::path::PathBuf::from(format!("/dev/shm/hype-test-dead-{}", std::process::id()));
    let starting =
        std::path::PathBuf::from(format!("/dev/shm/hype-test-live-{}", std::process::id()));
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    for d in [&dead, &starting] {
        std::fs::create_dir(d)?;
        std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        std::fs::write(d.join("vm.ram"), b"guest memory")?;
    }
    std::fs::File::open(dead.join("vm.ram"))?.set_modified(hour_ago)?;
    std::fs::File::open(&dead)?.set_modified(hour_ago)?;
    let own_ram: Vec<_> = std::fs::read_dir(a.ram_dir())?
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(
        !own_ram.is_empty(),
        "the dead VMM's RAM file is still there"
    );

    let b = Server::start_in(tmp.path(), &[])?;
    let vm = b.client.get_vm("ghost").await?;
    assert_eq!(vm.state, VmState::Crashed);
    assert!(
        !dead.exists(),
        "another hyped's stray RAM and its directory are freed"
    );
    assert!(
        starting.join("vm.ram").exists(),
        "a fresh RAM file is left to its hyped"
    );
    std::fs::remove_dir_all(&starting)?;
    assert!(
        own_ram.iter().all(|f| !f.exists()),
        "the dead VMM's RAM is freed"
    );
    assert!(
        !tmp.path().join("vms/ghost/qmp.sock").exists(),
        "stale socket removed"
    );
    let left: Vec<_> = groups.iter().filter(|g| g.exists()).collect();
    assert!(left.is_empty(), "its cgroups are removed: {left:?}");
    b.client.delete_vm("ghost").await?;
    drop(a);
    Ok(())
}

/// The cgroup directories hyped put `pid` in (none where the host has no
/// usable cgroups).
fn hype_groups(pid: u32) -> Vec<std::path::PathBuf> {
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    cgroups
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, ctrl, path) = (parts.next()?, parts.next()?, parts.next()?);
            path.starts_with("/hype/").then(|| {
                let mount = ctrl.split(',').next().unwrap_or_default();
                std::path::PathBuf::from(format!("/sys/fs/cgroup/{mount}{path}"))
            })
        })
        .collect()
}

fn hype_vmm_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vm_past_its_ttl_is_stopped_and_deleted_with_events() -> anyhow::Result<()> {
    let s = Server::start()?;
    let mut events = s
        .client
        .vm_events(Some("brief"), Some(s.last_event_id().await?))
        .await?;
    let created = Instant::now();
    s.client
        .create_vm(&serde_json::from_value(serde_json::json!({
            "name": "brief", "memory_mb": 256, "ttl_seconds": 4
        }))?)
        .await?;
    let deleted = s
        .wait_event(&mut events, Duration::from_secs(60), |e| {
            e.event_type == EventType::VmDeleted
        })
        .await?;
    assert!(
        created.elapsed() >= Duration::from_secs(4),
        "not before its time"
    );
    assert_eq!(
        deleted.detail.as_deref(),
        Some("expired: ttl of 4 s expired")
    );
    let mut replay = s.client.vm_events(Some("brief"), Some(0)).await?;
    let mut types = vec![];
    loop {
        let e = s
            .wait_event(&mut replay, Duration::from_secs(5), |_| true)
            .await?;
        types.push(e.event_type);
        if e.event_type == EventType::VmDeleted {
            break;
        }
    }
    assert!(
        types.contains(&EventType::VmStopped),
        "stopped before deleted: {types:?}"
    );
    assert!(s.vmm_pids().is_empty());
    Ok(())
}

/// A kernel that has printed nothing 30 s into its boot died before its
/// console came up (Debian's kernel under TCG does, about one boot in a
/// hundred): hyped resets it, twice at most, then the boot deadline ends
/// it. Made silent here on purpose: no kernel messages, an init that sleeps.
#[tokio::test(flavor = "multi_thread")]
async fn a_silent_boot_is_reset_twice_then_ends_at_the_deadline() -> anyhow::Result<()> {
    let s = Server::start_with(&["--boot-timeout", "80"])?;
    let mut events = s.client.vm_events(Some("mute"), Some(0)).await?;
    let started = Instant::now();
    s.client
        .create_vm(&serde_json::from_value(serde_json::json!({
            "name": "mute", "cpu_cores": 1, "memory_mb": 256,
            "kernel_cmdline": "loglevel=0 rdinit=/bin/sleep -- 600"
        }))?)
        .await?;
    let ev = s
        .wait_event(&mut events, Duration::from_secs(120), |e| {
            matches!(e.event_type, EventType::VmRunning | EventType::VmCrashed)
        })
        .await?;
    let took = started.elapsed();
    assert_eq!(ev.event_type, EventType::VmCrashed, "{ev:?}");
    let detail = ev.detail.unwrap_or_default();
    assert!(
        detail.contains("within 80 s; reset 2x after 30 s without a word on its console"),
        "{detail}"
    );
    assert!(took >= Duration::from_secs(80), "ended after {took:?}");
    assert_eq!(s.client.logs("mute").await?, "", "the guest said nothing");
    assert!(s.vmm_pids().is_empty(), "its VMM is gone");
    Ok(())
}
