//! Boot figures of imported disks, printed (not asserted): for each way an
//! imported disk boots, how long from `POST /api/v1/vms` to `VM_RUNNING`,
//! to the guest's own userspace printing on its console, and how long a
//! stop takes. The disks are the tests' (scripts/build-test-disk.sh,
//! scripts/build-debian-test-disk.sh), imported from the test XAPI server.
//!
//! `cargo bench -p hyped --bench imported` (needs the base image, as the
//! tests do). `HYPE_BENCH_ROUNDS` sets the boots per row (default 5).

#[path = "../tests/common/mod.rs"]
mod common;
mod figures;

use std::time::{Duration, Instant};

use common::imported::{debian_disk, import, test_disk, WROTE};
use common::xapi::xapi;
use common::Server;
use figures::{env_n, pct};
use hype_types::EventType;
use serde_json::json;

/// One row: an image boot mode and the console line that shows the
/// guest's own userspace is up.
struct Row {
    label: &'static str,
    image: &'static str,
    memory_mb: u32,
    userspace: &'static str,
}

const ROWS: &[Row] = &[
    Row {
        label: "busybox disk, boot: firmware (SeaBIOS, q35)",
        image: "bios",
        memory_mb: 256,
        userspace: WROTE,
    },
    Row {
        label: "busybox disk, boot: firmware (OVMF, q35)",
        image: "uefi",
        memory_mb: 256,
        userspace: WROTE,
    },
    Row {
        label: "busybox disk, boot: kernel (hype's kernel, microvm)",
        image: "kern",
        memory_mb: 256,
        userspace: WROTE,
    },
    Row {
        label: "Debian + systemd, boot: kernel (to the login prompt)",
        image: "debian",
        memory_mb: 512,
        userspace: "migrated login:",
    },
];

async fn run() -> anyhow::Result<()> {
    let rounds = env_n("HYPE_BENCH_ROUNDS", 5);
    let s = Server::start()?;
    let bios = xapi(&test_disk("bios"), &[])?;
    import(&s, &bios, "bios", json!({"boot": "firmware"})).await?;
    import(&s, &bios, "kern", json!({"boot": "kernel"})).await?;
    let uefi = xapi(&test_disk("uefi"), &["--uefi", "Web 01"])?;
    import(&s, &uefi, "uefi", json!({"boot": "firmware"})).await?;
    let debian = xapi(&debian_disk(), &[])?;
    import(&s, &debian, "debian", json!({"boot": "kernel"})).await?;

    println!(
        "imported disks under {} (n={rounds}; ms from create, p50 / max)",
        s.client.version().await?.accel.mode
    );
    for row in ROWS {
        let (mut running, mut userspace, mut stop) = (vec![], vec![], vec![]);
        for i in 0..rounds {
            let name = format!("{}-{i}", row.image);
            let mut events = s
                .client
                .vm_events(Some(&name), Some(s.last_event_id().await?))
                .await?;
            let t = Instant::now();
            s.client
                .create_vm(&serde_json::from_value(json!({
                    "name": name, "cpu_cores": 1, "memory_mb": row.memory_mb,
                    "image": row.image, "vmm": "qemu"
                }))?)
                .await?;
            let ev = s
                .wait_event(&mut events, Duration::from_secs(300), |e| {
                    matches!(e.event_type, EventType::VmRunning | EventType::VmCrashed)
                })
                .await?;
            anyhow::ensure!(
                ev.event_type == EventType::VmRunning,
                "{name}: {:?}",
                ev.detail
            );
            running.push(ms(t));
            loop {
                if s.client.logs(&name).await?.contains(row.userspace) {
                    break;
                }
                anyhow::ensure!(
                    t.elapsed() < Duration::from_secs(300),
                    "{name}: no userspace"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            userspace.push(ms(t));
            let t = Instant::now();
            s.client.vm_action(&name, "stop").await?;
            stop.push(ms(t));
            s.client.delete_vm(&name).await?;
        }
        println!(
            "{:<54} running {:>6.0} / {:>6.0}  userspace {:>6.0} / {:>6.0}  stop {:>6.0} / {:>6.0}",
            row.label,
            pct(&mut running, 0.5),
            pct(&mut running, 1.0),
            pct(&mut userspace, 0.5),
            pct(&mut userspace, 1.0),
            pct(&mut stop, 0.5),
            pct(&mut stop, 1.0),
        );
    }
    Ok(())
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

fn main() -> anyhow::Result<()> {
    tokio::runtime::Runtime::new()?.block_on(run())
}
