//! Jobs and job events as the API answers with them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{BootMode, JobKind, JobState, XcpngTransport};
use crate::image::{Firmware, NicModel, StorageBus};

/// The job's source as stored and shown (no password, ever).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JobSource {
    pub url: Option<String>,
    pub username: Option<String>,
    pub vm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xva: Option<String>,
    pub insecure: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<XcpngTransport>,
    #[serde(default)]
    pub shutdown: bool,
    #[serde(default)]
    pub remove_cdrom: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_downloads: Option<u32>,
    #[serde(default)]
    pub boot: BootMode,
    /// The firmware asked for; absent means the source's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<Firmware>,
    /// The disk bus asked for; absent means each disk's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_bus: Option<StorageBus>,
    /// The NIC model asked for; absent means the source's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nic_model: Option<NicModel>,
    /// The job keeps the export in `output` and makes no image.
    #[serde(default)]
    pub export_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// An `ovf` job's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The job uses hyped's own `HYPE_*_PASSWORD` (it came without one), so
    /// a restarted hyped can take it up again; a password given in the job
    /// was in memory only and is gone after a restart.
    #[serde(default)]
    pub env_password: bool,
}

/// Where a job interrupted by a restart of hyped took up again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JobResume {
    /// Bytes of the earlier run kept, after checking them.
    pub bytes_kept: u64,
    /// Per downloaded file, the offset its transfer continued from (0: from
    /// its start). Empty when the source cannot continue a transfer
    /// (XCP-ng, a local file): the job started over.
    pub files: Vec<ResumedFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResumedFile {
    pub file: String,
    pub offset: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobProgress {
    /// `queued`, `connecting`, `exporting`, `downloading`, `verifying`,
    /// `converting`, `registering`, `done`.
    pub phase: String,
    pub bytes_done: Option<u64>,
    pub bytes_total: Option<u64>,
    pub files_done: Option<u64>,
    pub files_total: Option<u64>,
    /// 0 to 100.
    pub percent: Option<f64>,
    pub eta_seconds: Option<u64>,
    /// Set when this run took up a job a restart of hyped interrupted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed: Option<JobResume>,
}

/// The phase of a `pending` job a restart interrupted whose password was
/// given in the job (and never stored): it waits for
/// `POST /api/v1/jobs/{id}/resume {"password"}`.
pub const AWAITING_PASSWORD: &str = "awaiting_password";

impl JobProgress {
    pub fn queued() -> Self {
        Self::phase("queued")
    }

    /// A job waiting for its password again ([`AWAITING_PASSWORD`]).
    pub fn awaiting_password() -> Self {
        Self::phase(AWAITING_PASSWORD)
    }

    fn phase(phase: &str) -> Self {
        Self {
            phase: phase.into(),
            bytes_done: None,
            bytes_total: None,
            files_done: None,
            files_total: None,
            percent: None,
            eta_seconds: None,
            resumed: None,
        }
    }
}

/// What a finished job made, beside its image: for an export-only job,
/// the folder and every file in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JobResult {
    /// The folder the export was moved to (the job's `output`).
    pub output: String,
    /// Every file of the folder, by name, as hype checked it.
    pub files: Vec<JobFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JobFile {
    /// A plain file name inside `output`.
    pub name: String,
    pub size_bytes: u64,
    /// Lower-case hex, as the folder's `.mf` has it.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Job {
    pub id: String,
    pub kind: JobKind,
    pub state: JobState,
    pub image: String,
    pub source: JobSource,
    pub progress: JobProgress,
    /// The reason, when failed or cancelled.
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Set when a job that makes no image completes (`export_only`): what
    /// it kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<JobResult>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobEventType {
    JobQueued,
    JobStarted,
    JobProgress,
    JobCompleted,
    JobFailed,
    JobCancelled,
    /// A job a restart of hyped interrupted runs again; its progress's
    /// `resumed` says from which offsets.
    JobResumed,
}

impl JobEventType {
    pub const ALL: [JobEventType; 7] = [
        JobEventType::JobQueued,
        JobEventType::JobStarted,
        JobEventType::JobProgress,
        JobEventType::JobCompleted,
        JobEventType::JobFailed,
        JobEventType::JobCancelled,
        JobEventType::JobResumed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobEventType::JobQueued => "JOB_QUEUED",
            JobEventType::JobStarted => "JOB_STARTED",
            JobEventType::JobProgress => "JOB_PROGRESS",
            JobEventType::JobCompleted => "JOB_COMPLETED",
            JobEventType::JobFailed => "JOB_FAILED",
            JobEventType::JobCancelled => "JOB_CANCELLED",
            JobEventType::JobResumed => "JOB_RESUMED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The event a move into `state` makes.
    pub fn for_state(state: JobState) -> Self {
        match state {
            JobState::Pending => JobEventType::JobQueued,
            JobState::Running => JobEventType::JobStarted,
            JobState::Completed => JobEventType::JobCompleted,
            JobState::Failed => JobEventType::JobFailed,
            JobState::Cancelled => JobEventType::JobCancelled,
        }
    }
}

/// `{id, type, job, at}` on `GET /api/v1/events/jobs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobEvent {
    /// Grows strictly; the SSE `id:`.
    pub id: i64,
    #[serde(rename = "type")]
    pub event_type: JobEventType,
    pub job: Job,
    pub at: String,
}
