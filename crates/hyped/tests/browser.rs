//! Browser sandboxes end to end: real microVMs booting the `browser` image
//! (QEMU; TCG on hosts whose KVM cannot run guests, hence the generous
//! deadlines), driven through hyped's CDP proxy by Playwright
//! (`connectOverCDP`) and by chromiumoxide, in a network namespace of the
//! test's own.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{in_netns, Server};
use futures::StreamExt;
use hype_types::EventType;
use serde_json::Value;

const BOOT: Duration = Duration::from_secs(420);

fn browser_image_present() -> bool {
    common::images_dir().join("browser/manifest.json").is_file()
}

async fn create(s: &Server, body: Value) -> anyhow::Result<Duration> {
    let name = body["name"].as_str().unwrap_or_default().to_owned();
    let mut ev = s
        .client
        .vm_events(Some(&name), Some(s.last_event_id().await?))
        .await?;
    let t = Instant::now();
    s.client.create_vm(&serde_json::from_value(body)?).await?;
    let e = s
        .wait_event(&mut ev, BOOT, |e| {
            matches!(e.event_type, EventType::VmRunning | EventType::VmCrashed)
        })
        .await?;
    anyhow::ensure!(
        e.event_type == EventType::VmRunning,
        "{name}: {:?}",
        e.detail
    );
    Ok(t.elapsed())
}

/// Runs one of the Node clients in tests/browser and parses what it prints.
fn node_client(script: &str, args: &[&str]) -> anyhow::Result<Value> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/browser");
    let run = Command::new("node")
        .arg(format!("{dir}/{script}"))
        .args(args)
        .output()?;
    anyhow::ensure!(
        run.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    Ok(serde_json::from_slice(&run.stdout)?)
}

/// Asks the guest's relay at `ip:9222` for /json/version from the
/// gateway's address and from another address of the host's bridge; only
/// the first gets an answer.
async fn relay_serves_only_the_gateway(s: &Server, ip: &str) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let version = s.client.version().await?;
    let bridge = version
        .network
        .bridge
        .expect("a networked hyped has a bridge");
    let other: std::net::Ipv4Addr = "10.79.0.250".parse()?;
    common::sh(&["ip", "addr", "add", "10.79.0.250/32", "dev", &bridge])?;
    let ask = |from: Option<std::net::Ipv4Addr>| async move {
        let sock = tokio::net::TcpSocket::new_v4()?;
        if let Some(from) = from {
            sock.bind((from, 0).into())?;
        }
        let mut conn = sock.connect(format!("{ip}:9222").parse()?).await?;
        conn.write_all(b"GET /json/version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await?;
        // The first bytes of an answer, or none when the relay closes the
        // connection unread (Chromium keeps an answered one open).
        let mut answer = vec![0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(20), conn.read(&mut answer)).await??;
        anyhow::Ok(String::from_utf8_lossy(&answer[..n]).into_owned())
    };
    let served = ask(None).await?;
    assert!(
        served.starts_with("HTTP/1.1 200"),
        "from the gateway: {served:?}"
    );
    let refused = ask(Some(other)).await;
    assert!(
        refused.as_ref().map_or(true, |a| a.is_empty()),
        "from {other}: {refused:?}"
    );
    common::sh(&["ip", "addr", "del", "10.79.0.250/32", "dev", &bridge])?;
    Ok(())
}

fn playwright(cdp_url: &str, out: &std::path::Path) -> anyhow::Result<Value> {
    node_client(
        "playwright-check.mjs",
        &[cdp_url, &out.display().to_string()],
    )
}

#[test]
fn playwright_and_chromiumoxide_drive_sandboxes_through_hyped() -> anyhow::Result<()> {
    let _turn = common::browser_turn();
    assert!(
        browser_image_present(),
        "no browser image: run scripts/build-images.sh"
    );
    in_netns(|| async {
        let tmp = tempfile::tempdir()?;
        let s = Server::networked(tmp.path(), "10.79.0.0/24", &[])?;
        let spec = |name: &str| serde_json::json!({"name": name, "image": "browser", "cpu_cores": 2, "memory_mb": 1536});
        // Two sandboxes at once.
        let (a, b) = tokio::join!(create(&s, spec("s1")), create(&s, spec("s2")));
        let boot = a?.max(b?);
        eprintln!("two browser sandboxes running after {boot:?}");

        // Not a browser image, or not running yet: clear errors.
        let early = s
            .client
            .create_vm(&serde_json::from_value(spec("s3"))?)
            .await?;
        let r = reqwest::get(format!("{}/json/version", early.cdp_url.clone().unwrap())).await?;
        assert_eq!(r.status(), 409);
        let body: Value = r.json().await?;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("starting"),
            "{body}"
        );
        s.client.delete_vm("s3").await?;

        let s1 = s.client.get_vm("s1").await?;
        let cdp = s1.cdp_url.clone().expect("a browser VM has a cdp_url");
        assert_eq!(cdp, format!("{}/api/v1/vms/s1/cdp", s.base));
        let version: Value = reqwest::get(format!("{cdp}/json/version"))
            .await?
            .json()
            .await?;
        let ws = version["webSocketDebuggerUrl"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let host = s.base.trim_start_matches("http://");
        assert!(
            ws.starts_with(&format!("ws://{host}/api/v1/vms/s1/cdp/devtools/browser/")),
            "{ws}"
        );

        // The guest's relay drops Origin, so it serves hyped (the gateway)
        // alone: a client from any other address, like a page inside the
        // sandbox, is closed unread.
        relay_serves_only_the_gateway(&s, s1.ip.as_deref().expect("a networked VM has an address"))
            .await?;

        // Playwright on both sandboxes at once.
        let dir = tempfile::tempdir()?;
        let (o1, o2) = (dir.path().join("s1.png"), dir.path().join("s2.png"));
        let c2 = s.client.get_vm("s2").await?.cdp_url.unwrap();
        let (r1, r2) = std::thread::scope(|sc| {
            let h1 = sc.spawn(|| playwright(&cdp, &o1));
            let h2 = sc.spawn(|| playwright(&c2, &o2));
            (h1.join(), h2.join())
        });
        for r in [r1, r2] {
            let r = r.map_err(|_| anyhow::anyhow!("playwright thread panicked"))??;
            assert_eq!(r["title"], "hype sandbox", "{r}");
            assert!(r["png_bytes"].as_u64().unwrap_or(0) > 1000, "{r}");
        }
        assert!(std::fs::read(&o1)?.starts_with(b"\x89PNG"));

        // Puppeteer's connect() with the same URL.
        let p = node_client("puppeteer-check.mjs", &[&cdp])?;
        assert_eq!(p["title"], "via puppeteer", "{p}");

        // chromiumoxide, from Rust.
        let (browser, mut handler) = chromiumoxide::Browser::connect(ws.clone()).await?;
        let pump = tokio::spawn(async move { while handler.next().await.is_some() {} });
        let page = browser
            .new_page("data:text/html,<title>from rust</title><p>hi</p>")
            .await?;
        assert_eq!(page.get_title().await?.as_deref(), Some("from rust"));
        // hyped's browser watch saw that page (a client's own) from its
        // start: its console and its requests.
        page.evaluate(
            "console.log('watched', 1); fetch('http://10.79.0.1:9/watched').catch(() => 0); 1",
        )
        .await?;
        drop(browser);
        pump.abort();
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let c: Value = reqwest::get(format!("{}/api/v1/vms/s1/browser/console", s.base))
                .await?
                .json()
                .await?;
            let n: Value = reqwest::get(format!("{}/api/v1/vms/s1/browser/network", s.base))
                .await?
                .json()
                .await?;
            let logged = c["messages"]
                .as_array()
                .is_some_and(|m| m.iter().any(|m| m["text"] == "watched 1"));
            let fetched = n["requests"].as_array().is_some_and(|r| {
                r.iter()
                    .any(|r| r["url"] == "http://10.79.0.1:9/watched" && r["failure"].is_string())
            });
            if logged && fetched {
                break;
            }
            assert!(Instant::now() < until, "not recorded:\n{c}\n{n}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        // Standby and back: the same browser, its open page, reachable on
        // the same address through the same proxy.
        let ip = s1.ip.clone();
        assert_eq!(
            s.client.vm_action("s1", "snapshot").await?.state,
            hype_types::VmState::Standby
        );
        let back = s.client.vm_action("s1", "restore").await?;
        assert_eq!((back.state, back.ip), (hype_types::VmState::Running, ip));
        let pages: Value = reqwest::get(format!("{cdp}/json/list"))
            .await?
            .json()
            .await?;
        assert!(
            pages
                .as_array()
                .is_some_and(|p| p.iter().any(|t| t["title"] == "from rust")),
            "the page opened before standby is still there: {pages}"
        );
        // Only what a user opened runs: no preloaded browser UI (the
        // address bar's popup, a renderer of its own that Chromium 151
        // keeps busy in an idle sandbox).
        let ui: Vec<&Value> = pages
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| {
                t["type"] == "browser_ui"
                    || t["url"]
                        .as_str()
                        .is_some_and(|u| u.starts_with("chrome://"))
            })
            .collect();
        assert!(ui.is_empty(), "targets a sandbox never asked for: {ui:?}");

        // The screenshot endpoint gives a PNG a person can open.
        let png = reqwest::get(format!("{}/api/v1/vms/s1/screenshot", s.base)).await?;
        assert_eq!(png.headers()["content-type"], "image/png");
        assert!(png.bytes().await?.starts_with(b"\x89PNG"));

        // An expiring sandbox closes its CDP clients with a close frame.
        let ttl = (boot.as_secs() * 2 + 30) as u32;
        let t = create(
            &s,
            serde_json::json!({"name": "s4", "image": "browser", "memory_mb": 1536, "ttl_seconds": ttl}),
        )
        .await?;
        eprintln!("s4 running after {t:?}, ttl {ttl} s");
        let v: Value = reqwest::get(format!("{}/api/v1/vms/s4/cdp/json/version", s.base))
            .await?
            .json()
            .await?;
        let (mut sock, _) =
            tokio_tungstenite::connect_async(v["webSocketDebuggerUrl"].as_str().unwrap()).await?;
        let close = tokio::time::timeout(Duration::from_secs(ttl as u64 + 30), async {
            while let Some(m) = sock.next().await {
                if let Ok(tokio_tungstenite::tungstenite::Message::Close(f)) = m {
                    return f;
                }
            }
            None
        })
        .await?
        .expect("a close frame");
        assert_eq!(u16::from(close.code), 4000);
        assert!(close.reason.contains("ttl"), "{}", close.reason);
        s.client.delete_vm("s1").await?;
        s.client.delete_vm("s2").await?;
        Ok(())
    })
}

#[test]
fn persist_keeps_the_vms_writes_across_stop_and_start() -> anyhow::Result<()> {
    let _turn = common::browser_turn();
    assert!(
        browser_image_present(),
        "no browser image: run scripts/build-images.sh"
    );
    in_netns(|| async {
        let tmp = tempfile::tempdir()?;
        let s = Server::networked(tmp.path(), "10.82.0.0/24", &[])?;
        let err = s
            .client
            .create_vm(&serde_json::from_value(
                serde_json::json!({"name": "nope", "persist": true}),
            )?)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("persist needs an image with a root filesystem"),
            "{err}"
        );

        let spec = serde_json::json!({
            "name": "keep", "image": "browser", "cpu_cores": 2, "memory_mb": 1536, "persist": true
        });
        create(&s, spec).await?;
        assert!(s.client.get_vm("keep").await?.persist);
        let cdp = s.client.get_vm("keep").await?.cdp_url.expect("a browser");
        let cookies = |mode: &'static str| {
            let cdp = cdp.clone();
            tokio::task::spawn_blocking(move || node_client("cookie-check.mjs", &[&cdp, mode]))
        };
        assert_eq!(cookies("set").await??["cookies"], 1);
        s.client.vm_action("keep", "stop").await?;

        // Chromium's profile went to the VM's own disk, not a tmpfs.
        let disk = tmp.path().join("vms/keep/persist.ext4");
        let ls = Command::new("debugfs")
            .args(["-R", "ls /upper/home/browser/.config/hype-chromium/Default"])
            .arg(&disk)
            .output()?;
        let listing = String::from_utf8_lossy(&ls.stdout);
        assert!(
            listing.contains("Cookies"),
            "profile on the disk:\n{listing}"
        );

        // It boots again on the same disk, and Chromium takes its profile back.
        let mut ev = s
            .client
            .vm_events(Some("keep"), Some(s.last_event_id().await?))
            .await?;
        s.client.vm_action("keep", "start").await?;
        let e = s
            .wait_event(&mut ev, BOOT, |e| {
                matches!(e.event_type, EventType::VmRunning | EventType::VmCrashed)
            })
            .await?;
        assert_eq!(e.event_type, EventType::VmRunning, "{:?}", e.detail);
        let v: Value = reqwest::get(format!("{}/api/v1/vms/keep/cdp/json/version", s.base))
            .await?
            .json()
            .await?;
        assert!(v["webSocketDebuggerUrl"].is_string(), "{v}");
        // What a user persists a sandbox for: its cookies are still there.
        let kept = cookies("get").await??;
        assert_eq!(
            kept["cookies"],
            serde_json::json!(["hype-persist=kept@persist.test"]),
            "{kept}"
        );
        s.client.delete_vm("keep").await?;
        assert!(!disk.exists(), "the disk goes with the VM");
        Ok(())
    })
}

/// What a page downloads lands in the sandbox's downloads folder, whichever
/// browser context it came from (also one a Playwright client made): it is
/// listed with its digest, fetched bit-exact, and announced on the VM's
/// event stream.
#[test]
fn downloads_are_kept_listed_fetched_and_announced() -> anyhow::Result<()> {
    let _turn = common::browser_turn();
    assert!(
        browser_image_present(),
        "no browser image: run scripts/build-images.sh"
    );
    in_netns(|| async {
        let tmp = tempfile::tempdir()?;
        let s = Server::networked(tmp.path(), "10.83.0.0/24", &[])?;
        create(
            &s,
            serde_json::json!({"name": "dl", "image": "browser", "cpu_cores": 2, "memory_mb": 1536}),
        )
        .await?;
        let cdp = s.client.get_vm("dl").await?.cdp_url.expect("a browser");
        let base = s.base.clone();
        let seen = tokio::task::spawn_blocking(move || {
            node_client("download-check.mjs", &[&cdp, &base, "dl"])
        })
        .await??;
        let mut payload = vec![0u8; 300_000];
        for (i, b) in payload.iter_mut().enumerate() {
            *b = ((i * 7919) % 251) as u8;
        }
        let want = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&payload))
        };
        let listed = s.client.downloads("dl").await?.downloads;
        let mut names: Vec<&str> = listed.iter().map(|d| d.name.as_str()).collect();
        names.sort();
        if names != ["report (1).bin", "report.bin"] {
            let log = s.client.logs("dl").await.unwrap_or_default();
            let agent: Vec<&str> = log.lines().filter(|l| l.contains("download")).collect();
            let hyped = std::fs::read_to_string(tmp.path().join("hyped.log")).unwrap_or_default();
            let hyped: Vec<&str> = hyped.lines().filter(|l| l.contains("download")).collect();
            panic!(
                "downloads listed: {names:?}; script: {seen}\nguest: {agent:#?}\nhyped: {hyped:#?}"
            );
        }
        for d in &listed {
            assert_eq!(
                (d.size, d.sha256.as_str()),
                (300_000, want.as_str()),
                "{d:?}"
            );
            assert!(d.url.starts_with("data:application/octet-stream"), "{d:?}");
            let mut got = s.client.download_file("dl", &d.name).await?;
            let mut bytes = Vec::new();
            while let Some(chunk) = got.body.next().await {
                bytes.extend_from_slice(&chunk?);
            }
            assert_eq!(bytes, payload, "{}", d.name);
        }
        let events: hype_types::EventList = s.client.get_json("/api/v1/events?vm=dl").await?;
        let announced = events
            .events
            .iter()
            .filter(|e| e.event_type == EventType::DownloadCompleted && e.vm == "dl")
            .count();
        assert_eq!(announced, 2);
        // Not a download's name: refused; an unknown one: 404.
        let r = reqwest::get(format!("{}/api/v1/vms/dl/downloads/..%2Fetc", s.base)).await?;
        assert_eq!(r.status(), 422);
        let r = reqwest::get(format!("{}/api/v1/vms/dl/downloads/none.bin", s.base)).await?;
        assert_eq!(r.status(), 404);
        s.client.delete_vm("dl").await?;
        Ok(())
    })
}
