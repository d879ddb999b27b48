//! One job's run: wait for a worker slot, export into staging, convert,
//! hash, move into place and register; on any failure or cancellation,
//! remove what it made and record why. Stopped by hyped's shutdown, a job
//! that can resume keeps its staging and its state for the next start.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hype_store::ImageRecord;
use hype_types::{JobProgress, JobResult, JobResume, JobSpec, JobState, ResumedFile};
use tokio::sync::watch;

use super::convert;
use super::exporter::{ExportError, ExportProgress, Exporter};
use super::{imported_root, staging_root, Live};
use crate::Hype;

/// At most this often a job's progress is written (and streamed).
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

fn view(p: &ExportProgress, started: Instant, resumed: &Option<JobResume>) -> JobProgress {
    let percent = p
        .bytes_total
        .filter(|t| *t > 0)
        .map(|t| (p.bytes_done as f64 / t as f64 * 100.0).min(100.0));
    let secs = started.elapsed().as_secs_f64();
    let eta_seconds = match (p.bytes_total, p.bytes_done) {
        (Some(t), d) if d > 0 && secs > 0.5 && t >= d => {
            Some(((t - d) as f64 / (d as f64 / secs)).round() as u64)
        }
        _ => None,
    };
    JobProgress {
        phase: p.phase.into(),
        bytes_done: Some(p.bytes_done),
        bytes_total: p.bytes_total,
        files_done: Some(p.files_done),
        files_total: p.files_total,
        percent,
        eta_seconds,
        resumed: resumed.clone(),
    }
}

impl Hype {
    pub(super) async fn run_job(
        &self,
        id: String,
        spec: JobSpec,
        password: Option<String>,
        live: Live,
        resume: bool,
        _permit: tokio::sync::OwnedSemaphorePermit,
    ) {
        let id = id.as_str();
        let store = &self.inner.store;
        let first = ExportProgress {
            phase: "connecting",
            ..Default::default()
        };
        let started = Instant::now();
        match store
            .set_job_state(
                id,
                &[JobState::Pending],
                JobState::Running,
                None,
                Some(&view(&first, started, &None)),
                None,
            )
            .await
        {
            Ok(Some(_)) => {}
            // Cancelled while queued, or the store failed: nothing to run
            // (and nothing an earlier run kept to keep).
            Ok(None) => {
                self.remove_staging(id).await;
                return;
            }
            Err(e) => {
                tracing::error!(job = %id, error = %e, "cannot start job");
                return;
            }
        }
        tracing::info!(job = %id, kind = spec.kind().as_str(), "import job started");
        let staging = staging_root(&self.inner.cfg.data_dir).join(id);
        let resumed = if resume {
            let r = self.resume_point(&spec, &staging).await;
            let mut p = view(&first, started, &Some(r.clone()));
            p.bytes_done = Some(r.bytes_kept);
            if let Err(e) = store.set_job_resumed(id, &p).await {
                tracing::warn!(job = %id, error = %e, "cannot record the resume");
            }
            tracing::info!(job = %id, bytes_kept = r.bytes_kept, "import job resumed");
            Some(r)
        } else {
            None
        };
        let (tx, rx) = watch::channel(first);
        // Stopped between writes, never inside one: a store write cut short
        // could leave SQLite's write lock behind.
        let stop = tokio_util::sync::CancellationToken::new();
        let reporter = {
            let hype = self.clone();
            let id = id.to_owned();
            let mut rx = rx.clone();
            let stop = stop.clone();
            let resumed = resumed.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        changed = rx.changed() => if changed.is_err() { return },
                    }
                    let p = view(&rx.borrow_and_update(), started, &resumed);
                    if let Err(e) = hype.inner.store.set_job_progress(&id, &p).await {
                        tracing::warn!(job = %id, error = %e, "cannot record progress");
                    }
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(PROGRESS_EVERY) => {}
                    }
                }
            })
        };
        let out = self
            .pipeline(&spec, password, &staging, &tx, &live, resume)
            .await;
        stop.cancel();
        let _ = reporter.await;
        // Every job stopped by hyped's shutdown is taken up at the next
        // start (one whose password was in the job once it is given again).
        let stopping =
            matches!(out, Err(ExportError::Cancelled)) && !live.by_user.load(Ordering::SeqCst);
        if stopping {
            // Left as it is for the next start to take up.
            tracing::info!(job = %id, "hyped is stopping: the job stays for the next start");
            return;
        }
        self.remove_staging(id).await;
        let last = view(&rx.borrow(), started, &resumed);
        let (to, why, result) = match out {
            Ok(result) => (JobState::Completed, None, result),
            Err(ExportError::Cancelled) => {
                self.settle_interrupted(id, &live).await;
                return;
            }
            Err(ExportError::Failed(why)) => (JobState::Failed, Some(why), None),
        };
        if let Some(w) = &why {
            tracing::warn!(job = %id, reason = %w, "import job failed");
        } else {
            tracing::info!(job = %id, "import job completed");
        }
        let mut last = last;
        if to == JobState::Completed {
            last.phase = "done".into();
        }
        self.record_end(id, to, why.as_deref(), Some(&last), result.as_ref())
            .await;
    }

    /// Records a job's final state, retrying a few times: a job must not
    /// stay `running` because one write met a busy database.
    async fn record_end(
        &self,
        id: &str,
        to: JobState,
        why: Option<&str>,
        last: Option<&JobProgress>,
        result: Option<&JobResult>,
    ) {
        for attempt in 1..=5 {
            match self
                .inner
                .store
                .set_job_state(
                    id,
                    &[JobState::Pending, JobState::Running],
                    to,
                    why,
                    last,
                    result,
                )
                .await
            {
                Ok(_) => return,
                Err(e) => {
                    tracing::error!(job = %id, attempt, error = %e, "cannot record the job's end");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// A job stopped by its token: by a user (`cancelled`) or by shutdown
    /// (left for the next start).
    pub(super) async fn settle_interrupted(&self, id: &str, live: &Live) {
        let (to, why) = if live.by_user.load(Ordering::SeqCst) {
            // A resumed job cancelled before it ran again still has the
            // downloads its earlier run kept.
            self.remove_staging(id).await;
            (JobState::Cancelled, "cancelled by request")
        } else {
            // Stopped by hyped's shutdown before it ran: the next start.
            return;
        };
        self.record_end(id, to, Some(why), None, None).await;
    }

    /// What an interrupted run left that this one keeps: a vSphere job's
    /// downloads, each checked against its checkpoints (and cut to the last
    /// good one); any other kind starts over.
    async fn resume_point(&self, spec: &JobSpec, staging: &Path) -> JobResume {
        let mut files = vec![];
        if spec.kind() == hype_types::JobKind::VsphereExport {
            let dir = staging.join("export");
            let found = tokio::task::spawn_blocking(move || hype_vsphere::resume::kept(&dir)).await;
            match found {
                Ok(Ok(kept)) => {
                    files = kept
                        .into_iter()
                        .map(|(file, offset)| ResumedFile { file, offset })
                        .collect()
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot read the kept downloads; starting over")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the kept downloads; starting over")
                }
            }
        }
        JobResume {
            bytes_kept: files.iter().map(|f| f.offset).sum(),
            files,
        }
    }

    async fn pipeline(
        &self,
        spec: &JobSpec,
        password: Option<String>,
        staging: &Path,
        progress: &watch::Sender<ExportProgress>,
        live: &Live,
        resume: bool,
    ) -> Result<Option<JobResult>, ExportError> {
        let cancel = &live.cancel;
        let io = |what: &str, e: std::io::Error| ExportError::Failed(format!("{what}: {e}"));
        let export_dir = staging.join("export");
        let out_dir = staging.join("image");
        // A conversion an interrupted run left is done again.
        let _ = tokio::fs::remove_dir_all(&out_dir).await;
        for d in [&export_dir, &out_dir] {
            tokio::fs::create_dir_all(d)
                .await
                .map_err(|e| io(&d.display().to_string(), e))?;
        }
        let mut exporter = Exporter::new(spec.kind(), &spec.source(), password);
        if let Exporter::Vsphere(v) = &mut exporter {
            v.resume = resume;
            v.keep_on_stop = Some(self.inner.shutdown.clone());
            // Until the job is done with the downloads (converted, or the
            // export-only folder checked), a stop keeps them whole.
            v.keep_checkpoints = true;
        }
        let (etx, mut erx) = watch::channel(ExportProgress::default());
        let fwd = {
            let tx = progress.clone();
            tokio::spawn(async move {
                loop {
                    tx.send_replace(erx.borrow_and_update().clone());
                    if erx.changed().await.is_err() {
                        return;
                    }
                }
            })
        };
        let exported = exporter.export(&export_dir, etx, cancel.clone()).await;
        let _ = fwd.await;
        let exported = exported?;
        if let Some(out) = spec.export_output() {
            progress.send_modify(|p| p.phase = "verifying");
            if let Exporter::Xcpng(_) = exporter {
                // XAPI gives bare disks: hype describes them itself.
                let name = spec.image_name().expect("validated specs have a name");
                super::keep::describe(&export_dir, &name, &exported, cancel).await?;
            }
            // The download's checkpoints are not part of the export.
            let dir = export_dir.clone();
            tokio::task::spawn_blocking(move || hype_vsphere::resume::forget(&dir))
                .await
                .map_err(|e| io("checkpoints", std::io::Error::other(e)))?
                .map_err(|e| io("checkpoints", e))?;
            let files = super::keep::keep(&export_dir, Path::new(out), cancel).await?;
            return Ok(Some(JobResult {
                output: out.to_owned(),
                files,
            }));
        }
        // The job's choice, else the source's; a source that says nothing
        // (vSphere without config.firmware) is BIOS, as vSphere's default.
        let firmware = spec
            .source()
            .firmware
            .or(exported.firmware)
            .unwrap_or(hype_types::Firmware::Bios);
        let disks = exported.disks;
        let Some(boot) = disks.first() else {
            return Err(ExportError::Failed("the source has no disk".into()));
        };
        progress.send_modify(|p| p.phase = "converting");
        let mut files = vec![];
        for (i, d) in disks.iter().enumerate() {
            let name = format!("disk{i}.raw");
            convert::to_raw(
                &d.path,
                d.format,
                &out_dir.join(&name),
                d.capacity_bytes,
                cancel,
            )
            .await?;
            files.push(name);
        }
        progress.send_modify(|p| p.phase = "verifying");
        // The downloads are no longer needed; free their room before the
        // image is hashed. Kept until every disk is converted, so a stop
        // while converting keeps them all for the restart. An OVF folder's
        // disks are the operator's: never removed.
        for d in disks.iter().filter(|d| d.path.starts_with(&export_dir)) {
            let _ = tokio::fs::remove_file(&d.path).await;
        }
        let mut image_disks = vec![];
        for (d, file) in disks.iter().zip(&files) {
            image_disks.push(hype_types::ImageDisk {
                file: file.clone(),
                size_bytes: d.capacity_bytes,
                sha256: convert::sha256(&out_dir.join(file), cancel).await?,
                bus: super::devices::bus(&spec.source(), d.bus),
            });
        }
        let nic = super::devices::nic(&spec.source(), exported.nic.as_deref(), &image_disks);
        let sha = image_disks[0].sha256.clone();
        progress.send_modify(|p| p.phase = "registering");
        if cancel.is_cancelled() {
            return Err(ExportError::Cancelled);
        }
        let image = spec.image_name().expect("validated specs have a name");
        let root = imported_root(&self.inner.cfg.data_dir);
        tokio::fs::create_dir_all(&root)
            .await
            .map_err(|e| io(&root.display().to_string(), e))?;
        let dir = root.join(&image);
        if dir.exists() {
            return Err(ExportError::Failed(format!(
                "{} already exists; not overwriting it",
                dir.display()
            )));
        }
        tokio::fs::rename(&out_dir, &dir)
            .await
            .map_err(|e| io(&dir.display().to_string(), e))?;
        let record = ImageRecord {
            name: image.clone(),
            kind: "disk".into(),
            source: spec.kind().image_source().into(),
            dir: dir.display().to_string(),
            vmlinuz: None,
            vmlinux: None,
            initramfs: None,
            rootfs: None,
            kernel_version: None,
            size_bytes: boot.capacity_bytes,
            sha256: Some(sha),
            boot_mode: spec.boot().as_str().into(),
            disk: Some(files[0].clone()),
            format: Some("raw".into()),
            firmware: Some(firmware.as_str().into()),
            disks: image_disks,
            nic_model: Some(nic.as_str().into()),
            created_at: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .expect("UTC timestamps format"),
        };
        if let Err(e) = self.inner.store.insert_image(&record).await {
            let _ = tokio::fs::remove_dir_all(&dir).await;
            return Err(ExportError::Failed(format!(
                "cannot register image '{image}': {e}"
            )));
        }
        Ok(None)
    }
}
