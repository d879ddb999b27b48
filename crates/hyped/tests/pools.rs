//! Warm pools, end to end: a pool from `--pool` fills itself with forks of
//! a browser guest; creates are handed a running sandbox that Playwright
//! drives through hyped; a restart adopts the pool; deleting it leaves
//! nothing but the VMs handed out. A binary of its own: beside the fork
//! test's twelve guests, two cores starve its browsers under TCG.

use std::time::{Duration, Instant};

use hype_types::{Pool, PoolState, Vm, VmList, VmState};
use serde_json::{json, Value};

mod common;

use common::{in_netns, Server};

const SUBNET: &str = "10.82.0.0/24";
const POOL: &str = "warm:browser:2:1536:2";

/// hyped on `dir`, its images in `dir/images` (see [`own_images`]).
fn server(dir: &std::path::Path) -> anyhow::Result<Server> {
    let images = dir.join("images").display().to_string();
    Server::networked(
        dir,
        SUBNET,
        &["--max-vms", "8", "--pool", POOL, "--images-dir", &images],
    )
}

/// `dir/images/browser`: the built browser image, hard-linked, with a
/// manifest of its own that the test can change as a rebuild would.
fn own_images(dir: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    let built = common::images_dir().join("browser");
    let images = dir.join("images");
    let mine = images.join("browser");
    std::fs::create_dir_all(&mine)?;
    for d in [dir, &images, &mine] {
        std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    }
    for f in std::fs::read_dir(&built)? {
        let f = f?;
        if f.file_name() == "manifest.json" {
            std::fs::copy(f.path(), mine.join("manifest.json"))?;
        } else {
            std::fs::hard_link(f.path(), mine.join(f.file_name()))?;
        }
    }
    Ok(mine.join("manifest.json"))
}

async fn get(s: &Server, path: &str) -> anyhow::Result<Value> {
    Ok(reqwest::get(format!("{}{path}", s.base))
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// Waits until pool `warm` has `n` ready (and none on the way).
async fn wait_ready(s: &Server, n: u32, deadline: Duration) -> anyhow::Result<Pool> {
    let until = Instant::now() + deadline;
    loop {
        let p: Pool = serde_json::from_value(get(s, "/api/v1/pools/warm").await?)?;
        if p.ready == n && p.starting == 0 {
            return Ok(p);
        }
        anyhow::ensure!(Instant::now() < until, "pool not ready in time: {p:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `VM_CREATED`'s detail for `vm`.
async fn created_detail(s: &Server, vm: &str) -> anyhow::Result<Value> {
    let events = get(s, &format!("/api/v1/events?vm={vm}&limit=1000")).await?;
    let detail = events["events"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["type"] == "VM_CREATED"))
        .map(|e| e["detail"].as_str().unwrap_or("null").to_owned())
        .unwrap_or_else(|| "null".into());
    Ok(serde_json::from_str(&detail)?)
}

/// Whether `pid`'s CPU cgroup is an idle (SCHED_IDLE) group; `None` where
/// the kernel or the cgroup layout has no `cpu.idle`.
fn cpu_idle(pid: u32) -> Option<bool> {
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    cgroups.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, ctrl, path) = (parts.next()?, parts.next()?, parts.next()?);
        let file = match ctrl {
            "" => format!("/sys/fs/cgroup{path}/cpu.idle"),
            c if c.split(',').any(|c| c == "cpu") => format!("/sys/fs/cgroup/cpu{path}/cpu.idle"),
            _ => return None,
        };
        Some(std::fs::read_to_string(file).ok()?.trim() == "1")
    })
}

fn playwright(cdp_url: &str) -> anyhow::Result<Value> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/browser");
    let run = std::process::Command::new("node")
        .arg(format!("{dir}/playwright-check.mjs"))
        .arg(cdp_url)
        .output()?;
    anyhow::ensure!(
        run.status.success(),
        "playwright: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    Ok(serde_json::from_slice(&run.stdout)?)
}

#[test]
fn warm_pools_hand_out_running_sandboxes() -> anyhow::Result<()> {
    in_netns(|| async {
        let tmp = tempfile::tempdir()?;
        let manifest = own_images(tmp.path())?;
        let mut s = server(tmp.path())?;
        let t = Instant::now();
        let pool = wait_ready(&s, 2, Duration::from_secs(900)).await?;
        eprintln!("pool ready after {:?}", t.elapsed());
        assert_eq!(pool.state, PoolState::Ready);
        let snapshot = pool
            .snapshot
            .clone()
            .expect("a ready pool has its snapshot");
        // Its VMs are not users' VMs; a filter shows them.
        let users: VmList = serde_json::from_value(get(&s, "/api/v1/vms").await?)?;
        assert!(users.vms.is_empty(), "{:?}", users.vms);
        let waiting: VmList = serde_json::from_value(get(&s, "/api/v1/vms?pool=warm").await?)?;
        assert_eq!(waiting.vms.len(), 2);
        assert!(waiting.vms.iter().all(|v| v.state == VmState::Running));

        // Bad input: precise errors, nothing made.
        for (path, body, want) in [
            (
                "/api/v1/pools",
                json!({"name": "warm", "image": "browser", "size": 1}),
                409,
            ),
            (
                "/api/v1/pools",
                json!({"name": "p2", "image": "nope", "size": 1}),
                404,
            ),
            (
                "/api/v1/pools",
                json!({"name": "p2", "image": "browser", "size": 0}),
                422,
            ),
            (
                "/api/v1/pools",
                json!({"name": "P2", "image": "browser", "size": 1}),
                422,
            ),
            (
                "/api/v1/pools",
                json!({"name": "p2", "image": "browser", "size": 9}),
                422,
            ),
            (
                "/api/v1/pools",
                json!({"name": "p2", "image": "browser", "size": 1, "x": 1}),
                422,
            ),
            ("/api/v1/vms", json!({"name": "x", "pool": "nope"}), 404),
            (
                "/api/v1/vms",
                json!({"name": "x", "pool": "warm", "memory_mb": 1024}),
                422,
            ),
            ("/api/v1/vms", json!({"name": "x", "pool": true}), 422),
            (
                "/api/v1/vms",
                json!({"name": "x", "pool": "warm", "snapshot": "s"}),
                422,
            ),
            ("/api/v1/vms", json!({"name": "Bad!", "pool": "warm"}), 422),
        ] {
            let (st, b) = s.post(path, body.clone()).await?;
            assert_eq!(st, want, "{body}: {b}");
        }
        assert_eq!(s.client.list_pools().await?.len(), 1);
        assert!(s.client.list_vms(None).await?.is_empty());
        assert_eq!(wait_ready(&s, 2, Duration::from_secs(5)).await?.claims, 0);
        // Waiting VMs run on CPU time nobody else wants.
        let waiting = get(&s, "/api/v1/vms?pool=warm").await?;
        let pids: Vec<u32> = waiting["vms"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["vmm"]["pid"].as_u64())
            .map(|p| p as u32)
            .collect();
        assert_eq!(pids.len(), 2, "{waiting}");
        for pid in &pids {
            assert_ne!(
                cpu_idle(*pid),
                Some(false),
                "pool VMM {pid} is not background"
            );
        }

        // A claim: running in the 201, under the caller's name, driven by
        // Playwright through hyped.
        let t = Instant::now();
        let (st, mine) = s
            .post(
                "/api/v1/vms",
                json!({"name": "mine", "pool": "warm", "ttl_seconds": 3600}),
            )
            .await?;
        let took = t.elapsed();
        eprintln!("claim answered after {took:?}");
        assert_eq!(st, 201, "{mine}");
        let mine: Vm = serde_json::from_value(mine)?;
        assert_eq!(mine.state, VmState::Running);
        assert_eq!((mine.cpu_cores, mine.memory_mb), (2, 1536));
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert_eq!(
            created_detail(&s, "mine").await?,
            json!({"pool": "warm", "served": "pool"})
        );
        // Held now: it competes for CPU as any user's sandbox.
        let pid = mine.vmm.pid.expect("running");
        assert!(pids.contains(&pid), "the claim is one of the waiting VMs");
        assert_ne!(cpu_idle(pid), Some(true), "a claimed VM stays background");
        let cdp = mine.cdp_url.clone().expect("a browser sandbox");
        let pw = tokio::task::spawn_blocking(move || playwright(&cdp)).await??;
        assert_eq!(pw["title"], "hype sandbox", "{pw}");
        // Inside, it calls itself by its new name (set just after the claim).
        let (st, host) = s
            .post("/api/v1/vms/mine/exec", json!({"cmd": ["hostname"]}))
            .await?;
        assert_eq!(
            (st, host["stdout"].as_str()),
            (200, Some("mine\n")),
            "{host}"
        );
        // The name taken is refused, and takes nothing from the pool.
        let (st, b) = s
            .post("/api/v1/vms", json!({"name": "mine", "pool": "warm"}))
            .await?;
        assert_eq!(st, 409, "{b}");

        // A create of the pool's shape is served from it unasked; `false`
        // boots cold.
        let (st, auto) = s
            .post(
                "/api/v1/vms",
                json!({"name": "auto", "image": "browser", "cpu_cores": 2, "memory_mb": 1536}),
            )
            .await?;
        assert_eq!(st, 201, "{auto}");
        assert_eq!(auto["state"], "running", "{auto}");
        let served = created_detail(&s, "auto").await?;
        assert!(
            served["served"] == "pool" || served["served"] == "fork",
            "{served}"
        );
        let (st, cold) = s.post("/api/v1/vms",
            json!({"name": "cold", "image": "browser", "cpu_cores": 2, "memory_mb": 1536, "pool": false}),
        )
        .await?;
        assert_eq!(st, 201, "{cold}");
        assert_eq!(cold["state"], "starting", "{cold}");
        assert_eq!(created_detail(&s, "cold").await?, Value::Null);
        s.client.delete_vm("cold").await?;

        // It refills; its figures say what happened.
        let t = Instant::now();
        let pool = wait_ready(&s, 2, Duration::from_secs(300)).await?;
        eprintln!("pool refilled after {:?}", t.elapsed());
        assert!(
            pool.claims >= 1 && pool.claims + pool.misses == 2,
            "{pool:?}"
        );
        assert!(pool.last_refill_ms.is_some(), "{pool:?}");
        let metrics = reqwest::get(format!("{}/metrics", s.base))
            .await?
            .text()
            .await?;
        assert!(
            metrics.contains("hype_pool_ready{pool=\"warm\"} 2"),
            "{metrics}"
        );
        assert!(
            metrics.contains("hype_pool_claims_total{pool=\"warm\"}"),
            "{metrics}"
        );
        // Its snapshot is the pool's, not deletable by itself.
        let (st, b) = s.delete(&format!("/api/v1/snapshots/{snapshot}")).await?;
        assert_eq!(st, 409, "{b}");
        assert!(b.contains("warm"), "{b}");

        // A restart adopts the pool's VMs and what it handed out; the pool
        // keeps its snapshot and serves at once.
        let before: VmList = serde_json::from_value(get(&s, "/api/v1/vms?pool=warm").await?)?;
        s.stop();
        let s = server(tmp.path())?;
        let after: VmList = serde_json::from_value(get(&s, "/api/v1/vms?pool=warm").await?)?;
        let names = |l: &VmList| l.vms.iter().map(|v| v.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&before), names(&after));
        let pool = wait_ready(&s, 2, Duration::from_secs(60)).await?;
        assert_eq!(pool.snapshot.as_deref(), Some(snapshot.as_str()));
        assert_eq!(s.client.get_vm("mine").await?.state, VmState::Running);
        let (st, again) = s
            .post("/api/v1/vms", json!({"name": "again", "pool": "warm"}))
            .await?;
        assert_eq!(st, 201, "{again}");
        assert_eq!(again["state"], "running", "{again}");
        let cdp = again["cdp_url"].as_str().unwrap().to_owned();
        let pw = tokio::task::spawn_blocking(move || playwright(&cdp)).await??;
        assert_eq!(pw["title"], "hype sandbox", "{pw}");

        // hyped killed while the pool refills (a fork on its way): after a
        // restart nothing half-made is left, and the pool fills again.
        let (st, b) = s
            .post("/api/v1/vms", json!({"name": "again2", "pool": "warm"}))
            .await?;
        assert_eq!(st, 201, "{b}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(s.hyped_pid().expect("running") as i32),
            nix::sys::signal::Signal::SIGKILL,
        )?;
        let mut s = s;
        s.stop();
        let s = server(tmp.path())?;
        wait_ready(&s, 2, Duration::from_secs(300)).await?;
        let users: VmList = serde_json::from_value(get(&s, "/api/v1/vms").await?)?;
        assert_eq!(
            names(&users),
            ["again", "again2", "auto", "mine"],
            "{:?}",
            users.vms
        );
        assert!(users.vms.iter().all(|v| v.state == VmState::Running));
        assert_eq!(common::vmm_pids_under(tmp.path()).len(), 6);

        // The image rebuilt (a new digest in its manifest, found at the
        // next start): the pool makes a new snapshot and new VMs; what it
        // handed out keeps running on the old one.
        let waiting = names(&serde_json::from_value(
            get(&s, "/api/v1/vms?pool=warm").await?,
        )?);
        let mut s = s;
        s.stop();
        let mut m: Value = serde_json::from_slice(&std::fs::read(&manifest)?)?;
        m["inputs"] = json!(format!("{}-rebuilt", m["inputs"].as_str().unwrap_or("")));
        m["built_at"] = json!("2099-01-01T00:00:00Z");
        std::fs::write(&manifest, serde_json::to_vec(&m)?)?;
        let s = server(tmp.path())?;
        let t = Instant::now();
        let rebuilt = loop {
            let p = wait_ready(&s, 2, Duration::from_secs(900)).await?;
            if p.snapshot.as_deref() != Some(snapshot.as_str()) {
                break p;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        eprintln!("pool rebuilt after {:?}", t.elapsed());
        let now = names(&serde_json::from_value(
            get(&s, "/api/v1/vms?pool=warm").await?,
        )?);
        assert!(
            now.iter().all(|n| !waiting.contains(n)),
            "the old image's waiting VMs are gone: {waiting:?} then {now:?}"
        );
        let old = s.client.get_snapshot(&snapshot).await?;
        assert!(old.ephemeral, "kept for the VMs handed out: {old:?}");
        assert!(rebuilt.snapshot.is_some());
        let users: VmList = serde_json::from_value(get(&s, "/api/v1/vms").await?)?;
        assert_eq!(names(&users), ["again", "again2", "auto", "mine"]);
        assert!(users.vms.iter().all(|v| v.state == VmState::Running));
        let (st, fresh) = s
            .post("/api/v1/vms", json!({"name": "fresh", "pool": "warm"}))
            .await?;
        assert_eq!(
            (st, fresh["state"].as_str()),
            (201, Some("running")),
            "{fresh}"
        );
        let new = s
            .client
            .get_snapshot(rebuilt.snapshot.as_deref().unwrap())
            .await?;
        assert!(new.forks.contains(&"fresh".to_owned()), "{new:?}");

        // Deleting the pool takes its waiting VMs; what it handed out
        // stays, and its snapshot goes with the last of those.
        let (st, b) = s.delete("/api/v1/pools/warm").await?;
        assert_eq!(st, 204, "{b}");
        let left: VmList = serde_json::from_value(get(&s, "/api/v1/vms?pool=warm").await?)?;
        assert!(left.vms.is_empty(), "{:?}", left.vms);
        let (st, _) = s.delete("/api/v1/pools/warm").await?;
        assert_eq!(st, 404);
        let snap = s.client.get_snapshot(&snapshot).await?;
        assert!(snap.ephemeral, "{snap:?}");
        for vm in ["mine", "auto", "again", "again2", "fresh"] {
            s.client.delete_vm(vm).await?;
        }
        assert!(s.client.list_snapshots().await?.is_empty());
        assert_eq!(std::fs::read_dir(tmp.path().join("snapshots"))?.count(), 0);
        assert!(common::vmm_pids_under(tmp.path()).is_empty());
        Ok(())
    })
}
