//! Session recordings as users reach them: listed by VM name (a deleted
//! VM's too), read, their events, deleted; and the retention that deletes
//! them once they are older than hyped's setting. The recording itself is
//! made by the browser watch (`watch::record`).

use std::time::Duration;

use hype_store::RecordingRecord;
use hype_types::Recording;

use crate::watch::record::events_path;
use crate::{CoreError, Hype, Result};

/// How often retention looks for recordings past their time.
const RETENTION_TICK: Duration = Duration::from_secs(600);

impl Hype {
    fn recording_view(&self, r: RecordingRecord) -> Recording {
        let base = self.inner.cfg.public_url.trim_end_matches('/');
        Recording {
            replay_url: format!("{base}/recordings/{}", r.id),
            id: r.id,
            vm: r.vm_name,
            vm_id: r.vm_id,
            started_at: r.started_at,
            ended_at: r.ended_at,
            size_bytes: r.bytes,
            events: r.events,
            pages: r.pages,
            note: r.note,
        }
    }

    /// The recordings of VMs named `vm`, oldest first; a VM deleted since
    /// keeps its list. An unknown name with no recordings is a 404.
    pub async fn recordings_of(&self, vm: &str) -> Result<Vec<Recording>> {
        let rows = self.inner.store.recordings_of(vm).await?;
        if rows.is_empty() {
            // Distinguish "nothing recorded" from "no such VM".
            self.inner.store.get_vm(vm).await?;
        }
        Ok(rows.into_iter().map(|r| self.recording_view(r)).collect())
    }

    pub async fn recording(&self, id: &str) -> Result<Recording> {
        let r = self.inner.store.get_recording(id).await?;
        Ok(self.recording_view(r))
    }

    /// Recording `id`, if it is one of `vm`'s (a VM of that name, now or
    /// before): another VM's is not found here, as an unknown id.
    pub async fn recording_of(&self, vm: &str, id: &str) -> Result<Recording> {
        let r = self.recording(id).await?;
        if r.vm != vm {
            return Err(CoreError::RecordingNotFound { id: id.into() });
        }
        Ok(r)
    }

    /// The recording's rrweb events as one JSON array, in the order they
    /// came (each line of its file is one event hyped wrote itself).
    pub async fn recording_events(&self, id: &str) -> Result<Vec<u8>> {
        let r = self.inner.store.get_recording(id).await?;
        let path = events_path(self, &r.id);
        let text = match tokio::fs::read(&path).await {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(CoreError::Io { path, source }),
        };
        let mut out = Vec::with_capacity(text.len() + 2);
        out.push(b'[');
        // A line cut short (hyped killed mid-write) is left out.
        for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            if serde_json::from_slice::<serde::de::IgnoredAny>(line).is_err() {
                continue;
            }
            if out.len() > 1 {
                out.push(b',');
            }
            out.extend_from_slice(line);
        }
        out.push(b']');
        Ok(out)
    }

    /// Deletes a recording: its row, then its file.
    pub async fn delete_recording(&self, id: &str) -> Result<()> {
        let r = self.inner.store.get_recording(id).await?;
        self.inner.store.delete_recording(&r.id).await?;
        let path = events_path(self, &r.id);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(CoreError::Io { path, source }),
        }
    }

    /// At start: recordings a stopped hyped left open are ended; then
    /// retention runs now and every [`RETENTION_TICK`] until shutdown.
    pub(crate) async fn start_recordings(&self) -> Result<()> {
        let ended = self
            .inner
            .store
            .end_open_recordings(&hype_store::now())
            .await?;
        if ended > 0 {
            tracing::info!(ended, "recordings left open by the previous run ended");
        }
        let hype = self.clone();
        let shutdown = self.inner.shutdown.clone();
        self.inner.tracker.spawn(async move {
            loop {
                if let Err(e) = hype.expire_recordings().await {
                    tracing::warn!(error = %e, "recording retention failed");
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(RETENTION_TICK) => {}
                }
            }
        });
        Ok(())
    }

    async fn expire_recordings(&self) -> Result<()> {
        let keep = time::Duration::try_from(self.inner.cfg.recordings_retention)
            .unwrap_or(time::Duration::MAX);
        let Some(before) = time::OffsetDateTime::now_utc().checked_sub(keep) else {
            return Ok(());
        };
        let before = before
            .format(&time::format_description::well_known::Rfc3339)
            .expect("UTC timestamps always format");
        for id in self.inner.store.recordings_ended_before(&before).await? {
            self.delete_recording(&id).await?;
            tracing::info!(recording = %id, "recording deleted: past its retention");
        }
        Ok(())
    }
}
