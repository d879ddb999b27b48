//! `vm.snapshot` and `vm.restore` requests.

use serde::{Deserialize, Serialize};

/// Where CH writes a snapshot, as a URL such as `file:///var/lib/x/snap`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmSnapshotConfig {
    pub destination_url: String,
}

/// Where CH reads a snapshot from.
///
/// v53 also accepts `memory_restore_mode` and `resume`; they are left out
/// because v48 and v51 do not know them (see `docs/cloud-hypervisor.md`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreConfig {
    pub source_url: String,
    /// Populate guest memory eagerly instead of on first touch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefault: Option<bool>,
}
