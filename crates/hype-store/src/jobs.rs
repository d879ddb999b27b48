//! The import-job repository. Jobs have their own small lifecycle
//! (`pending → running → completed | failed | cancelled`); the schema holds
//! it to that set.

use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::error::DbContext;
use crate::{now, Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    pub id: String,
    pub kind: String,
    pub state: String,
    /// The job's spec as JSON, credentials already removed.
    pub spec: serde_json::Value,
    pub progress: Option<serde_json::Value>,
    pub error: Option<String>,
    pub image: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn from_row(row: &SqliteRow) -> Result<JobRecord> {
    let spec: String = row.get("spec");
    let progress: Option<String> = row.get("progress");
    let corrupt = |what: &str| StoreError::Corrupt {
        table: "jobs",
        what: what.into(),
    };
    Ok(JobRecord {
        id: row.get("id"),
        kind: row.get("kind"),
        state: row.get("state"),
        spec: serde_json::from_str(&spec).map_err(|_| corrupt("spec"))?,
        progress: progress
            .map(|p| serde_json::from_str(&p))
            .transpose()
            .map_err(|_| corrupt("progress"))?,
        error: row.get("error"),
        image: row.get("image"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    })
}

impl Store {
    pub async fn insert_job(&self, id: &str, kind: &str, spec: &serde_json::Value) -> Result<()> {
        let at = now();
        sqlx::query(
            "INSERT INTO jobs (id, kind, state, spec, created_at, updated_at) \
             VALUES (?, ?, 'pending', ?, ?, ?)",
        )
        .bind(id)
        .bind(kind)
        .bind(spec.to_string())
        .bind(&at)
        .bind(&at)
        .execute(&self.pool)
        .await
        .during("insert job")?;
        Ok(())
    }

    pub async fn get_job(&self, id: &str) -> Result<JobRecord> {
        let row = sqlx::query("SELECT * FROM jobs WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .during("read job")?;
        match row {
            Some(r) => from_row(&r),
            None => Err(StoreError::JobNotFound { id: id.into() }),
        }
    }

    pub async fn list_jobs(&self) -> Result<Vec<JobRecord>> {
        let rows = sqlx::query("SELECT * FROM jobs ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await
            .during("list jobs")?;
        rows.iter().map(from_row).collect()
    }

    /// Moves a job to `state` if it is in one of `from`; returns whether it did.
    pub async fn set_job_state(
        &self,
        id: &str,
        from: &[&str],
        state: &str,
        error: Option<&str>,
    ) -> Result<bool> {
        let placeholders = vec!["?"; from.len()].join(", ");
        let sql = format!(
            "UPDATE jobs SET state = ?, error = coalesce(?, error), updated_at = ? \
             WHERE id = ? AND state IN ({placeholders})"
        );
        let mut q = sqlx::query(&sql)
            .bind(state)
            .bind(error)
            .bind(now())
            .bind(id);
        for f in from {
            q = q.bind(*f);
        }
        let done = q.execute(&self.pool).await.during("update job")?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn set_job_progress(&self, id: &str, progress: &serde_json::Value) -> Result<()> {
        sqlx::query("UPDATE jobs SET progress = ?, updated_at = ? WHERE id = ?")
            .bind(progress.to_string())
            .bind(now())
            .bind(id)
            .execute(&self.pool)
            .await
            .during("update job progress")?;
        Ok(())
    }
}
