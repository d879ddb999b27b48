//! Import jobs: accepted in batches (all stored or none), run by a bounded
//! pool of workers, each cancellable through its own token, progress
//! written to the store (which turns it into events). A job's files live in
//! `<data>/imports/<id>/` until it succeeds; an imported image lands in
//! `<data>/imported/<name>/`. Passwords stay in memory only, for as long
//! as their job is pending or running; so a job that hyped's stop or crash
//! interrupted goes on at the next start only if it needs no password or
//! uses hyped's own environment one (vSphere downloads continue after
//! their verified bytes, see `hype_vsphere::resume`).

mod convert;
mod devices;
mod exporter;
mod keep;
mod restart;
mod runner;
mod single;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use hype_store::NewJob;
use hype_types::{InvalidJob, Job, JobSpec, JobState};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::{CoreError, Hype, Result};

/// What the core keeps about jobs besides the store.
pub(crate) struct Jobs {
    /// Per live job: its token and whether a user asked to cancel it.
    live: Mutex<HashMap<String, Live>>,
    slots: Arc<Semaphore>,
    /// Jobs in submission order, to the dispatcher.
    queue: mpsc::UnboundedSender<Queued>,
    inbox: Mutex<Option<mpsc::UnboundedReceiver<Queued>>>,
}

struct Queued {
    id: String,
    spec: JobSpec,
    password: Option<String>,
    live: Live,
    /// The job ran before hyped restarted: take up what it left.
    resume: bool,
}

#[derive(Clone)]
struct Live {
    cancel: CancellationToken,
    by_user: Arc<std::sync::atomic::AtomicBool>,
}

impl Jobs {
    pub fn new(workers: usize) -> Self {
        let (queue, inbox) = mpsc::unbounded_channel();
        Self {
            live: Mutex::default(),
            slots: Arc::new(Semaphore::new(workers.max(1))),
            queue,
            inbox: Mutex::new(Some(inbox)),
        }
    }
}

pub(crate) fn staging_root(data: &std::path::Path) -> PathBuf {
    data.join("imports")
}

pub(crate) fn imported_root(data: &std::path::Path) -> PathBuf {
    data.join("imported")
}

/// Why hyped's environment password is not used for a job.
pub(crate) enum Refusal {
    /// There is none (400, as any job lacking a field).
    Missing(InvalidJob),
    /// The settings forbid it for this job (422).
    Refused(InvalidJob),
}

/// Job actions.
impl Hype {
    /// Validates and stores every job (or none), then queues them.
    pub async fn submit_jobs(&self, specs: Vec<JobSpec>) -> Result<Vec<Job>> {
        let batch = specs.len() > 1;
        let at = |i: usize, e: InvalidJob| if batch { e.at(i) } else { e };
        let active: HashSet<String> = self
            .inner
            .store
            .list_jobs(None)
            .await?
            .into_iter()
            .filter(|j| !j.state.is_final())
            .map(|j| j.image)
            .collect();
        let mut names = HashSet::new();
        let mut outputs = HashSet::new();
        let mut new = vec![];
        let mut secrets = vec![];
        for (i, spec) in specs.iter().enumerate() {
            spec.validate()
                .map_err(|e| CoreError::InvalidJob(at(i, e)))?;
            let image = spec.image_name().expect("validated specs have a name");
            if let Some(out) = spec.export_output() {
                // An export-only job makes no image: only its folder must be new.
                let real = self
                    .export_output(out)
                    .map_err(|e| CoreError::ImportRefused(at(i, e)))?;
                if !outputs.insert(real.clone()) {
                    return Err(CoreError::InvalidJob(at(
                        i,
                        InvalidJob::unprocessable(
                            "invalid_job",
                            format!("two jobs of the batch would both write {}", real.display()),
                        ),
                    )));
                }
                let mut spec = spec.clone();
                spec.set_export_output(real.display().to_string());
                let password = match spec.password() {
                    Some(p) => Some(p.to_owned()),
                    None => Some(self.env_password(&spec).map_err(|e| match e {
                        Refusal::Missing(e) => CoreError::InvalidJob(at(i, e)),
                        Refusal::Refused(e) => CoreError::ImportRefused(at(i, e)),
                    })?),
                };
                let id = uuid::Uuid::now_v7().to_string();
                let (kind, mut source) = (spec.kind(), spec.source());
                source.env_password = spec.password().is_none();
                secrets.push((id.clone(), spec, password));
                new.push(NewJob {
                    id,
                    kind,
                    image,
                    source,
                });
                continue;
            }
            if !names.insert(image.clone()) {
                return Err(CoreError::InvalidJob(at(
                    i,
                    InvalidJob::unprocessable(
                        "invalid_job",
                        format!("two jobs of the batch would both make image '{image}'"),
                    ),
                )));
            }
            if active.contains(&image) {
                return Err(CoreError::ImageExists {
                    name: image,
                    why: "another job is importing it",
                });
            }
            match self.inner.store.get_image(&image).await {
                Ok(_) => {
                    return Err(CoreError::ImageExists {
                        name: image,
                        why: "delete it first or give the job another `name`",
                    })
                }
                Err(hype_store::StoreError::ImageNotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            let mut spec = spec.clone();
            if let Some(p) = spec.xva() {
                let real = self
                    .file_source(p)
                    .map_err(|e| CoreError::ImportRefused(at(i, e)))?;
                spec.set_xva(real.display().to_string());
            }
            if let Some(p) = spec.ovf_path() {
                let real = self
                    .ovf_folder(p)
                    .map_err(|e| CoreError::ImportRefused(at(i, e)))?;
                spec.set_ovf_path(real.display().to_string());
            }
            let password = match (spec.needs_password(), spec.password()) {
                (false, _) => None,
                (true, Some(p)) => Some(p.to_owned()),
                (true, None) => Some(self.env_password(&spec).map_err(|e| match e {
                    Refusal::Missing(e) => CoreError::InvalidJob(at(i, e)),
                    Refusal::Refused(e) => CoreError::ImportRefused(at(i, e)),
                })?),
            };
            let id = uuid::Uuid::now_v7().to_string();
            let (kind, mut source) = (spec.kind(), spec.source());
            source.env_password = spec.needs_password() && spec.password().is_none();
            secrets.push((id.clone(), spec, password));
            new.push(NewJob {
                id,
                kind,
                image,
                source,
            });
        }
        let jobs = self.inner.store.insert_jobs(&new).await?;
        for (id, spec, password) in secrets {
            self.queue(id, spec, password, false);
        }
        Ok(jobs)
    }

    /// The canonical path of a file source, which must lie inside
    /// `--import-dir` once every symlink is followed: a job may otherwise
    /// have hyped (root) read any file of the host.
    fn file_source(&self, p: &str) -> std::result::Result<PathBuf, InvalidJob> {
        let refuse = |message: String| InvalidJob::unprocessable("file_source_refused", message);
        let Some(dir) = &self.inner.cfg.import_dir else {
            return Err(refuse(format!(
                "`xva`: file sources are off; start hyped with --import-dir DIR and put {p} in DIR"
            )));
        };
        let dir = std::fs::canonicalize(dir)
            .map_err(|e| refuse(format!("`xva`: --import-dir {}: {e}", dir.display())))?;
        let real = std::fs::canonicalize(p)
            .map_err(|e| refuse(format!("`xva`: {p} on hyped's host: {e}")))?;
        if !real.starts_with(&dir) {
            return Err(refuse(format!(
                "`xva`: {p} is not inside --import-dir {}",
                dir.display()
            )));
        }
        if !real.is_file() {
            return Err(refuse(format!("`xva`: {p} is not a regular file")));
        }
        Ok(real)
    }

    /// The canonical folder of an `ovf` job: a directory inside
    /// `--export-dir` or `--import-dir` once symlinks are followed, as hyped
    /// (root) reads it.
    fn ovf_folder(&self, p: &str) -> std::result::Result<PathBuf, InvalidJob> {
        let refuse = |message: String| InvalidJob::unprocessable("file_source_refused", message);
        let real = std::fs::canonicalize(p)
            .map_err(|e| refuse(format!("`path`: {p} on hyped's host: {e}")))?;
        let cfg = &self.inner.cfg;
        let inside = [&cfg.export_dir, &cfg.import_dir]
            .into_iter()
            .flatten()
            .filter_map(|d| std::fs::canonicalize(d).ok())
            .any(|d| real.starts_with(&d) && real != d);
        if !inside {
            return Err(refuse(format!(
                "`path`: {p} is not inside --export-dir or --import-dir"
            )));
        }
        if !real.is_dir() {
            return Err(refuse(format!("`path`: {p} is not a directory")));
        }
        Ok(real)
    }

    /// The directory an export-only job will create: its parent, once
    /// canonicalized, must lie inside `--export-dir`, and it must not exist
    /// (a job never writes into what it did not make).
    fn export_output(&self, p: &str) -> std::result::Result<PathBuf, InvalidJob> {
        let refuse = |message: String| InvalidJob::unprocessable("export_dir_refused", message);
        let Some(dir) = &self.inner.cfg.export_dir else {
            return Err(refuse(format!(
                "`output`: export-only jobs are off; start hyped with --export-dir DIR and put {p} in DIR"
            )));
        };
        let dir = std::fs::canonicalize(dir)
            .map_err(|e| refuse(format!("`output`: --export-dir {}: {e}", dir.display())))?;
        let path = std::path::Path::new(p);
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(refuse(format!("`output`: {p} names no directory")));
        };
        if name == ".." || name == "." {
            return Err(refuse(format!("`output`: {p} names no directory")));
        }
        let parent = std::fs::canonicalize(parent).map_err(|e| {
            refuse(format!(
                "`output`: {} on hyped's host: {e}",
                parent.display()
            ))
        })?;
        let real = parent.join(name);
        if !real.starts_with(&dir) || real == dir {
            return Err(refuse(format!(
                "`output`: {p} is not inside --export-dir {}",
                dir.display()
            )));
        }
        if std::fs::symlink_metadata(&real).is_ok() {
            return Err(refuse(format!(
                "`output`: {} already exists; give a new directory",
                real.display()
            )));
        }
        Ok(real)
    }

    /// hyped's own password for a job that carries none: only for a host
    /// the operator listed with `--import-allow-host`, and only over https,
    /// so a job cannot have it sent to a server of its choosing or in clear.
    fn env_password(&self, spec: &JobSpec) -> std::result::Result<String, Refusal> {
        self.env_password_for(spec.kind(), &spec.source().url.unwrap_or_default())
    }

    /// The same rule for anything that talks to a source (jobs, inventory).
    pub(crate) fn env_password_for(
        &self,
        kind: hype_types::JobKind,
        url: &str,
    ) -> std::result::Result<String, Refusal> {
        let var = kind.password_env();
        let password = std::env::var(var).map_err(|_| {
            Refusal::Missing(InvalidJob::unprocessable(
                "missing_password",
                format!(
                    "no password: put `password` in the job or set {var} in hyped's environment"
                ),
            ))
        })?;
        let parsed = url::Url::parse(url).ok();
        let host = parsed.as_ref().and_then(|u| u.host_str()).unwrap_or("");
        let https = parsed.as_ref().is_some_and(|u| u.scheme() == "https");
        let listed =
            self.inner.cfg.import_allow_hosts.iter().any(|h| {
                h.eq_ignore_ascii_case(host.trim_start_matches('[').trim_end_matches(']'))
            });
        if !https || !listed {
            let why = if !listed {
                format!("host {host:?} is not listed with --import-allow-host")
            } else {
                "the url is not https".into()
            };
            return Err(Refusal::Refused(InvalidJob::unprocessable(
                "env_password_refused",
                format!(
                    "{var} is not sent to this job's url: {why}; hyped sends it only over https to hosts given with --import-allow-host HOST (or put `password` in the job)"
                ),
            )));
        }
        Ok(password)
    }

    /// One page of jobs, newest first, only those in `state` when given.
    pub async fn list_jobs(
        &self,
        state: Option<JobState>,
        page: &hype_types::PageRequest,
    ) -> Result<hype_types::JobList> {
        let limit = page.limit().map_err(CoreError::InvalidRequest)?;
        let jobs = self
            .inner
            .store
            .list_jobs_page(state, page.after.as_deref(), limit)
            .await?;
        let next = crate::view::next_cursor(&jobs, limit, |j| j.id.clone());
        Ok(hype_types::JobList { jobs, next })
    }

    pub async fn get_job(&self, id: &str) -> Result<Job> {
        Ok(self.inner.store.get_job(id).await?)
    }

    /// Cancels a pending or running job; a running one stops its transfer,
    /// removes its files and then records `cancelled`.
    pub async fn cancel_job(&self, id: &str) -> Result<Job> {
        let job = self.inner.store.get_job(id).await?;
        if job.state.is_final() {
            return Err(CoreError::JobFinished {
                id: id.into(),
                state: job.state,
            });
        }
        let live = self
            .inner
            .jobs
            .live
            .lock()
            .expect("jobs lock")
            .get(id)
            .cloned();
        if let Some(l) = &live {
            l.by_user.store(true, std::sync::atomic::Ordering::SeqCst);
            l.cancel.cancel();
        }
        // A pending job is recorded at once; one waiting for its password
        // has its kept downloads removed with it.
        if let Some(j) = self
            .inner
            .store
            .set_job_state(
                id,
                &[JobState::Pending],
                JobState::Cancelled,
                Some("cancelled by request"),
                None,
                None,
            )
            .await?
        {
            if live.is_none() {
                self.remove_staging(id).await;
            }
            return Ok(j);
        }
        // A running one records `cancelled` once its files are gone.
        let mut events = self.inner.store.subscribe_jobs();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let j = self.inner.store.get_job(id).await?;
            if j.state.is_final() {
                return Ok(j);
            }
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Err(_) => return Ok(j),
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => return Ok(j),
                Ok(_) => continue,
            }
        }
    }

    /// Removes the job's staging directory; one already gone is fine.
    async fn remove_staging(&self, id: &str) {
        let staging = staging_root(&self.inner.cfg.data_dir).join(id);
        if let Err(e) = tokio::fs::remove_dir_all(&staging).await {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(job = %id, error = %e, "cannot remove staging directory");
            }
        }
    }

    fn queue(&self, id: String, spec: JobSpec, password: Option<String>, resume: bool) {
        let live = self.claim_live(&id).expect("a job is queued once");
        self.send_queued(id, spec, password, live, resume);
    }

    /// The job's cancel token, made unless the job already has one (it is
    /// queued or running).
    fn claim_live(&self, id: &str) -> Option<Live> {
        let mut map = self.inner.jobs.live.lock().expect("jobs lock");
        if map.contains_key(id) {
            return None;
        }
        let live = Live {
            cancel: self.inner.shutdown.child_token(),
            by_user: Arc::default(),
        };
        map.insert(id.to_owned(), live.clone());
        Some(live)
    }

    fn send_queued(
        &self,
        id: String,
        spec: JobSpec,
        password: Option<String>,
        live: Live,
        resume: bool,
    ) {
        let _ = self.inner.jobs.queue.send(Queued {
            id,
            spec,
            password,
            live,
            resume,
        });
    }

    /// Hands queued jobs a worker slot each, first come first served; a job
    /// cancelled while it waits is skipped.
    pub(crate) fn start_dispatcher(&self) {
        let Some(mut inbox) = self.inner.jobs.inbox.lock().expect("jobs lock").take() else {
            return;
        };
        let hype = self.clone();
        self.inner.tracker.spawn(async move {
            let shutdown = hype.inner.shutdown.clone();
            loop {
                let q = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    q = inbox.recv() => match q { Some(q) => q, None => break },
                };
                let slots = hype.inner.jobs.slots.clone();
                let permit = tokio::select! {
                    _ = q.live.cancel.cancelled() => None,
                    p = slots.acquire_owned() => Some(p.expect("the semaphore is never closed")),
                };
                let h = hype.clone();
                hype.inner.tracker.spawn(async move {
                    match permit {
                        Some(p) => {
                            h.run_job(q.id.clone(), q.spec, q.password, q.live, q.resume, p)
                                .await
                        }
                        None => h.settle_interrupted(&q.id, &q.live).await,
                    }
                    h.inner.jobs.live.lock().expect("jobs lock").remove(&q.id);
                });
            }
            // Jobs still queued stay pending; the next start takes them up
            // (or fails those whose password was in the job).
        });
    }
}
