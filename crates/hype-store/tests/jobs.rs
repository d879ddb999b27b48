//! The job repository against a real SQLite file: batches, state moves with
//! their events, pruning of progress events, filters.

use hype_store::{NewJob, Store};
use hype_types::{BootMode, JobEventType, JobKind, JobProgress, JobSource, JobState};

fn new_job(id: &str) -> NewJob {
    NewJob {
        id: id.into(),
        kind: JobKind::XcpngExport,
        image: format!("img-{id}"),
        source: JobSource {
            url: Some("https://xcp".into()),
            username: Some("root".into()),
            vm: Some("web01".into()),
            xva: None,
            insecure: true,
            transport: None,
            shutdown: false,
            remove_cdrom: false,
            parallel_downloads: None,
            boot: BootMode::Firmware,
            firmware: None,
            disk_bus: None,
            nic_model: None,
            export_only: false,
            output: None,
            path: None,
            env_password: false,
        },
    }
}

#[tokio::test]
async fn jobs_move_with_their_events_and_progress_is_pruned() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let store = Store::open(&tmp.path().join("hype.db")).await?;
    let mut live = store.subscribe_jobs();
    let jobs = store.insert_jobs(&[new_job("a"), new_job("b")]).await?;
    assert_eq!(jobs.len(), 2);
    assert!(jobs.iter().all(|j| j.state == JobState::Pending));
    assert_eq!(live.recv().await?.event_type, JobEventType::JobQueued);

    let mut p = JobProgress::queued();
    p.phase = "downloading".into();
    // Progress of a job that is not running is ignored.
    store.set_job_progress("a", &p).await?;
    let started = store
        .set_job_state(
            "a",
            &[JobState::Pending],
            JobState::Running,
            None,
            Some(&p),
            None,
        )
        .await?
        .expect("moved");
    assert!(started.started_at.is_some());
    p.bytes_done = Some(5);
    store.set_job_progress("a", &p).await?;
    assert_eq!(store.get_job("a").await?.progress.bytes_done, Some(5));
    // A move from a state the job is not in does nothing.
    assert!(store
        .set_job_state(
            "a",
            &[JobState::Pending],
            JobState::Cancelled,
            None,
            None,
            None,
        )
        .await?
        .is_none());
    let done = store
        .set_job_state(
            "a",
            &[JobState::Running],
            JobState::Failed,
            Some("boom"),
            None,
            None,
        )
        .await?
        .expect("moved");
    assert_eq!(
        (done.error.as_deref(), done.finished_at.is_some()),
        (Some("boom"), true)
    );
    let kinds: Vec<_> = store
        .job_events_after(0, Some("a"), 100)
        .await?
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        kinds,
        [
            JobEventType::JobQueued,
            JobEventType::JobStarted,
            JobEventType::JobFailed
        ]
    );
    let all = store.job_events_after(0, None, 100).await?;
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(store.last_job_event_id().await?, all.last().unwrap().id);
    assert_eq!(store.list_jobs(Some(JobState::Pending)).await?.len(), 1);
    assert!(store.get_job("zzz").await.is_err());
    assert_eq!(done.result, None);

    // What an export-only job kept is stored with its completion and
    // carried by the JOB_COMPLETED event.
    let kept = hype_types::JobResult {
        output: "/srv/e/b".into(),
        files: vec![hype_types::JobFile {
            name: "b.mf".into(),
            size_bytes: 7,
            sha256: "ab".repeat(32),
        }],
    };
    store
        .set_job_state(
            "b",
            &[JobState::Pending],
            JobState::Running,
            None,
            None,
            None,
        )
        .await?
        .expect("moved");
    let done = store
        .set_job_state(
            "b",
            &[JobState::Running],
            JobState::Completed,
            None,
            None,
            Some(&kept),
        )
        .await?
        .expect("moved");
    assert_eq!(done.result.as_ref(), Some(&kept));
    assert_eq!(store.get_job("b").await?.result, Some(kept.clone()));
    let ev = store.job_events_after(0, Some("b"), 100).await?;
    let last = ev.last().unwrap();
    assert_eq!(
        (last.event_type, last.job.result.as_ref()),
        (JobEventType::JobCompleted, Some(&kept))
    );
    Ok(())
}
