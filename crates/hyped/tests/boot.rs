//! Booting imported full disks end to end: a BIOS-bootable disk built by
//! scripts/build-test-disk.sh (syslinux, Debian's kernel, a busybox /init
//! that prints marks to the serial console, and a second partition with a
//! busybox root filesystem), imported from the test XAPI server
//! (tests/xcpng/xapi_server.py) by a real hyped, then booted under TCG by
//! SeaBIOS in a QEMU q35 machine (`boot: firmware`) or by hype's kernel and
//! agent in a microvm that start the disk's own init (`boot: kernel`).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::imported::{
    call, console_until, debian_disk, import, marks_written, test_disk, until_running, BOOTED,
    POWERING_OFF, WROTE,
};
use common::xapi::xapi;
use common::Server;
use hype_types::EventType;
use serde_json::json;
use sha2::{Digest, Sha256};

/// Console deadline: TCG boots, sometimes beside a busy build.
const SECS: u64 = 120;

fn sha256(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// The mark the guest wrote last, from its console.
fn mark_written(log: &str) -> String {
    marks_written(log).pop().expect("a written mark")
}

// Heavy TCG boots take turns (see common::browser_turn); each test
// has a runtime and thread of its own.
#[allow(clippy::await_holding_lock)]
#[tokio::test]
async fn an_imported_bios_disk_boots_writes_to_its_overlay_and_goes() -> anyhow::Result<()> {
    let _turn = common::browser_turn();
    let disk = test_disk("bios");
    let source_sha = sha256(&disk);
    let x = xapi(&disk, &[])?;
    let s = Server::start()?;
    import(&s, &x, "bios", json!({"boot": "firmware"})).await?;
    let img = s.client.get_image("bios").await?;
    assert_eq!(img.sha256.as_deref(), Some(source_sha.as_str()));
    let image_file = s.data.join("imported/bios/disk0.raw");

    // A command line would go nowhere: refused, nothing made.
    let (st, err) = call(
        &s,
        "post",
        "/api/v1/vms",
        Some(
            json!({"name": "imp", "cpu_cores": 1, "memory_mb": 256, "image": "bios",
            "kernel_cmdline": "quiet"}),
        ),
    )
    .await;
    assert_eq!(
        (st, err["error"]["code"].as_str()),
        (422, Some("invalid_request")),
        "{err}"
    );
    assert!(!s.data.join("vms/imp").exists());
    assert_eq!(call(&s, "get", "/api/v1/vms/imp", None).await.0, 404);

    let from = s.last_event_id().await?;
    let vm = s
        .client
        .create_vm(&serde_json::from_value(json!({
            "name": "imp", "cpu_cores": 1, "memory_mb": 256, "image": "bios", "vmm": "qemu"
        }))?)
        .await?;
    assert_eq!(vm.state.as_str(), "starting");
    let detail = until_running(&s, "imp", from).await?;
    assert!(detail.contains("no guest agent"), "{detail}");
    let overlay = s.data.join("vms/imp/disk.qcow2");
    assert!(overlay.is_file());
    let log = console_until(&s, "imp", WROTE, SECS).await?;
    assert!(log.contains(BOOTED), "{log}");
    assert!(log.contains("HYPE_TEST_DISK: previous mark: none"), "{log}");
    let first = mark_written(&log);

    // Agent-only questions say why they cannot be answered.
    let (st, err) = call(&s, "get", "/api/v1/vms/imp/guest/network", None).await;
    assert_eq!(
        (st, err["error"]["code"].as_str()),
        (501, Some("not_supported")),
        "{err}"
    );
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no guest agent"));
    // So are exec and files: 409 no_agent, whatever the guest runs.
    let (st, err) = call(
        &s,
        "post",
        "/api/v1/vms/imp/exec",
        Some(json!({"cmd": ["true"]})),
    )
    .await;
    assert_eq!(
        (st, err["error"]["code"].as_str()),
        (409, Some("no_agent")),
        "{err}"
    );
    let (st, err) = call(&s, "get", "/api/v1/vms/imp/files/stat?path=/", None).await;
    assert_eq!((st, err["error"]["code"].as_str()), (409, Some("no_agent")));

    // Stop: the ACPI power button at once (no agent to ask first), which
    // this guest obeys; with an agent step it would take half of the
    // 20 s stop timeout.
    let t = Instant::now();
    let vm = s.client.vm_action("imp", "stop").await?;
    assert_eq!(vm.state.as_str(), "stopped");
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "stop took {:?}",
        t.elapsed()
    );
    console_until(&s, "imp", POWERING_OFF, SECS).await?;
    assert!(overlay.is_file(), "the overlay outlives a stop");
    assert!(s.vmm_pids().is_empty());
    // The guest wrote to its disk; the image did not change.
    assert_eq!(sha256(&image_file), source_sha);

    // Start again: the guest finds what it wrote last time.
    let from = s.last_event_id().await?;
    s.client.vm_action("imp", "start").await?;
    until_running(&s, "imp", from).await?;
    let prev = format!("HYPE_TEST_DISK: previous mark: {first}");
    let until = Instant::now() + Duration::from_secs(120);
    let second = loop {
        let log = s.client.logs("imp").await?;
        let lines: Vec<&str> = log.lines().map(str::trim).collect();
        let after = lines.iter().position(|l| *l == prev).map(|i| &lines[i..]);
        if let Some(m) = after.and_then(|a| a.iter().find_map(|l| l.strip_prefix(WROTE))) {
            break m.to_owned();
        }
        anyhow::ensure!(Instant::now() < until, "no second boot in:\n{log}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_ne!(second, first);

    // A second VM of the same image has its own overlay: a fresh disk.
    let from = s.last_event_id().await?;
    s.client
        .create_vm(&serde_json::from_value(json!({
            "name": "imp2", "cpu_cores": 1, "memory_mb": 256, "image": "bios"
        }))?)
        .await?;
    until_running(&s, "imp2", from).await?;
    let log2 = console_until(&s, "imp2", WROTE, SECS).await?;
    assert!(log2.contains("previous mark: none"), "{log2}");

    // The image backs the overlays: it stays while VMs use it.
    let (st, err) = call(&s, "delete", "/api/v1/images/bios", None).await;
    assert_eq!(
        (st, err["error"]["code"].as_str()),
        (409, Some("image_in_use")),
        "{err}"
    );

    // Delete: the VMMs and the overlays go, the image stays as it was.
    s.client.delete_vm("imp").await?;
    s.client.delete_vm("imp2").await?;
    assert!(!s.data.join("vms/imp").exists() && !s.data.join("vms/imp2").exists());
    assert!(s.vmm_pids().is_empty());
    assert_eq!(sha256(&image_file), source_sha);
    s.client.delete_image("bios").await?;
    assert!(!image_file.exists());
    Ok(())
}

// Heavy TCG boots take turns (see common::browser_turn); each test
// has a runtime and thread of its own.
#[allow(clippy::await_holding_lock)]
#[tokio::test]
async fn an_imported_disk_boots_its_own_init_on_hypes_kernel() -> anyhow::Result<()> {
    let _turn = common::browser_turn();
    let disk = test_disk("bios");
    let source_sha = sha256(&disk);
    let x = xapi(&disk, &[])?;
    let s = Server::start()?;
    import(&s, &x, "kern", json!({"boot": "kernel"})).await?;
    let img = s.client.get_image("kern").await?;
    assert_eq!(img.boot_mode, "kernel");
    let image_file = s.data.join("imported/kern/disk0.raw");

    let from = s.last_event_id().await?;
    s.client
        .create_vm(&serde_json::from_value(json!({
            "name": "k", "cpu_cores": 1, "memory_mb": 256, "image": "kern", "vmm": "qemu"
        }))?)
        .await?;
    // Ready comes from hype's agent, once the disk's init is PID 1.
    let detail = until_running(&s, "k", from).await?;
    assert!(detail.starts_with("guest ready"), "{detail}");
    let log = console_until(&s, "k", WROTE, SECS).await?;
    // hype's kernel (not the disk's syslinux and initramfs) started the
    // disk's own init as PID 1, on partition 2.
    assert!(!log.contains(BOOTED), "{log}");
    let base = s.client.get_image("base").await?;
    let kver = base.kernel_version.expect("base has a kernel version");
    assert!(
        log.contains(&format!(
            "HYPE_TEST_DISK: init from the root partition: pid1=init kernel={kver}"
        )),
        "{log}"
    );
    assert!(log.contains("root: /dev/vda2 (read-write)"), "{log}");
    assert!(log.contains("HYPE_TEST_DISK: previous mark: none"), "{log}");
    let first = mark_written(&log);

    // The agent still answers beside the guest's init.
    let (st, net) = call(&s, "get", "/api/v1/vms/k/guest/network", None).await;
    assert_eq!(st, 200, "{net}");
    assert!(net.to_string().contains("\"lo\""), "{net}");

    // Standby and back: the same guest goes on, no second boot.
    assert_eq!(
        s.client.vm_action("k", "snapshot").await?.state.as_str(),
        "standby"
    );
    assert!(s.vmm_pids().is_empty());
    assert_eq!(
        s.client.vm_action("k", "restore").await?.state.as_str(),
        "running"
    );
    let (st, net) = call(&s, "get", "/api/v1/vms/k/guest/network", None).await;
    assert_eq!(st, 200, "{net}");
    let log = s.client.logs("k").await?;
    assert_eq!(
        log.matches("init from the root partition").count(),
        1,
        "{log}"
    );

    // Stop asks the guest's init to shut down: its shutdown action runs.
    let t = Instant::now();
    let vm = s.client.vm_action("k", "stop").await?;
    assert_eq!(vm.state.as_str(), "stopped");
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "stop took {:?}",
        t.elapsed()
    );
    let log = s.client.logs("k").await?;
    assert!(log.contains("HYPE_TEST_DISK: init shutting down"), "{log}");
    assert!(s.vmm_pids().is_empty());
    assert_eq!(sha256(&image_file), source_sha);

    // Start again: the file the guest wrote on its root is still there.
    let from = s.last_event_id().await?;
    s.client.vm_action("k", "start").await?;
    until_running(&s, "k", from).await?;
    console_until(
        &s,
        "k",
        &format!("HYPE_TEST_DISK: previous mark: {first}"),
        SECS,
    )
    .await?;

    s.client.delete_vm("k").await?;
    assert!(!s.data.join("vms/k").exists());
    assert!(s.vmm_pids().is_empty());
    assert_eq!(sha256(&image_file), source_sha);
    Ok(())
}

// Heavy TCG boots take turns (see common::browser_turn); each test
// has a runtime and thread of its own.
#[allow(clippy::await_holding_lock)]
#[tokio::test]
async fn a_disk_without_a_root_filesystem_fails_with_what_is_on_it() -> anyhow::Result<()> {
    let _turn = common::browser_turn();
    // A whole-disk FAT filesystem: nothing the agent could start.
    let tmp = tempfile::tempdir()?;
    let disk = tmp.path().join("fat.raw");
    let made = Command::new("mkfs.fat")
        .args(["-C", "-F", "16"])
        .arg(&disk)
        .arg("16384")
        .output()?;
    anyhow::ensure!(made.status.success(), "mkfs.fat: {made:?}");
    let x = xapi(&disk, &[])?;
    let s = Server::start()?;
    import(&s, &x, "fat", json!({"boot": "kernel"})).await?;
    let from = s.last_event_id().await?;
    let t = Instant::now();
    s.client
        .create_vm(&serde_json::from_value(json!({
            "name": "nofs", "cpu_cores": 1, "memory_mb": 256, "image": "fat"
        }))?)
        .await?;
    let mut events = s.client.vm_events(Some("nofs"), Some(from)).await?;
    let ev = s
        .wait_event(&mut events, Duration::from_secs(120), |e| {
            matches!(e.event_type, EventType::VmRunning | EventType::VmCrashed)
        })
        .await?;
    assert_eq!(ev.event_type, EventType::VmCrashed, "{:?}", ev.detail);
    let detail = ev.detail.unwrap_or_default();
    assert!(
        detail.contains("no root filesystem on /dev/vda: /dev/vda: vfat"),
        "{detail}"
    );
    // Told by the guest, not found out at the boot deadline.
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    assert!(s.vmm_pids().is_empty());
    s.client.delete_vm("nofs").await?;
    Ok(())
}

// Heavy TCG boots take turns (see common::browser_turn); each test
// has a runtime and thread of its own.
#[allow(clippy::await_holding_lock)]
#[tokio::test]
async fn a_restarted_hyped_adopts_a_firmware_vm_and_still_stops_it_by_the_button(
) -> anyhow::Result<()> {
    let _turn = common::browser_turn();
    let disk = test_disk("bios");
    let x = xapi(&disk, &[])?;
    let tmp = tempfile::tempdir()?;
    let mut s = Server::start_in(tmp.path(), &[])?;
    import(&s, &x, "bios", json!({"boot": "firmware"})).await?;
    let from = s.last_event_id().await?;
    s.client
        .create_vm(&serde_json::from_value(json!({
            "name": "adopt", "cpu_cores": 1, "memory_mb": 256, "image": "bios"
        }))?)
        .await?;
    until_running(&s, "adopt", from).await?;
    console_until(&s, "adopt", WROTE, SECS).await?;
    let pid = s.client.get_vm("adopt").await?.vmm.pid;
    s.stop();

    let s = Server::start_in(tmp.path(), &[])?;
    let vm = s.client.get_vm("adopt").await?;
    assert_eq!((vm.state.as_str(), vm.vmm.pid), ("running", pid));
    let t = Instant::now();
    let vm = s.client.vm_action("adopt", "stop").await?;
    assert_eq!(vm.state.as_str(), "stopped");
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    console_until(&s, "adopt", POWERING_OFF, SECS).await?;
    s.client.delete_vm("adopt").await?;
    assert!(s.vmm_pids().is_empty());
    Ok(())
}

/// What users migrate: a Debian system with systemd, an fstab naming its
/// root by UUID, and a network configured for a NIC it no longer has.
// Heavy TCG boots take turns (see common::browser_turn); each test
// has a runtime and thread of its own.
#[allow(clippy::await_holding_lock)]
#[tokio::test]
async fn a_debian_disk_runs_systemd_on_hypes_kernel_and_shuts_down_cleanly() -> anyhow::Result<()> {
    let _turn = common::browser_turn();
    let disk = debian_disk();
    let x = xapi(&disk, &[])?;
    let s = Server::start()?;
    import(&s, &x, "debian", json!({"boot": "kernel"})).await?;
    let from = s.last_event_id().await?;
    s.client
        .create_vm(&serde_json::from_value(json!({
            "name": "deb", "cpu_cores": 1, "memory_mb": 512, "image": "debian"
        }))?)
        .await?;
    until_running(&s, "deb", from).await?;
    // systemd brought the system up to its login prompt on the serial
    // console, under the hostname the disk carries.
    let log = console_until(&s, "deb", "migrated login:", 180).await?;
    assert!(log.contains("systemd"), "{log}");
    assert!(log.contains("hype-agent: /sbin/init is PID 1"), "{log}");
    let (st, net) = call(&s, "get", "/api/v1/vms/deb/guest/network", None).await;
    assert_eq!(st, 200, "{net}");
    // exec runs beside the disk's own init, as root by default: the
    // operator's own system, as over SSH.
    let (st, r) = call(
        &s,
        "post",
        "/api/v1/vms/deb/exec",
        Some(json!({"cmd": ["sh", "-c", "id -u; cat /etc/hostname; ls /bin/bash"]})),
    )
    .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["stdout"], "0\nmigrated\n/bin/bash\n", "{r}");

    // Stop: hype's agent asks systemd, which stops its units and powers
    // off itself; the VMM exits on its own, nothing is killed.
    let from = s.last_event_id().await?;
    let t = Instant::now();
    let vm = s.client.vm_action("deb", "stop").await?;
    assert_eq!(vm.state.as_str(), "stopped");
    let took = t.elapsed();
    let log = s.client.logs("deb").await?;
    assert!(log.contains("System Power Off"), "{log}");
    let mut events = s.client.vm_events(Some("deb"), Some(from)).await?;
    let ev = s
        .wait_event(&mut events, Duration::from_secs(5), |e| {
            e.event_type == EventType::VmStopped
        })
        .await?;
    assert_eq!(
        ev.detail.as_deref(),
        Some("VMM exited with status 0"),
        "{ev:?}"
    );
    assert!(took < Duration::from_secs(10), "stop took {took:?}");

    s.client.delete_vm("deb").await?;
    assert!(s.vmm_pids().is_empty());
    Ok(())
}
