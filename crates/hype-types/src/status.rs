//! `GET /api/v1/status`: how hyped and its host are doing, in one answer
//! (what `hype status` prints).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::version::{AccelInfo, NetworkStatus};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StatusInfo {
    /// hyped's own version.
    pub server: String,
    /// When this hyped started (RFC 3339, UTC).
    pub started_at: String,
    pub uptime_seconds: u64,
    /// Every VM state, with how many VMs are in it (zeros included).
    pub vms: Vec<StateCount>,
    /// Every job state, with how many jobs are in it (zeros included).
    pub jobs: Vec<StateCount>,
    pub memory: MemoryStatus,
    /// The filesystem of `--data-dir` (VM overlays, imported images).
    pub vm_disk: DiskSpace,
    /// The filesystem of `--images-dir` (built images).
    pub images_disk: DiskSpace,
    pub accel: AccelInfo,
    /// The network's state; `problems` lists what preflight found, each
    /// with its fix.
    pub network: NetworkStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StateCount {
    pub state: String,
    pub count: u64,
}

/// The host's memory, and what VMs that may run hold of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MemoryStatus {
    pub total_bytes: u64,
    /// What the kernel says new work can have (`MemAvailable`).
    pub available_bytes: u64,
    /// The memory of VMs that are starting, running, paused or stopping.
    pub vms_mb: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DiskSpace {
    pub path: String,
    pub total_bytes: u64,
    /// What an unprivileged writer could still use.
    pub available_bytes: u64,
}
