//! Every disk of a source VM, on the bus its guest has a driver for: a VM
//! of the test XAPI server (tests/xcpng/xapi_server.py) with two disks
//! (the BIOS test disk of scripts/build-test-disk.sh and a data disk) is
//! imported by a real hyped, as the source had it (XCP-ng: virtio) and
//! with the job's `disk_bus`/`nic_model`, and each image boots under TCG
//! in a q35 PC. The test disk's busybox `/init` prints the block devices
//! and PCI devices the guest's kernel sees, which is what is checked: both
//! disks, in order, on virtio-blk (`vda vdb`) or on emulated IDE (`sda
//! sdb`, an Intel PIIX3 and an e1000, no virtio disk or NIC). Debian's
//! cloud kernel of the test disk has no AHCI driver, so a `sata` image is
//! checked by SeaBIOS booting it through q35's AHCI controller (the
//! kernel and initramfs are read from there) and by QEMU's devices.

mod common;

use std::io::Write;
use std::path::Path;

use common::imported::{
    call, console_until, debian_sata_disk, import, test_disk, until_running, BOOTED, WROTE,
};
use common::xapi::xapi;
use common::{in_netns, Server};
use hype_types::{NicModel, StorageBus};
use serde_json::json;
use sha2::{Digest, Sha256};

/// Console deadline: TCG boots, sometimes beside a busy build.
const SECS: u64 = 120;
const DISKS: &str = "HYPE_TEST_DISK: disks:";
const PCI: &str = "HYPE_TEST_DISK: pci:";
/// PCI ids (vendor:device) the guest reports.
const E1000: &str = "8086:100e";
const PIIX3_IDE: &str = "8086:7010";
const VIRTIO_NET: &str = "1af4:1000";
const VIRTIO_BLK: &str = "1af4:1001";

fn sha256(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// The rest of the console line starting with `prefix`.
fn line<'a>(log: &'a str, prefix: &str) -> &'a str {
    log.lines()
        .find_map(|l| l.trim().strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in:\n{log}"))
        .trim()
}

/// The command line of the QEMU process `pid`, as its arguments.
fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// Boots a VM of `image` on QEMU and returns its console once `needle`
/// is on it.
async fn boot(s: &Server, vm: &str, image: &str, needle: &str) -> anyhow::Result<String> {
    let from = s.last_event_id().await?;
    s.client
        .create_vm(&serde_json::from_value(json!({
            "name": vm, "cpu_cores": 1, "memory_mb": 256, "image": image, "vmm": "qemu"
        }))?)
        .await?;
    until_running(s, vm, from).await?;
    console_until(s, vm, needle, SECS).await
}

// Heavy TCG boots take turns (see common::browser_turn). A network
// namespace of its own gives the VMs their NIC.
#[test]
fn a_two_disk_vm_boots_with_both_disks_on_virtio_ide_or_sata() -> anyhow::Result<()> {
    let _turn = common::browser_turn();
    in_netns(two_disks)
}

async fn two_disks() -> anyhow::Result<()> {
    let boot_disk = test_disk("bios");
    let src = tempfile::tempdir()?;
    let data_disk = src.path().join("data.raw");
    {
        let mut f = std::fs::File::create(&data_disk)?;
        f.write_all(b"HYPE second disk")?;
        f.set_len(16 << 20)?;
    }
    let x = xapi(
        &boot_disk,
        &[
            "--vm",
            &format!("Two={},{}", boot_disk.display(), data_disk.display()),
        ],
    )?;
    let data = tempfile::tempdir()?;
    let s = Server::networked(data.path(), "10.87.0.0/24", &[])?;

    // As the source had it: XCP-ng's PV disks and NIC become virtio.
    import(&s, &x, "two", json!({"vm": "Two"})).await?;
    let img = s.client.get_image("two").await?;
    let files: Vec<_> = img.disks.iter().map(|d| d.file.as_str()).collect();
    assert_eq!(files, ["disk0.raw", "disk1.raw"]);
    assert_eq!(img.disks[0].sha256, sha256(&boot_disk));
    assert_eq!(img.disks[1].sha256, sha256(&data_disk));
    assert_eq!(img.sha256.as_deref(), Some(img.disks[0].sha256.as_str()));
    assert_eq!(img.disks[1].size_bytes, 16 << 20);
    assert!(img.disks.iter().all(|d| d.bus == StorageBus::Virtio));
    assert_eq!(img.nic_model, Some(NicModel::Virtio));
    assert_eq!(
        sha256(&s.data.join("imported/two/disk1.raw")),
        sha256(&data_disk)
    );

    // The job's choice for a guest without virtio drivers.
    import(
        &s,
        &x,
        "two-ide",
        json!({"vm": "Two", "disk_bus": "ide", "nic_model": "e1000"}),
    )
    .await?;
    let ide = s.client.get_image("two-ide").await?;
    assert!(ide.disks.iter().all(|d| d.bus == StorageBus::Ide));
    assert_eq!(ide.nic_model, Some(NicModel::E1000));
    import(&s, &x, "two-sata", json!({"vm": "Two", "disk_bus": "sata"})).await?;
    let sata = s.client.get_image("two-sata").await?;
    assert!(sata.disks.iter().all(|d| d.bus == StorageBus::Sata));
    // The source's NIC was Xen's, whose guests have virtio-net.
    assert_eq!(sata.nic_model, Some(NicModel::Virtio));
    let (st, raw) = call(&s, "get", "/api/v1/images/two-ide", None).await;
    assert_eq!(st, 200);
    assert_eq!(raw["disks"][1]["bus"], "ide");
    assert_eq!(raw["nic_model"], "e1000");

    // virtio: both disks, in the source's order, each with its overlay.
    let log = boot(&s, "v", "two", WROTE).await?;
    assert_eq!(line(&log, DISKS), "vda vdb", "{log}");
    let pci = line(&log, PCI);
    assert!(
        pci.contains(VIRTIO_BLK) && pci.contains(VIRTIO_NET) && !pci.contains(E1000),
        "{pci}"
    );
    let run = s.data.join("vms/v");
    assert!(run.join("disk.qcow2").is_file() && run.join("disk1.qcow2").is_file());
    s.client.delete_vm("v").await?;
    assert!(!run.exists(), "delete removes every overlay");

    // IDE and e1000: the guest's ata_piix finds both disks, writes its
    // mark on the first; no virtio disk or NIC is there.
    let log = boot(&s, "vi", "two-ide", WROTE).await?;
    assert!(log.contains(BOOTED), "{log}");
    assert_eq!(line(&log, DISKS), "sda sdb", "{log}");
    let pci = line(&log, PCI);
    assert!(pci.contains(E1000) && pci.contains(PIIX3_IDE), "{pci}");
    assert!(
        !pci.contains(VIRTIO_BLK) && !pci.contains(VIRTIO_NET),
        "{pci}"
    );
    assert!(line(&log, WROTE).starts_with("mark-"), "{log}");
    s.client.delete_vm("vi").await?;

    // SATA: SeaBIOS boots the first disk through q35's AHCI controller.
    let log = boot(&s, "vs", "two-sata", BOOTED).await?;
    let pids = s.vmm_pids();
    assert_eq!(pids.len(), 1, "{pids:?}");
    let args = cmdline(pids[0]);
    assert!(
        args.iter()
            .any(|a| a == "ide-hd,bus=ide.0,drive=disk0,bootindex=0"),
        "{args:?}"
    );
    assert!(
        args.iter().any(|a| a == "ide-hd,bus=ide.1,drive=disk1"),
        "{args:?}"
    );
    assert!(
        !args.iter().any(|a| a.starts_with("virtio-blk")),
        "{args:?}"
    );
    let log = console_until(&s, "vs", PCI, SECS).await.unwrap_or(log);
    assert!(!line(&log, PCI).contains(VIRTIO_BLK), "{log}");
    s.client.delete_vm("vs").await?;
    assert!(s.vmm_pids().is_empty());

    // The images stay as imported.
    assert_eq!(
        sha256(&s.data.join("imported/two-ide/disk0.raw")),
        sha256(&boot_disk)
    );
    Ok(())
}

// A guest with no virtio driver where it boots: Debian's generic kernel,
// whose initramfs has AHCI and whose root has the e1000 module.
#[test]
fn a_debian_disk_with_only_sata_and_e1000_drivers_boots_to_its_login_prompt() -> anyhow::Result<()>
{
    let _turn = common::browser_turn();
    in_netns(debian_sata)
}

async fn debian_sata() -> anyhow::Result<()> {
    let disk = debian_sata_disk();
    let x = xapi(&disk, &[])?;
    let data = tempfile::tempdir()?;
    let s = Server::networked(data.path(), "10.88.0.0/24", &[])?;
    let t = std::time::Instant::now();
    import(
        &s,
        &x,
        "deb-sata",
        json!({"disk_bus": "sata", "nic_model": "e1000"}),
    )
    .await?;
    eprintln!("Debian SATA disk imported in {:?}", t.elapsed());
    let img = s.client.get_image("deb-sata").await?;
    assert_eq!(img.disks.len(), 1);
    assert_eq!(img.disks[0].bus, StorageBus::Sata);
    let from = s.last_event_id().await?;
    let t = std::time::Instant::now();
    s.client
        .create_vm(&serde_json::from_value(json!({
            "name": "deb", "cpu_cores": 1, "memory_mb": 512, "image": "deb-sata", "vmm": "qemu"
        }))?)
        .await?;
    until_running(&s, "deb", from).await?;
    let args = cmdline(s.vmm_pids()[0]);
    assert!(
        args.iter()
            .any(|a| a == "ide-hd,bus=ide.0,drive=disk0,bootindex=0"),
        "{args:?}"
    );
    assert!(
        args.iter()
            .all(|a| !a.starts_with("virtio-blk") && !a.starts_with("virtio-net")),
        "{args:?}"
    );
    // Its own kernel found its root through AHCI, udev gave the NIC the
    // e1000 driver, and systemd got to the login prompt on the console.
    let log = console_until(&s, "deb", "login:", 600).await?;
    eprintln!(
        "Debian on SATA + e1000: login prompt {:?} after create",
        t.elapsed()
    );
    for want in [
        "ahci 0000:",
        "[sda]",
        "Intel(R) PRO/1000 Network Connection",
    ] {
        assert!(log.contains(want), "no {want:?} in:\n{log}");
    }
    s.client.delete_vm("deb").await?;
    assert!(s.vmm_pids().is_empty());
    Ok(())
}
