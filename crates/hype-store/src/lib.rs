//! hype's persistent state: one SQLite file in WAL mode, the schema in the
//! top-level `migrations/` (applied at open), and typed repositories for VMs,
//! events, images and jobs.
//!
//! The store is also where events are born: a state change and its event are
//! written in one transaction, then published to live subscribers in id
//! order, so what a watcher sees live is exactly what it would replay. The
//! store knows nothing of VMMs, HTTP or processes; callers decide *what*
//! happens, the store makes it durable and ordered.

mod downloads;
mod error;
mod events;
mod images;
mod jobs;
mod leases;
mod pools;
mod recordings;
mod snapshots;
mod vms;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use hype_types::{Event, JobEvent};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use tokio::sync::{broadcast, Mutex, MutexGuard};

pub use downloads::MAX_DOWNLOADS_PER_VM;
use error::DbContext;
pub use error::StoreError;
pub use images::ImageRecord;
pub use jobs::NewJob;
pub use leases::Lease;
pub use pools::{Claim, PoolCounts, PoolRecord};
pub use recordings::{RecordingCounts, RecordingRecord};
pub use snapshots::SnapshotRecord;
pub use vms::{NewVm, VmRecord, VmmUpdate};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Live subscribers lagging more than this many events re-read from SQLite.
const LIVE_BUFFER: usize = 4096;

pub struct Store {
    pool: SqlitePool,
    live: broadcast::Sender<Event>,
    live_jobs: broadcast::Sender<JobEvent>,
    /// Held from the start of an event-writing transaction until its events
    /// are published, so publication order is commit order is id order.
    writer: Mutex<()>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub async fn open(path: &Path) -> Result<Self> {
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit acknowledged to a client survives power loss,
            // not only a crash of hyped.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        sqlx::migrate!("../../migrations")
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                path: path.to_owned(),
                source,
            })?;
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        let (live_jobs, _) = broadcast::channel(LIVE_BUFFER);
        Ok(Self {
            pool,
            live,
            live_jobs,
            writer: Mutex::new(()),
        })
    }

    /// Events committed from now on, in id order. A receiver that lags gets
    /// `RecvError::Lagged` and should catch up with [`Store::events_after`].
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.live.subscribe()
    }

    /// Job events committed from now on, in id order (as [`Store::subscribe`]).
    pub fn subscribe_jobs(&self) -> broadcast::Receiver<JobEvent> {
        self.live_jobs.subscribe()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The writer lock and a write transaction begun `IMMEDIATE`. SQLite's
    /// write lock is taken at `BEGIN`, where its busy handler waits for it;
    /// a deferred transaction that reads first and then writes is refused at
    /// once (`database is locked`) if the lock is still held, as it is for a
    /// moment by a dropped transaction whose rollback has not run yet.
    async fn begin_write(
        &self,
        op: &'static str,
    ) -> Result<(MutexGuard<'_, ()>, Transaction<'static, Sqlite>)> {
        let w = self.writer.lock().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await.during(op)?;
        Ok((w, tx))
    }

    fn publish(&self, events: impl IntoIterator<Item = Event>) {
        for e in events {
            // No receivers is fine: nobody is watching.
            let _ = self.live.send(e);
        }
    }

    fn publish_jobs(&self, events: impl IntoIterator<Item = JobEvent>) {
        for e in events {
            let _ = self.live_jobs.send(e);
        }
    }
}

pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("UTC timestamps always format")
}
