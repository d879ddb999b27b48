//! Jobs across restarts: at start, a job a previous run left `pending`
//! or `running` is queued again when it can get its password back (none
//! needed, or hyped's own), waits for it when it was given in the job
//! (`POST /api/v1/jobs/{id}/resume`), or fails saying why; what no job
//! keeps is removed. Passwords are never stored.

use std::collections::HashSet;

use hype_types::{Job, JobSpec, JobState};

use super::{imported_root, staging_root, Refusal};
use crate::{CoreError, Hype, Result};

/// What a restart does with a job it found `pending` or `running`.
enum Recovered {
    /// Queued again, with its password (none, or hyped's own).
    Runs(JobSpec, Option<String>),
    /// Its password was in the job: it waits for it to be given again.
    AwaitsPassword(JobSpec),
    /// It cannot go on, for this reason.
    Fails(String),
}

impl Hype {
    /// What becomes of a job a restart interrupted.
    fn recover(&self, j: &Job) -> Recovered {
        let Some(spec) = JobSpec::from_stored(j.kind, &j.image, &j.source) else {
            return Recovered::Fails(format!(
                "hyped restarted while the job was {}; its stored source is incomplete; submit it again",
                j.state
            ));
        };
        if !spec.needs_password() {
            return Recovered::Runs(spec, None);
        }
        if !j.source.env_password {
            return Recovered::AwaitsPassword(spec);
        }
        match self.env_password(&spec) {
            Ok(p) => Recovered::Runs(spec, Some(p)),
            Err(Refusal::Missing(e) | Refusal::Refused(e)) => Recovered::Fails(format!(
                "hyped restarted while the job was {} and cannot take it up: {}; submit it again",
                j.state, e.message
            )),
        }
    }

    /// `POST /api/v1/jobs/{id}/resume`: a job a restart left waiting for
    /// its password takes `password` (held in memory for the run, as a
    /// submitted job's) and is queued again, keeping what its staging
    /// directory holds.
    pub async fn resume_job(&self, id: &str, password: String) -> Result<Job> {
        let job = self.inner.store.get_job(id).await?;
        let not_awaiting = || CoreError::JobNotAwaiting {
            id: id.into(),
            state: job.state,
        };
        if job.state != JobState::Pending || job.progress.phase != hype_types::AWAITING_PASSWORD {
            return Err(not_awaiting());
        }
        if password.is_empty() {
            return Err(CoreError::InvalidRequest("password: empty".into()));
        }
        let spec = JobSpec::from_stored(job.kind, &job.image, &job.source)
            .filter(JobSpec::needs_password)
            .ok_or_else(not_awaiting)?;
        // Two resumes at once: the first queues it, the second is refused.
        let Some(live) = self.claim_live(id) else {
            return Err(not_awaiting());
        };
        // Queued again (`JOB_QUEUED`), in the phase every queued job has.
        let queued = self
            .inner
            .store
            .set_job_state(
                id,
                &[JobState::Pending],
                JobState::Pending,
                None,
                Some(&hype_types::JobProgress::queued()),
                None,
            )
            .await;
        let job = match queued {
            Ok(Some(job)) => job,
            // Cancelled meanwhile.
            Ok(None) => {
                self.inner.jobs.live.lock().expect("jobs lock").remove(id);
                return Err(not_awaiting());
            }
            Err(e) => {
                self.inner.jobs.live.lock().expect("jobs lock").remove(id);
                return Err(e.into());
            }
        };
        tracing::info!(job = %id, "import job resumed with its password");
        self.send_queued(id.to_owned(), spec, Some(password), live, true);
        Ok(job)
    }

    /// A job whose password was in the job waits for it: `pending`, in
    /// the [`hype_types::AWAITING_PASSWORD`] phase, not queued.
    async fn await_password(&self, j: &Job) -> Result<()> {
        self.inner
            .store
            .set_job_state(
                &j.id,
                &[JobState::Pending, JobState::Running],
                JobState::Pending,
                None,
                Some(&hype_types::JobProgress::awaiting_password()),
                None,
            )
            .await?;
        tracing::info!(job = %j.id, "interrupted import job waits for its password");
        Ok(())
    }

    /// At start: a job left `pending` or `running` by a previous run goes
    /// on if it can get its password back (none needed, or hyped's own
    /// environment one still allowed for its host): queued again, a
    /// vSphere job keeping its staging directory to continue its downloads.
    /// One whose password was in the job waits for it, keeping its staging
    /// directory too (`resume_job`). Any other such job fails saying why,
    /// and no other partial file survives.
    pub(crate) async fn reconcile_jobs(&self) -> Result<()> {
        // Runs once per start: the moment `status` counts uptime from.
        crate::status::mark_started();
        let store = &self.inner.store;
        let mut kept = HashSet::new();
        // Oldest first, so they queue again in submission order.
        let mut left: Vec<Job> = store
            .list_jobs(None)
            .await?
            .into_iter()
            .filter(|j| !j.state.is_final())
            .collect();
        left.reverse();
        for j in left {
            let was = j.state;
            let (spec, password) = match self.recover(&j) {
                Recovered::Runs(spec, password) => (spec, password),
                Recovered::AwaitsPassword(spec) => {
                    self.await_password(&j).await?;
                    if spec.kind() == hype_types::JobKind::VsphereExport {
                        kept.insert(j.id.clone());
                    }
                    continue;
                }
                Recovered::Fails(why) => {
                    store
                        .set_job_state(
                            &j.id,
                            &[JobState::Pending, JobState::Running],
                            JobState::Failed,
                            Some(&why),
                            None,
                            None,
                        )
                        .await?;
                    tracing::warn!(job = %j.id, "interrupted import job marked failed");
                    continue;
                }
            };
            if was == JobState::Running {
                store
                    .set_job_state(
                        &j.id,
                        &[JobState::Running],
                        JobState::Pending,
                        None,
                        Some(&hype_types::JobProgress::queued()),
                        None,
                    )
                    .await?;
            }
            if spec.kind() == hype_types::JobKind::VsphereExport {
                kept.insert(j.id.clone());
            }
            tracing::info!(job = %j.id, was = %was, "interrupted import job queued again");
            self.queue(j.id, spec, password, was == JobState::Running);
        }
        let data = &self.inner.cfg.data_dir;
        if let Ok(entries) = std::fs::read_dir(staging_root(data)) {
            for e in entries.flatten() {
                if !kept.contains(&*e.file_name().to_string_lossy()) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        // An image directory without its row is a crash between the two.
        let known: HashSet<String> = store
            .list_images()
            .await?
            .into_iter()
            .map(|i| i.dir)
            .collect();
        if let Ok(entries) = std::fs::read_dir(imported_root(data)) {
            for e in entries.flatten() {
                if !known.contains(&e.path().display().to_string()) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        Ok(())
    }
}
