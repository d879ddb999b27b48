//! Session recordings' metadata: one row per recording, kept apart from
//! its VM's row (no foreign key) so that it outlives the VM. The events
//! live in a file the core owns; the store knows only their counts.

use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::error::DbContext;
use crate::{Result, Store, StoreError};

/// A recording as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingRecord {
    pub id: String,
    pub vm_name: String,
    pub vm_id: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub bytes: u64,
    pub events: u64,
    pub pages: u64,
    pub note: Option<String>,
}

/// A recording's counts so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordingCounts {
    pub bytes: u64,
    pub events: u64,
    pub pages: u64,
}

const COLUMNS: &str = "id, vm_name, vm_id, started_at, ended_at, bytes, events, pages, note";

fn from_row(r: &SqliteRow) -> RecordingRecord {
    let n = |c: &str| u64::try_from(r.get::<i64, _>(c)).unwrap_or(0);
    RecordingRecord {
        id: r.get("id"),
        vm_name: r.get("vm_name"),
        vm_id: r.get("vm_id"),
        started_at: r.get("started_at"),
        ended_at: r.get("ended_at"),
        bytes: n("bytes"),
        events: n("events"),
        pages: n("pages"),
        note: r.get("note"),
    }
}

fn i(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Records that recording `id` of VM `vm_name` (`vm_id`) began at `at`.
    pub async fn insert_recording(
        &self,
        id: &str,
        vm_name: &str,
        vm_id: &str,
        at: &str,
    ) -> Result<()> {
        sqlx::query("INSERT INTO recordings (id, vm_name, vm_id, started_at) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(vm_name)
            .bind(vm_id)
            .bind(at)
            .execute(&self.pool)
            .await
            .during("insert recording")?;
        Ok(())
    }

    /// Sets a recording's counts, its note, and (once it is over) its end.
    pub async fn update_recording(
        &self,
        id: &str,
        c: RecordingCounts,
        note: Option<&str>,
        ended_at: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE recordings SET bytes = ?, events = ?, pages = ?, note = COALESCE(?, note),
             ended_at = COALESCE(?, ended_at) WHERE id = ?",
        )
        .bind(i(c.bytes))
        .bind(i(c.events))
        .bind(i(c.pages))
        .bind(note)
        .bind(ended_at)
        .bind(id)
        .execute(&self.pool)
        .await
        .during("update recording")?;
        Ok(())
    }

    /// Ends every recording left open by a hyped that stopped without
    /// ending them (a crash): they end at `at`, with a note saying so.
    pub async fn end_open_recordings(&self, at: &str) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE recordings SET ended_at = ?,
             note = COALESCE(note, 'hyped stopped while it recorded') WHERE ended_at IS NULL",
        )
        .bind(at)
        .execute(&self.pool)
        .await
        .during("end open recordings")?;
        Ok(done.rows_affected())
    }

    /// The recordings of VMs named `vm_name` (those deleted too), oldest
    /// first.
    pub async fn recordings_of(&self, vm_name: &str) -> Result<Vec<RecordingRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM recordings WHERE vm_name = ? ORDER BY started_at, id"
        ))
        .bind(vm_name)
        .fetch_all(&self.pool)
        .await
        .during("list recordings")?;
        Ok(rows.iter().map(from_row).collect())
    }

    pub async fn get_recording(&self, id: &str) -> Result<RecordingRecord> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM recordings WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .during("read recording")?
            .map(|r| from_row(&r))
            .ok_or_else(|| StoreError::RecordingNotFound { id: id.into() })
    }

    pub async fn delete_recording(&self, id: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM recordings WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await
            .during("delete recording")?;
        if done.rows_affected() == 0 {
            return Err(StoreError::RecordingNotFound { id: id.into() });
        }
        Ok(())
    }

    /// Recordings that ended before `before` (RFC 3339), for retention.
    pub async fn recordings_ended_before(&self, before: &str) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT id FROM recordings WHERE ended_at IS NOT NULL AND ended_at < ?")
            .bind(before)
            .fetch_all(&self.pool)
            .await
            .during("list expired recordings")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_recording_is_kept_counted_ended_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        store
            .insert_recording("rec_1", "s1", "vm-1", "2026-01-01T00:00:00Z")
            .await
            .unwrap();
        let c = RecordingCounts {
            bytes: 10,
            events: 2,
            pages: 1,
        };
        store
            .update_recording("rec_1", c, None, None)
            .await
            .unwrap();
        let r = store.get_recording("rec_1").await.unwrap();
        assert_eq!((r.bytes, r.events, r.pages, r.ended_at), (10, 2, 1, None));
        assert_eq!(
            store
                .recordings_ended_before("2027-01-01T00:00:00Z")
                .await
                .unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            store
                .end_open_recordings("2026-01-01T00:01:00Z")
                .await
                .unwrap(),
            1
        );
        let r = store.get_recording("rec_1").await.unwrap();
        assert_eq!(r.ended_at.as_deref(), Some("2026-01-01T00:01:00Z"));
        assert_eq!(r.note.as_deref(), Some("hyped stopped while it recorded"));
        assert_eq!(store.recordings_of("s1").await.unwrap(), vec![r]);
        assert_eq!(
            store
                .recordings_ended_before("2026-01-01T00:02:00Z")
                .await
                .unwrap(),
            vec!["rec_1".to_string()]
        );
        store.delete_recording("rec_1").await.unwrap();
        assert!(matches!(
            store.get_recording("rec_1").await,
            Err(StoreError::RecordingNotFound { .. })
        ));
        assert!(matches!(
            store.delete_recording("rec_1").await,
            Err(StoreError::RecordingNotFound { .. })
        ));
    }
}
