//! QEMU's disk and NIC devices. A kernel boot (microvm) has virtio-mmio
//! devices only; a firmware boot is a q35 PC, whose disks hang on the bus
//! their guest has a driver for: virtio-blk, virtio-scsi, q35's built-in
//! AHCI (SATA) or a PIIX3 IDE controller, and whose NIC is virtio-net or
//! an emulated e1000, so guests without virtio drivers (Windows, older
//! systems) find their disks and network.

use crate::{NicModel, StorageBus, VmSpec};

/// Ports of q35's built-in AHCI controller (`ide.0` .. `ide.5`).
const AHCI_PORTS: usize = 6;
/// A PIIX3 IDE controller: two channels, master and slave on each.
pub const IDE_MAX_DISKS: usize = 4;

/// `-drive` and `-device` arguments of `spec`'s disks, in order. `pci`:
/// a firmware boot (q35, PCI devices, the first disk boots).
pub(super) fn disks(spec: &VmSpec, pci: bool) -> Vec<String> {
    let bus = if pci { "pci" } else { "device" };
    let mut a = vec![];
    let (mut scsi, mut sata, mut ide) = (0usize, 0usize, 0usize);
    for (i, disk) in spec.disks.iter().enumerate() {
        let ro = if disk.read_only { ",readonly=on" } else { "" };
        a.push("-drive".into());
        a.push(format!(
            "id=disk{i},file={},format={},if=none{ro}",
            disk.path.display(),
            disk.format.as_str()
        ));
        // The firmware boots the first disk; a kernel boot has no firmware
        // that would look.
        let boot = if pci && i == 0 { ",bootindex=0" } else { "" };
        // A microvm has no PC controllers: its disks are virtio whatever
        // the image asked (a kernel boot's guest has hype's virtio drivers).
        let device = match (pci, disk.bus) {
            (false, _) | (true, StorageBus::Virtio) => format!("virtio-blk-{bus},drive=disk{i}"),
            (true, StorageBus::Scsi) => {
                if scsi == 0 {
                    a.extend(["-device".into(), "virtio-scsi-pci,id=scsi0".into()]);
                }
                scsi += 1;
                format!("scsi-hd,bus=scsi0.0,scsi-id={},drive=disk{i}", scsi - 1)
            }
            (true, StorageBus::Sata) => {
                // Six disks on the built-in controller, then one more
                // AHCI controller per six.
                let (ctl, port) = (sata / AHCI_PORTS, sata % AHCI_PORTS);
                sata += 1;
                if ctl == 0 {
                    format!("ide-hd,bus=ide.{port},drive=disk{i}")
                } else {
                    if port == 0 {
                        a.extend(["-device".into(), format!("ich9-ahci,id=ahci{ctl}")]);
                    }
                    format!("ide-hd,bus=ahci{ctl}.{port},drive=disk{i}")
                }
            }
            (true, StorageBus::Ide) => {
                if ide == 0 {
                    a.extend(["-device".into(), "piix3-ide,id=pata".into()]);
                }
                let (channel, unit) = (ide / 2, ide % 2);
                ide += 1;
                format!("ide-hd,bus=pata.{channel},unit={unit},drive=disk{i}")
            }
        };
        a.push("-device".into());
        a.push(format!("{device}{boot}"));
    }
    a
}

/// The NIC's `-device`: virtio-net, or on a PC an e1000 when asked. No
/// option ROM on a PC: PXE is not how these guests boot.
pub(super) fn nic(spec: &VmSpec, pci: bool, mac: &str) -> String {
    match (pci, spec.nic) {
        (false, _) => format!("virtio-net-device,netdev=net0,mac={mac}"),
        (true, NicModel::Virtio) => format!("virtio-net-pci,netdev=net0,mac={mac},romfile="),
        (true, NicModel::E1000) => format!("e1000,netdev=net0,mac={mac},romfile="),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{overlay, qemu, spec, values};
    use crate::{Boot, Disk, Firmware, NicModel, StorageBus};

    fn disk(i: usize, bus: StorageBus) -> Disk {
        Disk {
            bus,
            path: format!("/run/a/disk{i}.qcow2").into(),
            ..overlay()
        }
    }

    fn pc(buses: &[StorageBus], nic: NicModel) -> Vec<String> {
        let mut s = spec(Boot::Firmware {
            firmware: Firmware::Bios,
        });
        s.disks = buses.iter().enumerate().map(|(i, b)| disk(i, *b)).collect();
        s.nic = nic;
        qemu().args(&s)
    }

    #[test]
    fn sata_disks_use_q35_s_ahci_ports_in_order_and_the_first_boots() {
        let a = pc(&[StorageBus::Sata; 8], NicModel::E1000);
        let devices = values(&a, "-device");
        let disks: Vec<_> = devices.iter().filter(|d| d.contains("drive=")).collect();
        assert_eq!(disks[0], &"ide-hd,bus=ide.0,drive=disk0,bootindex=0");
        assert_eq!(disks[1], &"ide-hd,bus=ide.1,drive=disk1");
        assert_eq!(disks[5], &"ide-hd,bus=ide.5,drive=disk5");
        // Past the built-in controller's six ports, a second one.
        assert!(devices.contains(&"ich9-ahci,id=ahci1"));
        assert_eq!(disks[6], &"ide-hd,bus=ahci1.0,drive=disk6");
        assert_eq!(disks[7], &"ide-hd,bus=ahci1.1,drive=disk7");
        assert!(devices.contains(&"e1000,netdev=net0,mac=52:54:00:00:00:01,romfile="));
        assert!(devices.iter().all(|d| !d.starts_with("virtio-net")));
    }

    #[test]
    fn ide_disks_sit_on_one_piix3_controller_master_then_slave() {
        let a = pc(&[StorageBus::Ide; 3], NicModel::Virtio);
        let devices = values(&a, "-device");
        assert_eq!(
            devices
                .iter()
                .filter(|d| d.starts_with("piix3-ide"))
                .count(),
            1
        );
        let disks: Vec<_> = devices
            .iter()
            .filter(|d| d.contains("drive="))
            .copied()
            .collect();
        assert_eq!(
            disks,
            [
                "ide-hd,bus=pata.0,unit=0,drive=disk0,bootindex=0",
                "ide-hd,bus=pata.0,unit=1,drive=disk1",
                "ide-hd,bus=pata.1,unit=0,drive=disk2",
            ]
        );
        assert!(devices.contains(&"virtio-net-pci,netdev=net0,mac=52:54:00:00:00:01,romfile="));
    }

    #[test]
    fn mixed_buses_keep_the_source_s_order_and_scsi_is_virtio_scsi() {
        let a = pc(
            &[
                StorageBus::Scsi,
                StorageBus::Virtio,
                StorageBus::Scsi,
                StorageBus::Sata,
            ],
            NicModel::Virtio,
        );
        let devices = values(&a, "-device");
        assert_eq!(
            devices
                .iter()
                .filter(|d| d.starts_with("virtio-scsi-pci"))
                .count(),
            1
        );
        let disks: Vec<_> = devices
            .iter()
            .filter(|d| d.contains("drive="))
            .copied()
            .collect();
        assert_eq!(
            disks,
            [
                "scsi-hd,bus=scsi0.0,scsi-id=0,drive=disk0,bootindex=0",
                "virtio-blk-pci,drive=disk1",
                "scsi-hd,bus=scsi0.0,scsi-id=1,drive=disk2",
                "ide-hd,bus=ide.0,drive=disk3",
            ]
        );
        let drives = values(&a, "-drive");
        assert_eq!(
            drives[0],
            "id=disk0,file=/run/a/disk0.qcow2,format=qcow2,if=none"
        );
        assert_eq!(
            drives[3],
            "id=disk3,file=/run/a/disk3.qcow2,format=qcow2,if=none"
        );
    }

    #[test]
    fn a_microvm_stays_virtio_whatever_the_image_asked() {
        let mut s = spec(Boot::Kernel {
            kernel: "/img/vmlinux".into(),
            initramfs: None,
            cmdline: "console=ttyS0".into(),
        });
        s.disks = vec![disk(0, StorageBus::Sata)];
        s.nic = NicModel::E1000;
        let devices = qemu().args(&s);
        let devices = values(&devices, "-device");
        assert!(devices.contains(&"virtio-blk-device,drive=disk0"));
        assert!(devices.contains(&"virtio-net-device,netdev=net0,mac=52:54:00:00:00:01"));
    }
}
