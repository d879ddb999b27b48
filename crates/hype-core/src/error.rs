use std::path::PathBuf;

use hype_store::StoreError;
use hype_types::{InvalidJob, InvalidVmSpec, JobState, VmState};
use hype_vmm::VmmError;

/// Everything an action can fail with. The API maps each variant to a status
/// code in one place; the messages are written for the person who sent the
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
    #[error("{0}")]
    InvalidRequest(String),
    #[error("VM '{name}': network: {why}")]
    Network { name: String, why: String },
    #[error("{0}")]
    SubnetExhausted(String),
    #[error("VM '{name}' has no browser to reach: {why}")]
    NoBrowser { name: String, why: String },
    #[error("VM '{name}': browser: {why}")]
    Browser { name: String, why: String },
    #[error("at most {max} VMs may exist at once (--max-vms); delete one first")]
    TooManyVms { max: u32 },
    #[error("VM '{name}': persistent disk: {why}")]
    Disk { name: String, why: String },
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
    #[error("VM '{name}' is in standby but its snapshot is missing at {path}; delete the VM")]
    SnapshotMissing { name: String, path: PathBuf },
    #[error("{0}")]
    InvalidJob(#[from] InvalidJob),
    #[error("no job with id '{id}'")]
    JobNotFound { id: String },
    #[error("job '{id}' is already {state}")]
    JobFinished { id: String, state: JobState },
    #[error("an image named '{name}' already exists: {why}")]
    ImageExists { name: String, why: &'static str },
    #[error("hyped is shutting down")]
    ShuttingDown,
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
            StoreError::ImageExists { name } => CoreError::ImageExists {
                name,
                why: "delete it first",
            },
            e @ StoreError::SubnetExhausted { .. } => CoreError::SubnetExhausted(e.to_string()),
            other => CoreError::Store(other),
        }
    }
}
