//! The recorder of one recorded sandbox run: rrweb's record script in
//! every page (through the watch connection's page hooks), its batches of
//! DOM events appended to one NDJSON file under hyped's data directory,
//! the counts kept in the store.
//!
//! The page is hostile: a batch is a string it hands to a CDP binding,
//! which any script of the page may call with anything. A batch over
//! [`MAX_BATCH`] is dropped unread; one that is not a JSON array of
//! objects is dropped; each event is written back as hyped serialises
//! it (never the page's bytes), one a line, so the file stays valid
//! NDJSON. The whole recording stops, with a note, at its size limit.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use std::sync::Arc;

use hype_cdp::Connection;
use hype_store::{RecordingCounts, Store, VmRecord};
use serde_json::{json, Value};

use crate::Hype;

/// The CDP binding the record script sends its batches to.
pub(crate) const BINDING: &str = "__hypeRec";
/// The largest batch a page may send (a first snapshot of a large page
/// is the biggest); larger ones are dropped.
pub(crate) const MAX_BATCH: usize = 8 << 20;
/// How often the counts go to the store while recording.
const SYNC_EVERY: Duration = Duration::from_secs(2);

pub(crate) struct Recorder {
    store: Arc<Store>,
    /// The size limit of the whole recording.
    max: u64,
    pub id: String,
    /// Unbuffered: each batch is one write, readable at once by the events
    /// route.
    file: Option<std::fs::File>,
    counts: RecordingCounts,
    pages: HashSet<String>,
    note: Option<String>,
    synced: Instant,
    dirty: bool,
}

/// The file of recording `id` (an id hyped made, never a request's).
pub(crate) fn events_path(hype: &Hype, id: &str) -> PathBuf {
    hype.inner.cfg.recordings_dir().join(format!("{id}.ndjson"))
}

impl Recorder {
    /// Starts a recording of `vm`'s run: its row, its empty file. `None`
    /// (logged) when either cannot be made: the sandbox runs unrecorded.
    pub async fn start(hype: &Hype, vm: &VmRecord) -> Option<Self> {
        let id = format!("rec_{}", uuid::Uuid::now_v7().simple());
        let path = events_path(hype, &id);
        let file = match std::fs::OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(vm = %vm.name, path = %path.display(), error = %e, "cannot start a recording");
                return None;
            }
        };
        let at = hype_store::now();
        if let Err(e) = hype
            .inner
            .store
            .insert_recording(&id, &vm.name, &vm.id, &at)
            .await
        {
            tracing::warn!(vm = %vm.name, error = %e, "cannot start a recording");
            let _ = std::fs::remove_file(&path);
            return None;
        }
        tracing::info!(vm = %vm.name, recording = %id, "recording started");
        let max = hype.inner.cfg.recording_max_bytes;
        Some(Self::new(hype.inner.store.clone(), max, id, file))
    }

    fn new(store: Arc<Store>, max: u64, id: String, file: std::fs::File) -> Self {
        Self {
            store,
            max,
            id,
            file: Some(file),
            counts: RecordingCounts::default(),
            pages: HashSet::new(),
            note: None,
            synced: Instant::now(),
            dirty: false,
        }
    }

    /// Takes one `Runtime.bindingCalled` of page `target`.
    pub async fn take(&mut self, target: &str, params: &Value) {
        if params["name"] != BINDING {
            return;
        }
        let Some(payload) = params["payload"].as_str() else {
            return;
        };
        self.append(target, payload);
        if self.dirty && self.synced.elapsed() >= SYNC_EVERY {
            self.sync(None).await;
        }
    }

    fn append(&mut self, target: &str, payload: &str) {
        let max = self.max;
        let Some(file) = self.file.as_mut() else {
            return;
        };
        if payload.len() > MAX_BATCH {
            tracing::debug!(recording = %self.id, len = payload.len(), "recording batch over the limit dropped");
            return;
        }
        let Ok(Value::Array(events)) = serde_json::from_str::<Value>(payload) else {
            return;
        };
        let mut lines = String::new();
        let mut n = 0;
        for ev in events.iter().filter(|e| e.is_object()) {
            lines.push_str(&ev.to_string());
            lines.push('\n');
            n += 1;
        }
        if n == 0 {
            return;
        }
        if self.counts.bytes + lines.len() as u64 > max {
            self.note = Some(format!(
                "stopped at the size limit ({max} bytes, --recording-max-mb)"
            ));
            self.file = None;
            self.dirty = true;
            tracing::info!(recording = %self.id, "recording stopped at its size limit");
            return;
        }
        if let Err(e) = file.write_all(lines.as_bytes()) {
            self.note = Some(format!("stopped: cannot write its file: {e}"));
            self.file = None;
            self.dirty = true;
            return;
        }
        self.counts.bytes += lines.len() as u64;
        self.counts.events += n;
        self.pages.insert(target.to_owned());
        self.counts.pages = self.pages.len() as u64;
        self.dirty = true;
    }

    /// Writes the counts (and `ended_at`) to the store.
    async fn sync(&mut self, ended_at: Option<&str>) {
        self.synced = Instant::now();
        self.dirty = false;
        if let Err(e) = self
            .store
            .update_recording(&self.id, self.counts, self.note.as_deref(), ended_at)
            .await
        {
            tracing::warn!(recording = %self.id, error = %e, "cannot update a recording");
        }
    }

    /// Ends the recording: the file closed, its end in the store.
    pub async fn finish(mut self) {
        let at = hype_store::now();
        self.sync(Some(&at)).await;
        self.file = None;
        tracing::info!(recording = %self.id, events = self.counts.events, bytes = self.counts.bytes, "recording ended");
    }
}

/// What a recorded page gets before it runs: the binding, then the record
/// script for every document it will load and the one it has now (the
/// script runs once per document: it marks itself).
pub(crate) async fn page_hooks(
    conn: &Connection,
    session: &str,
    script: &str,
) -> Vec<hype_cdp::Pending> {
    super::session::send_all(
        conn,
        session,
        [
            // Scripts for new documents run only with the Page domain on.
            ("Page.enable", json!({})),
            ("Runtime.addBinding", json!({"name": BINDING})),
            (
                "Page.addScriptToEvaluateOnNewDocument",
                json!({"source": script, "runImmediately": true}),
            ),
            ("Runtime.evaluate", json!({"expression": script})),
        ],
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hostile_batches_are_dropped_and_the_size_limit_stops_the_recording() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("t.db")).await.unwrap());
        let at = hype_store::now();
        store
            .insert_recording("rec_t", "s1", "vm-1", &at)
            .await
            .unwrap();
        let path = dir.path().join("rec_t.ndjson");
        let file = std::fs::File::create(&path).unwrap();
        let mut r = Recorder::new(store.clone(), 200, "rec_t".into(), file);
        let call = |payload: &str| json!({"name": BINDING, "payload": payload});
        // Not ours, not a string, not JSON, not an array, no objects in it.
        r.take("p1", &json!({"name": "other", "payload": "[{\"type\":4}]"}))
            .await;
        r.take("p1", &json!({"name": BINDING, "payload": 1})).await;
        for bad in ["{", "{\"type\":4}", "[1,\"x\",null]"] {
            r.take("p1", &call(bad)).await;
        }
        r.take("p1", &call(&format!("[{}]", " ".repeat(MAX_BATCH))))
            .await;
        assert_eq!(r.counts, RecordingCounts::default());
        // Good events are rewritten by hyped, one a line.
        r.take(
            "p1",
            &call(r#"[{"type":4, "timestamp":1}, 7, {"type":2,"timestamp":2}]"#),
        )
        .await;
        r.take("p2", &call(r#"[{"type":3,"timestamp":3}]"#)).await;
        assert_eq!((r.counts.events, r.counts.pages), (3, 2));
        // Over the limit: the batch is not written, the recording stops.
        r.take(
            "p1",
            &call(&format!(r#"[{{"type":3,"data":"{}"}}]"#, "x".repeat(200))),
        )
        .await;
        r.take("p1", &call(r#"[{"type":3,"timestamp":9}]"#)).await;
        let written = r.counts;
        r.finish().await;
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], json!({"type":4,"timestamp":1}));
        assert_eq!(text.len() as u64, written.bytes);
        let row = store.get_recording("rec_t").await.unwrap();
        assert_eq!((row.events, row.pages, row.bytes), (3, 2, written.bytes));
        assert!(row.note.unwrap().contains("size limit"));
        assert!(row.ended_at.is_some());
    }
}
