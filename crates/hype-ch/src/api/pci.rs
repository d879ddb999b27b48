//! PCI hot-plug request/response types (`PciDeviceInfo`, `VmRemoveDevice`).

use serde::{Deserialize, Serialize};

use super::DeviceConfig;

/// Returned (HTTP 200) when a device was hot-plugged into a running VM.
/// CH answers 204 without a body for a cold-plug before boot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PciDeviceInfo {
    pub id: String,
    /// PCI address, e.g. `0000:00:05.0`.
    pub bdf: String,
}

/// Body of `vm.add-device` (VFIO passthrough); CH's schema calls it
/// `DeviceConfig`.
pub type VmAddDevice = DeviceConfig;

/// Body of `vm.remove-device`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmRemoveDevice {
    pub id: String,
}
