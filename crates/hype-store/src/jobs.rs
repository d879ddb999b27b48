//! The import-job repository and its event log. Jobs have their own small
//! lifecycle (`pending → running → completed | failed | cancelled`); the
//! schema holds it to that set. Every change of a job is written together
//! with its event (which carries the job as it now is) and published after
//! commit, in id order, as VM events are.

use hype_types::{
    Job, JobEvent, JobEventType, JobKind, JobProgress, JobResult, JobSource, JobState,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use crate::error::DbContext;
use crate::{now, Result, Store, StoreError};

fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        table: "jobs",
        what: what.into(),
    }
}

fn from_row(row: &SqliteRow) -> Result<Job> {
    let kind: String = row.get("kind");
    let state: String = row.get("state");
    let spec: String = row.get("spec");
    let progress: Option<String> = row.get("progress");
    let result: Option<String> = row.get("result");
    Ok(Job {
        id: row.get("id"),
        kind: JobKind::parse(&kind).ok_or_else(|| corrupt(format!("kind {kind:?}")))?,
        state: JobState::parse(&state).ok_or_else(|| corrupt(format!("state {state:?}")))?,
        image: row.get::<Option<String>, _>("image").unwrap_or_default(),
        source: serde_json::from_str::<JobSource>(&spec).map_err(|_| corrupt("spec"))?,
        progress: match progress {
            Some(p) => serde_json::from_str(&p).map_err(|_| corrupt("progress"))?,
            None => JobProgress::queued(),
        },
        error: row.get("error"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        started_at: row.get("started_at"),
        finished_at: row.get("finished_at"),
        result: match result {
            Some(r) => Some(serde_json::from_str(&r).map_err(|_| corrupt("result"))?),
            None => None,
        },
    })
}

async fn fetch(tx: &mut Transaction<'_, Sqlite>, id: &str) -> Result<Job> {
    let row = sqlx::query("SELECT * FROM jobs WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .during("read job")?;
    match row {
        Some(r) => from_row(&r),
        None => Err(StoreError::JobNotFound { id: id.into() }),
    }
}

async fn append(tx: &mut Transaction<'_, Sqlite>, ty: JobEventType, job: &Job) -> Result<JobEvent> {
    let at = now();
    let body = serde_json::to_string(job).expect("jobs serialize");
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO job_events (type, job, body, at) VALUES (?, ?, ?, ?) RETURNING id",
    )
    .bind(ty.as_str())
    .bind(&job.id)
    .bind(body)
    .bind(&at)
    .fetch_one(&mut **tx)
    .await
    .during("append job event")?;
    Ok(JobEvent {
        id,
        event_type: ty,
        job: job.clone(),
        at,
    })
}

fn event_from_row(row: &SqliteRow) -> Result<JobEvent> {
    let ty: String = row.get("type");
    let body: String = row.get("body");
    Ok(JobEvent {
        id: row.get("id"),
        event_type: JobEventType::parse(&ty).ok_or_else(|| corrupt(format!("event {ty:?}")))?,
        job: serde_json::from_str(&body).map_err(|_| corrupt("event body"))?,
        at: row.get("at"),
    })
}

/// A job to insert: id, kind, image name, source (no password).
pub struct NewJob {
    pub id: String,
    pub kind: JobKind,
    pub image: String,
    pub source: JobSource,
}

impl Store {
    /// Inserts every job of a batch, each with its `JOB_QUEUED`, or none.
    pub async fn insert_jobs(&self, jobs: &[NewJob]) -> Result<Vec<Job>> {
        let (_w, mut tx) = self.begin_write("begin insert jobs").await?;
        let mut events = vec![];
        let at = now();
        for j in jobs {
            sqlx::query(
                "INSERT INTO jobs (id, kind, state, spec, progress, image, created_at, updated_at) \
                 VALUES (?, ?, 'pending', ?, ?, ?, ?, ?)",
            )
            .bind(&j.id)
            .bind(j.kind.as_str())
            .bind(serde_json::to_string(&j.source).expect("sources serialize"))
            .bind(serde_json::to_string(&JobProgress::queued()).expect("progress serializes"))
            .bind(&j.image)
            .bind(&at)
            .bind(&at)
            .execute(&mut *tx)
            .await
            .during("insert job")?;
            let job = fetch(&mut tx, &j.id).await?;
            events.push(append(&mut tx, JobEventType::JobQueued, &job).await?);
        }
        tx.commit().await.during("commit insert jobs")?;
        let out = events.iter().map(|e| e.job.clone()).collect();
        self.publish_jobs(events);
        Ok(out)
    }

    pub async fn get_job(&self, id: &str) -> Result<Job> {
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

    /// Every job, newest first (for reconcile; lists for users are paged).
    pub async fn list_jobs(&self, state: Option<JobState>) -> Result<Vec<Job>> {
        self.list_jobs_page(state, None, u32::MAX).await
    }

    /// Up to `limit` jobs, newest first, older than the job `after`; only
    /// those in `state` when given.
    pub async fn list_jobs_page(
        &self,
        state: Option<JobState>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Job>> {
        let rows = sqlx::query(
            "SELECT * FROM jobs WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR \
             (created_at, id) < (SELECT created_at, id FROM jobs WHERE id = ?2)) \
             ORDER BY created_at DESC, id DESC LIMIT ?3",
        )
        .bind(state.map(|s| s.as_str()))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .during("list jobs")?;
        rows.iter().map(from_row).collect()
    }

    /// Moves a job to `to` if it is in one of `from`, with its event; `None`
    /// when it was elsewhere (someone else moved it first). A final state
    /// drops the job's progress events: only state changes are kept.
    /// `result` (what an export-only job kept) is written in the same
    /// transaction, so its `JOB_COMPLETED` event carries it.
    pub async fn set_job_state(
        &self,
        id: &str,
        from: &[JobState],
        to: JobState,
        error: Option<&str>,
        progress: Option<&JobProgress>,
        result: Option<&JobResult>,
    ) -> Result<Option<Job>> {
        let (_w, mut tx) = self.begin_write("begin job state").await?;
        let current = fetch(&mut tx, id).await?;
        if !from.contains(&current.state) {
            tx.rollback().await.during("end job state")?;
            return Ok(None);
        }
        let at = now();
        sqlx::query(
            "UPDATE jobs SET state = ?, error = coalesce(?, error), updated_at = ?, \
             progress = coalesce(?, progress), result = coalesce(?, result), \
             started_at = CASE WHEN ? = 'running' THEN ? ELSE started_at END, \
             finished_at = CASE WHEN ? THEN ? ELSE finished_at END \
             WHERE id = ?",
        )
        .bind(to.as_str())
        .bind(error)
        .bind(&at)
        .bind(progress.map(|p| serde_json::to_string(p).expect("progress serializes")))
        .bind(result.map(|r| serde_json::to_string(r).expect("results serialize")))
        .bind(to.as_str())
        .bind(&at)
        .bind(to.is_final())
        .bind(&at)
        .bind(id)
        .execute(&mut *tx)
        .await
        .during("update job state")?;
        if to.is_final() {
            sqlx::query("DELETE FROM job_events WHERE job = ? AND type = 'JOB_PROGRESS'")
                .bind(id)
                .execute(&mut *tx)
                .await
                .during("drop job progress events")?;
        }
        let job = fetch(&mut tx, id).await?;
        let ev = append(&mut tx, JobEventType::for_state(to), &job).await?;
        tx.commit().await.during("commit job state")?;
        self.publish_jobs([ev]);
        Ok(Some(job))
    }

    /// Records progress of a running job (with a `JOB_PROGRESS` event).
    pub async fn set_job_progress(&self, id: &str, progress: &JobProgress) -> Result<()> {
        self.running_job_event(id, progress, JobEventType::JobProgress)
            .await
    }

    /// Records that a running job took up where an interrupted run of it
    /// ended (`JOB_RESUMED`, kept when the job ends, unlike progress).
    pub async fn set_job_resumed(&self, id: &str, progress: &JobProgress) -> Result<()> {
        self.running_job_event(id, progress, JobEventType::JobResumed)
            .await
    }

    async fn running_job_event(
        &self,
        id: &str,
        progress: &JobProgress,
        ty: JobEventType,
    ) -> Result<()> {
        let (_w, mut tx) = self.begin_write("begin job progress").await?;
        let done = sqlx::query(
            "UPDATE jobs SET progress = ?, updated_at = ? WHERE id = ? AND state = 'running'",
        )
        .bind(serde_json::to_string(progress).expect("progress serializes"))
        .bind(now())
        .bind(id)
        .execute(&mut *tx)
        .await
        .during("update job progress")?;
        if done.rows_affected() == 0 {
            // Explicitly, before the writer lock goes: a dropped
            // transaction is rolled back later, and the next writer would
            // wait for SQLite's write lock until then.
            tx.rollback().await.during("end job progress")?;
            return Ok(());
        }
        let job = fetch(&mut tx, id).await?;
        let ev = append(&mut tx, ty, &job).await?;
        tx.commit().await.during("commit job progress")?;
        self.publish_jobs([ev]);
        Ok(())
    }

    /// Up to `limit` job events with an id above `after`, oldest first.
    pub async fn job_events_after(
        &self,
        after: i64,
        job: Option<&str>,
        limit: i64,
    ) -> Result<Vec<JobEvent>> {
        let rows = sqlx::query(
            "SELECT id, type, body, at FROM job_events \
             WHERE id > ?1 AND (?2 IS NULL OR job = ?2) ORDER BY id LIMIT ?3",
        )
        .bind(after)
        .bind(job)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .during("read job events")?;
        rows.iter().map(event_from_row).collect()
    }

    pub async fn last_job_event_id(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM job_events")
            .fetch_one(&self.pool)
            .await
            .during("read last job event id")
    }
}
