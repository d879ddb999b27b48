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
use common::vcsim::resume::{hyped as start, make_disks, wait_bytes, CAPACITY, PASSWORD, USER};
use common::vcsim::Sim;
use common::Server;
use hype_types::{JobEvent, JobEventType, JobState};
use serde_json::json;

/// Polls the job until its download is over (a later phase), failing if
/// the job ends first.
async fn wait_past_download(s: &Server, id: &str) -> anyhow::Result<String> {
    let until = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let j = s.client.get_job(id).await?;
        anyhow::ensure!(!j.state.is_final(), "the job ended early: {j:?}");
        if matches!(
            j.progress.phase.as_str(),
            "converting" | "verifying" | "registering"
        ) {
            return Ok(j.progress.phase);
        }
        anyhow::ensure!(
            std::time::Instant::now() < until,
            "still downloading: {j:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
    let (sha, vmdk) = make_disks(tmp.path())?;
    let vmdk_size = std::fs::metadata(&vmdk)?.len();
    let sim = Sim::start(&vmdk, tmp.path())?;
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
    let phase = wait_past_download(&s, &job.id).await?;
    s.kill9();
    println!("killed while {phase}");
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
