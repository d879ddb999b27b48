//! Booting imported full disks end to end: a BIOS-bootable disk built by
//! scripts/build-test-disk.sh (syslinux, Debian's kernel, a busybox /init
//! that prints marks to the serial console, and a second partition with a
//! busybox root filesystem), imported from the test XAPI server
//! (tests/xcpng/xapi_server.py) by a real hyped, then booted under TCG by
//! SeaBIOS in a QEMU q35 machine (`boot: firmware`) or by hype's kernel and
//! agent in a microvm that start the disk's own init (`boot: kernel`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::bail;
use common::Server;
use hype_types::{EventType, JobState};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use common::xapi::{xapi, Xapi, PASSWORD};
const BOOTED: &str = "HYPE_TEST_DISK: booted from the imported disk";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The cached test disk (built on first use).
fn test_disk() -> PathBuf {
    let out = Command::new("bash")
        .arg(repo().join("scripts/build-test-disk.sh"))
        .output()
        .expect("bash runs scripts/build-test-disk.sh");
    assert!(
        out.status.success(),
        "build-test-disk.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn sha256(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

async fn call(s: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
    let mut req = reqwest::Client::new().request(m, format!("{}{path}", s.base));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Imports the disk served by `x` as image `name` and waits for the job.
async fn import(s: &Server, x: &Xapi, name: &str, boot: &str) -> anyhow::Result<()> {
    let body = json!({"kind": "xcpng_export", "name": name, "url": x.url, "username": "root",
        "password": PASSWORD, "vm": "Web 01", "boot": boot});
    let jobs = s
        .client
        .submit_jobs(body.to_string().into_bytes(), "application/json")
        .await?;
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let job = s.client.get_job(&jobs[0].id).await?;
        match job.state {
            JobState::Completed => return Ok(()),
            st if st.is_final() => bail!("import {name}: {st}: {:?}", job.error),
            _ if Instant::now() > until => bail!("import {name} did not finish"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Waits until the console log holds `needle`; returns the log.
async fn console_until(s: &Server, vm: &str, needle: &str) -> anyhow::Result<String> {
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let log = s.client.logs(vm).await?;
        if log.contains(needle) {
            return Ok(log);
        }
        if Instant::now() > until {
            bail!("no {needle:?} in {vm}'s console:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The mark the guest wrote this boot, from its console.
fn mark_written(log: &str) -> String {
    log.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("HYPE_TEST_DISK: wrote mark: "))
        .expect("a written mark")
        .to_owned()
}

/// Starts (create or start) and waits for VM_RUNNING; returns its detail.
async fn until_running(s: &Server, name: &str, from: i64) -> anyhow::Result<String> {
    let mut events = s.client.vm_events(Some(name), Some(from)).await?;
    let ev = s
        .wait_event(&mut events, Duration::from_secs(120), |e| {
            matches!(e.event_type, EventType::VmRunning | EventType::VmCrashed)
        })
        .await?;
    if ev.event_type != EventType::VmRunning {
        bail!("{name} did not run: {:?}", ev.detail);
    }
    Ok(ev.detail.unwrap_or_default())
}

#[tokio::test]
async fn an_imported_bios_disk_boots_writes_to_its_overlay_and_goes() -> anyhow::Result<()> {
    let disk = test_disk();
    let source_sha = sha256(&disk);
    let x = xapi(&disk, &[])?;
    let s = Server::start()?;
    import(&s, &x, "bios", "firmware").await?;
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
    let log = console_until(&s, "imp", "HYPE_TEST_DISK: wrote mark: ").await?;
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
    console_until(&s, "imp", "HYPE_TEST_DISK: power button, powering off").await?;
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
        if let Some(m) = after.and_then(|a| {
            a.iter()
                .find_map(|l| l.strip_prefix("HYPE_TEST_DISK: wrote mark: "))
        }) {
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
    let log2 = console_until(&s, "imp2", "HYPE_TEST_DISK: wrote mark: ").await?;
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

#[tokio::test]
async fn an_imported_disk_boots_its_own_init_on_hypes_kernel() -> anyhow::Result<()> {
    let disk = test_disk();
    let source_sha = sha256(&disk);
    let x = xapi(&disk, &[])?;
    let s = Server::start()?;
    import(&s, &x, "kern", "kernel").await?;
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
    let log = console_until(&s, "k", "HYPE_TEST_DISK: wrote mark: ").await?;
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
    console_until(&s, "k", &format!("HYPE_TEST_DISK: previous mark: {first}")).await?;

    s.client.delete_vm("k").await?;
    assert!(!s.data.join("vms/k").exists());
    assert!(s.vmm_pids().is_empty());
    assert_eq!(sha256(&image_file), source_sha);
    Ok(())
}

#[tokio::test]
async fn a_disk_without_a_root_filesystem_fails_with_what_is_on_it() -> anyhow::Result<()> {
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
    import(&s, &x, "fat", "kernel").await?;
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

#[tokio::test]
async fn a_restarted_hyped_adopts_a_firmware_vm_and_still_stops_it_by_the_button(
) -> anyhow::Result<()> {
    let disk = test_disk();
    let x = xapi(&disk, &[])?;
    let tmp = tempfile::tempdir()?;
    let mut s = Server::start_in(tmp.path(), &[])?;
    import(&s, &x, "bios", "firmware").await?;
    let from = s.last_event_id().await?;
    s.client
        .create_vm(&serde_json::from_value(json!({
            "name": "adopt", "cpu_cores": 1, "memory_mb": 256, "image": "bios"
        }))?)
        .await?;
    until_running(&s, "adopt", from).await?;
    console_until(&s, "adopt", "HYPE_TEST_DISK: wrote mark: ").await?;
    let pid = s.client.get_vm("adopt").await?.vmm.pid;
    s.stop();

    let s = Server::start_in(tmp.path(), &[])?;
    let vm = s.client.get_vm("adopt").await?;
    assert_eq!((vm.state.as_str(), vm.vmm.pid), ("running", pid));
    let t = Instant::now();
    let vm = s.client.vm_action("adopt", "stop").await?;
    assert_eq!(vm.state.as_str(), "stopped");
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    console_until(&s, "adopt", "HYPE_TEST_DISK: power button, powering off").await?;
    s.client.delete_vm("adopt").await?;
    assert!(s.vmm_pids().is_empty());
    Ok(())
}
