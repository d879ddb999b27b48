//! Session recordings of browser sandboxes: what `GET
//! /api/v1/recordings/{id}` and the lists return. The events themselves
//! are rrweb events, served as the page's recorder sent them (parsed, never
//! interpreted).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One recording: one run of a VM (from running to stopped), every page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Recording {
    /// `rec_` and a UUID.
    pub id: String,
    /// The VM it recorded (which may have been deleted since).
    pub vm: String,
    pub vm_id: String,
    pub started_at: String,
    /// `None` while it records.
    pub ended_at: Option<String>,
    /// Bytes of events kept.
    pub size_bytes: u64,
    /// rrweb events kept.
    pub events: u64,
    /// Pages (tabs) that sent events.
    pub pages: u64,
    /// Why it stopped early (its size limit), if it did.
    pub note: Option<String>,
    /// The console's replay page.
    pub replay_url: String,
}

/// `GET /api/v1/vms/{name}/recordings`, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecordingList {
    pub items: Vec<Recording>,
}
