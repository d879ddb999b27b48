//! Guest access figures, printed (not asserted), each beside a baseline
//! measured in the same run on the same guest:
//! - exec round trip of `true` (p50/p99), beside the agent's plainest
//!   round trip (`GET .../guest/network`, no process started);
//! - upload and download throughput of one file (MiB/s), beside a MiB of
//!   it written by the guest to its serial console (timed inside the
//!   guest), the other way out of a guest without a network or disk.
//!
//! `cargo bench -p hyped --bench guest` (needs the base image, as the tests
//! do). `HYPE_BENCH_ROUNDS` sets the exec rounds (default 100),
//! `HYPE_BENCH_MIB` the file's size (default 64).

#[path = "../tests/common/mod.rs"]
mod common;
mod figures;

use std::time::{Duration, Instant};

use common::Server;
use figures::{env_n, pct};
use futures::StreamExt;
use hype_client::UploadTo;
use hype_types::ExecRequest;

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

async fn run() -> anyhow::Result<()> {
    let rounds = env_n("HYPE_BENCH_ROUNDS", 100);
    let mib = env_n("HYPE_BENCH_MIB", 64);
    let s = Server::start()?;
    s.client
        .create_vm(&serde_json::from_value(serde_json::json!({
            "name": "bench", "cpu_cores": 1, "memory_mb": 256 + 3 * mib as u32
        }))?)
        .await?;
    s.wait_running("bench", Duration::from_secs(180)).await?;
    let req = |cmd: &[&str], user: Option<&str>| -> ExecRequest {
        serde_json::from_value(serde_json::json!({"cmd": cmd, "user": user})).expect("a request")
    };

    let (mut ping, mut exec) = (vec![], vec![]);
    for _ in 0..rounds {
        let t = Instant::now();
        s.client.guest_network("bench").await?;
        ping.push(ms(t));
        let t = Instant::now();
        let r = s.client.exec("bench", &req(&["true"], None)).await?;
        exec.push(ms(t));
        anyhow::ensure!(r.exit_code == Some(0), "{r:?}");
    }
    println!(
        "exec `true`     p50 {:>6.1} ms  p99 {:>6.1} ms   baseline agent round trip (guest/network) p50 {:>6.1} ms  p99 {:>6.1} ms  (n={rounds})",
        pct(&mut exec, 0.5),
        pct(&mut exec, 0.99),
        pct(&mut ping, 0.5),
        pct(&mut ping, 0.99),
    );

    let size = mib << 20;
    let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    let t = Instant::now();
    let to = UploadTo {
        path: "/tmp/f",
        mode: None,
        owner: None,
        archive: false,
    };
    s.client.upload("bench", &to, data.clone()).await?;
    let up = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut got = s.client.download_path("bench", "/tmp/f").await?;
    let mut n = 0;
    while let Some(chunk) = got.body.next().await {
        n += chunk?.len();
    }
    let down = t.elapsed().as_secs_f64();
    anyhow::ensure!(n == size, "downloaded {n} of {size} bytes");
    // The baseline, timed inside the guest by the agent (no HTTP in it):
    // the serial console, the other way out of a guest without a network
    // or disk (base has neither), for one MiB of the file: it is slow.
    let mut console = req(
        &["sh", "-c", "head -c 1048576 /tmp/f > /dev/console"],
        Some("root"),
    );
    console.timeout_seconds = Some(600);
    let r = s.client.exec("bench", &console).await?;
    anyhow::ensure!(r.exit_code == Some(0), "{r:?}");
    let console = 1000.0 / r.duration_ms.max(1) as f64;
    let mibs = |secs: f64| mib as f64 / secs;
    println!(
        "{mib} MiB file    upload {:>6.1} MiB/s  download {:>6.1} MiB/s   baseline serial console {:>6.2} MiB/s  (download/console {:.0}x)",
        mibs(up),
        mibs(down),
        console,
        mibs(down) / console,
    );
    s.client.delete_vm("bench").await?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    tokio::runtime::Runtime::new()?.block_on(run())
}
