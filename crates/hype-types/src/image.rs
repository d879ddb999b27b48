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
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImageList {
    pub images: Vec<Image>,
}
