use std::path::PathBuf;

use hype_types::{InvalidTransition, VmState};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot migrate database {path}")]
    Migrate {
        path: PathBuf,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error("a VM named '{name}' already exists")]
    NameTaken { name: String },
    #[error("no VM named '{name}'")]
    VmNotFound { name: String },
    #[error("VM '{name}': {source}")]
    InvalidTransition {
        name: String,
        #[source]
        source: InvalidTransition,
    },
    #[error("VM '{name}' changed state to {now} meanwhile")]
    Raced { name: String, now: VmState },
    #[error(
        "no free address left in {subnet} ({leased} leased); delete a VM or use a larger --subnet"
    )]
    SubnetExhausted { subnet: String, leased: usize },
    #[error("no free uid left for a VMM in {base}..{} (every one is a VM's); delete a VM", base + count)]
    UidsExhausted { base: u32, count: u32 },
    #[error("no snapshot named '{name}'")]
    SnapshotNotFound { name: String },
    #[error("a snapshot named '{name}' already exists")]
    SnapshotExists { name: String },
    #[error("no warm pool named '{name}'")]
    PoolNotFound { name: String },
    #[error("a warm pool named '{name}' already exists")]
    PoolExists { name: String },
    #[error("at most {max} VMs may exist at once")]
    TooManyVms { max: u32 },
    #[error("no image named '{name}'")]
    ImageNotFound { name: String },
    #[error("image '{name}' is used by {vms} VM(s); delete them first")]
    ImageInUse { name: String, vms: i64 },
    #[error("an image named '{name}' already exists")]
    ImageExists { name: String },
    #[error("no job with id '{id}'")]
    JobNotFound { id: String },
    #[error("no recording with id '{id}'")]
    RecordingNotFound { id: String },
    #[error("corrupt row in {table}: {what}")]
    Corrupt { table: &'static str, what: String },
    #[error("database error while trying to {op}")]
    Db {
        op: &'static str,
        #[source]
        source: sqlx::Error,
    },
}

pub(crate) trait DbContext<T> {
    fn during(self, op: &'static str) -> Result<T, StoreError>;
}

impl<T> DbContext<T> for Result<T, sqlx::Error> {
    fn during(self, op: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Db { op, source })
    }
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}
