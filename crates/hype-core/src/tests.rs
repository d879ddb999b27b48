//! Unit tests of the core's decisions against the VMM double
//! (`crate::double`): a real store, real processes and sockets, no guest.
//! They run in seconds; the same behaviour is tested with real QEMU guests
//! in hyped's tests.

use std::path::Path;
use std::time::{Duration, Instant};

use hype_types::{CreateVm, ErrorKind, Event, EventType, PageRequest, VmState};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::backends::VmmBackend;
use crate::double::{Behaviour, DoubleVmm};
use crate::{AccelChoice, CoreConfig, CoreError, Hype};

struct Harness {
    hype: Hype,
    double: DoubleVmm,
    shutdown: CancellationToken,
    dir: tempfile::TempDir,
}

/// A fake built image: the files exist, nothing boots them.
fn write_image(images: &Path) {
    let base = images.join("base");
    std::fs::create_dir_all(&base).unwrap();
    std::fs::write(base.join("vmlinux"), b"kernel").unwrap();
    std::fs::write(base.join("initramfs.img"), b"initramfs").unwrap();
    std::fs::write(
        base.join("manifest.json"),
        r#"{"name":"base","kind":"kernel","kernel_version":"6.1","vmlinux":"vmlinux",
            "initramfs":"initramfs.img","size_bytes":1,"built_at":"2026-01-01T00:00:00Z"}"#,
    )
    .unwrap();
}

fn config(dir: &Path) -> CoreConfig {
    CoreConfig {
        data_dir: dir.join("data"),
        images_dir: dir.join("images"),
        accel: AccelChoice::Tcg,
        boot_timeout: Duration::from_secs(2),
        stop_timeout: Duration::from_millis(600),
        ..CoreConfig::default()
    }
}

async fn start(dir: tempfile::TempDir, double: DoubleVmm, max_vms: Option<u32>) -> Harness {
    write_image(&dir.path().join("images"));
    let shutdown = CancellationToken::new();
    let mut cfg = config(dir.path());
    cfg.max_vms = max_vms;
    let hype = Hype::start_with(
        cfg,
        shutdown.clone(),
        Some(VmmBackend::Double(double.clone())),
        None,
    )
    .await
    .unwrap();
    Harness {
        hype,
        double,
        shutdown,
        dir,
    }
}

async fn harness() -> Harness {
    start(tempfile::tempdir().unwrap(), DoubleVmm::default(), None).await
}

impl Harness {
    async fn stop_hyped(self) -> (tempfile::TempDir, DoubleVmm) {
        self.shutdown.cancel();
        self.hype.closed().await;
        (self.dir, self.double)
    }

    async fn create(&self, name: &str) -> Result<hype_types::Vm, CoreError> {
        self.create_idle(name, None).await
    }

    async fn create_idle(
        &self,
        name: &str,
        idle_timeout_seconds: Option<u32>,
    ) -> Result<hype_types::Vm, CoreError> {
        self.hype
            .create_vm(CreateVm {
                name: name.into(),
                cpu_cores: 1,
                memory_mb: 256,
                image: None,
                kernel_cmdline: None,
                vmm: Default::default(),
                network: None,
                ttl_seconds: None,
                idle_timeout_seconds,
                persist: false,
                record: false,
                snapshot: None,
                count: None,
                pool: None,
            })
            .await
    }

    fn run_dir(&self, name: &str) -> std::path::PathBuf {
        self.hype.config().run_dir(name)
    }
}

/// The next event for `vm` of one of `types`, within `secs`.
async fn next_event(
    rx: &mut broadcast::Receiver<Event>,
    vm: &str,
    types: &[EventType],
    secs: u64,
) -> Event {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let e = tokio::time::timeout(left, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no {types:?} for {vm} within {secs} s"))
            .unwrap();
        if e.vm == vm && types.contains(&e.event_type) {
            return e;
        }
    }
}

async fn running(h: &Harness, name: &str) -> hype_types::Vm {
    let mut rx = h.hype.subscribe_events();
    let vm = h.create(name).await.unwrap();
    assert_eq!(vm.state, VmState::Starting);
    let e = next_event(
        &mut rx,
        name,
        &[EventType::VmRunning, EventType::VmCrashed],
        5,
    )
    .await;
    assert_eq!(e.event_type, EventType::VmRunning, "{:?}", e.detail);
    h.hype.get_vm(name).await.unwrap()
}

#[tokio::test]
async fn a_create_records_boots_and_reports_running_once_the_agent_is_ready() {
    let h = harness().await;
    let mut rx = h.hype.subscribe_events();
    let vm = running(&h, "a").await;
    assert_eq!(vm.state, VmState::Running);
    assert!(vm.vmm.pid.is_some());
    let types: Vec<EventType> = h
        .hype
        .events_after(0, Some("a"), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        types,
        [
            EventType::VmCreated,
            EventType::VmStarting,
            EventType::VmRunning
        ]
    );
    // A second create of the name is refused and changes nothing.
    let e = h.create("a").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert_eq!(e.code(), "name_taken");
    assert_eq!(h.double.launches(), 1);
    assert!(rx.try_recv().is_ok());
    h.stop_hyped().await;
}

#[tokio::test]
async fn a_create_whose_vmm_does_not_start_leaves_nothing() {
    let h = harness().await;
    h.double.set("b", Behaviour::LaunchFails);
    let e = h.create("b").await.unwrap_err();
    assert_eq!(e.code(), "boot_failed");
    assert_eq!(e.kind(), ErrorKind::Internal);
    assert!(matches!(
        h.hype.get_vm("b").await,
        Err(CoreError::VmNotFound { .. })
    ));
    assert!(!h.run_dir("b").exists());
    let last = h.hype.events_after(0, Some("b"), 10).await.unwrap();
    let deleted = last.last().unwrap();
    assert_eq!(deleted.event_type, EventType::VmDeleted);
    assert!(deleted.detail.as_deref().unwrap().contains("create failed"));
    // Refusals before anything is recorded: no row, no event at all.
    let e = h
        .hype
        .create_vm(CreateVm {
            image: Some("nope".into()),
            ..serde_json::from_str(r#"{"name":"c"}"#).unwrap()
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(h
        .hype
        .events_after(0, Some("c"), 10)
        .await
        .unwrap()
        .is_empty());
    h.stop_hyped().await;
}

#[tokio::test]
async fn stop_asks_the_agent_then_presses_the_button_then_kills() {
    let h = harness().await;
    running(&h, "polite").await;
    let vm = h.hype.stop_vm("polite").await.unwrap();
    assert_eq!(vm.state, VmState::Stopped);
    assert_eq!(vm.vmm.pid, None);
    // A guest that ignores both is killed once the timeout is over.
    h.double.set("stubborn", Behaviour::Stubborn);
    running(&h, "stubborn").await;
    let t = Instant::now();
    let vm = h.hype.stop_vm("stubborn").await.unwrap();
    assert_eq!(vm.state, VmState::Stopped);
    assert!(
        t.elapsed() >= Duration::from_millis(600),
        "{:?}",
        t.elapsed()
    );
    let stopped = h.hype.events_after(0, Some("stubborn"), 10).await.unwrap();
    assert!(stopped
        .last()
        .unwrap()
        .detail
        .as_deref()
        .unwrap()
        .contains("SIGKILL"));
    // A stopped VM starts again, and cannot be stopped twice.
    let e = h.hype.stop_vm("polite").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    let mut rx = h.hype.subscribe_events();
    h.hype.start_vm("polite").await.unwrap();
    next_event(&mut rx, "polite", &[EventType::VmRunning], 5).await;
    h.stop_hyped().await;
}

#[tokio::test]
async fn a_vmm_that_dies_is_a_crash_seen_at_once() {
    let h = harness().await;
    let vm = running(&h, "c").await;
    let mut rx = h.hype.subscribe_events();
    let t = Instant::now();
    hype_vmm::process::signal_group(vm.vmm.pid.unwrap(), nix::sys::signal::Signal::SIGKILL);
    let e = next_event(&mut rx, "c", &[EventType::VmCrashed], 2).await;
    assert!(t.elapsed() < Duration::from_secs(1));
    assert!(e.detail.as_deref().unwrap().contains("SIGKILL"), "{e:?}");
    assert_eq!(h.hype.get_vm("c").await.unwrap().state, VmState::Crashed);
    h.stop_hyped().await;
}

#[tokio::test]
async fn a_guest_that_fails_or_hangs_is_a_crash_with_its_reason() {
    let h = harness().await;
    h.double
        .set("f", Behaviour::Fails("no root filesystem".into()));
    h.double.set("hang", Behaviour::NeverReady);
    let mut rx = h.hype.subscribe_events();
    h.create("f").await.unwrap();
    h.create("hang").await.unwrap();
    let e = next_event(&mut rx, "f", &[EventType::VmCrashed], 3).await;
    assert_eq!(e.detail.as_deref(), Some("guest: no root filesystem"));
    let e = next_event(&mut rx, "hang", &[EventType::VmCrashed], 5).await;
    assert!(
        e.detail
            .as_deref()
            .unwrap()
            .contains("did not report ready within 2 s"),
        "{e:?}"
    );
    h.stop_hyped().await;
}

#[tokio::test]
async fn pause_and_resume_follow_the_lifecycle() {
    let h = harness().await;
    running(&h, "p").await;
    assert_eq!(h.hype.pause_vm("p").await.unwrap().state, VmState::Paused);
    let e = h.hype.pause_vm("p").await.unwrap_err();
    assert!(matches!(
        e,
        CoreError::InvalidState {
            state: VmState::Paused,
            ..
        }
    ));
    assert_eq!(h.hype.resume_vm("p").await.unwrap().state, VmState::Running);
    // Stopping a paused VM resumes it first, so the agent can be asked.
    h.hype.pause_vm("p").await.unwrap();
    assert_eq!(h.hype.stop_vm("p").await.unwrap().state, VmState::Stopped);
    h.stop_hyped().await;
}

#[tokio::test]
async fn delete_kills_removes_and_forgets_everything_of_the_vm() {
    let h = harness().await;
    let vm = running(&h, "d").await;
    let pid = vm.vmm.pid.unwrap();
    let _lease = h.hype.cdp_lease("d");
    h.hype.delete_vm("d").await.unwrap();
    assert!(!hype_vmm::process::is_alive(pid));
    assert!(!h.run_dir("d").exists());
    assert!(h.hype.inner.runtimes.get("d").is_none());
    assert_eq!(h.hype.inner.locks.len(), 0);
    assert!(matches!(
        h.hype.delete_vm("d").await,
        Err(CoreError::VmNotFound { .. })
    ));
    h.stop_hyped().await;
}

#[tokio::test]
async fn max_vms_is_a_limit_and_lists_are_paged() {
    let h = start(tempfile::tempdir().unwrap(), DoubleVmm::default(), Some(3)).await;
    for n in ["v1", "v2", "v3"] {
        h.create(n).await.unwrap();
    }
    let e = h.create("v4").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooMany);
    let page = |limit, after: Option<&str>| PageRequest {
        limit: Some(limit),
        after: after.map(str::to_owned),
    };
    let first = h.hype.list_vms(None, None, &page(2, None)).await.unwrap();
    assert_eq!(
        first
            .vms
            .iter()
            .map(|v| v.name.as_str())
            .collect::<Vec<_>>(),
        ["v1", "v2"]
    );
    assert_eq!(first.next.as_deref(), Some("v2"));
    let second = h
        .hype
        .list_vms(None, None, &page(2, first.next.as_deref()))
        .await
        .unwrap();
    assert_eq!(second.vms.len(), 1);
    assert_eq!(second.next, None);
    let e = h
        .hype
        .list_vms(None, None, &page(0, None))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    h.stop_hyped().await;
}

#[tokio::test]
async fn a_restart_adopts_live_vmms_buries_dead_ones_and_undoes_half_creations() {
    let h = harness().await;
    let kept = running(&h, "kept").await;
    let dead = running(&h, "dead").await;
    // A create cut short between its row and its VMM.
    h.hype
        .inner
        .store
        .insert_vm(
            hype_store::NewVm {
                id: "half-id".into(),
                name: "half".into(),
                cpu_cores: 1,
                memory_mb: 256,
                image: "base".into(),
                kernel_cmdline: String::new(),
                user_cmdline: None,
                vmm_kind: hype_types::VmmKind::Qemu,
                egress: true,
                ttl_seconds: None,
                idle_timeout_seconds: None,
                persist: false,
                record: false,
                has_agent: true,
                snapshot: None,
                pool: None,
                created_detail: None,
            },
            None,
        )
        .await
        .unwrap();
    // A VMM spawned for a VM that was never told of it (hyped died between
    // spawn and record): it names this hyped's VM directory.
    let stray_dir = h.run_dir("stray");
    std::fs::create_dir_all(&stray_dir).unwrap();
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.args(["-c", "while :; do sleep 1; done"])
        .arg(stray_dir.join("vmm-double"));
    let stray = hype_vmm::process::spawn_detached(&mut cmd, &stray_dir.join("vmm.log")).unwrap();
    let (dir, double) = h.stop_hyped().await;
    // While hyped is down, one VMM dies.
    hype_vmm::process::signal_group(dead.vmm.pid.unwrap(), nix::sys::signal::Signal::SIGKILL);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let h = start(dir, double, None).await;
    let kept2 = h.hype.get_vm("kept").await.unwrap();
    assert_eq!(kept2.state, VmState::Running);
    assert_eq!(kept2.vmm.pid, kept.vmm.pid);
    assert!(h.hype.inner.runtimes.get("kept").is_some());
    let dead = h.hype.get_vm("dead").await.unwrap();
    assert_eq!(dead.state, VmState::Crashed);
    assert!(matches!(
        h.hype.get_vm("half").await,
        Err(CoreError::VmNotFound { .. })
    ));
    let t = Instant::now();
    while hype_vmm::process::is_alive(stray) {
        assert!(t.elapsed() < Duration::from_secs(2), "the stray VMM lives");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The adopted VM is supervised: its agent answers and it stops.
    h.hype.guest_network("kept").await.unwrap();
    assert_eq!(
        h.hype.stop_vm("kept").await.unwrap().state,
        VmState::Stopped
    );
    h.stop_hyped().await;
}

/// Issue 15, finding 14: a deleted VM's idle clock goes with it, so a new
/// VM of the same name starts idle from zero instead of being reaped at
/// once for its predecessor's idleness.
#[tokio::test]
async fn a_new_vm_of_a_deleted_name_starts_its_idle_time_afresh() {
    let h = harness().await;
    let mut rx = h.hype.subscribe_events();
    h.create_idle("x", Some(600)).await.unwrap();
    next_event(&mut rx, "x", &[EventType::VmRunning], 5).await;
    // Idle for a while under a long timeout.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    h.hype.delete_vm("x").await.unwrap();
    h.create_idle("x", Some(3)).await.unwrap();
    next_event(&mut rx, "x", &[EventType::VmRunning], 5).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        h.hype.get_vm("x").await.is_ok(),
        "reaped for the deleted VM's idle time"
    );
    // Its own idle timeout still applies.
    let e = next_event(&mut rx, "x", &[EventType::VmDeleted], 6).await;
    assert!(e.detail.as_deref().unwrap().contains("idle"), "{e:?}");
    h.stop_hyped().await;
}

#[tokio::test]
async fn exec_and_files_say_when_the_agent_cannot_serve_them() {
    let h = harness().await;
    h.double.set("old", Behaviour::OldAgent);
    running(&h, "old").await;
    running(&h, "new").await;
    let spec = hype_types::ExecSpec {
        cmd: vec!["true".into()],
        env: Default::default(),
        cwd: None,
        user: None,
        tty: None,
        stdin: false,
        timeout_seconds: Some(5),
    };
    // An agent from before streams: refused without asking it.
    let e = h.hype.exec("old", spec.clone(), vec![]).await.unwrap_err();
    assert_eq!(
        (e.kind(), e.code()),
        (ErrorKind::Unsupported, "agent_too_old")
    );
    // An agent that answers `unsupported` (a newer hyped): the same.
    let e = h.hype.exec("new", spec.clone(), vec![]).await.unwrap_err();
    assert_eq!(
        (e.kind(), e.code()),
        (ErrorKind::Unsupported, "agent_too_old")
    );
    let e = h.hype.file_stat("new", "/").await.unwrap_err();
    assert_eq!(e.code(), "agent_too_old");
    assert!(e.to_string().contains("`stat`"), "{e}");
    // A VM that is not running says its state.
    h.hype.pause_vm("new").await.unwrap();
    let e = h.hype.exec("new", spec, vec![]).await.unwrap_err();
    assert_eq!((e.kind(), e.code()), (ErrorKind::Conflict, "invalid_state"));
    h.stop_hyped().await;
}
