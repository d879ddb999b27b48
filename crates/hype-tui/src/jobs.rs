//! Import jobs as the dashboard reads them from `GET /api/v1/jobs` and the
//! `JOB_*` events of `/api/v1/events/jobs`. Read leniently (every field but
//! the id may be missing) so a newer server never blanks the pane.

use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Progress {
    #[serde(default)]
    pub phase: Option<String>,
    #[serde(default)]
    pub bytes_done: Option<u64>,
    #[serde(default)]
    pub bytes_total: Option<u64>,
    #[serde(default)]
    pub files_done: Option<u64>,
    #[serde(default)]
    pub files_total: Option<u64>,
    /// 0 to 100.
    #[serde(default)]
    pub percent: Option<f64>,
    #[serde(default)]
    pub eta_seconds: Option<u64>,
}

/// A file an export-only job kept.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct KeptFile {
    #[serde(default)]
    pub size_bytes: u64,
}

/// Where an export-only job kept its files.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct JobResult {
    #[serde(default)]
    pub output: String,
    #[serde(default)]
    pub files: Vec<KeptFile>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Job {
    pub id: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub progress: Option<Progress>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
    #[serde(default)]
    pub finished_at: Option<String>,
    #[serde(default)]
    pub result: Option<JobResult>,
}

#[derive(Debug, Deserialize)]
pub struct JobList {
    pub jobs: Vec<Job>,
}

/// The `data:` of a job event.
#[derive(Debug, Deserialize)]
pub struct JobEvent {
    pub job: Job,
}

/// How long a finished job stays in the pane.
const LINGER_SECONDS: i64 = 30;

impl Job {
    pub fn is_active(&self) -> bool {
        matches!(self.state.as_str(), "pending" | "running")
    }

    /// Done so far, from 0 to 1, when it can be told.
    pub fn fraction(&self) -> Option<f64> {
        if self.state == "completed" {
            return Some(1.0);
        }
        let p = self.progress.as_ref()?;
        let f = match (p.percent, p.bytes_done, p.bytes_total) {
            (Some(pc), _, _) => pc / 100.0,
            (None, Some(d), Some(t)) if t > 0 => d as f64 / t as f64,
            _ => return None,
        };
        Some(f.clamp(0.0, 1.0))
    }

    /// Whether the pane shows it at `now`: while it runs, and a little
    /// while after it ended.
    pub fn shown(&self, now: OffsetDateTime) -> bool {
        if self.is_active() {
            return true;
        }
        let end = self.finished_at.as_deref().unwrap_or(&self.updated_at);
        OffsetDateTime::parse(end, &Rfc3339)
            .map(|t| (now - t).whole_seconds() < LINGER_SECONDS)
            .unwrap_or(false)
    }

    /// `downloading 1.0 MiB/2.0 GiB, eta 2m` and the like.
    pub fn detail(&self) -> String {
        if let (Some(e), "failed" | "cancelled") = (&self.error, self.state.as_str()) {
            return format!("{}: {e}", self.state);
        }
        if let (Some(r), "completed") = (&self.result, self.state.as_str()) {
            let total = r.files.iter().map(|f| f.size_bytes).sum();
            return format!(
                "completed: kept {} files, {}, in {}",
                r.files.len(),
                size(total),
                r.output
            );
        }
        let Some(p) = &self.progress else {
            return self.state.clone();
        };
        let mut s = p.phase.clone().unwrap_or_else(|| self.state.clone());
        match (p.bytes_done, p.bytes_total) {
            (Some(d), Some(t)) => s += &format!(" {}/{}", size(d), size(t)),
            (Some(d), None) => s += &format!(" {}", size(d)),
            _ => {}
        }
        if let (Some(d), Some(t)) = (p.files_done, p.files_total) {
            s += &format!(" file {d}/{t}");
        }
        if let (Some(eta), true) = (p.eta_seconds, self.is_active()) {
            s += &format!(" eta {}", crate::table::human_age(eta as i64));
        }
        s
    }
}

pub(crate) fn size(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The jobs the dashboard knows of, newest first.
#[derive(Debug, Default)]
pub struct JobBoard {
    /// `false` once the server said it has no jobs API (an older hyped).
    pub available: bool,
    pub jobs: Vec<Job>,
}

impl JobBoard {
    pub fn replace(&mut self, mut jobs: Vec<Job>) {
        self.available = true;
        jobs.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        self.jobs = jobs;
    }

    pub fn upsert(&mut self, job: Job) {
        self.available = true;
        match self.jobs.iter_mut().find(|j| j.id == job.id) {
            Some(j) => *j = job,
            None => {
                self.jobs.push(job);
                let jobs = std::mem::take(&mut self.jobs);
                self.replace(jobs);
            }
        }
    }

    /// What the pane shows: running ones first, then the recently ended.
    pub fn shown(&self, now: OffsetDateTime) -> Vec<&Job> {
        let mut out: Vec<&Job> = self.jobs.iter().filter(|j| j.shown(now)).collect();
        out.sort_by_key(|j| !j.is_active());
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A job exactly as the agreed wire shape has it.
    pub(crate) fn job_json(id: &str, image: &str, state: &str, done: u64) -> serde_json::Value {
        serde_json::json!({
            "id": id, "kind": "vsphere_export", "state": state, "image": image,
            "source": {"url": "https://vc.example/sdk", "username": "admin",
                       "vm": "/dc/vm/web01", "insecure": false},
            "progress": {"phase": "downloading", "bytes_done": done,
                         "bytes_total": 2147483648u64, "files_done": 0, "files_total": 2,
                         "percent": done as f64 * 100.0 / 2147483648.0, "eta_seconds": 123},
            "error": null,
            "created_at": "2026-11-22T01:00:00Z", "updated_at": "2026-11-22T01:00:03Z",
            "started_at": "2026-11-22T01:00:01Z", "finished_at": null
        })
    }

    pub(crate) fn job(id: &str, image: &str, state: &str, done: u64) -> Job {
        serde_json::from_value(job_json(id, image, state, done)).unwrap()
    }

    #[test]
    fn reads_the_agreed_shape_and_events() {
        let j = job("0193-a", "web01", "running", 1073741824);
        assert_eq!(j.fraction(), Some(0.5));
        assert_eq!(j.detail(), "downloading 1.0 GiB/2.0 GiB file 0/2 eta 2m");
        let ev: JobEvent = serde_json::from_value(serde_json::json!({
            "id": 42, "type": "JOB_PROGRESS", "job": job_json("0193-a", "web01", "running", 0),
            "at": "2026-11-22T01:00:03Z"
        }))
        .unwrap();
        assert_eq!(ev.job.id, "0193-a");
        let sparse: Job = serde_json::from_value(serde_json::json!({"id": "x"})).unwrap();
        assert_eq!((sparse.fraction(), sparse.detail()), (None, String::new()));
    }

    #[test]
    fn failed_jobs_say_why_and_linger_briefly() {
        let mut j = job("0193-b", "db01", "failed", 10);
        j.error = Some("login refused".into());
        j.finished_at = Some("2026-11-22T01:00:10Z".into());
        assert_eq!(j.detail(), "failed: login refused");
        let at = |s| OffsetDateTime::parse(s, &Rfc3339).unwrap();
        assert!(j.shown(at("2026-11-22T01:00:20Z")));
        assert!(!j.shown(at("2026-11-22T01:01:00Z")));
    }

    #[test]
    fn an_export_says_what_it_kept_and_where() {
        let j: Job = serde_json::from_value(serde_json::json!({
            "id": "0193-c", "state": "completed",
            "result": {"output": "/srv/exports/web", "files": [
                {"name": "disk0.raw", "size_bytes": 3145728, "sha256": "aa"},
                {"name": "web.ovf", "size_bytes": 1024, "sha256": "bb"}]}
        }))
        .unwrap();
        assert_eq!(
            j.detail(),
            "completed: kept 2 files, 3.0 MiB, in /srv/exports/web"
        );
    }

    #[test]
    fn board_upserts_and_puts_running_first() {
        let mut b = JobBoard::default();
        let mut old = job("1", "old", "completed", 0);
        old.created_at = "2026-11-22T00:00:00Z".into();
        old.finished_at = Some("2026-11-22T01:00:04Z".into());
        b.replace(vec![old, job("2", "new", "running", 0)]);
        b.upsert(job("3", "newer", "pending", 0));
        b.upsert(job("2", "new", "running", 1024));
        let now = OffsetDateTime::parse("2026-11-22T01:00:05Z", &Rfc3339).unwrap();
        let shown: Vec<&str> = b.shown(now).iter().map(|j| j.id.as_str()).collect();
        assert_eq!(shown, ["3", "2", "1"]);
        assert_eq!(
            b.jobs
                .iter()
                .find(|j| j.id == "2")
                .unwrap()
                .progress
                .as_ref()
                .unwrap()
                .bytes_done,
            Some(1024)
        );
    }
}
