//! `vmm.ping` response.

use serde::{Deserialize, Serialize};

/// What the VMM reports about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmmPingResponse {
    /// `git describe` of the build, e.g. `v48.0` or `v48.0-dirty`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_version: Option<String>,
    /// Crate version, e.g. `48.0.0`.
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i64>,
    /// Compile-time features such as `kvm`, `io_uring`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
}
