//! Named snapshots (a VM saved for forks) and forks.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Vm, VmmKind};

/// `POST /api/v1/vms/{name}/snapshots`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSnapshot {
    /// `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`
    #[schema(
        pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
        min_length = 1,
        max_length = 63
    )]
    pub name: String,
}

/// A VM saved for forks: its memory, device state and disks at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Snapshot {
    pub name: String,
    /// The VM it was taken of.
    pub vm: String,
    pub image: String,
    pub cpu_cores: u32,
    pub memory_mb: u32,
    pub vmm: VmmKind,
    pub vmm_version: Option<String>,
    /// Bytes on the host's disk (memory, device state, disks).
    pub size_bytes: u64,
    /// The VMs forked from it that exist now.
    pub forks: Vec<String>,
    /// Made by a fork request (`POST /vms/{name}/fork`), and removed with its last fork.
    pub ephemeral: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SnapshotList {
    pub snapshots: Vec<Snapshot>,
}

/// The most forks one request makes.
pub const MAX_FORKS: u32 = 64;

/// `POST /api/v1/vms/{name}/fork`: snapshot the VM and fork it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForkVm {
    /// The fork's name; with `count`, the forks are `NAME-1` .. `NAME-K`.
    #[schema(
        pattern = "^[a-z0-9]([a-z0-9-]{0,57}[a-z0-9])?$",
        min_length = 1,
        max_length = 59
    )]
    pub name: String,
    #[serde(default, deserialize_with = "crate::lenient::opt_u32")]
    #[schema(minimum = 1, maximum = 64)]
    pub count: Option<u32>,
    /// Stop and delete each fork this long after its creation.
    #[serde(default, deserialize_with = "crate::lenient::opt_u32")]
    #[schema(minimum = 1, maximum = 604800)]
    pub ttl_seconds: Option<u32>,
    /// Stop and delete each fork after this long without a CDP client.
    #[serde(default, deserialize_with = "crate::lenient::opt_u32")]
    #[schema(minimum = 1, maximum = 604800)]
    pub idle_timeout_seconds: Option<u32>,
}

/// The names a request for `count` VMs named `name` makes.
pub fn fork_names(name: &str, count: Option<u32>) -> Vec<String> {
    match count {
        None => vec![name.to_owned()],
        Some(k) => (1..=k).map(|i| format!("{name}-{i}")).collect(),
    }
}

/// One VM a fork request did not make, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ForkFailure {
    pub name: String,
    pub error: crate::ErrorDetail,
}

/// What a request for several VMs made: each succeeds or fails alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ForkResult {
    pub vms: Vec<Vm>,
    pub failed: Vec<ForkFailure>,
}

/// The answer to `POST /api/v1/vms`: the VM, or with `count`, each fork
/// made and each that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Created {
    Vm(Box<Vm>),
    Forks(ForkResult),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_make_numbered_names() {
        assert_eq!(fork_names("f", None), ["f"]);
        assert_eq!(fork_names("f", Some(3)), ["f-1", "f-2", "f-3"]);
    }
}
