use std::path::PathBuf;

use hype_agent_proto::StreamErrorCode;
use hype_store::StoreError;
use hype_types::{ErrorKind, InvalidJob, InvalidVmSpec, JobState, VmState};
use hype_vmm::VmmError;

/// Everything an action can fail with. Each variant has one [`ErrorKind`]
/// and one stable code ([`CoreError::kind`], [`CoreError::code`]); the REST
/// API and the MCP tools map from those, so a failure reads the same on
/// every front end. The messages are written for the person who sent the
/// request.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{0}")]
    InvalidSpec(#[from] InvalidVmSpec),
    #[error("no VM named '{name}'")]
    VmNotFound { name: String },
    #[error("a VM named '{name}' already exists")]
    NameTaken { name: String },
    #[error("no image named '{name}'; `hype images list` shows what there is")]
    ImageNotFound { name: String },
    #[error("image '{name}' is used by {vms} VM(s); delete them first")]
    ImageInUse { name: String, vms: i64 },
    #[error("VM '{name}' is {state}; cannot {action} it")]
    InvalidState {
        name: String,
        state: VmState,
        action: &'static str,
    },
    #[error("VM '{name}': {what}")]
    Unsupported { name: String, what: String },
    /// The image's disk bus or NIC model is one the chosen VMM lacks.
    #[error("VM '{name}': {what}")]
    DevicesUnsupported { name: String, what: String },
    #[error("no {backend} is available on this host: {why}")]
    BackendUnavailable { backend: &'static str, why: String },
    #[error("VM '{name}' could not be booted: {source}")]
    Boot {
        name: String,
        #[source]
        source: VmmError,
    },
    #[error("{0}")]
    Vmm(#[from] VmmError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("storage failure: {0}")]
    Store(#[source] StoreError),
    #[error("VM '{name}': the guest agent {why}")]
    AgentUnavailable { name: String, why: &'static str },
    #[error("VM '{name}': the guest agent did not answer in time")]
    AgentTimeout { name: String },
    #[error("VM '{name}' has no guest agent to {action} (it runs an imported disk's own system from its firmware)")]
    NoAgent { name: String, action: &'static str },
    #[error("VM '{name}': its guest agent is older than this hyped and has no {what}; stop and start the VM to boot the current agent")]
    AgentTooOld { name: String, what: String },
    #[error("VM '{name}' runs {limit} execs already (--max-execs-per-vm); wait for one to end")]
    TooManyExecs { name: String, limit: usize },
    /// The guest refused or failed; `message` is its own reason.
    #[error("VM '{name}': {message}")]
    Guest {
        name: String,
        code: hype_agent_proto::StreamErrorCode,
        message: String,
    },
    #[error("{0}")]
    InvalidRequest(String),
    #[error("VM '{name}': network")]
    Network {
        name: String,
        #[source]
        source: Box<hype_net::NetError>,
    },
    #[error("{0}")]
    SubnetExhausted(String),
    #[error("{0}")]
    UidsExhausted(String),
    #[error("VM '{name}' has no browser to reach: {why}")]
    NoBrowser { name: String, why: String },
    #[error("VM '{name}': the browser did not answer")]
    Browser {
        name: String,
        #[source]
        source: Box<hype_cdp::CdpError>,
    },
    #[error("at most {max} VMs may exist at once (--max-vms); delete one first")]
    TooManyVms { max: u32 },
    #[error("VM '{name}': the host is short of room in {what}: {needed_mb} MiB needed, {free_mb} MiB free")]
    Insufficient {
        name: String,
        what: String,
        needed_mb: u32,
        free_mb: u32,
    },
    #[error("VM '{name}': disk")]
    Disk {
        name: String,
        #[source]
        source: crate::disk::DiskError,
    },
    /// Saving the state failed; the VM was left as it was (running or
    /// paused) and no snapshot was kept.
    #[error("VM '{name}' could not be snapshotted (it is still {state}): {source}")]
    Snapshot {
        name: String,
        state: VmState,
        #[source]
        source: VmmError,
    },
    /// Starting from the snapshot failed; the VM stays in standby with its
    /// snapshot intact.
    #[error("VM '{name}' could not be restored (it stays in standby): {source}")]
    Restore {
        name: String,
        #[source]
        source: VmmError,
    },
    #[error("VM '{name}' is in standby on cloud-hypervisor {version} and can be restored only with it; this host has {available}")]
    VersionUnavailable {
        name: String,
        version: String,
        available: String,
    },
    #[error("no snapshot named '{name}'")]
    SnapshotNotFound { name: String },
    #[error("a snapshot named '{name}' already exists")]
    SnapshotExists { name: String },
    #[error("snapshot '{name}' is in use by VMs forked from it ({}); delete them first", .vms.join(", "))]
    SnapshotInUse { name: String, vms: Vec<String> },
    #[error("snapshot '{name}' is warm pool '{pool}''s; delete the pool instead")]
    SnapshotOfPool { name: String, pool: String },
    #[error("no warm pool named '{name}'; `hype pools list` shows what there is")]
    PoolNotFound { name: String },
    #[error("a warm pool named '{name}' already exists")]
    PoolExists { name: String },
    #[error("snapshot '{snapshot}' was taken on QEMU {version}; this host has {available}")]
    ForkVersion {
        snapshot: String,
        version: String,
        available: String,
    },
    #[error("fork '{name}' did not start: {detail}")]
    ForkFailed { name: String, detail: String },
    #[error("VM '{name}' could not be snapshotted for forks")]
    ForkSnapshot {
        name: String,
        #[source]
        source: VmmError,
    },
    #[error("VM '{name}' is in standby but its snapshot is missing at {path}; delete the VM")]
    SnapshotMissing { name: String, path: PathBuf },
    #[error("{0}")]
    InvalidJob(#[from] InvalidJob),
    /// A readable job hyped's settings do not allow (a file outside
    /// `--import-dir`, the environment password to an unlisted host).
    #[error("{0}")]
    ImportRefused(InvalidJob),
    #[error("no job with id '{id}'")]
    JobNotFound { id: String },
    #[error("no recording with id '{id}'")]
    RecordingNotFound { id: String },
    #[error("job '{id}' is already {state}")]
    JobFinished { id: String, state: JobState },
    /// A resume of a job that is not waiting for its password.
    #[error("job '{id}' is {state} and not waiting for its password; only a job a restart interrupted, whose password was given in the job, is")]
    JobNotAwaiting { id: String, state: JobState },
    #[error("an image named '{name}' already exists: {why}")]
    ImageExists { name: String, why: &'static str },
    #[error("hyped is shutting down")]
    ShuttingDown,
    /// An import source (vSphere, XCP-ng) could not be read.
    #[error("source {url}: {source}")]
    Source {
        url: String,
        #[source]
        source: crate::sources::SourceError,
    },
}

impl CoreError {
    /// The one classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CoreError::InvalidSpec(_)
            | CoreError::InvalidRequest(_)
            | CoreError::DevicesUnsupported { .. }
            | CoreError::BackendUnavailable { .. } => ErrorKind::Invalid,
            CoreError::InvalidJob(e) if e.unprocessable => ErrorKind::Invalid,
            CoreError::InvalidJob(_) => ErrorKind::BadRequest,
            CoreError::ImportRefused(_) => ErrorKind::Invalid,
            CoreError::VmNotFound { .. }
            | CoreError::ImageNotFound { .. }
            | CoreError::SnapshotNotFound { .. }
            | CoreError::PoolNotFound { .. }
            | CoreError::JobNotFound { .. }
            | CoreError::RecordingNotFound { .. } => ErrorKind::NotFound,
            CoreError::NameTaken { .. }
            | CoreError::ImageInUse { .. }
            | CoreError::InvalidState { .. }
            | CoreError::NoBrowser { .. }
            | CoreError::VersionUnavailable { .. }
            | CoreError::SnapshotMissing { .. }
            | CoreError::SnapshotExists { .. }
            | CoreError::SnapshotInUse { .. }
            | CoreError::SnapshotOfPool { .. }
            | CoreError::PoolExists { .. }
            | CoreError::ForkVersion { .. }
            | CoreError::JobFinished { .. }
            | CoreError::JobNotAwaiting { .. }
            | CoreError::ImageExists { .. } => ErrorKind::Conflict,
            CoreError::Unsupported { .. } | CoreError::AgentTooOld { .. } => ErrorKind::Unsupported,
            CoreError::NoAgent { .. } => ErrorKind::Conflict,
            CoreError::TooManyVms { .. } | CoreError::TooManyExecs { .. } => ErrorKind::TooMany,
            CoreError::Guest { code, .. } => guest_kind(*code),
            CoreError::Insufficient { .. } => ErrorKind::Insufficient,
            CoreError::Boot { .. }
            | CoreError::Io { .. }
            | CoreError::Store(_)
            | CoreError::Network { .. }
            | CoreError::Disk { .. }
            | CoreError::Snapshot { .. }
            | CoreError::ForkSnapshot { .. }
            | CoreError::ForkFailed { .. }
            | CoreError::Restore { .. } => ErrorKind::Internal,
            CoreError::Vmm(_) | CoreError::Browser { .. } => ErrorKind::Upstream,
            CoreError::Source { source, .. } if source.is_caller_error() => ErrorKind::Invalid,
            CoreError::Source { .. } => ErrorKind::Upstream,
            CoreError::AgentUnavailable { .. } | CoreError::AgentTimeout { .. } => {
                ErrorKind::Timeout
            }
            CoreError::SubnetExhausted(_)
            | CoreError::UidsExhausted(_)
            | CoreError::ShuttingDown => ErrorKind::Unavailable,
        }
    }

    /// The stable, machine-readable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::InvalidSpec(s) => s.code(),
            CoreError::VmNotFound { .. } => "vm_not_found",
            CoreError::NameTaken { .. } => "name_taken",
            CoreError::ImageNotFound { .. } => "image_not_found",
            CoreError::ImageInUse { .. } => "image_in_use",
            CoreError::InvalidState { .. } => "invalid_state",
            CoreError::Unsupported { .. } => "not_supported",
            CoreError::DevicesUnsupported { .. } => "devices_unsupported",
            CoreError::BackendUnavailable { .. } => "vmm_unavailable",
            CoreError::Boot { .. } => "boot_failed",
            CoreError::Vmm(_) => "vmm_error",
            CoreError::Io { .. } => "io_error",
            CoreError::Store(_) => "store_error",
            CoreError::AgentUnavailable { .. } => "agent_unavailable",
            CoreError::AgentTimeout { .. } => "agent_timeout",
            CoreError::NoAgent { .. } => "no_agent",
            CoreError::AgentTooOld { .. } => "agent_too_old",
            CoreError::TooManyExecs { .. } => "too_many_execs",
            CoreError::Guest { code, .. } => guest_code(*code),
            CoreError::InvalidRequest(_) => "invalid_request",
            CoreError::Network { .. } => "network_error",
            CoreError::SubnetExhausted(_) => "subnet_exhausted",
            CoreError::UidsExhausted(_) => "uids_exhausted",
            CoreError::NoBrowser { .. } => "no_browser",
            CoreError::Browser { .. } => "browser_unreachable",
            CoreError::TooManyVms { .. } => "too_many_vms",
            CoreError::Insufficient { .. } => "insufficient_resources",
            CoreError::Disk { .. } => "disk_error",
            CoreError::Snapshot { .. } => "snapshot_failed",
            CoreError::Restore { .. } => "restore_failed",
            CoreError::VersionUnavailable { .. } => "vmm_version_unavailable",
            CoreError::SnapshotMissing { .. } => "snapshot_missing",
            CoreError::SnapshotNotFound { .. } => "snapshot_not_found",
            CoreError::SnapshotExists { .. } => "snapshot_exists",
            CoreError::SnapshotInUse { .. } | CoreError::SnapshotOfPool { .. } => "snapshot_in_use",
            CoreError::PoolNotFound { .. } => "pool_not_found",
            CoreError::PoolExists { .. } => "pool_exists",
            CoreError::ForkSnapshot { .. } => "snapshot_failed",
            CoreError::ForkVersion { .. } => "vmm_version_unavailable",
            CoreError::ForkFailed { .. } => "fork_failed",
            CoreError::InvalidJob(e) | CoreError::ImportRefused(e) => e.code,
            CoreError::JobNotFound { .. } => "job_not_found",
            CoreError::RecordingNotFound { .. } => "recording_not_found",
            CoreError::JobFinished { .. } => "job_finished",
            CoreError::JobNotAwaiting { .. } => "job_not_awaiting_password",
            CoreError::ImageExists { .. } => "image_exists",
            CoreError::ShuttingDown => "shutting_down",
            CoreError::Source { source, .. } => source.code(),
        }
    }

    /// The message with its causes, so "boot failed" says why.
    pub fn describe(&self) -> String {
        let mut msg = self.to_string();
        let mut src = std::error::Error::source(self);
        while let Some(s) = src {
            let part = s.to_string();
            if !msg.contains(&part) {
                msg.push_str(": ");
                msg.push_str(&part);
            }
            src = s.source();
        }
        msg
    }
}

/// The kind of a guest's refusal: what the caller asked of the guest was
/// wrong in the guest's terms (no such file), or the guest could not.
fn guest_kind(code: StreamErrorCode) -> ErrorKind {
    match code {
        StreamErrorCode::NotFound => ErrorKind::NotFound,
        StreamErrorCode::IsDirectory
        | StreamErrorCode::NotDirectory
        | StreamErrorCode::NotEmpty => ErrorKind::Conflict,
        StreamErrorCode::NoSpace => ErrorKind::Insufficient,
        StreamErrorCode::PermissionDenied => ErrorKind::Forbidden,
        StreamErrorCode::Busy => ErrorKind::TooMany,
        StreamErrorCode::Invalid => ErrorKind::Invalid,
        StreamErrorCode::Io => ErrorKind::Upstream,
    }
}

fn guest_code(code: StreamErrorCode) -> &'static str {
    match code {
        StreamErrorCode::NotFound => "not_found_in_guest",
        StreamErrorCode::IsDirectory => "is_a_directory",
        StreamErrorCode::NotDirectory => "not_a_directory",
        StreamErrorCode::NotEmpty => "directory_not_empty",
        StreamErrorCode::NoSpace => "no_space_in_guest",
        StreamErrorCode::PermissionDenied => "permission_denied_in_guest",
        StreamErrorCode::Busy => "agent_busy",
        StreamErrorCode::Invalid => "invalid_in_guest",
        StreamErrorCode::Io => "guest_io_error",
    }
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NameTaken { name } => CoreError::NameTaken { name },
            StoreError::VmNotFound { name } => CoreError::VmNotFound { name },
            StoreError::ImageNotFound { name } => CoreError::ImageNotFound { name },
            StoreError::ImageInUse { name, vms } => CoreError::ImageInUse { name, vms },
            StoreError::InvalidTransition { name, source } => CoreError::InvalidState {
                name,
                state: source.from,
                action: source.action,
            },
            StoreError::Raced { name, now } => CoreError::InvalidState {
                name,
                state: now,
                action: "change",
            },
            StoreError::TooManyVms { max } => CoreError::TooManyVms { max },
            StoreError::JobNotFound { id } => CoreError::JobNotFound { id },
            StoreError::RecordingNotFound { id } => CoreError::RecordingNotFound { id },
            StoreError::SnapshotNotFound { name } => CoreError::SnapshotNotFound { name },
            StoreError::SnapshotExists { name } => CoreError::SnapshotExists { name },
            StoreError::PoolNotFound { name } => CoreError::PoolNotFound { name },
            StoreError::PoolExists { name } => CoreError::PoolExists { name },
            StoreError::ImageExists { name } => CoreError::ImageExists {
                name,
                why: "delete it first",
            },
            e @ StoreError::SubnetExhausted { .. } => CoreError::SubnetExhausted(e.to_string()),
            e @ StoreError::UidsExhausted { .. } => CoreError::UidsExhausted(e.to_string()),
            other => CoreError::Store(other),
        }
    }
}
