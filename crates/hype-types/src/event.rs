//! Lifecycle events, as persisted and as streamed over SSE.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::VmState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    VmCreated,
    VmStarting,
    VmRunning,
    VmPaused,
    VmResumed,
    VmStopped,
    VmCrashed,
    VmDeleted,
    VmSnapshotted,
    VmRestored,
    /// News, not a state change: a snapshot for forks was taken of the
    /// VM; `detail` is JSON: `{snapshot, size_bytes, paused_ms}`.
    SnapshotCreated,
    /// News: a snapshot of the VM was deleted; `detail`: `{snapshot}`.
    SnapshotDeleted,
    /// News: the VM's browser finished a download; `detail`:
    /// `{name, size, sha256, url}`.
    DownloadCompleted,
}

impl EventType {
    pub const ALL: [EventType; 13] = [
        EventType::VmCreated,
        EventType::VmStarting,
        EventType::VmRunning,
        EventType::VmPaused,
        EventType::VmResumed,
        EventType::VmStopped,
        EventType::VmCrashed,
        EventType::VmDeleted,
        EventType::VmSnapshotted,
        EventType::VmRestored,
        EventType::SnapshotCreated,
        EventType::SnapshotDeleted,
        EventType::DownloadCompleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::VmCreated => "VM_CREATED",
            EventType::VmStarting => "VM_STARTING",
            EventType::VmRunning => "VM_RUNNING",
            EventType::VmPaused => "VM_PAUSED",
            EventType::VmResumed => "VM_RESUMED",
            EventType::VmStopped => "VM_STOPPED",
            EventType::VmCrashed => "VM_CRASHED",
            EventType::VmDeleted => "VM_DELETED",
            EventType::VmSnapshotted => "VM_SNAPSHOTTED",
            EventType::VmRestored => "VM_RESTORED",
            EventType::SnapshotCreated => "SNAPSHOT_CREATED",
            EventType::SnapshotDeleted => "SNAPSHOT_DELETED",
            EventType::DownloadCompleted => "DOWNLOAD_COMPLETED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One lifecycle event: `{id, type, vm, state, at, detail}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// Grows strictly; kept across restarts. Also the SSE `id:`.
    pub id: i64,
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The VM's name.
    pub vm: String,
    /// The VM's state right after the event (`deleted` VMs keep their last).
    pub state: VmState,
    /// RFC 3339, UTC.
    pub at: String,
    /// Why, when there is more to say (a crash reason, a failed step).
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_parse() {
        for t in EventType::ALL {
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(EventType::parse("VM_EXPLODED"), None);
    }
}
