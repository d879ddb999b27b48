//! Unit tests of the module above.

use super::*;
use crate::{Disk, DiskFormat};

#[test]
fn parses_debian_version_banner() {
    assert_eq!(
        parse_version("QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u18)\nCopyright"),
        Some("7.2.19".into())
    );
    assert_eq!(parse_version("garbage"), None);
}

pub(super) fn spec(boot: Boot) -> VmSpec {
    VmSpec {
        name: "a".into(),
        id: "id".into(),
        cpu_cores: 1,
        memory_mb: 256,
        boot,
        disks: vec![],
        run_dir: "/run/a".into(),
        accel: Accel::Tcg,
        tap: Some("hype-tap0".into()),
        mac: Some("52:54:00:00:00:01".into()),
        nic: crate::NicModel::Virtio,
        jail: None,
        memory: Memory::Anonymous,
    }
}

pub(super) fn qemu() -> Qemu {
    Qemu {
        binary: "qemu-system-x86_64".into(),
        version: None,
    }
}

/// The value following `flag`, every time it appears.
pub(super) fn values<'a>(args: &'a [String], flag: &str) -> Vec<&'a str> {
    args.windows(2)
        .filter(|w| w[0] == flag)
        .map(|w| w[1].as_str())
        .collect()
}

pub(super) fn overlay() -> Disk {
    Disk {
        bus: crate::StorageBus::Virtio,
        path: "/run/a/disk.qcow2".into(),
        format: DiskFormat::Qcow2,
        read_only: false,
        backing: None,
    }
}

#[test]
fn a_firmware_boot_is_a_pc_with_the_overlay_on_virtio_pci_and_no_agent() {
    let mut s = spec(Boot::Firmware {
        firmware: Firmware::Bios,
    });
    s.disks = vec![overlay()];
    let a = qemu().args(&s);
    assert_eq!(values(&a, "-M"), ["q35"]);
    assert!(values(&a, "-kernel").is_empty() && values(&a, "-bios").is_empty());
    assert_eq!(
        values(&a, "-drive"),
        ["id=disk0,file=/run/a/disk.qcow2,format=qcow2,if=none"]
    );
    let devices = values(&a, "-device");
    assert!(devices.contains(&"virtio-blk-pci,drive=disk0,bootindex=0"));
    assert!(devices.contains(&"virtio-net-pci,netdev=net0,mac=52:54:00:00:00:01,romfile="));
    assert!(devices.iter().all(|d| !d.contains("virtserialport")));
    assert_eq!(values(&a, "-serial"), ["chardev:console"]);
    s.boot = Boot::Firmware {
        firmware: Firmware::UefiImage(Some("/usr/share/ovmf/OVMF.fd".into())),
    };
    let uefi = qemu().args(&s);
    assert_eq!(values(&uefi, "-bios"), ["/usr/share/ovmf/OVMF.fd"]);
}

#[test]
fn ovmf_is_two_flash_chips_the_code_read_only_and_the_vm_s_own_vars() {
    let mut s = spec(Boot::Firmware {
        firmware: Firmware::UefiFlash {
            code: OVMF_CODE.into(),
            vars: "/run/a/uefi-vars.fd".into(),
        },
    });
    s.disks = vec![overlay()];
    let a = qemu().args(&s);
    assert_eq!(values(&a, "-M"), ["q35"]);
    assert!(values(&a, "-bios").is_empty());
    assert_eq!(
        values(&a, "-drive"),
        [
            "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
            "if=pflash,format=raw,unit=1,file=/run/a/uefi-vars.fd",
            "id=disk0,file=/run/a/disk.qcow2,format=qcow2,if=none",
        ]
    );
    // The disk is still the first boot device; the flash is no drive a
    // guest boots from.
    let devices = values(&a, "-device");
    assert!(devices.contains(&"virtio-blk-pci,drive=disk0,bootindex=0"));
    assert_eq!(devices.iter().filter(|d| d.contains("drive=")).count(), 1);
}

#[test]
fn a_kernel_boot_stays_a_microvm_with_mmio_devices_and_the_agent_port() {
    let a = qemu().args(&spec(Boot::Kernel {
        kernel: "/img/vmlinux".into(),
        initramfs: Some("/img/initramfs.img".into()),
        cmdline: "console=ttyS0".into(),
    }));
    assert_eq!(values(&a, "-M"), ["microvm,acpi=on"]);
    assert_eq!(values(&a, "-kernel"), ["/img/vmlinux"]);
    assert_eq!(values(&a, "-initrd"), ["/img/initramfs.img"]);
    assert_eq!(values(&a, "-append"), ["console=ttyS0"]);
    let devices = values(&a, "-device");
    assert!(devices.contains(&"virtio-net-device,netdev=net0,mac=52:54:00:00:00:01"));
    assert!(devices.iter().any(|d| d.starts_with("virtserialport,")));
    assert!(devices.iter().all(|d| !d.contains("-pci")));
    assert!(values(&a, "-drive").is_empty());
}

#[test]
fn disks_keep_their_order_format_and_sharing() {
    let mut s = spec(Boot::Kernel {
        kernel: "/img/vmlinux".into(),
        initramfs: None,
        cmdline: "console=ttyS0".into(),
    });
    s.disks = vec![
        Disk {
            bus: crate::StorageBus::Virtio,
            path: "/img/rootfs.ext4".into(),
            format: DiskFormat::Raw,
            read_only: true,
            backing: None,
        },
        overlay(),
    ];
    let a = qemu().args(&s);
    assert_eq!(
        values(&a, "-drive"),
        [
            "id=disk0,file=/img/rootfs.ext4,format=raw,if=none,readonly=on",
            "id=disk1,file=/run/a/disk.qcow2,format=qcow2,if=none"
        ]
    );
    let blk: Vec<_> = values(&a, "-device")
        .into_iter()
        .filter(|d| d.starts_with("virtio-blk"))
        .collect();
    assert_eq!(
        blk,
        [
            "virtio-blk-device,drive=disk0",
            "virtio-blk-device,drive=disk1"
        ]
    );
}

#[test]
fn tcg_gets_the_tsc_frequency_and_kvm_nothing() {
    let q = Qemu {
        binary: "qemu-system-x86_64".into(),
        version: None,
    };
    assert!(q.cmdline_extra(Accel::Kvm).is_empty());
    let extra = q.cmdline_extra(Accel::Tcg);
    let (khz, invariant) = host_tsc().expect("this host's cpuinfo has cpu MHz");
    let mut want = vec![format!("tsc_early_khz={khz}"), format!("lpj={}", 2 * khz)];
    if invariant {
        want.push("tsc=reliable".into());
    }
    assert_eq!(extra, want);
}

#[test]
fn only_an_invariant_host_tsc_is_vouched_for() {
    let cpu = |flags: &str| {
        format!("processor\t: 0\ncpu MHz\t\t: 2299.998\nflags\t\t: fpu {flags} sse\n")
    };
    assert_eq!(
        tsc_from_cpuinfo(&cpu("tsc constant_tsc nonstop_tsc")),
        Some((2_299_998, true))
    );
    assert_eq!(
        tsc_from_cpuinfo(&cpu("tsc constant_tsc")),
        Some((2_299_998, false))
    );
    assert_eq!(
        tsc_from_cpuinfo("flags\t: constant_tsc nonstop_tsc\n"),
        None
    );
}
