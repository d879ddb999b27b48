//! Fork figures, printed, with the cold path measured in the same run:
//! create -> CDP-ready cold, from a snapshot, ten at once, and a fork of a
//! running VM (snapshot and fork in one call); and the host memory (PSS)
//! of ten idle forks against one idle cold sandbox; then a warm pool:
//! create -> CDP-ready when it has one ready, and how fast it refills.
//! Needs the `browser` image; runs in a network namespace of its own.
//!
//! `cargo bench -p hyped --bench fork` (`HYPE_BENCH_COLD`, default 2;
//! `HYPE_BENCH_FORKS`, default 5; `HYPE_BENCH_CLAIMS`, default 8;
//! `HYPE_BENCH_VMM`, the sandboxes' `vmm`, default `auto`). On a KVM host
//! with a cloud-hypervisor binary, `HYPE_BENCH_VMM=cloud-hypervisor
//! HYPE_CH_BINARY=...` measures CH's forks; warm pools run on QEMU.

#[path = "../tests/common/mod.rs"]
mod common;
mod figures;

use std::time::{Duration, Instant};

use common::{in_netns, Server};
use figures::{env_n, pct};
use hype_types::ForkResult;
use serde_json::{json, Value};

/// Proportional set size of `pid`, in MiB (shared pages split among the
/// processes that map them, so a sum over processes counts them once).
fn pss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// `pid`'s PSS in MiB split in two: the mapping of the snapshot's memory
/// (the guest's RAM: pages shared with other forks, or its own once
/// written) and the rest (the VMM's heap and, under TCG, its code cache).
fn pss_split_mib(pid: u32) -> (f64, f64) {
    let Ok(smaps) = std::fs::read_to_string(format!("/proc/{pid}/smaps")) else {
        return (0.0, 0.0);
    };
    let (mut guest, mut other, mut in_guest) = (0.0, 0.0, false);
    for l in smaps.lines() {
        let first = l.split_whitespace().next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            in_guest = l.ends_with("/memory");
        } else if let Some(kb) = l.strip_prefix("Pss:") {
            let kb: f64 = kb
                .trim()
                .trim_end_matches(" kB")
                .trim()
                .parse()
                .unwrap_or(0.0);
            if in_guest {
                guest += kb / 1024.0;
            } else {
                other += kb / 1024.0;
            }
        }
    }
    (guest, other)
}

/// POSTs `body` to `path`, then asks the VM's browser for its version
/// through hyped: the time until CDP answers.
async fn cdp_ready(s: &Server, path: &str, body: Value, vm: &str) -> anyhow::Result<f64> {
    Ok(cdp_ready_split(s, path, body, vm).await?.total)
}

/// What one create -> CDP-ready took: until the 201, until the first CDP
/// answer, and one more CDP answer right after (the floor: a round trip
/// to a warm browser through hyped).
struct Ready {
    answered: f64,
    total: f64,
    again: f64,
}

async fn cdp_ready_split(s: &Server, path: &str, body: Value, vm: &str) -> anyhow::Result<Ready> {
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let r = reqwest::Client::new()
        .post(format!("{}{path}", s.base))
        .json(&body)
        .send()
        .await?;
    anyhow::ensure!(r.status().as_u16() == 201, "{}", r.text().await?);
    let answered = ms(t);
    let url = format!("{}/api/v1/vms/{vm}/cdp/json/version", s.base);
    loop {
        if let Ok(r) = reqwest::get(&url).await {
            if r.status().is_success() {
                let total = ms(t);
                let t2 = Instant::now();
                reqwest::get(&url).await?.error_for_status()?;
                return Ok(Ready {
                    answered,
                    total,
                    again: ms(t2),
                });
            }
        }
        anyhow::ensure!(t.elapsed() < Duration::from_secs(420), "{vm}: no CDP");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn line(what: &str, v: &mut [f64]) {
    println!(
        "  {what:<44} p50 {:>7.0} ms  p95 {:>7.0} ms  (n={})",
        pct(v, 0.5),
        pct(v, 0.95),
        v.len()
    );
}

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    in_netns(|| async {
        let data = tempfile::tempdir()?;
        let s = Server::networked(data.path(), "10.82.0.0/24", &["--max-vms", "40"])?;
        let vmm = std::env::var("HYPE_BENCH_VMM").unwrap_or_else(|_| "auto".into());
        let shape = json!({"image": "browser", "cpu_cores": 2, "memory_mb": 1536, "vmm": vmm});
        let with = |name: &str, extra: Value| {
            let mut b = shape.clone();
            b["name"] = name.into();
            for (k, v) in extra.as_object().unwrap() {
                b[k] = v.clone();
            }
            b
        };

        // Cold, the baseline.
        let mut cold = vec![];
        for i in 0..env_n("HYPE_BENCH_COLD", 2) {
            let name = format!("cold{i}");
            cold.push(cdp_ready(&s, "/api/v1/vms", with(&name, json!({})), &name).await?);
            if i > 0 {
                s.client.delete_vm(&name).await?;
            }
        }
        // The first cold sandbox stays: the source of the snapshot, and
        // the idle cold sandbox whose memory the forks are compared with.
        let t = Instant::now();
        let snap = s.client.create_snapshot("cold0", "bench").await?;
        let snapshot_ms = t.elapsed().as_secs_f64() * 1e3;

        let (mut from_snapshot, mut fork_answered) = (vec![], vec![]);
        for i in 0..env_n("HYPE_BENCH_FORKS", 5) {
            let name = format!("f{i}");
            let body = json!({"name": name, "snapshot": "bench"});
            let r = cdp_ready_split(&s, "/api/v1/vms", body, &name).await?;
            from_snapshot.push(r.total);
            fork_answered.push(r.answered);
            s.client.delete_vm(&name).await?;
        }

        // Ten at once, each timed on its own.
        let ten = (0..10).map(|i| {
            let name = format!("t{i}");
            let s = &s;
            async move {
                let body = json!({"name": name, "snapshot": "bench"});
                cdp_ready(s, "/api/v1/vms", body, &name).await
            }
        });
        let mut at_once = vec![];
        for r in futures::future::join_all(ten).await {
            at_once.push(r?);
        }

        // Memory, idle: let the guests settle first.
        tokio::time::sleep(Duration::from_secs(20)).await;
        let cold0 = s.client.get_vm("cold0").await?;
        let cold_pss = pss_mib(cold0.vmm.pid.unwrap_or(0));
        let mut forks_pss = vec![];
        for i in 0..10 {
            let pid = s
                .client
                .get_vm(&format!("t{i}"))
                .await?
                .vmm
                .pid
                .unwrap_or(0);
            forks_pss.push(pss_mib(pid));
        }
        let sum: f64 = forks_pss.iter().sum();
        let t0 = s.client.get_vm("t0").await?.vmm.pid.unwrap_or(0);
        let (guest_mib, vmm_mib) = pss_split_mib(t0);
        for i in 0..10 {
            s.client.delete_vm(&format!("t{i}")).await?;
        }

        // Measured with the ten gone: ten idle Chromium guests under TCG
        // keep two cores busy, which is not what a fork costs.
        let mut of_running = vec![];
        for i in 0..3 {
            let name = format!("g{i}");
            let t = Instant::now();
            let r = reqwest::Client::new()
                .post(format!("{}/api/v1/vms/cold0/fork", s.base))
                .json(&json!({"name": name}))
                .send()
                .await?;
            let made: ForkResult = r.json().await?;
            anyhow::ensure!(made.failed.is_empty(), "{:?}", made.failed);
            let url = format!("{}/api/v1/vms/{name}/cdp/json/version", s.base);
            reqwest::get(&url).await?.error_for_status()?;
            of_running.push(t.elapsed().as_secs_f64() * 1e3);
            s.client.delete_vm(&name).await?;
        }

        // A warm pool of three: claims while it has one ready, then how
        // long it takes to be full again after three claims at once.
        let t = Instant::now();
        let pool: hype_types::CreatePool = serde_json::from_value(json!({
            "name": "bench", "image": "browser", "cpu_cores": 2, "memory_mb": 1536, "size": 3}))?;
        s.client.create_pool(&pool).await?;
        let ready = |n: u32| {
            let s = &s;
            async move {
                loop {
                    let p = s.client.get_pool("bench").await?;
                    if p.ready >= n {
                        return anyhow::Ok(());
                    }
                    anyhow::ensure!(
                        p.error.is_none() || p.ready > 0 || t.elapsed() < Duration::from_secs(900),
                        "{p:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        ready(3).await?;
        let pool_ready_s = t.elapsed().as_secs_f64();
        let (mut claims, mut claim_answered, mut warm_cdp) = (vec![], vec![], vec![]);
        for i in 0..env_n("HYPE_BENCH_CLAIMS", 8) {
            ready(3).await?;
            let name = format!("p{i}");
            let body = json!({"name": name, "pool": "bench"});
            let r = cdp_ready_split(&s, "/api/v1/vms", body, &name).await?;
            claims.push(r.total);
            claim_answered.push(r.answered);
            warm_cdp.push(r.again);
            s.client.delete_vm(&name).await?;
        }
        ready(3).await?;
        // Empty it at once (the creates only), then time the refill.
        let t = Instant::now();
        for i in 0..3 {
            let (st, b) = s
                .post(
                    "/api/v1/vms",
                    json!({"name": format!("d{i}"), "pool": "bench"}),
                )
                .await?;
            anyhow::ensure!(st == 201 && b["state"] == "running", "{b}");
        }
        ready(3).await?;
        let refill_s = t.elapsed().as_secs_f64();

        let accel = s.client.version().await?.accel.mode;
        println!(
            "browser sandbox (2 vCPUs, 1536 MiB) -> CDP ready through hyped, {} on {accel}:",
            cold0.vmm.kind.as_str()
        );
        line("cold create (baseline)", &mut cold);
        println!(
            "  {:<44} {snapshot_ms:>11.0} ms  ({} MiB on disk)",
            "snapshot of a running sandbox",
            snap.size_bytes >> 20
        );
        line("fork from a snapshot", &mut from_snapshot);
        line("  of which the 201 (running)", &mut fork_answered);
        line("ten forks at once, each", &mut at_once);
        line("fork of a running VM (snapshot + fork)", &mut of_running);
        println!("memory, idle (PSS):");
        println!(
            "  {:<44} {cold_pss:>7.0} MiB",
            "one cold sandbox (baseline)"
        );
        println!(
            "  {:<44} {sum:>7.0} MiB  ({:.2}x one cold)",
            "ten forks, summed",
            sum / cold_pss.max(1.0)
        );
        println!(
            "  {:<44} {:>7.0} MiB  (min {:.0}, max {:.0})",
            "each fork, median",
            pct(&mut forks_pss.clone(), 0.5),
            forks_pss.iter().cloned().fold(f64::MAX, f64::min),
            forks_pss.iter().cloned().fold(0.0, f64::max)
        );
        println!(
            "  {:<44} {guest_mib:>7.0} MiB guest RAM, {vmm_mib:.0} MiB the VMM's own",
            "one fork's PSS, split"
        );
        println!("warm pool of 3 (same shape, on QEMU):");
        println!(
            "  {:<44} {pool_ready_s:>11.1} s",
            "first full (cold template, snapshot, 3 forks)"
        );
        line("create from the pool -> CDP ready", &mut claims);
        line("  of which the 201", &mut claim_answered);
        line("CDP call to a warm sandbox (baseline)", &mut warm_cdp);
        println!(
            "  {:<44} {:>7.1} forks/min  (3 in {refill_s:.1} s)",
            "refill after 3 claims",
            3.0 * 60.0 / refill_s.max(0.001)
        );
        Ok(())
    })
}
