//! Serde mirrors of the cloud-hypervisor OpenAPI schemas that hype uses.
//!
//! Only fields accepted by every supported CH version (see
//! `docs/cloud-hypervisor.md`) are modelled, so a request built from these
//! types is valid for all of them. Every optional field is skipped when unset
//! so CH applies its own default rather than one guessed here. Responses may
//! carry more fields than modelled (CH serialises internal fields the schema
//! omits, and `null` for unset options); those are ignored on purpose.

mod console;
mod counters;
mod devices;
mod pci;
mod rate_limit;
mod resize;
mod snapshot;
mod vm_config;
mod vm_info;
mod vmm;

pub use console::{ConsoleConfig, ConsoleMode, SerialConfig};
pub use counters::VmCounters;
pub use devices::{
    BalloonConfig, DeviceConfig, DiskConfig, FsConfig, ImageType, NetConfig, RngConfig, VsockConfig,
};
pub use pci::{PciDeviceInfo, VmAddDevice, VmRemoveDevice};
pub use rate_limit::{RateLimiterConfig, TokenBucket};
pub use resize::VmResize;
pub use snapshot::{RestoreConfig, VmSnapshotConfig};
pub use vm_config::{
    CpuTopology, CpusConfig, MemoryConfig, MemoryZoneConfig, PayloadConfig, VmConfig,
};
pub use vm_info::{DeviceNode, VmInfo, VmState};
pub use vmm::VmmPingResponse;
