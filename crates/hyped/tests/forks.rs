//! Named snapshots and forks of browser sandboxes, end to end: real QEMU
//! guests (TCG where KVM cannot run them) in a network namespace of the
//! test's own, driven over CDP through hyped's proxy.

mod common;

use std::time::{Duration, Instant};

use common::cdp::Cdp;
use common::{in_netns, Server};
use hype_types::{ForkResult, Snapshot, Vm, VmState};
use serde_json::{json, Value};

const PAGE: &str = "data:text/html,<title>fork-me</title><script>window.marker = Math.random().toString(36).slice(2)</script>";
const COOKIE_URL: &str = "https://fork.test/";

/// The page's marker (made at load, so a reload would change it) and the
/// cookie jar's value for COOKIE_URL.
async fn page_state(vm: &Vm) -> anyhow::Result<(String, String)> {
    let mut page = Cdp::first_page(vm.cdp_url.as_ref().unwrap()).await?;
    let marker = page.eval("document.title + ':' + window.marker").await?;
    let cookies = page
        .call("Network.getCookies", json!({"urls": [COOKIE_URL]}))
        .await?;
    let cookie = cookies["cookies"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "session"))
        .map(|c| c["value"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    Ok((marker.as_str().unwrap_or_default().to_owned(), cookie))
}

/// Random numbers from a page opened now (a new renderer process).
async fn fresh_random(vm: &Vm) -> anyhow::Result<String> {
    let cdp = vm.cdp_url.as_ref().unwrap();
    let mut browser = Cdp::browser(cdp).await?;
    let t = browser
        .call("Target.createTarget", json!({"url": "about:blank"}))
        .await?;
    let id = t["targetId"].as_str().unwrap().to_owned();
    let a = browser
        .call(
            "Target.attachToTarget",
            json!({"targetId": id, "flatten": true}),
        )
        .await?;
    let session = a["sessionId"].as_str().unwrap().to_owned();
    let expr = "Array.from(crypto.getRandomValues(new Uint8Array(16))).join(',')";
    let r = browser
        .call_in(
            Some(&session),
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true}),
        )
        .await?;
    let v = r["result"]["value"].clone();
    anyhow::ensure!(v.is_string(), "{r}");
    browser
        .call("Target.closeTarget", json!({"targetId": id}))
        .await?;
    Ok(v.as_str().unwrap().to_owned())
}

async fn guest_addresses(s: &Server, vm: &str) -> anyhow::Result<(Vec<String>, String)> {
    // Twelve Chromium guests under TCG on two cores answer slowly: a
    // timed-out question is asked again.
    let mut n = Value::Null;
    for _ in 0..5 {
        n = reqwest::get(format!("{}/api/v1/vms/{vm}/guest/network", s.base))
            .await?
            .json()
            .await?;
        if n["error"]["code"] != "agent_timeout" {
            break;
        }
    }
    let eth0 = n["interfaces"]
        .as_array()
        .unwrap_or_else(|| panic!("{vm}: {n}"))
        .iter()
        .find(|i| i["name"] == "eth0")
        .cloned()
        .unwrap_or_default();
    let addrs = eth0["addresses"]
        .as_array()
        .map(|a| a.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default();
    Ok((addrs, eth0["mac"].as_str().unwrap_or_default().to_owned()))
}

#[test]
fn forks_keep_the_page_and_take_their_own_identity() -> anyhow::Result<()> {
    in_netns(|| async {
        let tmp = tempfile::tempdir()?;
        let mut s = Server::networked(tmp.path(), "10.81.0.0/24", &["--max-vms", "20"])?;
        let t = Instant::now();
        let src = s
            .client
            .create_vm(&serde_json::from_value(json!({
                "name": "src", "image": "browser", "cpu_cores": 2, "memory_mb": 1536}))?)
            .await?;
        s.wait_running(&src.name, Duration::from_secs(420)).await?;
        eprintln!("src running after {:?}", t.elapsed());
        let src = s.client.get_vm("src").await?;

        // A page with state made at load, and a cookie.
        let mut page = Cdp::first_page(src.cdp_url.as_ref().unwrap()).await?;
        page.call("Page.enable", json!({})).await?;
        page.call("Page.navigate", json!({"url": PAGE})).await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while page.eval("String(window.marker)").await? == "undefined" {
            anyhow::ensure!(Instant::now() < deadline, "page did not load");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        page.call(
            "Network.setCookie",
            json!({"name": "session", "value": "s3cr3t", "url": COOKIE_URL}),
        )
        .await?;
        drop(page);
        let (marker, cookie) = page_state(&src).await?;
        assert!(marker.starts_with("fork-me:"), "{marker}");
        assert_eq!(cookie, "s3cr3t");

        // Snapshots: made, listed, names unique, only of running VMs.
        let (st, snap) = s
            .post("/api/v1/vms/src/snapshots", json!({"name": "snap1"}))
            .await?;
        assert_eq!(st, 201, "{snap}");
        let snap: Snapshot = serde_json::from_value(snap)?;
        assert_eq!(
            (snap.vm.as_str(), snap.cpu_cores, snap.memory_mb),
            ("src", 2, 1536)
        );
        assert!(
            snap.size_bytes > 1 << 20 && snap.size_bytes < 1536 << 20,
            "{}",
            snap.size_bytes
        );
        let (st, body) = s
            .post("/api/v1/vms/src/snapshots", json!({"name": "snap1"}))
            .await?;
        assert_eq!(st, 409, "{body}");
        let (st, _) = s
            .post("/api/v1/vms/nope/snapshots", json!({"name": "x"}))
            .await?;
        assert_eq!(st, 404);
        let (st, body) = s
            .post("/api/v1/vms/src/snapshots", json!({"name": "Bad!"}))
            .await?;
        assert_eq!(st, 422, "{body}");
        assert_eq!(s.client.list_snapshots().await?.len(), 1);
        assert_eq!(s.client.get_vm("src").await?.state, VmState::Running);

        // A fork: running in the 201, the page and cookie of the source,
        // its own address and MAC.
        let t = Instant::now();
        let (st, f1) = s
            .post("/api/v1/vms", json!({"name": "f1", "snapshot": "snap1"}))
            .await?;
        assert_eq!(st, 201, "{f1}");
        let f1: Vm = serde_json::from_value(f1)?;
        eprintln!("fork running after {:?}", t.elapsed());
        assert_eq!(f1.state, VmState::Running);
        assert_eq!((f1.cpu_cores, f1.memory_mb), (2, 1536));
        assert_ne!(f1.ip, src.ip);
        assert_ne!(f1.mac, src.mac);
        assert_eq!(page_state(&f1).await?, (marker.clone(), cookie.clone()));
        let (addrs, mac) = guest_addresses(&s, "f1").await?;
        assert_eq!(addrs, [format!("{}/24", f1.ip.as_ref().unwrap())]);
        assert_eq!(Some(mac), f1.mac.clone());
        // The source is untouched.
        assert_eq!(page_state(&src).await?, (marker.clone(), cookie.clone()));
        let (addrs, _) = guest_addresses(&s, "src").await?;
        assert_eq!(addrs, [format!("{}/24", src.ip.as_ref().unwrap())]);

        // Bad forks: nothing made.
        for (body, want) in [
            (json!({"name": "x", "snapshot": "nope"}), 404),
            (
                json!({"name": "x", "snapshot": "snap1", "memory_mb": 1024}),
                422,
            ),
            (json!({"name": "x", "snapshot": "snap1", "count": 0}), 422),
            (json!({"name": "f1", "snapshot": "snap1"}), 409),
            (json!({"name": "x", "count": 2}), 422),
        ] {
            let (st, b) = s.post("/api/v1/vms", body.clone()).await?;
            assert_eq!(st, want, "{body}: {b}");
        }

        // Ten at once: each running at its own address.
        let t = Instant::now();
        let (st, many) = s
            .post(
                "/api/v1/vms",
                json!({"name": "m", "snapshot": "snap1", "count": 10}),
            )
            .await?;
        assert_eq!(st, 201, "{many}");
        let many: ForkResult = serde_json::from_value(many)?;
        eprintln!("ten forks running after {:?}", t.elapsed());
        assert!(many.failed.is_empty(), "{:?}", many.failed);
        assert_eq!(many.vms.len(), 10);
        let mut ips: Vec<_> = many.vms.iter().map(|v| v.ip.clone().unwrap()).collect();
        ips.extend([src.ip.clone().unwrap(), f1.ip.clone().unwrap()]);
        ips.sort();
        ips.dedup();
        assert_eq!(ips.len(), 12, "addresses shared: {ips:?}");
        for vm in &many.vms {
            let (addrs, mac) = guest_addresses(&s, &vm.name).await?;
            assert_eq!(
                addrs,
                [format!("{}/24", vm.ip.as_ref().unwrap())],
                "{}",
                vm.name
            );
            assert_eq!(Some(mac), vm.mac.clone(), "{}", vm.name);
            let v: Value = reqwest::get(format!("{}/json/version", vm.cdp_url.as_ref().unwrap()))
                .await?
                .json()
                .await?;
            assert!(
                v["Browser"].as_str().unwrap_or_default().contains("Chrome"),
                "{v}"
            );
        }

        // Forks do not share their next random numbers.
        let (a, b) = (
            fresh_random(&many.vms[0]).await?,
            fresh_random(&many.vms[1]).await?,
        );
        assert_ne!(a, b);

        // In use: not deletable, and says by whom.
        let (st, body) = s.delete("/api/v1/snapshots/snap1").await?;
        assert_eq!(st, 409, "{body}");
        assert!(body.contains("f1") && body.contains("m-10"), "{body}");

        // A restart of hyped adopts the forks.
        s.stop();
        let s = Server::networked(tmp.path(), "10.81.0.0/24", &["--max-vms", "20"])?;
        let f1 = s.client.get_vm("f1").await?;
        assert_eq!(f1.state, VmState::Running);
        let m3 = s.client.get_vm("m-3").await?;
        assert_eq!(page_state(&m3).await?, (marker.clone(), cookie.clone()));
        assert_eq!(s.client.get_snapshot("snap1").await?.forks.len(), 11);

        // Snapshot and fork in one call; its snapshot goes with it.
        let t = Instant::now();
        let (st, g) = s.post("/api/v1/vms/src/fork", json!({"name": "g"})).await?;
        assert_eq!(st, 201, "{g}");
        eprintln!("fork of a running VM running after {:?}", t.elapsed());
        let g: ForkResult = serde_json::from_value(g)?;
        assert_eq!(g.vms.len(), 1, "{:?}", g.failed);
        let ephemeral: Vec<_> = s
            .client
            .list_snapshots()
            .await?
            .into_iter()
            .filter(|x| x.ephemeral)
            .collect();
        assert_eq!(ephemeral.len(), 1);
        assert_eq!(ephemeral[0].forks, ["g"]);
        s.client.delete_vm("g").await?;
        assert_eq!(s.client.list_snapshots().await?.len(), 1);
        assert!(!tmp
            .path()
            .join("snapshots")
            .join(&ephemeral[0].name)
            .exists());

        // Once its forks are gone, the snapshot goes, files and all.
        for vm in many
            .vms
            .iter()
            .map(|v| v.name.as_str())
            .chain(["f1", "src"])
        {
            s.client.delete_vm(vm).await?;
        }
        let (st, body) = s.delete("/api/v1/snapshots/snap1").await?;
        assert_eq!(st, 204, "{body}");
        assert!(!tmp.path().join("snapshots/snap1").exists());
        assert_eq!(
            std::fs::read_dir(tmp.path().join("snapshots"))?.count(),
            0,
            "files left"
        );
        Ok(())
    })
}
