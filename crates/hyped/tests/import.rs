//! Import jobs end to end: a real hyped, the test XAPI server
//! (tests/xcpng/xapi_server.py) as the XCP-ng pool, real qemu-img, the job
//! event stream, and every answer checked against the OpenAPI document.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use common::Server;
use hype_client::SseStream;
use hype_types::{Job, JobEvent, JobEventType, JobState};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use common::xapi::{xapi, PASSWORD};

/// A disk with data every third MiB and zeros between.
fn make_disk(path: &Path, mib: u64) -> String {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::create(path).unwrap();
    f.set_len(mib << 20).unwrap();
    for i in (0..mib).step_by(3) {
        let data: Vec<u8> = (0..500_000u32).map(|j| (j ^ i as u32) as u8).collect();
        f.write_all_at(&data, (i << 20) + 512).unwrap();
    }
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn check_against_openapi(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let resp = &doc["paths"][path][method]["responses"][status.to_string()];
    assert!(resp.is_object(), "{method} {path} {status} is undocumented");
    let Some(schema) = resp["content"]["application/json"]["schema"].as_object() else {
        return;
    };
    let mut root = Value::Object(schema.clone());
    root["components"] = doc["components"].clone();
    let v = jsonschema::validator_for(&root).expect("schemas compile");
    let errors: Vec<String> = v.iter_errors(body).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: {errors:?}\n{body:#}"
    );
}

async fn call(s: &Server, method: &str, path: &str, ct: Option<&str>, body: &str) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
    let mut req = reqwest::Client::new().request(m, format!("{}{path}", s.base));
    if let Some(ct) = ct {
        req = req.header("content-type", ct).body(body.to_owned());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn openapi(s: &Server) -> Value {
    reqwest::get(format!("{}/api/v1/openapi.json", s.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn next_event(events: &mut SseStream, within: Duration) -> anyhow::Result<JobEvent> {
    let frame = tokio::time::timeout(within, events.next())
        .await
        .context("timed out waiting for a job event")?
        .context("the job event stream ended")??;
    let ev: JobEvent = serde_json::from_str(&frame.data)?;
    if std::env::var_os("HYPE_TEST_TRACE").is_some() {
        eprintln!(
            "event {} {} {:?} {:?}",
            ev.id,
            ev.event_type.as_str(),
            ev.job.progress.phase,
            ev.job.progress.bytes_done
        );
    }
    anyhow::ensure!(frame.event.as_deref() == Some(ev.event_type.as_str()));
    anyhow::ensure!(frame.id.as_deref() == Some(ev.id.to_string().as_str()));
    Ok(ev)
}

/// Follows `id`'s events until it ends; returns all of them.
async fn until_final(events: &mut SseStream, id: &str) -> anyhow::Result<Vec<JobEvent>> {
    Ok(until_all_final(events, &[id]).await?.remove(0))
}

/// Follows the events of every job of `ids` until all have ended.
async fn until_all_final(
    events: &mut SseStream,
    ids: &[&str],
) -> anyhow::Result<Vec<Vec<JobEvent>>> {
    let mut seen: Vec<Vec<JobEvent>> = vec![vec![]; ids.len()];
    while !seen
        .iter()
        .all(|s| s.last().is_some_and(|e| e.job.state.is_final()))
    {
        let ev = next_event(events, Duration::from_secs(120)).await?;
        if let Some(i) = ids.iter().position(|id| *id == ev.job.id) {
            seen[i].push(ev);
        }
    }
    Ok(seen)
}

fn leftovers(s: &Server) -> Vec<PathBuf> {
    let mut out = vec![];
    for d in ["imports", "imported"] {
        if let Ok(rd) = std::fs::read_dir(s.data.join(d)) {
            out.extend(rd.flatten().map(|e| e.path()));
        }
    }
    out
}

fn job_body(url: &str, name: &str, extra: Value) -> Value {
    let mut b = json!({"kind": "xcpng_export", "name": name, "url": url, "username": "root",
        "password": PASSWORD, "vm": "Web 01"});
    b.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    b
}

#[tokio::test]
async fn xcpng_jobs_in_json_and_yaml_become_images() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let disk = tmp.path().join("web01.raw");
    let sha = make_disk(&disk, 24);
    let x = xapi(&disk, &["--redirect"])?;
    let s = Server::start()?;
    let doc = openapi(&s).await;
    let mut events = s.client.job_events(None, Some(0)).await?;

    let body = job_body(&x.url, "web-raw", json!({"boot": "firmware"}));
    let (st, answer) = call(
        &s,
        "post",
        "/api/v1/jobs",
        Some("application/json"),
        &body.to_string(),
    )
    .await;
    assert_eq!(st, 202, "{answer}");
    check_against_openapi(&doc, "post", "/api/v1/jobs", 202, &answer);
    assert!(!answer.to_string().contains(PASSWORD));
    let raw: Job = serde_json::from_value(answer["jobs"][0].clone())?;
    assert_eq!(
        (raw.state, raw.image.as_str()),
        (JobState::Pending, "web-raw")
    );

    // YAML, as `hype jobs submit -f job.yaml` sends it; no name: derived from the VM.
    let yaml = format!(
        "kind: xcpng_export\nurl: {}\nusername: root\npassword: {PASSWORD}\nvm: Web 01\ntransport: xva\n",
        x.url
    );
    let (st, answer) = call(&s, "post", "/api/v1/jobs", Some("application/yaml"), &yaml).await;
    assert_eq!(st, 202, "{answer}");
    let xva: Job = serde_json::from_value(answer["jobs"][0].clone())?;
    assert_eq!(xva.image, "web-01");

    let all = until_all_final(&mut events, &[&raw.id, &xva.id]).await?;
    for (seen, name) in all.into_iter().zip(["web-raw", "web-01"]) {
        let last = seen.last().unwrap();
        assert_eq!(
            last.event_type,
            JobEventType::JobCompleted,
            "{:?}",
            last.job.error
        );
        assert_eq!(seen[0].event_type, JobEventType::JobQueued);
        assert!(seen
            .iter()
            .any(|e| e.event_type == JobEventType::JobStarted));
        let progress: Vec<_> = seen
            .iter()
            .filter(|e| e.event_type == JobEventType::JobProgress)
            .collect();
        assert!(!progress.is_empty(), "no progress for {name}");
        assert!(progress
            .iter()
            .any(|e| e.job.progress.bytes_total == Some(24 << 20)));
        assert!(seen.windows(2).all(|w| w[0].id < w[1].id));
        assert_eq!(last.job.progress.phase, "done");
        assert_eq!(last.job.progress.bytes_done, Some(24 << 20), "{name}");
        assert_eq!(last.job.progress.percent, Some(100.0), "{name}");
        assert!(seen.iter().all(|e| !e.job.progress.phase.is_empty()));
        assert!(last.job.finished_at.is_some() && last.job.started_at.is_some());
        let img = s.client.get_image(name).await?;
        assert_eq!(img.sha256.as_deref(), Some(sha.as_str()), "{name}");
        assert_eq!(
            (
                img.kind.as_str(),
                img.source.as_str(),
                img.boot_mode.as_str(),
                img.format.as_deref()
            ),
            ("disk", "xcpng", "firmware", Some("raw"))
        );
        assert_eq!(img.size_bytes, 24 << 20);
        let file = s.data.join("imported").join(name).join("disk0.raw");
        let meta = std::fs::metadata(&file)?;
        use std::os::unix::fs::MetadataExt;
        assert!(meta.blocks() * 512 < meta.len(), "{name}: not sparse");
    }
    let (st, list) = call(&s, "get", "/api/v1/jobs", None, "").await;
    check_against_openapi(&doc, "get", "/api/v1/jobs", st, &list);
    assert_eq!(list["jobs"][0]["id"], xva.id.as_str(), "newest first");
    let (st, one) = call(&s, "get", &format!("/api/v1/jobs/{}", raw.id), None, "").await;
    check_against_openapi(&doc, "get", "/api/v1/jobs/{id}", st, &one);
    assert_eq!(one["state"], "completed");
    // Progress events of finished jobs are pruned; state changes stay.
    let mut replay = s.client.job_events(Some(&raw.id), Some(0)).await?;
    let mut kinds = vec![];
    while kinds.len() < 3 {
        kinds.push(
            next_event(&mut replay, Duration::from_secs(5))
                .await?
                .event_type,
        );
    }
    assert_eq!(
        kinds,
        [
            JobEventType::JobQueued,
            JobEventType::JobStarted,
            JobEventType::JobCompleted
        ]
    );
    // Booting imported disks: see tests/boot.rs.
    // A second import of the same name is refused up front.
    let (st, err) = call(
        &s,
        "post",
        "/api/v1/jobs",
        Some("application/json"),
        &body.to_string(),
    )
    .await;
    assert_eq!(
        (st, err["error"]["code"].as_str()),
        (409, Some("image_exists"))
    );
    check_against_openapi(&doc, "post", "/api/v1/jobs", st, &err);
    // Deleting the image removes the disk hyped made.
    s.client.delete_image("web-01").await?;
    assert!(!s.data.join("imported/web-01").exists());
    // A second import of the same name is refused up front.
    let (st, err) = call(
        &s,
        "post",
        "/api/v1/jobs",
        Some("application/json"),
        &body.to_string(),
    )
    .await;
    assert_eq!(
        (st, err["error"]["code"].as_str()),
        (409, Some("image_exists"))
    );
    check_against_openapi(&doc, "post", "/api/v1/jobs", st, &err);
    assert!(leftovers(&s)
        .iter()
        .all(|p| p.starts_with(s.data.join("imported"))));
    let log = s.log()?;
    let db = std::fs::read(s.data.join("hype.db"))?;
    assert!(!log.contains(PASSWORD));
    assert!(!String::from_utf8_lossy(&db).contains(PASSWORD));
    Ok(())
}

#[tokio::test]
async fn invalid_bodies_are_refused_and_store_nothing() -> anyhow::Result<()> {
    // File sources must lie in --import-dir: a file there that is no XVA.
    let dir = tempfile::tempdir()?;
    let not_xva = dir.path().join("not.xva");
    std::fs::write(&not_xva, "hello")?;
    let s = Server::start_with(&["--import-dir", dir.path().to_str().unwrap()])?;
    let doc = openapi(&s).await;
    let good = json!({"kind":"xcpng_export","xva":not_xva,"name":"ok"});
    let b = json!({"kind":"xcpng_export","xva":not_xva,"name":"b","shutdown":true});
    let not_ok = json!({"kind":"xcpng_export","xva":not_xva,"name":"Not_OK"}).to_string();
    let cases = [
        ("application/json", "{\"kind\":", 400, "malformed_json"),
        ("application/yaml", "kind: [unclosed", 400, "malformed_yaml"),
        (
            "text/plain",
            "kind: xcpng_export",
            415,
            "unsupported_media_type",
        ),
        (
            "application/json",
            r#"{"kind":"hyperv_export"}"#,
            400,
            "invalid_job",
        ),
        (
            "application/json",
            r#"{"kind":"xcpng_export","url":"https://h","username":"u","vm":"v","colour":1}"#,
            400,
            "invalid_job",
        ),
        (
            "application/json",
            r#"{"kind":"xcpng_export","url":"gopher://h","username":"u","vm":"v"}"#,
            422,
            "invalid_url",
        ),
        (
            "application/json",
            r#"{"kind":"xcpng_export","xva":"/nonexistent/x.xva"}"#,
            422,
            "file_source_refused",
        ),
        (
            "application/json",
            r#"{"kind":"xcpng_export","url":"https://h","username":"u","vm":"v"}"#,
            422,
            "missing_password",
        ),
        ("application/json", not_ok.as_str(), 422, "invalid_name"),
        ("application/json", r#"{"jobs":[]}"#, 400, "invalid_job"),
    ];
    for (ct, body, status, code) in cases {
        let (st, err) = call(&s, "post", "/api/v1/jobs", Some(ct), body).await;
        assert_eq!(
            (st, err["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}: {err}"
        );
        check_against_openapi(&doc, "post", "/api/v1/jobs", st, &err);
    }
    // One bad job in a batch: the message names it, and none is stored.
    let batch = json!({"jobs": [good, b]});
    let (st, err) = call(
        &s,
        "post",
        "/api/v1/jobs",
        Some("application/json"),
        &batch.to_string(),
    )
    .await;
    assert_eq!(st, 400);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("jobs[1]: "),
        "{err}"
    );
    let dup = json!({"jobs": [good, good]});
    let (st, err) = call(
        &s,
        "post",
        "/api/v1/jobs",
        Some("application/json"),
        &dup.to_string(),
    )
    .await;
    assert_eq!(st, 422, "{err}");
    assert!(s.client.list_jobs().await?.is_empty());
    let (st, err) = call(&s, "get", "/api/v1/jobs/nope", None, "").await;
    assert_eq!(
        (st, err["error"]["code"].as_str()),
        (404, Some("job_not_found"))
    );
    check_against_openapi(&doc, "get", "/api/v1/jobs/{id}", st, &err);
    let (st, err) = call(&s, "post", "/api/v1/jobs/nope/cancel", None, "").await;
    assert_eq!(
        (st, err["error"]["code"].as_str()),
        (404, Some("job_not_found"))
    );
    let (st, err) = call(&s, "get", "/api/v1/jobs?state=dancing", None, "").await;
    assert_eq!(
        (st, err["error"]["code"].as_str()),
        (400, Some("invalid_query"))
    );
    check_against_openapi(&doc, "get", "/api/v1/jobs", st, &err);
    // A job that fails (not an XVA) is finished; cancelling it is a conflict.
    let (st, ok) = call(
        &s,
        "post",
        "/api/v1/jobs",
        Some("application/json"),
        &good.to_string(),
    )
    .await;
    assert_eq!(st, 202, "{ok}");
    let id = ok["jobs"][0]["id"].as_str().unwrap().to_owned();
    let mut events = s.client.job_events(Some(&id), Some(0)).await?;
    let last = until_final(&mut events, &id).await?.pop().unwrap();
    assert_eq!(last.job.state, JobState::Failed);
    assert!(
        last.job.error.as_deref().unwrap().contains("XVA"),
        "{:?}",
        last.job.error
    );
    let (st, err) = call(&s, "post", &format!("/api/v1/jobs/{id}/cancel"), None, "").await;
    assert_eq!(
        (st, err["error"]["code"].as_str()),
        (409, Some("job_finished"))
    );
    check_against_openapi(&doc, "post", "/api/v1/jobs/{id}/cancel", st, &err);
    assert!(leftovers(&s).is_empty(), "{:?}", leftovers(&s));
    Ok(())
}

#[tokio::test]
async fn bad_sources_fail_with_a_reason_and_leave_nothing() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let disk = tmp.path().join("d.raw");
    make_disk(&disk, 6);
    let s = Server::start()?;
    let cases: [(&[&str], Value, &str); 6] = [
        (
            &[],
            json!({"password": "wrong"}),
            "SESSION_AUTHENTICATION_FAILED",
        ),
        (
            &[],
            json!({"vm": "no-such-vm"}),
            "no VM named or with uuid 'no-such-vm'",
        ),
        (&["--truncate"], json!({}), "the transfer ended after"),
        (
            &["--corrupt-checksum"],
            json!({"transport": "xva"}),
            "checksum mismatch",
        ),
        (&["--climb"], json!({"transport": "xva"}), "unsafe path"),
        // Two VBDs naming one VDI: once a panic that left the job running.
        (
            &["--dup-vdi"],
            json!({"transport": "xva"}),
            "through two VBDs",
        ),
    ];
    for (i, (flags, extra, reason)) in cases.into_iter().enumerate() {
        let x = xapi(&disk, flags)?;
        let body = job_body(&x.url, &format!("bad{i}"), extra);
        let jobs = s
            .client
            .submit_jobs(body.to_string().into_bytes(), "application/json")
            .await?;
        let mut events = s.client.job_events(Some(&jobs[0].id), Some(0)).await?;
        let last = until_final(&mut events, &jobs[0].id).await?.pop().unwrap();
        assert_eq!(last.event_type, JobEventType::JobFailed, "{reason}");
        let why = last.job.error.clone().unwrap_or_default();
        assert!(why.contains(reason), "{why:?} lacks {reason:?}");
        assert!(!why.contains(PASSWORD) && !why.contains("wrong\""));
        assert!(leftovers(&s).is_empty(), "{reason}: {:?}", leftovers(&s));
    }
    assert!(s
        .client
        .list_images()
        .await?
        .iter()
        .all(|i| !i.name.starts_with("bad")));
    assert!(!tmp.path().join("escaped").exists());
    Ok(())
}

#[tokio::test]
async fn cancel_stops_the_transfer_and_workers_are_bounded() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let disk = tmp.path().join("slow.raw");
    make_disk(&disk, 64);
    // 0.1 s per MiB: a 64 MiB disk takes over 6 s.
    let x = xapi(&disk, &["--delay", "0.1"])?;
    let data = tempfile::tempdir()?;
    let s = Server::start_in(data.path(), &["--import-workers", "1"])?;
    let body = json!({"jobs": [job_body(&x.url, "slow-a", json!({})), job_body(&x.url, "slow-b", json!({})),
        job_body(&x.url, "slow-c", json!({}))]});
    let mut events = s.client.job_events(None, Some(0)).await?;
    let jobs = s
        .client
        .submit_jobs(body.to_string().into_bytes(), "application/json")
        .await?;
    let (a, b, c) = (&jobs[0].id, &jobs[1].id, &jobs[2].id);
    // A queued job is cancelled at once and never starts.
    let cancelled = s.client.cancel_job(c).await?;
    assert_eq!(
        (cancelled.state, cancelled.started_at.as_deref()),
        (JobState::Cancelled, None)
    );
    // Wait until bytes flow for the first.
    loop {
        let ev = next_event(&mut events, Duration::from_secs(30)).await?;
        if ev.job.id == *a && ev.job.progress.bytes_done.unwrap_or(0) > 0 {
            break;
        }
    }
    assert!(std::fs::read_dir(data.path().join("imports"))?.count() == 1);
    assert_eq!(
        s.client.get_job(b).await?.state,
        JobState::Pending,
        "one worker only"
    );
    let cancelled = s.client.cancel_job(a).await?;
    assert_eq!(cancelled.state, JobState::Cancelled);
    assert_eq!(cancelled.error.as_deref(), Some("cancelled by request"));
    // The next job gets the worker; cancel it while it runs too, then check.
    loop {
        let ev = next_event(&mut events, Duration::from_secs(30)).await?;
        if ev.job.id == *b && ev.event_type == JobEventType::JobStarted {
            break;
        }
    }
    assert_eq!(s.client.cancel_job(b).await?.state, JobState::Cancelled);
    assert!(leftovers(&s).is_empty(), "{:?}", leftovers(&s));
    assert!(s
        .client
        .list_images()
        .await?
        .iter()
        .all(|i| !i.name.starts_with("slow")));
    Ok(())
}

#[tokio::test]
async fn a_restart_never_leaves_a_job_running() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let disk = tmp.path().join("slow.raw");
    make_disk(&disk, 64);
    let x = xapi(&disk, &["--delay", "0.2"])?;
    let data = tempfile::tempdir()?;
    for hard in [true, false] {
        let mut s = Server::start_in(data.path(), &[])?;
        let mut events = s.client.job_events(None, None).await?;
        let name = if hard { "killed" } else { "stopped" };
        let job = s
            .client
            .submit_jobs(
                job_body(&x.url, name, json!({})).to_string().into_bytes(),
                "application/json",
            )
            .await?
            .remove(0);
        loop {
            let ev = next_event(&mut events, Duration::from_secs(30)).await?;
            if ev.job.id == job.id && ev.event_type == JobEventType::JobProgress {
                break;
            }
        }
        if hard {
            let pid = s.hyped_pid().context("pid")?;
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            )?;
        }
        s.stop();
        drop(s);
        // Its password was in the job and is gone: it waits for it, not
        // running; an XCP-ng export starts over, so nothing of it is kept.
        let s = Server::start_in(data.path(), &[])?;
        let j = s.client.get_job(&job.id).await?;
        assert_eq!(
            (j.state, j.progress.phase.as_str()),
            (JobState::Pending, hype_types::AWAITING_PASSWORD),
            "{name}"
        );
        assert!(leftovers(&s).is_empty(), "{:?}", leftovers(&s));
        let j = s.client.cancel_job(&job.id).await?;
        assert_eq!(j.state, JobState::Cancelled, "{name}");
    }
    Ok(())
}

#[tokio::test]
async fn a_raw_disk_that_looks_like_qcow2_stays_raw() -> anyhow::Result<()> {
    // A guest may write a qcow2 header naming a host file as backing store
    // into its own disk; the import must copy bytes, not follow it.
    let tmp = tempfile::tempdir()?;
    let hdr = tmp.path().join("hdr.qcow2");
    let out = Command::new("qemu-img")
        .args([
            "create",
            "-q",
            "-f",
            "qcow2",
            "-b",
            "/etc/passwd",
            "-F",
            "raw",
        ])
        .arg(&hdr)
        .arg("4M")
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let disk = tmp.path().join("evil.raw");
    let mut bytes = std::fs::read(&hdr)?;
    bytes.resize(4 << 20, 0);
    std::fs::write(&disk, &bytes)?;
    let sha = hex::encode(Sha256::digest(&bytes));
    let x = xapi(&disk, &[])?;
    let s = Server::start()?;
    let job = s
        .client
        .submit_jobs(
            job_body(&x.url, "evil", json!({})).to_string().into_bytes(),
            "application/json",
        )
        .await?
        .remove(0);
    let mut events = s.client.job_events(Some(&job.id), Some(0)).await?;
    let last = until_final(&mut events, &job.id).await?.pop().unwrap();
    assert_eq!(last.job.state, JobState::Completed, "{:?}", last.job.error);
    assert_eq!(
        s.client.get_image("evil").await?.sha256.as_deref(),
        Some(sha.as_str())
    );
    Ok(())
}
