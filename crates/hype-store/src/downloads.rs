//! What browser sandboxes downloaded: one row per file, recorded with its
//! `DOWNLOAD_COMPLETED` event in one transaction.

use hype_types::{Download, Event, EventType, VmState};
use sqlx::Row;

use crate::error::DbContext;
use crate::events::insert;
use crate::{Result, Store, StoreError};

/// Most downloads recorded per VM; later ones still land in the guest but
/// are not listed (a page can download without end).
pub const MAX_DOWNLOADS_PER_VM: i64 = 1000;

impl Store {
    /// Records a finished download of the VM with id `vm_id` (a file of the
    /// same name replaces the row) and its event. `None` when the VM is
    /// gone or has reached [`MAX_DOWNLOADS_PER_VM`].
    pub async fn record_download(&self, vm_id: &str, d: &Download) -> Result<Option<Event>> {
        let (_w, mut tx) = self.begin_write("begin download").await?;
        let vm: Option<(String, String)> =
            sqlx::query_as("SELECT name, state FROM vms WHERE id = ?")
                .bind(vm_id)
                .fetch_optional(&mut *tx)
                .await
                .during("read VM of download")?;
        let Some((name, state)) = vm else {
            return Ok(None);
        };
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM downloads WHERE vm_id = ?")
            .bind(vm_id)
            .fetch_one(&mut *tx)
            .await
            .during("count downloads")?;
        if count >= MAX_DOWNLOADS_PER_VM {
            return Ok(None);
        }
        sqlx::query(
            "INSERT OR REPLACE INTO downloads (vm_id, name, size, sha256, url, page_url, finished_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(vm_id)
        .bind(&d.name)
        .bind(i64::try_from(d.size).unwrap_or(i64::MAX))
        .bind(&d.sha256)
        .bind(&d.url)
        .bind(&d.page_url)
        .bind(&d.finished_at)
        .execute(&mut *tx)
        .await
        .during("insert download")?;
        let state = VmState::parse(&state).ok_or(StoreError::Corrupt {
            table: "vms",
            what: format!("state {state:?}"),
        })?;
        let detail = serde_json::json!({
            "name": d.name, "size": d.size, "sha256": d.sha256, "url": d.url,
        });
        let event = insert(
            &mut tx,
            EventType::DownloadCompleted,
            &name,
            state,
            Some(detail.to_string()),
        )
        .await?;
        tx.commit().await.during("commit download")?;
        self.publish([event.clone()]);
        Ok(Some(event))
    }

    /// The VM's downloads, oldest first.
    pub async fn downloads_of(&self, vm: &str) -> Result<Vec<Download>> {
        let rec = self.get_vm(vm).await?;
        let rows = sqlx::query(
            "SELECT name, size, sha256, url, page_url, finished_at FROM downloads
             WHERE vm_id = ? ORDER BY finished_at, name",
        )
        .bind(&rec.id)
        .fetch_all(&self.pool)
        .await
        .during("list downloads")?;
        Ok(rows
            .iter()
            .map(|r| Download {
                name: r.get("name"),
                size: u64::try_from(r.get::<i64, _>("size")).unwrap_or(0),
                sha256: r.get("sha256"),
                url: r.get("url"),
                page_url: r.get("page_url"),
                finished_at: r.get("finished_at"),
            })
            .collect())
    }
}
