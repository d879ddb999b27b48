//! Boot images as the API shows them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Image {
    pub name: String,
    /// `kernel` (kernel + initramfs), `rootfs` (kernel + shared root disk) or `disk` (imported).
    pub kind: String,
    /// Where it came from: `build`, `vsphere`, `xcpng`, ...
    pub source: String,
    pub size_bytes: u64,
    pub kernel_version: Option<String>,
    pub sha256: Option<String>,
    /// `kernel` (hype's kernel) or `firmware` (imported disks booted by QEMU's firmware).
    pub boot_mode: String,
    /// An imported disk's format (`raw`); absent for built images.
    pub format: Option<String>,
    /// The firmware an imported disk boots with on QEMU: what its source
    /// VM used (or the job's override). Absent for built images.
    pub firmware: Option<Firmware>,
    /// An imported image's disks in the source's order, the boot disk
    /// first, each attached to its bus; empty for built images.
    #[serde(default)]
    pub disks: Vec<ImageDisk>,
    /// The NIC an imported disk's VMs get on QEMU; absent for built images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nic_model: Option<NicModel>,
    pub created_at: String,
}

/// One disk of an imported image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImageDisk {
    /// The file under the image's directory (`disk0.raw`, `disk1.raw`, ...).
    pub file: String,
    pub size_bytes: u64,
    /// sha256 of the raw disk as imported.
    pub sha256: String,
    pub bus: StorageBus,
}

/// The controller a disk is attached to when its VM boots on QEMU. A guest
/// without virtio drivers (Windows, older systems) finds its disk only on
/// an emulated controller: AHCI (`sata`) or PIIX IDE (`ide`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StorageBus {
    /// virtio-blk.
    Virtio,
    /// virtio-scsi (a SCSI disk behind a virtio controller).
    Scsi,
    /// q35's built-in AHCI controller.
    Sata,
    /// A PIIX3 IDE controller (four disks at most).
    Ide,
}

impl StorageBus {
    pub const ALL: [StorageBus; 4] = [
        StorageBus::Virtio,
        StorageBus::Scsi,
        StorageBus::Sata,
        StorageBus::Ide,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StorageBus::Virtio => "virtio",
            StorageBus::Scsi => "scsi",
            StorageBus::Sata => "sata",
            StorageBus::Ide => "ide",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.as_str() == s)
    }

    /// The bus a source's disk keeps on QEMU: SATA and IDE stay (the
    /// guest may have no virtio driver), SCSI becomes virtio-scsi; NVMe,
    /// Xen's PV disks and unknown controllers become virtio-blk, which
    /// every Linux that ran on them has.
    pub fn from_source(bus: crate::DiskBus) -> Self {
        match bus {
            crate::DiskBus::Sata => StorageBus::Sata,
            crate::DiskBus::Ide => StorageBus::Ide,
            crate::DiskBus::Scsi => StorageBus::Scsi,
            crate::DiskBus::Virtio
            | crate::DiskBus::Nvme
            | crate::DiskBus::Xen
            | crate::DiskBus::Other => StorageBus::Virtio,
        }
    }
}

impl std::fmt::Display for StorageBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The network card an imported disk's VM gets on QEMU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NicModel {
    /// virtio-net.
    Virtio,
    /// An emulated Intel 82540EM, which Windows and most systems drive.
    E1000,
}

impl NicModel {
    pub fn as_str(self) -> &'static str {
        match self {
            NicModel::Virtio => "virtio",
            NicModel::E1000 => "e1000",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [NicModel::Virtio, NicModel::E1000]
            .into_iter()
            .find(|m| m.as_str() == s)
    }

    /// The NIC for a source VM: an emulated card (`e1000`, `e1000e`, or
    /// vSphere's `vmxnet3` on a guest whose boot disk is on SATA or IDE,
    /// i.e. one that may lack virtio drivers) becomes an e1000, anything
    /// else virtio-net.
    pub fn from_source(model: Option<&str>, boot_bus: StorageBus) -> Self {
        let legacy_disk = matches!(boot_bus, StorageBus::Sata | StorageBus::Ide);
        match model {
            Some(m) if m.starts_with("e1000") => NicModel::E1000,
            Some("vmxnet3" | "vmxnet2" | "vmxnet") | None if legacy_disk => NicModel::E1000,
            _ => NicModel::Virtio,
        }
    }
}

impl std::fmt::Display for NicModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The firmware a full disk was installed for: a BIOS disk has its boot
/// loader in the MBR, a UEFI one only an EFI system partition, and neither
/// boots under the other's firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Firmware {
    /// Legacy BIOS (QEMU: SeaBIOS).
    Bios,
    /// UEFI (QEMU: OVMF, with a variable store of the VM's own).
    Uefi,
}

impl Firmware {
    pub fn as_str(self) -> &'static str {
        match self {
            Firmware::Bios => "bios",
            Firmware::Uefi => "uefi",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Firmware::Bios, Firmware::Uefi]
            .into_iter()
            .find(|f| f.as_str() == s)
    }
}

impl std::fmt::Display for Firmware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImageList {
    pub images: Vec<Image>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firmware_round_trips_as_its_lower_case_name() {
        for f in [Firmware::Bios, Firmware::Uefi] {
            assert_eq!(Firmware::parse(f.as_str()), Some(f));
            assert_eq!(serde_json::to_value(f).unwrap(), f.as_str());
        }
        assert_eq!(Firmware::parse("efi"), None);
    }

    #[test]
    fn buses_and_nic_models_round_trip_and_follow_the_source() {
        for b in StorageBus::ALL {
            assert_eq!(StorageBus::parse(b.as_str()), Some(b));
            assert_eq!(serde_json::to_value(b).unwrap(), b.as_str());
        }
        assert_eq!(StorageBus::parse("nvme"), None);
        assert_eq!(
            StorageBus::from_source(crate::DiskBus::Sata),
            StorageBus::Sata
        );
        assert_eq!(
            StorageBus::from_source(crate::DiskBus::Xen),
            StorageBus::Virtio
        );
        for m in [NicModel::Virtio, NicModel::E1000] {
            assert_eq!(NicModel::parse(m.as_str()), Some(m));
        }
        assert_eq!(NicModel::parse("vmxnet3"), None);
        let nic = NicModel::from_source;
        assert_eq!(nic(Some("e1000e"), StorageBus::Virtio), NicModel::E1000);
        assert_eq!(nic(Some("vmxnet3"), StorageBus::Sata), NicModel::E1000);
        assert_eq!(nic(Some("vmxnet3"), StorageBus::Scsi), NicModel::Virtio);
        assert_eq!(nic(None, StorageBus::Ide), NicModel::E1000);
        assert_eq!(nic(Some("xen"), StorageBus::Virtio), NicModel::Virtio);
    }
}
