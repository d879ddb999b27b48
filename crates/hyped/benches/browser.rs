//! Browser sandbox figures, printed: create → CDP-ready split into VMM
//! start, kernel boot, agent and Chromium start, and the host memory (RSS)
//! of each sandbox's VMM. Needs the `browser` image.
//!
//! `cargo bench -p hyped --bench browser` (`HYPE_BENCH_BOOTS`, default 3)

#[path = "../tests/common/mod.rs"]
mod common;
mod figures;

use std::time::{Duration, Instant};

use common::Server;
use figures::{env_n, pct};
use hype_types::EventType;

fn num_after(text: &str, marker: &str) -> Option<f64> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let boots = env_n("HYPE_BENCH_BOOTS", 3);
    // Held to the end: dropping it removes hyped's data directory.
    let data = tempfile::tempdir()?;
    let s = Server::start_in(data.path(), &["--boot-timeout", "400"])?;
    let image = s.client.get_image("browser").await?;
    let cols = [
        "total",
        "VMM start",
        "kernel boot",
        "agent",
        "Chromium start",
        "RSS MiB",
    ];
    let mut figures: Vec<Vec<f64>> = vec![vec![]; cols.len()];
    for i in 0..boots {
        let name = format!("b{i}");
        let mut ev = s
            .client
            .vm_events(Some(&name), Some(s.last_event_id().await?))
            .await?;
        let t = Instant::now();
        s.client
            .create_vm(&serde_json::from_value(serde_json::json!({
                "name": name, "image": "browser", "cpu_cores": 2, "memory_mb": 1536
            }))?)
            .await?;
        let mut starting = None;
        let running = s
            .wait_event(&mut ev, Duration::from_secs(400), |e| {
                if e.event_type == EventType::VmStarting {
                    starting = e.detail.clone();
                }
                matches!(e.event_type, EventType::VmRunning | EventType::VmCrashed)
            })
            .await?;
        let total = t.elapsed().as_secs_f64() * 1e3;
        anyhow::ensure!(
            running.event_type == EventType::VmRunning,
            "{:?}",
            running.detail
        );
        let detail = running.detail.unwrap_or_default();
        let uptime = num_after(&detail, "guest ready:").unwrap_or(0.0);
        let init = num_after(&detail, "agent init").unwrap_or(0.0);
        let vmm = num_after(starting.as_deref().unwrap_or(""), "up in").unwrap_or(0.0);
        let console = s.client.logs(&name).await?;
        let chromium = num_after(&console, "answers on 127.0.0.1:9223 after").unwrap_or(0.0);
        let pid = s.client.get_vm(&name).await?.vmm.pid.unwrap_or(0);
        let row = [
            total,
            vmm,
            uptime - init,
            init - chromium,
            chromium,
            rss_mib(pid),
        ];
        for (f, v) in figures.iter_mut().zip(row) {
            f.push(v);
        }
        s.client.delete_vm(&name).await?;
    }
    // Read after the boots: the accelerator probe has finished by then.
    let accel = s.client.version().await?.accel.mode;
    println!(
        "browser sandbox create -> CDP ready ({accel}, 2 vCPUs, 1536 MiB, image {:.0} MiB), median of {boots}:",
        image.size_bytes as f64 / 1048576.0
    );
    for (c, f) in cols.iter().zip(figures.iter_mut()) {
        let unit = if *c == "RSS MiB" { "MiB" } else { "ms" };
        println!("  {c:<16} {:>9.0} {unit}", pct(f, 0.5));
    }
    Ok(())
}
