//! Export of a 2 GiB disk from the vCenter simulator over loopback HTTPS,
//! against `curl` fetching the same file from the same server. Prints the
//! times and the ratio (export / curl; 1.0 would be curl's speed).
//!
//! The export's time is end to end: login, ExportVm, lease, download with
//! SHA256 on the way and fsync, OVF and manifest, HttpNfcLeaseComplete.
//! curl only downloads (no hash, no fsync).
//! Run: `cargo bench -p hype-vsphere --bench export` (HYPE_BENCH_DISK_MIB
//! changes the size).

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::Sim;
use hype_vsphere::{export, Progress};
use tokio_util::sync::CancellationToken;

const VM: &str = "DC0_C0_RP0_VM0";

fn mib_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / d.as_secs_f64()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mib: u64 = std::env::var("HYPE_BENCH_DISK_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2048);
    let size = mib << 20;
    println!("vSphere export of a {mib} MiB disk over loopback HTTPS, against curl");
    let setup = Instant::now();
    let sim = Sim::start(&["-disk-size", &size.to_string(), "-pregen", VM]);
    println!(
        "  simulator ready with the disk file in {:.1} s",
        setup.elapsed().as_secs_f64()
    );
    let disk_url = format!(
        "{}/hype/disk/{VM}-disk-0.bin",
        sim.url.trim_end_matches("/sdk")
    );

    let (mut best_export, mut best_curl) = (Duration::MAX, Duration::MAX);
    for round in 1..=2 {
        let dir = tempfile::tempdir_in("/var/tmp")?;
        let (tx, _rx) = tokio::sync::watch::channel(Progress::default());
        let t = Instant::now();
        let out = export(&sim.spec(VM), dir.path(), tx, CancellationToken::new()).await?;
        let export_time = t.elapsed();
        anyhow::ensure!(std::fs::metadata(&out.disks[0].path)?.len() == size);
        drop(dir);

        let dir = tempfile::tempdir_in("/var/tmp")?;
        let target = dir.path().join("disk.bin");
        let t = Instant::now();
        let status = Command::new("curl")
            .args(["-sSk", "--fail", "-o"])
            .arg(&target)
            .arg(&disk_url)
            .status()?;
        let curl_time = t.elapsed();
        anyhow::ensure!(status.success(), "curl failed");
        anyhow::ensure!(std::fs::metadata(&target)?.len() == size);
        drop(dir);

        println!(
            "  round {round}: export {:.2} s ({:.0} MiB/s), curl {:.2} s ({:.0} MiB/s), ratio {:.2}",
            export_time.as_secs_f64(),
            mib_s(size, export_time),
            curl_time.as_secs_f64(),
            mib_s(size, curl_time),
            export_time.as_secs_f64() / curl_time.as_secs_f64()
        );
        best_export = best_export.min(export_time);
        best_curl = best_curl.min(curl_time);
    }
    println!(
        "best: export {:.2} s, curl {:.2} s, ratio {:.2}",
        best_export.as_secs_f64(),
        best_curl.as_secs_f64(),
        best_export.as_secs_f64() / best_curl.as_secs_f64()
    );
    Ok(())
}
