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
    pub created_at: String,
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
}
