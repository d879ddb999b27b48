//! Live view figures, printed, from one browser sandbox in one run: the
//! frames per second a viewer gets while the sandbox's page animates, the
//! latency of a CDP command through hyped's proxy without a viewer and
//! with one (p50/p95 and the difference; measured in alternating rounds,
//! so a guest still settling does not favour either), and a slow viewer
//! (one message read every 500 ms, on a socket with a 16 KiB receive
//! buffer, as over a slow link) against what the browser sent and hyped
//! dropped. Needs the `browser` image.
//!
//! `cargo bench -p hyped --bench live` (`HYPE_BENCH_CALLS`, default 200;
//! `HYPE_BENCH_SLOW_SECONDS`, default 10)

#[path = "../tests/common/mod.rs"]
mod common;
mod figures;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::cdp::Cdp;
use common::Server;
use figures::{env_n, pct};
use futures::StreamExt;
use serde_json::json;

/// A page whose content changes every animation frame, so the screencast
/// always has a new frame to send. Built in place: nothing from outside.
const ANIMATE: &str = "(() => { document.body.style.margin = '0'; \
    const d = document.createElement('div'); \
    d.style.cssText = 'width:200px;height:200px;background:#2f5bd3;font:40px sans-serif;color:#fff'; \
    document.body.appendChild(d); let n = 0; \
    const f = () => { n++; d.textContent = String(n); d.style.transform = `translateX(${n % 600}px)`; \
        requestAnimationFrame(f); }; f(); return true; })()";

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    // The live view reaches the browser at the sandbox's address:
    // networking on, in a namespace of the bench's own.
    common::in_netns(run)
}

/// The counters `/metrics` has for live views.
#[derive(Debug, Clone, Copy)]
struct Live {
    viewers: f64,
    frames: f64,
    dropped: f64,
}

async fn live_metrics(s: &Server) -> anyhow::Result<Live> {
    let text = reqwest::get(format!("{}/metrics", s.base))
        .await?
        .text()
        .await?;
    let get = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
            .ok_or_else(|| anyhow::anyhow!("no {name} in /metrics"))
    };
    Ok(Live {
        viewers: get("hype_live_viewers")?,
        frames: get("hype_live_frames_total")?,
        dropped: get("hype_live_frames_dropped_total")?,
    })
}

/// `n` round trips of `Runtime.evaluate("1+1")`, in ms.
async fn latencies(page: &mut Cdp, n: usize) -> anyhow::Result<Vec<f64>> {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = page
            .call("Runtime.evaluate", json!({"expression": "1+1"}))
            .await?;
        v.push(t.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(r["result"]["value"] == 2, "{r}");
    }
    Ok(v)
}

fn print(what: &str, v: &mut [f64]) -> (f64, f64) {
    let (p50, p95) = (pct(v, 0.5), pct(v, 0.95));
    println!(
        "  {what:<38} p50 {p50:>7.2} ms   p95 {p95:>7.2} ms   (n={})",
        v.len()
    );
    (p50, p95)
}

/// A viewer on the live WebSocket (`addr`, `url`) that reads a message
/// every `every` (none: as fast as they come), counting frames and their
/// bytes. A slow viewer gets a small receive buffer: on loopback the
/// kernel's buffers would otherwise hold megabytes of frames.
fn viewer(
    addr: std::net::SocketAddr,
    url: String,
    every: Option<Duration>,
) -> (
    Arc<AtomicU64>,
    Arc<AtomicU64>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let frames = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let (f, b) = (frames.clone(), bytes.clone());
    let task = tokio::spawn(async move {
        let tcp = tokio::net::TcpSocket::new_v4()?;
        if every.is_some() {
            tcp.set_recv_buffer_size(16 << 10)?;
        }
        let stream = tcp.connect(addr).await?;
        let (mut sock, _) = tokio_tungstenite::client_async(url, stream).await?;
        loop {
            if let Some(d) = every {
                tokio::time::sleep(d).await;
            }
            match sock.next().await {
                Some(Ok(m)) if m.is_binary() => {
                    f.fetch_add(1, Ordering::Relaxed);
                    b.fetch_add(m.len() as u64, Ordering::Relaxed);
                }
                Some(Ok(_)) => {}
                other => anyhow::bail!("the live view ended: {other:?}"),
            }
        }
    });
    (frames, bytes, task)
}

async fn run() -> anyhow::Result<()> {
    let n = env_n("HYPE_BENCH_CALLS", 200);
    let slow_for = Duration::from_secs(env_n("HYPE_BENCH_SLOW_SECONDS", 10) as u64);
    let data = tempfile::tempdir()?;
    let s = Server::networked(data.path(), "10.93.0.0/24", &[])?;
    s.create_running_as(
        json!({"name": "liveb", "image": "browser", "cpu_cores": 2, "memory_mb": 1536}),
        Duration::from_secs(400),
    )
    .await?;

    let mut page = Cdp::first_page(&format!("{}/api/v1/vms/liveb/cdp", s.base)).await?;
    // Warm-up, not measured: a browser just ready under TCG is slow at
    // first.
    let r = page
        .call("Runtime.evaluate", json!({"expression": ANIMATE}))
        .await?;
    anyhow::ensure!(r["result"]["value"] == true, "{r}");
    latencies(&mut page, 100).await?;
    let live_ws = format!(
        "{}/api/v1/vms/liveb/live/ws",
        s.base.replacen("http://", "ws://", 1)
    );

    let addr: std::net::SocketAddr = s
        .base
        .trim_start_matches("http://")
        .parse()
        .map_err(|e| anyhow::anyhow!("hyped's address {}: {e}", s.base))?;

    // Rounds of (a) no viewer, so no screencast, then (b) one viewer
    // reading every frame, while the page animates.
    let rounds = 4;
    let (mut without, mut with) = (vec![], vec![]);
    let (mut got, mut got_bytes, mut secs, mut sent, mut dropped) = (0, 0, 0.0, 0.0, 0.0);
    for _ in 0..rounds {
        let m0 = live_metrics(&s).await?;
        anyhow::ensure!(m0.viewers == 0.0, "a viewer left over: {m0:?}");
        without.extend(latencies(&mut page, n / rounds).await?);
        let m1 = live_metrics(&s).await?;
        anyhow::ensure!(m1.frames == m0.frames, "frames with no viewer");

        let (frames, bytes, task) = viewer(addr, live_ws.clone(), None);
        let t = Instant::now();
        while frames.load(Ordering::Relaxed) == 0 {
            anyhow::ensure!(t.elapsed() < Duration::from_secs(120), "no first frame");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (f0, b0, m2, t0) = (
            frames.load(Ordering::Relaxed),
            bytes.load(Ordering::Relaxed),
            live_metrics(&s).await?,
            Instant::now(),
        );
        with.extend(latencies(&mut page, n / rounds).await?);
        // At least 3 s of frames for the rate.
        if let Some(rest) = Duration::from_secs(3).checked_sub(t0.elapsed()) {
            tokio::time::sleep(rest).await;
        }
        secs += t0.elapsed().as_secs_f64();
        got += frames.load(Ordering::Relaxed) - f0;
        got_bytes += bytes.load(Ordering::Relaxed) - b0;
        let m3 = live_metrics(&s).await?;
        sent += m3.frames - m2.frames;
        dropped += m3.dropped - m2.dropped;
        task.abort();
        let _ = task.await;
        let t = Instant::now();
        while live_metrics(&s).await?.viewers != 0.0 {
            anyhow::ensure!(t.elapsed() < Duration::from_secs(10), "the viewer stayed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // (c) A slow viewer: one message read every 500 ms.
    let (slow_frames, _, slow) = viewer(addr, live_ws, Some(Duration::from_millis(500)));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (m4, s0) = (live_metrics(&s).await?, slow_frames.load(Ordering::Relaxed));
    let slow_t = Instant::now();
    let mut with_slow = vec![];
    while slow_t.elapsed() < slow_for {
        with_slow.extend(latencies(&mut page, 10).await?);
    }
    let slow_secs = slow_t.elapsed().as_secs_f64();
    let m5 = live_metrics(&s).await?;
    let slow_got = slow_frames.load(Ordering::Relaxed) - s0;
    slow.abort();
    let _ = slow.await;

    let accel = s.client.version().await?.accel.mode;
    println!("live view, one browser sandbox ({accel}, 2 vCPUs, 1536 MiB), page animating:");
    println!(
        "  viewer reading every frame: {:.1} frames/s delivered ({:.0} KiB/s, {:.1} KiB a frame; browser sent {sent:.0}, hyped dropped {dropped:.0}) over {secs:.1} s",
        got as f64 / secs,
        got_bytes as f64 / 1024.0 / secs,
        got_bytes as f64 / 1024.0 / got.max(1) as f64,
    );
    println!("  Runtime.evaluate(\"1+1\") through hyped's CDP proxy, {rounds} alternating rounds:");
    let (a50, a95) = print("no live viewer (no screencast)", &mut without);
    let (b50, b95) = print("live viewer attached", &mut with);
    let (c50, c95) = print("slow live viewer attached", &mut with_slow);
    println!(
        "  added by a live viewer: p50 {:+.2} ms, p95 {:+.2} ms; by a slow one: p50 {:+.2} ms, p95 {:+.2} ms",
        b50 - a50,
        b95 - a95,
        c50 - a50,
        c95 - a95
    );
    println!(
        "  slow viewer (reads one message every 500 ms) over {slow_secs:.1} s: received {slow_got} frames, browser sent {:.0}, hyped dropped {:.0}",
        m5.frames - m4.frames,
        m5.dropped - m4.dropped,
    );
    s.client.delete_vm("liveb").await?;
    Ok(())
}
