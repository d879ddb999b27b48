//! Snapshots for forks.

use hype_types::VmmKind;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::error::{is_unique_violation, DbContext};
use crate::{Result, Store, StoreError};

/// A snapshot row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRecord {
    pub name: String,
    pub vm: String,
    pub image: String,
    pub cpu_cores: u32,
    pub memory_mb: u32,
    /// The source VM's kernel command line: a fork's devices are the
    /// source's own.
    pub kernel_cmdline: String,
    pub persist: bool,
    pub egress: bool,
    pub vmm_kind: VmmKind,
    pub vmm_version: Option<String>,
    /// The image as it was (its recorded digest), to notice it changed.
    pub image_sha256: Option<String>,
    pub size_bytes: u64,
    pub ephemeral: bool,
    pub created_at: String,
}

fn snapshot_row(r: &SqliteRow) -> Result<SnapshotRecord> {
    let kind: String = r.get("vmm_kind");
    Ok(SnapshotRecord {
        name: r.get("name"),
        vm: r.get("vm"),
        image: r.get("image"),
        cpu_cores: r.get::<i64, _>("cpu_cores") as u32,
        memory_mb: r.get::<i64, _>("memory_mb") as u32,
        kernel_cmdline: r.get("kernel_cmdline"),
        persist: r.get::<i64, _>("persist") != 0,
        egress: r.get::<i64, _>("egress") != 0,
        vmm_kind: VmmKind::parse(&kind).ok_or(StoreError::Corrupt {
            table: "snapshots",
            what: format!("vmm_kind {kind:?}"),
        })?,
        vmm_version: r.get("vmm_version"),
        image_sha256: r.get("image_sha256"),
        size_bytes: r.get::<i64, _>("size_bytes") as u64,
        ephemeral: r.get::<i64, _>("ephemeral") != 0,
        created_at: r.get("created_at"),
    })
}

impl Store {
    /// Records a complete snapshot (its files are in place).
    pub async fn insert_snapshot(&self, s: &SnapshotRecord) -> Result<()> {
        let done = sqlx::query(
            "INSERT INTO snapshots (name, vm, image, cpu_cores, memory_mb, kernel_cmdline, \
             persist, egress, vmm_kind, vmm_version, image_sha256, size_bytes, ephemeral, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&s.name)
        .bind(&s.vm)
        .bind(&s.image)
        .bind(i64::from(s.cpu_cores))
        .bind(i64::from(s.memory_mb))
        .bind(&s.kernel_cmdline)
        .bind(s.persist as i64)
        .bind(s.egress as i64)
        .bind(s.vmm_kind.as_str())
        .bind(&s.vmm_version)
        .bind(&s.image_sha256)
        .bind(s.size_bytes as i64)
        .bind(s.ephemeral as i64)
        .bind(&s.created_at)
        .execute(&self.pool)
        .await;
        match done {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::SnapshotExists {
                name: s.name.clone(),
            }),
            Err(source) => Err(StoreError::Db {
                op: "insert snapshot",
                source,
            }),
        }
    }

    pub async fn get_snapshot(&self, name: &str) -> Result<SnapshotRecord> {
        let row = sqlx::query("SELECT * FROM snapshots WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .during("read snapshot")?;
        match row {
            Some(r) => snapshot_row(&r),
            None => Err(StoreError::SnapshotNotFound { name: name.into() }),
        }
    }

    pub async fn list_snapshots(&self) -> Result<Vec<SnapshotRecord>> {
        let rows = sqlx::query("SELECT * FROM snapshots ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .during("list snapshots")?;
        rows.iter().map(snapshot_row).collect()
    }

    /// The VMs forked from `snapshot` that exist.
    pub async fn forks_of(&self, snapshot: &str) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT name FROM vms WHERE snapshot = ? ORDER BY name")
            .bind(snapshot)
            .fetch_all(&self.pool)
            .await
            .during("list forks")
    }

    /// Removes a snapshot's row unless a VM still comes from it; returns
    /// those VMs instead (nothing removed) when some do.
    pub async fn delete_snapshot(&self, name: &str) -> Result<Vec<String>> {
        let (_w, mut tx) = self.begin_write("begin delete snapshot").await?;
        let forks: Vec<String> =
            sqlx::query_scalar("SELECT name FROM vms WHERE snapshot = ? ORDER BY name")
                .bind(name)
                .fetch_all(&mut *tx)
                .await
                .during("list forks")?;
        if !forks.is_empty() {
            return Ok(forks);
        }
        let done = sqlx::query("DELETE FROM snapshots WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await
            .during("delete snapshot")?;
        if done.rows_affected() == 0 {
            return Err(StoreError::SnapshotNotFound { name: name.into() });
        }
        tx.commit().await.during("commit delete snapshot")?;
        Ok(vec![])
    }
}
