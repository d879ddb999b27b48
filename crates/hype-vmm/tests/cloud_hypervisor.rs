//! The cloud-hypervisor backend against a real CH binary, named by
//! `HYPE_CH_BINARY`; without it the test prints why and passes.
//!
//! It stops short of the guest becoming ready: on a host with nested KVM
//! the guest may die a few seconds in with a KVM internal error, while
//! create, boot, info, pause and resume all work in that window.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hype_ch::api::VmState;
use hype_ch::ChClient;
use hype_vmm::process::{self, Exit, ExitWatch};
use hype_vmm::{
    spec_files, Accel, Boot, CloudHypervisor, Disk, DiskFormat, Memory, VmSpec, Vmm, VmmError,
};
use nix::sys::signal::Signal;

const IMAGE_DIR: &str = "/var/lib/hype/images/base";

fn binary() -> Option<PathBuf> {
    match std::env::var_os("HYPE_CH_BINARY") {
        Some(path) => Some(PathBuf::from(path)),
        None => {
            println!("skipped: HYPE_CH_BINARY not set");
            None
        }
    }
}

/// The backend for `HYPE_CH_BINARY`, with the version the binary reports.
fn backend() -> Option<CloudHypervisor> {
    let binary = binary()?;
    let identified = hype_ch::external_binary(&binary).expect("identify the CH binary");
    Some(CloudHypervisor::new(
        binary,
        Some(identified.version.to_string()),
    ))
}

/// A file of `bytes` bytes, all holes (a RAM file, a raw image).
fn sized_file(path: &Path, bytes: u64) {
    std::fs::File::create(path).unwrap().set_len(bytes).unwrap();
}

fn spec(run_dir: &Path, name: &str) -> VmSpec {
    let image = Path::new(IMAGE_DIR);
    VmSpec {
        name: name.into(),
        id: "00000000-0000-0000-0000-000000000000".into(),
        cpu_cores: 1,
        memory_mb: 256,
        boot: Boot::Kernel {
            kernel: image.join("vmlinux"),
            initramfs: Some(image.join("initramfs.img")),
            cmdline: format!("console=ttyS0 reboot=k panic=-1 hype.name={name}"),
        },
        disks: vec![],
        run_dir: run_dir.to_owned(),
        accel: Accel::Kvm,
        tap: None,
        mac: None,
        nic: hype_vmm::NicModel::Virtio,
        jail: None,
        memory: hype_vmm::Memory::Anonymous,
    }
}

#[tokio::test]
async fn launches_drives_and_loses_a_vm() {
    let Some(ch) = backend() else { return };
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("vm");
    let launched = ch
        .launch(&spec(&run_dir, "ch-test"))
        .await
        .unwrap_or_else(|e| panic!("launch: {e}\nvmm.log:\n{}", log(&run_dir)));
    let watch = ExitWatch::new(launched.pid).unwrap();
    assert!(ch.owns_process(launched.pid, &run_dir));
    assert!(!ch.owns_process(launched.pid, dir.path()));

    let client = ChClient::new(run_dir.join(spec_files::CH_SOCK));
    let pong = client.ping().await.unwrap();
    assert!(!pong.version.is_empty());
    let info = client.info().await.unwrap();
    assert_eq!(info.config.memory.as_ref().map(|m| m.size), Some(256 << 20));
    assert!(run_dir.join(spec_files::VSOCK_SOCK).exists());
    // The guest may already have died on a nested KVM, and then CH refuses
    // to pause; only a running guest is checked.
    if info.state == VmState::Running {
        match ch.pause("ch-test", &run_dir).await {
            Ok(()) => {
                assert_eq!(client.info().await.unwrap().state, VmState::Paused);
                ch.resume("ch-test", &run_dir).await.unwrap();
                assert_eq!(client.info().await.unwrap().state, VmState::Running);
                println!("paused and resumed");
            }
            Err(VmmError::Ch { source, .. }) => {
                println!("pause refused (guest died under nested KVM?): {source}")
            }
            Err(e) => panic!("pause: {e}"),
        }
    } else {
        println!("guest already {:?}; pause/resume not checked", info.state);
    }
    // An agent that is not listening yet is an error the caller retries,
    // never a hang.
    let agent = tokio::time::timeout(
        Duration::from_secs(10),
        ch.connect_agent("ch-test", &run_dir),
    )
    .await
    .expect("connect_agent must not hang");
    println!("connect_agent right after boot: {:?}", agent.map(drop));

    process::signal_group(launched.pid, Signal::SIGKILL);
    let exit = tokio::time::timeout(Duration::from_secs(5), watch.exited())
        .await
        .expect("the pidfd reports the kill");
    assert_eq!(exit, Exit::Signal("SIGKILL".into()));
    assert!(!process::is_alive(launched.pid));
    hype_vmm::remove_sockets(&run_dir);
    assert!(!run_dir.join(spec_files::CH_SOCK).exists());
}

/// Whether CH refused a snapshot because of this host (nested KVM cannot
/// hand out the vCPUs' nested state), as opposed to a fault of ours.
fn host_cannot_snapshot(err: &VmmError) -> bool {
    match err {
        VmmError::Ch { source, .. } => {
            matches!(**source, hype_ch::ChError::Api { status: 500, .. })
                && source.to_string().contains("GetNestedState")
        }
        _ => false,
    }
}

#[tokio::test]
async fn snapshot_then_restore_or_a_clear_refusal_that_leaves_the_vm_paused() {
    let Some(ch) = backend() else { return };
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("vm");
    // RAM in a shared file, as hyped gives every VM on its kernel.
    let ram = dir.path().join("vm.ram");
    sized_file(&ram, 256 << 20);
    let mut spec = spec(&run_dir, "ch-snap");
    spec.memory = Memory::Shared(ram.clone());
    let launched = ch
        .launch(&spec)
        .await
        .unwrap_or_else(|e| panic!("launch: {e}\nvmm.log:\n{}", log(&run_dir)));
    let watch = ExitWatch::new(launched.pid).unwrap();
    let client = ChClient::new(run_dir.join(spec_files::CH_SOCK));
    if let Err(e) = ch.pause("ch-snap", &run_dir).await {
        println!("skipped: the guest died before it could be paused (nested KVM?): {e}");
        process::kill_and_reap(launched.pid).await;
        return;
    }
    let snap = dir.path().join("snapshot");
    std::fs::create_dir(&snap).unwrap();
    match ch.snapshot("ch-snap", &run_dir, &snap).await {
        Ok(()) => {
            assert!(snap.join("config.json").exists(), "CH wrote its config");
            assert!(
                has_data(&snap.join("ram")),
                "standby keeps the RAM file's data"
            );
            ch.quit("ch-snap", &run_dir).await.unwrap();
            tokio::time::timeout(Duration::from_secs(10), watch.exited())
                .await
                .expect("vmm.shutdown ends the process");
            // hyped frees the RAM with the VMM, and makes a new file for the
            // restore.
            std::fs::remove_file(&ram).unwrap();
            sized_file(&ram, 256 << 20);
            let restored = ch
                .restore(&spec, &snap)
                .await
                .unwrap_or_else(|e| panic!("restore: {e}\nvmm.log:\n{}", log(&run_dir)));
            assert_eq!(client.info().await.unwrap().state, VmState::Running);
            assert!(has_data(&ram), "the saved RAM is back in the VM's file");
            println!("snapshotted and restored (pid {})", restored.pid);
            process::kill_and_reap(restored.pid).await;
        }
        Err(e) if host_cannot_snapshot(&e) => {
            // The refusal is CH's, word for word, and the VM is untouched.
            println!("skipped: this host cannot snapshot: {e}");
            assert_eq!(client.info().await.unwrap().state, VmState::Paused);
            ch.resume("ch-snap", &run_dir).await.unwrap();
            assert_eq!(client.info().await.unwrap().state, VmState::Running);
            process::kill_and_reap(launched.pid).await;
        }
        Err(e) => {
            process::kill_and_reap(launched.pid).await;
            panic!("snapshot failed for a reason other than the host: {e}");
        }
    }
}

/// Whether `path` holds any data (a RAM file the guest has written).
fn has_data(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).is_ok_and(|m| m.blocks() > 0)
}

/// A VM whose RAM is a shared file is saved for forks without its RAM (the
/// file holds it), and a fork starts from that state in its own run
/// directory, the RAM's copy mapped privately; the source goes on. On a
/// host that cannot snapshot, the refusal leaves no state behind and the
/// VM paused.
#[tokio::test]
async fn a_vm_with_its_ram_in_a_file_forks_or_the_host_refuses_clearly() {
    let Some(ch) = backend() else { return };
    let dir = tempfile::tempdir().unwrap();
    let ram = dir.path().join("src.ram");
    sized_file(&ram, 256 << 20);
    let run_dir = dir.path().join("src");
    let mut source = spec(&run_dir, "ch-src");
    source.memory = Memory::Shared(ram.clone());
    let launched = ch
        .launch(&source)
        .await
        .unwrap_or_else(|e| panic!("launch: {e}\nvmm.log:\n{}", log(&run_dir)));
    let client = ChClient::new(run_dir.join(spec_files::CH_SOCK));
    let zones = client.info().await.unwrap().config.memory.unwrap().zones;
    assert_eq!(zones.unwrap()[0].file.as_deref(), ram.to_str());
    // The guest's writes land in the file (the kernel is loaded into it).
    assert!(has_data(&ram), "the RAM file holds the guest's memory");
    if let Err(e) = ch.pause("ch-src", &run_dir).await {
        println!("skipped: the guest died before it could be paused (nested KVM?): {e}");
        process::kill_and_reap(launched.pid).await;
        return;
    }
    let state = run_dir.join("fork-state");
    match ch.save_for_forks("ch-src", &run_dir, &state).await {
        Ok(()) => {
            assert!(state.join("config.json").exists() && state.join("state.json").exists());
            assert!(
                !state.join("memory-ranges").exists(),
                "CH left the RAM out: the file holds it"
            );
            let memory = dir.path().join("memory");
            hype_vmm::ram::copy_sparse(&ram, &memory).unwrap();
            ch.resume("ch-src", &run_dir).await.unwrap();

            let fork_dir = dir.path().join("fork");
            let mut fork = spec(&fork_dir, "ch-fork");
            fork.memory = Memory::Private(memory.clone());
            let forked = ch
                .fork(&fork, &state)
                .await
                .unwrap_or_else(|e| panic!("fork: {e}\nvmm.log:\n{}", log(&fork_dir)));
            let info = ChClient::new(fork_dir.join(spec_files::CH_SOCK))
                .info()
                .await
                .unwrap();
            assert_eq!(info.state, VmState::Running);
            let zone = &info.config.memory.unwrap().zones.unwrap()[0];
            assert_eq!(zone.file.as_deref(), memory.to_str());
            assert_eq!(zone.shared, Some(false));
            let serial = info.config.serial.unwrap().file.unwrap();
            assert!(serial.starts_with(fork_dir.to_str().unwrap()), "{serial}");
            assert!(fork_dir.join(spec_files::VSOCK_SOCK).exists());
            assert!(
                !fork_dir.join("fork-restore").exists(),
                "the fork's copy is gone"
            );
            assert_eq!(client.info().await.unwrap().state, VmState::Running);
            println!("forked (pid {}) beside its running source", forked.pid);
            process::kill_and_reap(forked.pid).await;
            process::kill_and_reap(launched.pid).await;
        }
        Err(e) if host_cannot_snapshot(&e) => {
            println!("skipped: this host cannot snapshot: {e}");
            assert!(!state.exists(), "a refused save leaves no state");
            assert_eq!(client.info().await.unwrap().state, VmState::Paused);
            process::kill_and_reap(launched.pid).await;
        }
        Err(e) => {
            process::kill_and_reap(launched.pid).await;
            panic!("save for forks failed for a reason other than the host: {e}");
        }
    }
}

#[tokio::test]
async fn a_rejected_config_leaves_no_process() {
    let Some(binary) = binary() else { return };
    let ch = CloudHypervisor::new(binary, None);
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("vm");
    let mut bad = spec(&run_dir, "ch-bad");
    if let Boot::Kernel { kernel, .. } = &mut bad.boot {
        *kernel = dir.path().join("no-such-kernel");
    }
    let err = ch.launch(&bad).await.unwrap_err();
    // CH's own explanation reaches the caller.
    assert!(matches!(err, VmmError::Ch { .. }), "{err}");
    println!("rejected as expected: {err}");
    let argv = format!("path={}", run_dir.join(spec_files::CH_SOCK).display());
    let survivors: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&pid| process::is_alive(pid))
        .filter(|&pid| process::cmdline(pid).is_some_and(|a| a.contains(&argv)))
        .collect();
    assert!(survivors.is_empty(), "left behind: {survivors:?}");
}

/// An imported disk's VM writes to a qcow2 overlay over the raw image;
/// CH must open it with its backing file (v51+ refuses unless told).
#[tokio::test]
async fn a_qcow2_overlay_over_a_raw_image_opens() {
    let Some(ch) = backend() else { return };
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image.raw");
    sized_file(&image, 64 << 20);
    let overlay = dir.path().join("disk.qcow2");
    let made = std::process::Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
        .arg(&image)
        .arg(&overlay)
        .status()
        .expect("qemu-img runs");
    assert!(made.success());
    let run_dir = dir.path().join("vm");
    let mut s = spec(&run_dir, "ch-overlay");
    s.disks = vec![Disk {
        bus: hype_vmm::StorageBus::Virtio,
        path: overlay.clone(),
        format: DiskFormat::Qcow2,
        read_only: false,
        backing: None,
    }];
    let launched = ch
        .launch(&s)
        .await
        .unwrap_or_else(|e| panic!("launch with an overlay: {e}\nvmm.log:\n{}", log(&run_dir)));
    let info = ChClient::new(run_dir.join(spec_files::CH_SOCK))
        .info()
        .await
        .unwrap();
    let disks = info.config.disks.unwrap_or_default();
    assert_eq!(disks.len(), 1);
    assert_eq!(disks[0].path.as_deref(), overlay.to_str());
    println!(
        "CH {} booted with the overlay",
        ch.version().unwrap_or_default()
    );
    process::signal_group(launched.pid, Signal::SIGKILL);
    hype_vmm::remove_sockets(&run_dir);
}

fn log(run_dir: &Path) -> String {
    std::fs::read_to_string(run_dir.join(spec_files::VMM_LOG)).unwrap_or_default()
}
