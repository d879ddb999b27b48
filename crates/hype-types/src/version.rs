//! What `GET /api/v1/version` answers.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VersionInfo {
    /// hyped's own version.
    pub server: String,
    /// The REST API's version, `v1`.
    pub api: String,
    /// QEMU's version, when qemu-system-x86_64 is installed.
    pub qemu: Option<String>,
    pub cloud_hypervisor: ChVersions,
    pub accel: AccelInfo,
    /// The backend `vmm: auto` picks on this host.
    pub default_vmm: String,
    pub network: NetworkStatus,
}

/// Whether VMs get a network, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NetworkStatus {
    pub enabled: bool,
    pub bridge: Option<String>,
    pub subnet: Option<String>,
    /// Failed preflight checks, each with its fix.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChVersions {
    /// Versions this server can boot VMs with.
    pub available: Vec<String>,
    /// The one new VMs get.
    pub default: Option<String>,
}

/// How guests are accelerated here, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccelInfo {
    /// `kvm` or `tcg`.
    pub mode: String,
    /// Whether /dev/kvm can really run a Linux guest (probed at start).
    pub kvm_usable: bool,
    /// What the probe saw.
    pub reason: String,
}
