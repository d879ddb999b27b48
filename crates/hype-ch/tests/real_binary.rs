//! Tests against a real cloud-hypervisor binary, named by `HYPE_CH_BINARY`.
//! Without it they print "skipped: HYPE_CH_BINARY not set" and pass: the
//! build machines have no CH binary (and no KVM). VM boot tests belong to
//! the server crate.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use hype_ch::api::{
    ConsoleConfig, ConsoleMode, CpusConfig, DiskConfig, MemoryConfig, PayloadConfig, RngConfig,
    SerialConfig, VmConfig, VmState,
};
use hype_ch::{external_binary, wait_for_socket, ChClient, ChError};

fn binary() -> Option<PathBuf> {
    match std::env::var_os("HYPE_CH_BINARY") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => {
            println!("skipped: HYPE_CH_BINARY not set");
            None
        }
    }
}

#[test]
fn version_of_real_binary_parses() {
    let Some(path) = binary() else { return };
    let found = external_binary(&path).expect("identify binary");
    println!(
        "{} is {} (known: {})",
        path.display(),
        found.version,
        found.known
    );
}

async fn spawn(path: &Path, socket: &Path) -> tokio::process::Child {
    let child = tokio::process::Command::new(path)
        .arg("--api-socket")
        .arg(format!("path={}", socket.display()))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn cloud-hypervisor");
    wait_for_socket(socket, Instant::now() + Duration::from_secs(10))
        .await
        .expect("API socket answers");
    child
}

async fn shutdown_vmm(socket: &Path, mut child: tokio::process::Child) {
    ChClient::new(socket)
        .shutdown_vmm()
        .await
        .expect("vmm.shutdown");
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("CH exits after vmm.shutdown")
        .expect("wait");
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn ping_and_shutdown_vmm() {
    let Some(path) = binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("api.sock");
    let child = spawn(&path, &socket).await;
    let pong = ChClient::new(&socket).ping().await.expect("ping");
    assert!(!pong.version.is_empty());
    if let Some(pid) = pong.pid {
        assert_eq!(Some(pid), child.id().map(i64::from));
    }
    shutdown_vmm(&socket, child).await;
}

/// Creating (not booting) a VM needs no kernel or KVM run; it checks that
/// CH accepts the request and that its real `vm.info` reads into `VmInfo`.
#[tokio::test]
async fn create_info_delete_without_boot() {
    let Some(path) = binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("api.sock");
    let kernel = dir.path().join("vmlinux");
    let disk = dir.path().join("disk.raw");
    std::fs::write(&kernel, b"not a kernel").expect("kernel");
    std::fs::write(&disk, vec![0u8; 1 << 20]).expect("disk");
    let child = spawn(&path, &socket).await;
    let client = ChClient::new(&socket);

    match client.info().await {
        Err(ChError::Api {
            operation, message, ..
        }) => {
            assert_eq!(operation, "vm.info");
            assert!(!message.is_empty());
            println!("vm.info before create: {message}");
        }
        other => panic!("expected an API error before vm.create, got {other:?}"),
    }

    let config = VmConfig {
        cpus: Some(CpusConfig {
            boot_vcpus: 1,
            max_vcpus: 2,
            ..CpusConfig::default()
        }),
        memory: Some(MemoryConfig {
            size: 128 << 20,
            shared: Some(true),
            ..MemoryConfig::default()
        }),
        payload: PayloadConfig {
            kernel: Some(kernel.display().to_string()),
            cmdline: Some("console=hvc0".into()),
            ..PayloadConfig::default()
        },
        disks: Some(vec![DiskConfig {
            path: Some(disk.display().to_string()),
            id: Some("rootfs".into()),
            readonly: Some(true),
            ..DiskConfig::default()
        }]),
        rng: Some(RngConfig {
            src: "/dev/urandom".into(),
            iommu: None,
        }),
        serial: Some(SerialConfig {
            mode: ConsoleMode::Null,
            ..SerialConfig::default()
        }),
        console: Some(ConsoleConfig {
            mode: ConsoleMode::Off,
            ..ConsoleConfig::default()
        }),
        ..VmConfig::default()
    };
    client.create(&config).await.expect("vm.create");
    let info = client.info().await.expect("vm.info");
    assert_eq!(info.state, VmState::Created);
    let got = &info.config;
    assert_eq!(
        got.cpus.as_ref().map(|c| (c.boot_vcpus, c.max_vcpus)),
        Some((1, 2))
    );
    assert_eq!(got.memory.as_ref().map(|m| m.size), Some(128 << 20));
    assert_eq!(got.memory.as_ref().and_then(|m| m.shared), Some(true));
    let disks = got.disks.as_ref().expect("disks");
    assert_eq!(disks[0].id.as_deref(), Some("rootfs"));
    assert_eq!(disks[0].readonly, Some(true));
    assert_eq!(got.serial.as_ref().map(|s| s.mode), Some(ConsoleMode::Null));
    assert_eq!(got.console.as_ref().map(|c| c.mode), Some(ConsoleMode::Off));

    client.delete().await.expect("vm.delete");
    shutdown_vmm(&socket, child).await;
}
