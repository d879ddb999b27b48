//! Standby figures, printed (not asserted): how long `snapshot` and
//! `restore` take through the API and how big the saved state is, for a
//! base VM of 256 MiB and one of 1024 MiB.
//!
//! `cargo bench -p hyped --bench standby` (needs the base image, as the
//! tests do). `HYPE_BENCH_ROUNDS` sets the rounds per size (default 5).

#[path = "../tests/common/mod.rs"]
mod common;
mod figures;

use std::time::Instant;

use common::Server;
use figures::{env_n, pct};
use hype_types::VmState;

async fn run() -> anyhow::Result<()> {
    let rounds = env_n("HYPE_BENCH_ROUNDS", 5);
    let s = Server::start()?;
    for memory_mb in [256u32, 1024] {
        let name = format!("bench-{memory_mb}");
        let mut events = s
            .client
            .vm_events(Some(&name), Some(s.last_event_id().await?))
            .await?;
        s.client
            .create_vm(&serde_json::from_value(serde_json::json!({
                "name": name, "cpu_cores": 1, "memory_mb": memory_mb
            }))?)
            .await?;
        s.wait_event(&mut events, std::time::Duration::from_secs(180), |e| {
            e.event_type == hype_types::EventType::VmRunning
        })
        .await?;
        let (mut snap, mut restore, mut size) = (vec![], vec![], 0);
        for _ in 0..rounds {
            let t = Instant::now();
            let vm = s.client.vm_action(&name, "snapshot").await?;
            snap.push(t.elapsed().as_secs_f64() * 1000.0);
            anyhow::ensure!(vm.state == VmState::Standby);
            size = std::fs::read_dir(s.data.join("vms").join(&name).join("snapshot"))?
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum::<u64>();
            let t = Instant::now();
            let vm = s.client.vm_action(&name, "restore").await?;
            restore.push(t.elapsed().as_secs_f64() * 1000.0);
            anyhow::ensure!(vm.state == VmState::Running);
        }
        let vmm = s.client.get_vm(&name).await?.vmm;
        println!(
            "{} {memory_mb:>5} MiB guest  state {:>5} MiB  snapshot p50 {:>7.0} ms max {:>7.0} ms  restore p50 {:>7.0} ms max {:>7.0} ms  (n={rounds}, {})",
            vmm.kind.as_str(),
            size >> 20,
            pct(&mut snap, 0.5),
            pct(&mut snap, 1.0),
            pct(&mut restore, 0.5),
            pct(&mut restore, 1.0),
            vmm.accel.unwrap_or_default(),
        );
        s.client.delete_vm(&name).await?;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    tokio::runtime::Runtime::new()?.block_on(run())
}
