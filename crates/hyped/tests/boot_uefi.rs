//! Booting imported UEFI disks end to end: the UEFI variant of
//! scripts/build-test-disk.sh (GPT, an EFI system partition whose
//! `EFI/BOOT/BOOTX64.EFI` is a unified kernel image of Debian's kernel and
//! the same busybox `/init` as the BIOS disk), served by the test XAPI
//! server as a VM that declares `firmware=uefi`, imported by a real hyped
//! and booted by OVMF in a QEMU q35 machine under TCG, with the VM's own
//! UEFI variable store beside its overlay.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::imported::{
    call, console_until, import, marks_written, test_disk, until_running, BOOTED, POWERING_OFF,
    WROTE,
};
use common::xapi::xapi;
use common::Server;
use hype_types::Firmware;
use serde_json::json;

/// OVMF under TCG takes several seconds before the kernel starts.
const BOOT_SECS: u64 = 180;

/// The command line of the QEMU process `pid`, as its arguments.
fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

#[tokio::test]
async fn an_imported_uefi_disk_boots_with_ovmf_and_keeps_its_variables() -> anyhow::Result<()> {
    let disk = test_disk("uefi");
    let x = xapi(&disk, &["--uefi", "Web 01"])?;
    let s = Server::start()?;

    // The source's firmware is recorded, through either transport; a job
    // may override it.
    import(&s, &x, "efi", json!({})).await?;
    import(&s, &x, "efi-xva", json!({"transport": "xva"})).await?;
    import(&s, &x, "forced", json!({"firmware": "bios"})).await?;
    for (img, want) in [
        ("efi", Firmware::Uefi),
        ("efi-xva", Firmware::Uefi),
        ("forced", Firmware::Bios),
    ] {
        assert_eq!(s.client.get_image(img).await?.firmware, Some(want), "{img}");
    }
    let (_, raw) = call(&s, "get", "/api/v1/images/efi", None).await;
    assert_eq!(raw["firmware"], "uefi", "{raw}");
    // As the published OpenAPI document says an image looks.
    let (_, doc) = call(&s, "get", "/api/v1/openapi.json", None).await;
    let mut schema = json!({"$ref": "#/components/schemas/Image"});
    schema["components"] = doc["components"].clone();
    let errors: Vec<String> = jsonschema::validator_for(&schema)?
        .iter_errors(&raw)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        doc["components"]["schemas"]["Firmware"]["enum"],
        json!(["bios", "uefi"])
    );
    let (_, built) = call(&s, "get", "/api/v1/images/base", None).await;
    assert!(built["firmware"].is_null(), "{built}");
    s.client.delete_image("efi-xva").await?;
    s.client.delete_image("forced").await?;

    let from = s.last_event_id().await?;
    let created = Instant::now();
    let vm = s
        .client
        .create_vm(&serde_json::from_value(json!({
            "name": "efi1", "cpu_cores": 1, "memory_mb": 256, "image": "efi", "vmm": "qemu"
        }))?)
        .await?;
    assert_eq!(vm.state.as_str(), "starting");
    until_running(&s, "efi1", from).await?;
    let run = s.data.join("vms/efi1");
    let (overlay, vars) = (run.join("disk.qcow2"), run.join("uefi-vars.fd"));
    assert!(overlay.is_file() && vars.is_file());

    // OVMF in two flash chips: its code shared and read-only, the
    // variable store the VM's own.
    let pid = s.client.get_vm("efi1").await?.vmm.pid.expect("a pid");
    let args = cmdline(pid);
    let code = hype_core::OVMF_CODE;
    assert!(
        args.iter()
            .any(|a| *a == format!("if=pflash,format=raw,unit=0,readonly=on,file={code}")),
        "{args:?}"
    );
    assert!(
        args.iter()
            .any(|a| *a == format!("if=pflash,format=raw,unit=1,file={}", vars.display())),
        "{args:?}"
    );

    let log = console_until(&s, "efi1", WROTE, BOOT_SECS).await?;
    eprintln!(
        "efi1: first boot to its mark in {:.1} s",
        created.elapsed().as_secs_f64()
    );
    assert!(log.contains(BOOTED), "{log}");
    assert!(log.contains("HYPE_TEST_DISK: previous mark: none"), "{log}");
    let first = marks_written(&log).remove(0);

    // Stop by the power button, which the guest obeys.
    let t = Instant::now();
    let vm = s.client.vm_action("efi1", "stop").await?;
    assert_eq!(vm.state.as_str(), "stopped");
    assert!(
        t.elapsed() < Duration::from_secs(15),
        "stop took {:?}",
        t.elapsed()
    );
    console_until(&s, "efi1", POWERING_OFF, 10).await?;
    assert!(s.vmm_pids().is_empty());
    // OVMF wrote its boot entries into the VM's store, not the template.
    let stored = std::fs::read(&vars)?;
    assert_ne!(
        stored,
        std::fs::read(hype_core::OVMF_VARS)?,
        "OVMF wrote nothing"
    );
    let inode = std::fs::metadata(&vars)?.ino();

    // Start again: the same store (not a fresh copy) and the same overlay:
    // the guest finds the mark it wrote.
    let from = s.last_event_id().await?;
    let started = Instant::now();
    s.client.vm_action("efi1", "start").await?;
    until_running(&s, "efi1", from).await?;
    assert_eq!(std::fs::metadata(&vars)?.ino(), inode);
    let prev = format!("HYPE_TEST_DISK: previous mark: {first}");
    let until = Instant::now() + Duration::from_secs(BOOT_SECS);
    loop {
        let log = s.client.logs("efi1").await?;
        let marks = marks_written(&log);
        if log.contains(&prev) && marks.len() == 2 {
            assert_ne!(marks[1], first);
            break;
        }
        anyhow::ensure!(Instant::now() < until, "no second boot in:\n{log}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "efi1: second boot to its mark in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Delete takes the VMM, the overlay and the variable store.
    s.client.delete_vm("efi1").await?;
    assert!(!overlay.exists() && !vars.exists() && !run.exists());
    assert!(s.vmm_pids().is_empty());
    s.client.delete_image("efi").await?;
    Ok(())
}

#[tokio::test]
async fn a_firmware_that_cannot_run_refuses_the_create_and_leaves_nothing() -> anyhow::Result<()> {
    let disk = test_disk("uefi");
    let x = xapi(&disk, &["--uefi", "Web 01"])?;
    let tmp = tempfile::tempdir()?;
    let missing = tmp.path().join("no-ovmf/OVMF_CODE_4M.fd");
    let missing_arg = missing.display().to_string();
    let s = Server::start_in(tmp.path(), &["--ovmf-code", &missing_arg])?;
    import(&s, &x, "efi", json!({})).await?;
    import(&s, &x, "bios", json!({"firmware": "bios"})).await?;

    let refused = |vm: &'static str, image: &'static str, vmm: &'static str| {
        let s = &s;
        async move {
            let from = s.last_event_id().await.unwrap();
            let (st, err) = call(
                s,
                "post",
                "/api/v1/vms",
                Some(json!({"name": vm, "cpu_cores": 1, "memory_mb": 256,
                    "image": image, "vmm": vmm})),
            )
            .await;
            // Nothing was made: no row, no event, no directory, no VMM.
            assert_eq!(
                call(s, "get", &format!("/api/v1/vms/{vm}"), None).await.0,
                404
            );
            assert_eq!(s.last_event_id().await.unwrap(), from);
            assert!(!s.data.join("vms").join(vm).exists());
            assert!(s.vmm_pids().is_empty());
            (st, err)
        }
    };

    // OVMF missing: a UEFI image cannot boot on QEMU, and says why.
    let (st, err) = refused("efi1", "efi", "qemu").await;
    assert_eq!(
        (st, err["error"]["code"].as_str()),
        (501, Some("not_supported")),
        "{err}"
    );
    let msg = err["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("ovmf") && msg.contains(&missing_arg) && msg.contains("efi1"),
        "{msg}"
    );

    // cloud-hypervisor has no BIOS: a BIOS image is refused up front
    // (where this host has cloud-hypervisor at all).
    let (st, err) = refused("bios1", "bios", "cloud-hypervisor").await;
    match err["error"]["code"].as_str() {
        Some("not_supported") => {
            assert_eq!(st, 501);
            let msg = err["error"]["message"].as_str().unwrap();
            assert!(msg.contains("BIOS") && msg.contains("qemu"), "{msg}");
        }
        other => eprintln!("no cloud-hypervisor here ({st} {other:?}): {err}"),
    }

    // A BIOS image needs no OVMF: it launches on QEMU (SeaBIOS finds no
    // boot code on this GPT disk, which is the point of recording the
    // firmware) with no flash chips and no variable store.
    let from = s.last_event_id().await?;
    s.client
        .create_vm(&serde_json::from_value(json!({
            "name": "bios2", "cpu_cores": 1, "memory_mb": 256, "image": "bios", "vmm": "qemu"
        }))?)
        .await?;
    until_running(&s, "bios2", from).await?;
    let pid = s.client.get_vm("bios2").await?.vmm.pid.expect("a pid");
    assert!(cmdline(pid).iter().all(|a| !a.contains("pflash")));
    assert!(!Path::new(&s.data.join("vms/bios2/uefi-vars.fd")).exists());
    s.client.delete_vm("bios2").await?;
    Ok(())
}
