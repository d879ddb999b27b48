//! A vSphere import that outlives hyped: govmomi's simulator (the
//! project's `vcsim-hype`) serves a 2 GiB disk as a stream-optimised VMDK,
//! throttled so that hyped can be stopped mid-download; hyped is stopped
//! with SIGTERM once and killed with SIGKILL twice (the second time while
//! it converts), each time restarted on the same data directory with its
//! environment password. The job resumes from its checked bytes
//! (`JOB_RESUMED`), fetches less than the whole file after each restart
//! (only the 64 KiB it compares after the one while converting), and
//! registers an image whose sha256 is the source disk's.

mod common;

use std::time::Duration;

use anyhow::Context;
use common::vcsim::resume::{
    awaits_password, hyped as start, job_with_password, source, wait_bytes, CAPACITY, PASSWORD,
    USER,
};
use common::Server;
use hype_types::{JobEvent, JobEventType, JobState};
use serde_json::json;

/// Waits until the job's conversion has begun: its first converted disk
/// exists in the staging directory `image`. The job's phase would say it
/// too, but its recorded progress lags the work by up to a quarter of a
/// second, and a short conversion may be over by then (its downloads gone:
/// they are removed once every disk is converted).
async fn wait_converting(s: &Server, image: &std::path::Path, id: &str) -> anyhow::Result<()> {
    let until = std::time::Instant::now() + Duration::from_secs(120);
    let raw = image.join("disk0.raw");
    let mut polls = 0u32;
    while !raw.exists() {
        polls += 1;
        if polls.is_multiple_of(100) {
            let j = s.client.get_job(id).await?;
            anyhow::ensure!(!j.state.is_final(), "the job ended early: {j:?}");
            anyhow::ensure!(std::time::Instant::now() < until, "no conversion: {j:?}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

/// Every event of job `id` so far, oldest first.
async fn job_events(s: &Server, id: &str) -> anyhow::Result<Vec<JobEvent>> {
    let mut stream = s.client.job_events(Some(id), Some(0)).await?;
    let mut seen: Vec<JobEvent> = vec![];
    while !seen.last().is_some_and(|e| e.job.state.is_final()) {
        let frame = tokio::time::timeout(Duration::from_secs(180), stream.next())
            .await
            .context("a job event")?
            .context("stream open")??;
        seen.push(serde_json::from_str(&frame.data)?);
    }
    Ok(seen)
}

/// The bytes kept by the `JOB_RESUMED` events, in order.
fn resumed_offsets(events: &[JobEvent]) -> Vec<u64> {
    events
        .iter()
        .filter(|e| e.event_type == JobEventType::JobResumed)
        .map(|e| {
            let r = e
                .job
                .progress
                .resumed
                .as_ref()
                .expect("JOB_RESUMED says from where");
            assert_eq!(r.files.len(), 1, "{r:?}");
            assert_eq!(r.bytes_kept, r.files[0].offset);
            r.bytes_kept
        })
        .collect()
}

#[tokio::test]
async fn a_vsphere_download_survives_sigterm_and_sigkill_of_hyped() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (sha, vmdk_size, sim) = source(tmp.path())?;
    let data = tmp.path().join("data");
    std::fs::create_dir(&data)?;

    let mut s = start(&data)?;
    // No password: hyped's own, for an allowed host, so a restart has it.
    let body = json!({"kind": "vsphere_export", "name": "big", "url": sim.1, "username": USER,
        "vm": "/DC0/vm/DC0_C0_RP0_VM0", "insecure": true});
    let job = s
        .client
        .submit_jobs(body.to_string().into_bytes(), "application/json")
        .await?
        .remove(0);
    assert!(job.source.env_password);

    // SIGTERM past the first checkpoint (32 MiB): the job stays, not failed.
    wait_bytes(&s, &job.id, 36 << 20).await?;
    s.stop();
    let staging = data.join("imports").join(&job.id).join("export");
    let kept: Vec<_> = std::fs::read_dir(&staging)
        .with_context(|| format!("{} kept", staging.display()))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(kept.iter().any(|f| f.ends_with(".vmdk")), "{kept:?}");

    let mut s = start(&data)?;
    let j = s.client.get_job(&job.id).await?;
    assert!(!j.state.is_final(), "a stopped job is taken up: {j:?}");
    // SIGKILL past the second checkpoint: nothing of hyped's shutdown runs.
    wait_bytes(&s, &job.id, 72 << 20).await?;
    s.kill9();
    // The killed connection's request is recorded once the simulator sees it gone.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let old: std::collections::HashSet<String> =
        sim.gets().await?.into_iter().map(|g| g.0).collect();

    // SIGKILL once more when the download is whole and being converted:
    // its checkpoints stay until the conversion is done, so a restart keeps
    // the whole file.
    let mut s = start(&data)?;
    wait_converting(
        &s,
        &data.join("imports").join(&job.id).join("image"),
        &job.id,
    )
    .await?;
    s.kill9();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let leases = |gets: &[(String, String, u64)]| -> std::collections::HashSet<String> {
        gets.iter().map(|g| g.0.clone()).collect()
    };
    let mid = leases(&sim.gets().await?);

    let s = start(&data)?;
    let events = job_events(&s, &job.id).await?;
    let end = events.last().unwrap();
    assert_eq!(
        end.event_type,
        JobEventType::JobCompleted,
        "{:?}",
        end.job.error
    );
    assert_eq!(end.job.state, JobState::Completed);
    let offsets = resumed_offsets(&events);
    assert_eq!(
        offsets.len(),
        3,
        "one JOB_RESUMED per restart: {:?}",
        events
            .iter()
            .map(|e| (
                e.event_type,
                e.job.progress.phase.clone(),
                e.job.progress.bytes_done
            ))
            .collect::<Vec<_>>()
    );
    assert!(offsets[0] >= 32 << 20, "{offsets:?}");
    assert!(
        offsets[1] > offsets[0] && offsets[1] >= 64 << 20,
        "{offsets:?}"
    );
    assert_eq!(offsets[2], vmdk_size, "the whole download is kept");

    // What the simulator sent after each restart (each on a new lease):
    // the file from the kept offset, and the 64 KiB before it compared.
    let gets = sim.gets().await?;
    let sent = |from: &std::collections::HashSet<String>,
                to: Option<&std::collections::HashSet<String>>|
     -> u64 {
        gets.iter()
            .filter(|g| !from.contains(&g.0) && to.is_none_or(|t| t.contains(&g.0)))
            .map(|g| g.2)
            .sum()
    };
    let (after_kill, after_convert) = (sent(&old, Some(&mid)), sent(&mid, None));
    println!(
        "resume: disk {CAPACITY} bytes, VMDK {vmdk_size} bytes, kept {} bytes, fetched after the restart {after_kill} bytes; \
         killed while converting, fetched after that restart {after_convert} bytes",
        offsets[1]
    );
    assert!(
        after_kill < vmdk_size && after_kill < CAPACITY,
        "{after_kill} of {vmdk_size}"
    );
    assert_eq!(after_kill, vmdk_size - offsets[1] + (64 << 10));
    assert_eq!(after_convert, 64 << 10, "only the overlap is fetched again");

    let image = s.client.get_image("big").await?;
    assert_eq!(
        image.sha256.as_deref(),
        Some(sha.as_str()),
        "the source disk's bytes"
    );
    assert_eq!(image.size_bytes, CAPACITY);
    assert!(
        !data.join("imports").join(&job.id).exists(),
        "no staging left"
    );
    let log = s.log()?;
    assert!(!log.contains(PASSWORD), "the password is never logged");
    Ok(())
}

/// `POST .../resume` with a body, as a user's client sends it.
async fn post_resume(
    s: &Server,
    id: &str,
    body: serde_json::Value,
) -> anyhow::Result<(u16, String)> {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/jobs/{id}/resume", s.base))
        .json(&body)
        .send()
        .await?;
    let status = r.status().as_u16();
    let v: serde_json::Value = r.json().await?;
    Ok((
        status,
        v["error"]["code"].as_str().unwrap_or_default().to_owned(),
    ))
}

#[tokio::test]
async fn a_job_whose_password_was_in_it_waits_for_it_after_a_restart() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (sha, vmdk_size, sim) = source(tmp.path())?;
    let data = tmp.path().join("data");
    std::fs::create_dir(&data)?;

    // The password in the body: hyped has none of its own here.
    let mut s = Server::start_in(&data, &[])?;
    let body = |name: &str| job_with_password(&sim.1, name);
    let job = s
        .client
        .submit_jobs(body("kept"), "application/json")
        .await?
        .remove(0);
    let other = s
        .client
        .submit_jobs(body("dropped"), "application/json")
        .await?
        .remove(0);
    assert!(!job.source.env_password);

    // SIGTERM mid-download: the job is not failed, and waits after the
    // restart, not queued, its downloads kept.
    wait_bytes(&s, &job.id, 36 << 20).await?;
    s.stop();
    let mut s = Server::start_in(&data, &[])?;
    awaits_password(&s, &job.id).await?;
    awaits_password(&s, &other.id).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    awaits_password(&s, &job.id).await?;
    let staging = |id: &str| data.join("imports").join(id);
    assert!(staging(&job.id).join("export").is_dir());

    // Bad resumes change nothing.
    assert_eq!(
        post_resume(&s, &job.id, json!({})).await?,
        (422, "invalid_body".into())
    );
    assert_eq!(
        post_resume(&s, &job.id, json!({"password": PASSWORD, "url": "x"})).await?,
        (422, "invalid_body".into())
    );
    assert_eq!(
        post_resume(&s, &job.id, json!({"password": ""})).await?.0,
        422
    );
    assert_eq!(
        post_resume(&s, "no-such-job", json!({"password": "x"}))
            .await?
            .0,
        404
    );
    awaits_password(&s, &job.id).await?;

    // A waiting job cancelled goes with its downloads.
    let c = s.client.cancel_job(&other.id).await?;
    assert_eq!(c.state, JobState::Cancelled);
    assert!(
        !staging(&other.id).exists(),
        "a cancelled job keeps nothing"
    );

    // Given its password, it goes on; given it twice, the second is refused.
    let j = s.client.resume_job(&job.id, PASSWORD).await?;
    assert_eq!(
        (j.state, j.progress.phase.as_str()),
        (JobState::Pending, "queued")
    );
    assert_eq!(
        post_resume(&s, &job.id, json!({"password": PASSWORD})).await?,
        (409, "job_not_awaiting_password".into())
    );
    // SIGKILL past the second checkpoint: it waits again.
    wait_bytes(&s, &job.id, 72 << 20).await?;
    s.kill9();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before: std::collections::HashSet<String> =
        sim.gets().await?.into_iter().map(|g| g.0).collect();
    let s = Server::start_in(&data, &[])?;
    awaits_password(&s, &job.id).await?;
    s.client.resume_job(&job.id, PASSWORD).await?;

    let events = job_events(&s, &job.id).await?;
    let end = events.last().unwrap();
    assert_eq!(end.job.state, JobState::Completed, "{:?}", end.job.error);
    let offsets = resumed_offsets(&events);
    assert_eq!(offsets.len(), 2, "one JOB_RESUMED per resume: {offsets:?}");
    assert!(
        offsets[0] >= 32 << 20 && offsets[1] >= 64 << 20,
        "{offsets:?}"
    );
    let after: u64 = sim
        .gets()
        .await?
        .into_iter()
        .filter(|g| !before.contains(&g.0))
        .map(|g| g.2)
        .sum();
    assert_eq!(after, vmdk_size - offsets[1] + (64 << 10));
    let image = s.client.get_image("kept").await?;
    assert_eq!(image.sha256.as_deref(), Some(sha.as_str()));
    assert!(s.client.get_image("dropped").await.is_err());
    assert!(!staging(&job.id).exists(), "no staging left");
    let log = s.log()?;
    assert!(!log.contains(PASSWORD), "the password is never logged");
    Ok(())
}
