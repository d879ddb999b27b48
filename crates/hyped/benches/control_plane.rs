//! Control-plane figures, printed (not asserted): list latency with 10,000
//! VMs in the store, create → running split into hyped's time and the
//! guest's, and SSE delivery delay to 1,000 concurrent watchers.
//!
//! `cargo bench -p hyped --bench control_plane` (needs the base image, as the
//! tests do). `HYPE_BENCH_BOOTS` and `HYPE_BENCH_WATCHERS` scale it down.

#[path = "../tests/common/mod.rs"]
mod common;
mod figures;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Server;
use figures::{env_n, pct};
use hype_store::{ImageRecord, NewVm, Store};
use hype_types::{EventType, VmmKind};

fn report(name: &str, v: &mut [f64]) {
    let n = v.len();
    let (p50, p99, max) = (pct(v, 0.5), pct(v, 0.99), pct(v, 1.0));
    println!("{name:<44} n={n:<6} p50={p50:>9.2} ms  p99={p99:>9.2} ms  max={max:>9.2} ms");
}

fn raise_fd_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

async fn list_with_10k() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    {
        let store = Store::open(&tmp.path().join("hype.db")).await?;
        let dir = common::images_dir().join("base");
        store
            .upsert_image(&ImageRecord {
                name: "base".into(),
                kind: "kernel".into(),
                source: "build".into(),
                dir: dir.display().to_string(),
                vmlinuz: None,
                vmlinux: Some("vmlinux".into()),
                initramfs: Some("initramfs.img".into()),
                rootfs: None,
                kernel_version: None,
                size_bytes: 0,
                sha256: None,
                boot_mode: "kernel".into(),
                disk: None,
                format: None,
                firmware: None,
                disks: vec![],
                nic_model: None,
                created_at: "2026-01-01T00:00:00Z".into(),
            })
            .await?;
        let vms = (0..10_000)
            .map(|i| NewVm {
                id: format!("bench-{i}"),
                name: format!("vm-{i:05}"),
                cpu_cores: 1,
                memory_mb: 256,
                image: "base".into(),
                kernel_cmdline: "console=ttyS0 hype.name=vm".into(),
                user_cmdline: None,
                vmm_kind: VmmKind::Qemu,
                egress: true,
                ttl_seconds: None,
                idle_timeout_seconds: None,
                persist: false,
                record: false,
                has_agent: true,
                snapshot: None,
                pool: None,
                created_detail: None,
            })
            .collect();
        store.seed_stopped_vms(vms).await?;
        store.close().await;
    }
    // The figures are hyped's own, not the rate limit's.
    let s = Server::start_in(tmp.path(), &["--rate-limit", "0"])?;
    let http = reqwest::Client::new();
    // The whole list, the way a client gets it now: following every page
    // of the largest size (10 pages of 1,000).
    let mut lat = vec![];
    for i in 0..30 {
        let t = Instant::now();
        let mut after: Option<String> = None;
        let mut n = 0;
        loop {
            let page = s
                .client
                .list_vms_page(None, after.as_deref(), Some(1000))
                .await?;
            n += page.vms.len();
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(n, 10_000);
        if i >= 5 {
            lat.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    report("all 10,000 VMs (10 pages of 1,000)", &mut lat);
    // One page of the default size, from the start and from the middle.
    for (label, url) in [
        (
            "GET /api/v1/vms (first page of 100)",
            format!("{}/api/v1/vms", s.base),
        ),
        (
            "GET /api/v1/vms?after=vm-04999 (page of 100)",
            format!("{}/api/v1/vms?after=vm-04999", s.base),
        ),
    ] {
        let mut lat = vec![];
        for i in 0..1100 {
            let t = Instant::now();
            let body = http.get(&url).send().await?.bytes().await?;
            if i >= 100 {
                lat.push(t.elapsed().as_secs_f64() * 1e3);
            }
            assert!(body.len() > 10_000);
        }
        report(&format!("{label}, 10,000 VMs"), &mut lat);
    }
    let one = format!("{}/api/v1/vms/vm-04242", s.base);
    let mut lat = vec![];
    for _ in 0..500 {
        let t = Instant::now();
        http.get(&one).send().await?.bytes().await?;
        lat.push(t.elapsed().as_secs_f64() * 1e3);
    }
    report("GET /api/v1/vms/{name}, 10,000 VMs", &mut lat);
    Ok(())
}

/// Numbers out of the VM_RUNNING detail: guest uptime and VMM-launch-to-ready.
fn parse_ready(detail: &str) -> Option<(f64, f64)> {
    let uptime = detail
        .split("ready: ")
        .nth(1)?
        .split(" ms")
        .next()?
        .parse()
        .ok()?;
    let total = detail
        .split("), ")
        .nth(1)?
        .split(" ms")
        .next()?
        .parse()
        .ok()?;
    Some((uptime, total))
}

async fn create_to_running() -> anyhow::Result<()> {
    let s = Server::start()?;
    let boots = env_n("HYPE_BENCH_BOOTS", 10);
    let (mut total, mut api, mut guest, mut hyped) = (vec![], vec![], vec![], vec![]);
    for i in 0..boots {
        let name = format!("boot-{i}");
        let mut ev = s
            .client
            .vm_events(Some(&name), Some(s.last_event_id().await?))
            .await?;
        let t = Instant::now();
        s.client
            .create_vm(&serde_json::from_value(
                serde_json::json!({"name": name, "memory_mb": 256}),
            )?)
            .await?;
        let api_ms = t.elapsed().as_secs_f64() * 1e3;
        let e = s
            .wait_event(&mut ev, Duration::from_secs(180), |e| {
                matches!(e.event_type, EventType::VmRunning | EventType::VmCrashed)
            })
            .await?;
        let total_ms = t.elapsed().as_secs_f64() * 1e3;
        anyhow::ensure!(
            e.event_type == EventType::VmRunning,
            "boot failed: {:?}",
            e.detail
        );
        let (uptime, _launch_to_ready) = parse_ready(e.detail.as_deref().unwrap_or(""))
            .ok_or_else(|| anyhow::anyhow!("unparsed detail {:?}", e.detail))?;
        total.push(total_ms);
        api.push(api_ms);
        guest.push(uptime);
        hyped.push(total_ms - uptime);
        s.client.delete_vm(&name).await?;
    }
    let accel = s.client.version().await?.accel.mode;
    println!("create -> running ({accel}, 1 vCPU, 256 MiB, base image):");
    report("  total (POST to VM_RUNNING seen by a watcher)", &mut total);
    report("  POST /api/v1/vms (validate, record, spawn VMM)", &mut api);
    report("  guest: kernel boot + agent (guest uptime)", &mut guest);
    report("  everything else (hyped + VMM start-up)", &mut hyped);
    Ok(())
}

async fn sse_fanout() -> anyhow::Result<()> {
    raise_fd_limit();
    let watchers = env_n("HYPE_BENCH_WATCHERS", 1000);
    let s = Server::start_with(&["--rate-limit", "0"])?;
    s.create_running("fan").await?;
    let rounds = 10;
    let delays = Arc::new(std::sync::Mutex::new(Vec::<f64>::new()));
    let ready = Arc::new(tokio::sync::Barrier::new(watchers + 1));
    let mut tasks = vec![];
    for _ in 0..watchers {
        let c = s.client.clone();
        let delays = delays.clone();
        let ready = ready.clone();
        let from = s.last_event_id().await?;
        tasks.push(tokio::spawn(async move {
            let mut st = c.vm_events(None, Some(from)).await?;
            ready.wait().await;
            let mut got = 0;
            while got < rounds * 2 {
                let f = st.next().await.ok_or_else(|| anyhow::anyhow!("closed"))??;
                let ev: hype_types::Event = serde_json::from_str(&f.data)?;
                let at = time::OffsetDateTime::parse(
                    &ev.at,
                    &time::format_description::well_known::Rfc3339,
                )?;
                let d = (time::OffsetDateTime::now_utc() - at).as_seconds_f64() * 1e3;
                delays.lock().unwrap().push(d);
                got += 1;
            }
            anyhow::Ok(())
        }));
    }
    ready.wait().await;
    for _ in 0..rounds {
        s.client.vm_action("fan", "pause").await?;
        s.client.vm_action("fan", "resume").await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for t in tasks {
        t.await??;
    }
    let mut d = delays.lock().unwrap().clone();
    report(&format!("SSE delivery delay, {watchers} watchers"), &mut d);
    s.client.delete_vm("fan").await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    list_with_10k().await?;
    create_to_running().await?;
    sse_fanout().await?;
    Ok(())
}
