//! `vm.create` request body (`VmConfig`), also returned inside `vm.info`.

use serde::{Deserialize, Serialize};

use super::{
    BalloonConfig, ConsoleConfig, DiskConfig, FsConfig, NetConfig, RngConfig, SerialConfig,
    VsockConfig,
};

/// What to boot: a kernel (direct boot, optionally with initramfs and
/// cmdline) or a firmware image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmdline: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initramfs: Option<String>,
}

/// Guest CPU topology; the product must equal `max_vcpus`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuTopology {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads_per_core: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cores_per_die: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dies_per_package: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<u32>,
}

/// vCPUs: `boot_vcpus` online at boot, up to `max_vcpus` by hot-plug.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpusConfig {
    pub boot_vcpus: u32,
    pub max_vcpus: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology: Option<CpuTopology>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kvm_hyperv: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_phys_bits: Option<u32>,
}

impl Default for CpusConfig {
    /// One vCPU, CH's own default.
    fn default() -> Self {
        Self {
            boot_vcpus: 1,
            max_vcpus: 1,
            topology: None,
            kvm_hyperv: None,
            max_phys_bits: None,
        }
    }
}

/// A memory zone: guest RAM with its own backing. hype uses one zone
/// backed by a file (mapped shared for a VM that may be forked, privately
/// for a fork), which needs `MemoryConfig.size` 0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryZoneConfig {
    pub id: String,
    /// Bytes.
    pub size: u64,
    /// A regular file of at least `size` bytes (CH does not size it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// MAP_SHARED: the guest's writes reach the file. A snapshot then
    /// leaves this zone's memory out (the file holds it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<bool>,
}

/// Guest RAM: `size` bytes of anonymous memory, or `zones`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryConfig {
    /// Bytes; 0 when `zones` give the RAM.
    pub size: u64,
    /// Extra bytes that can be hot-plugged later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotplug_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotplugged_size: Option<u64>,
    /// Allow KSM to merge pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mergeable: Option<bool>,
    /// `Acpi` or `VirtioMem`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotplug_method: Option<String>,
    /// MAP_SHARED guest memory; required by vhost-user devices (virtio-fs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hugepages: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hugepage_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefault: Option<bool>,
    /// Transparent huge pages; CH defaults to on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thp: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zones: Option<Vec<MemoryZoneConfig>>,
}

/// A whole VM (`VmConfig`). Only `payload` is required by CH.
///
/// Vectors are `Option` because CH reports an absent list as `null` in
/// `vm.info`, and because an empty list sent in a request is not the same
/// as leaving the field to CH's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<CpusConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryConfig>,
    pub payload: PayloadConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disks: Option<Vec<DiskConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net: Option<Vec<NetConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rng: Option<RngConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balloon: Option<BalloonConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs: Option<Vec<FsConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<SerialConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console: Option<ConsoleConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vsock: Option<VsockConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iommu: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watchdog: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvpanic: Option<bool>,
}
