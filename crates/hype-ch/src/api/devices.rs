//! Device configurations shared by `vm.create` and the `vm.add-*` calls.
//!
//! Newer fields (disk `sparse`/`lock_granularity`, net `offload_*`,
//! `pci_device_id` everywhere) are deliberately absent: v48 does not accept
//! them. The disk's `image_type` and `backing_files` are here because a
//! qcow2 overlay does not open without them from v51 on; callers set them
//! only for such versions ([`DiskConfig::typed`]). See
//! `docs/cloud-hypervisor.md`.

use serde::{Deserialize, Serialize};

use super::RateLimiterConfig;

/// A virtio-block disk (`DiskConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskConfig {
    /// Image path on the host; absent only for vhost-user disks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readonly: Option<bool>,
    /// Open with O_DIRECT, bypassing the host page cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iommu: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_queues: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vhost_user: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vhost_socket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limiter_config: Option<RateLimiterConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pci_segment: Option<u16>,
    /// Device id; CH invents `_diskN` when unset, so set it to find the disk
    /// again in counters and the device tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Serial number the guest sees (`/dev/disk/by-id/virtio-<serial>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_group: Option<String>,
    /// Whether a qcow2 image may open its backing file (v51+; off by
    /// default there, so an overlay fails with `MaxNestingDepthExceeded`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backing_files: Option<bool>,
    /// The image format, stated rather than probed (v51+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_type: Option<ImageType>,
}

/// `ImageType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImageType {
    FixedVhd,
    Qcow2,
    Raw,
    Vhdx,
    Unknown,
}

impl DiskConfig {
    /// The first release whose `DiskConfig` has `image_type` and
    /// `backing_files` (v48 rejects them).
    pub const TYPED_SINCE: crate::ChVersion = crate::ChVersion::new(51, 0);

    /// States the image's type, and lets a qcow2 open its backing file,
    /// where `version` knows these fields.
    pub fn typed(mut self, version: Option<crate::ChVersion>, image_type: ImageType) -> Self {
        if version.is_some_and(|v| v >= Self::TYPED_SINCE) {
            self.backing_files = (image_type == ImageType::Qcow2).then_some(true);
            self.image_type = Some(image_type);
        }
        self
    }
}

/// A virtio-net device (`NetConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetConfig {
    /// Existing tap interface name; CH creates one when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tap: Option<String>,
    /// Host-side address CH assigns to a tap it creates itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<String>,
    /// Guest MAC, `aa:bb:cc:dd:ee:ff`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_mac: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iommu: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_queues: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vhost_user: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vhost_socket: Option<String>,
    /// `Client` or `Server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vhost_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pci_segment: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limiter_config: Option<RateLimiterConfig>,
}

/// Entropy source for virtio-rng.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngConfig {
    /// Host path, typically `/dev/urandom`.
    pub src: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iommu: Option<bool>,
}

/// virtio-balloon.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalloonConfig {
    /// Initial balloon size in bytes.
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deflate_on_oom: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_page_reporting: Option<bool>,
}

/// virtio-fs share served by a vhost-user daemon (virtiofsd) on `socket`.
/// CH requires the queue fields even though they have documented defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsConfig {
    /// Mount tag the guest uses.
    pub tag: String,
    pub socket: String,
    pub num_queues: u32,
    pub queue_size: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pci_segment: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// virtio-vsock, proxied by CH to a unix socket on the host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VsockConfig {
    /// Guest context id; 0–2 are reserved, so at least 3.
    pub cid: u64,
    /// Host unix socket; host→guest connections use it with `CONNECT <port>`,
    /// guest→host ones arrive at `<socket>_<port>`.
    pub socket: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iommu: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pci_segment: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// VFIO passthrough device (`DeviceConfig`).
///
/// `path` is optional because v53 made it so (a cdev fd may be passed
/// instead); v48 and v51 require it, so always set it for them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceConfig {
    /// Sysfs path, e.g. `/sys/bus/pci/devices/0000:01:00.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iommu: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pci_segment: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ChVersion;

    #[test]
    fn typed_fields_go_only_to_versions_that_know_them() {
        let disk = || DiskConfig {
            path: Some("/d".into()),
            ..DiskConfig::default()
        };
        let v48 = disk().typed(Some(ChVersion::new(48, 0)), ImageType::Qcow2);
        assert_eq!(v48, disk());
        assert_eq!(disk().typed(None, ImageType::Qcow2), disk());
        let v51 = disk().typed("v51.1".parse().ok(), ImageType::Qcow2);
        assert_eq!(
            (v51.image_type, v51.backing_files),
            (Some(ImageType::Qcow2), Some(true))
        );
        // A raw image has no backing file to allow.
        let raw = disk().typed(Some(ChVersion::new(53, 0)), ImageType::Raw);
        assert_eq!(
            (raw.image_type, raw.backing_files),
            (Some(ImageType::Raw), None)
        );
    }
}
