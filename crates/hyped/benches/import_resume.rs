//! What a restart costs a vSphere import, printed (not asserted): the
//! same 2 GiB disk (a stream-optimised VMDK of about 96 MiB, served by
//! govmomi's simulator at a fixed rate) imported once without interruption
//! (the baseline) and once with hyped killed (SIGKILL) halfway through the
//! download and restarted. For each: the wall time to `completed` and the
//! bytes the simulator sent; for the resumed one, the bytes it kept and
//! those it fetched after the restart, against the disk's size.
//!
//! `cargo bench -p hyped --bench import_resume` (needs Go and govmomi for
//! the simulator: scripts/install-deps.sh). The tests' scenario
//! (tests/import_resume.rs), without their assertions.

#[path = "../tests/common/mod.rs"]
mod common;
mod figures;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use common::vcsim::resume::{hyped, source, wait_bytes, CAPACITY, RATE, USER};
use common::vcsim::Sim;
use common::Server;
use hype_types::{Job, JobState};
use serde_json::json;

const MIB: f64 = (1u64 << 20) as f64;

/// Submits the import of the simulator's VM as image `name`.
async fn submit(s: &Server, sim: &Sim, name: &str) -> anyhow::Result<Job> {
    let body = json!({"kind": "vsphere_export", "name": name, "url": sim.1, "username": USER,
        "vm": "/DC0/vm/DC0_C0_RP0_VM0", "insecure": true});
    Ok(s.client
        .submit_jobs(body.to_string().into_bytes(), "application/json")
        .await?
        .remove(0))
}

/// Waits for job `id` to end; fails unless it completed.
async fn completed(s: &Server, id: &str) -> anyhow::Result<Job> {
    let until = Instant::now() + Duration::from_secs(600);
    loop {
        let j = s.client.get_job(id).await?;
        if j.state.is_final() {
            anyhow::ensure!(j.state == JobState::Completed, "the job ended: {j:?}");
            return Ok(j);
        }
        anyhow::ensure!(Instant::now() < until, "the job did not end: {j:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Bytes of the disk the simulator has sent, in all.
async fn sent(sim: &Sim) -> anyhow::Result<u64> {
    Ok(sim.gets().await?.iter().map(|g| g.2).sum())
}

async fn uninterrupted(sim: &Sim, dir: &Path) -> anyhow::Result<(f64, u64, String)> {
    let data = dir.join("data-baseline");
    std::fs::create_dir(&data)?;
    let s = hyped(&data)?;
    let before = sent(sim).await?;
    let t = Instant::now();
    let job = submit(&s, sim, "baseline").await?;
    completed(&s, &job.id).await?;
    let secs = t.elapsed().as_secs_f64();
    let image = s.client.get_image("baseline").await?;
    Ok((
        secs,
        sent(sim).await? - before,
        image.sha256.unwrap_or_default(),
    ))
}

struct Resumed {
    secs: f64,
    kept: u64,
    before: u64,
    after: u64,
    sha256: String,
}

async fn killed_halfway(sim: &Sim, dir: &Path, vmdk_size: u64) -> anyhow::Result<Resumed> {
    let data = dir.join("data-resumed");
    std::fs::create_dir(&data)?;
    let mut s = hyped(&data)?;
    let start = sent(sim).await?;
    let t = Instant::now();
    let job = submit(&s, sim, "resumed").await?;
    wait_bytes(&s, &job.id, vmdk_size / 2).await?;
    s.kill9();
    // The killed connection is counted once the simulator sees it gone.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = sent(sim).await? - start;
    let s = hyped(&data)?;
    let done = completed(&s, &job.id).await?;
    let secs = t.elapsed().as_secs_f64();
    let kept = done
        .progress
        .resumed
        .as_ref()
        .map(|r| r.bytes_kept)
        .context("the job says what it kept")?;
    let image = s.client.get_image("resumed").await?;
    Ok(Resumed {
        secs,
        kept,
        before,
        after: sent(sim).await? - start - before,
        sha256: image.sha256.unwrap_or_default(),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (sha, vmdk_size, sim) = source(tmp.path())?;

    let (base_secs, base_sent, base_sha) = uninterrupted(&sim, tmp.path()).await?;
    let r = killed_halfway(&sim, tmp.path(), vmdk_size).await?;

    println!(
        "vSphere import of a {} MiB disk (a {:.1} MiB stream-optimised VMDK, served at {:.0} MiB/s):",
        CAPACITY >> 20,
        vmdk_size as f64 / MIB,
        RATE as f64 / MIB
    );
    println!(
        "  uninterrupted (baseline)                 {base_secs:6.1} s   fetched {:7.1} MiB",
        base_sent as f64 / MIB
    );
    println!(
        "  kill -9 of hyped halfway, restart        {:6.1} s   fetched {:7.1} MiB before, {:.1} MiB after",
        r.secs,
        r.before as f64 / MIB,
        r.after as f64 / MIB
    );
    println!(
        "  kept at the restart                      {:.1} MiB, checked; fetched after it: {} bytes = {:.1} % of the VMDK, {:.2} % of the disk",
        r.kept as f64 / MIB,
        r.after,
        100.0 * r.after as f64 / vmdk_size as f64,
        100.0 * r.after as f64 / CAPACITY as f64
    );
    println!(
        "  image sha256 equals the source disk's    baseline {}, resumed {}",
        base_sha == sha,
        r.sha256 == sha
    );
    Ok(())
}
