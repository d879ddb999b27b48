//! `GET /api/v1/status` from a real hyped: uptime that grows, VMs and jobs
//! counted by state (every state listed), the host's memory and the
//! filesystems of the data and images directories, accelerator, network.

mod common;

use std::time::Duration;

use common::Server;
use serde_json::{json, Value};

async fn status(s: &Server) -> Value {
    let res = reqwest::get(format!("{}/api/v1/status", s.base))
        .await
        .expect("hyped answers");
    assert_eq!(res.status(), 200);
    res.json().await.expect("JSON")
}

fn count(list: &Value, state: &str) -> u64 {
    list.as_array()
        .and_then(|l| l.iter().find(|c| c["state"] == state))
        .and_then(|c| c["count"].as_u64())
        .unwrap_or_else(|| panic!("no state {state} in {list}"))
}

#[tokio::test]
async fn status_counts_vms_and_jobs_and_reports_the_host() -> anyhow::Result<()> {
    let s = Server::start_with(&["--network", "off"])?;
    let first = status(&s).await;
    assert_eq!(first["vms"].as_array().unwrap().len(), 8, "{first}");
    assert_eq!(first["jobs"].as_array().unwrap().len(), 5, "{first}");
    assert_eq!(count(&first["vms"], "running"), 0);
    assert_eq!(count(&first["jobs"], "failed"), 0);
    let mem = &first["memory"];
    let total = mem["total_bytes"].as_u64().unwrap();
    let meminfo = std::fs::read_to_string("/proc/meminfo")?;
    let kb: u64 = meminfo
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()?;
    assert_eq!(total, kb * 1024);
    assert!(mem["available_bytes"].as_u64().unwrap() <= total);
    assert_eq!(mem["vms_mb"], 0);
    assert_eq!(first["vm_disk"]["path"], s.data.display().to_string());
    assert!(first["vm_disk"]["available_bytes"].as_u64().unwrap() > 0);
    assert!(first["images_disk"]["total_bytes"].as_u64().unwrap() > 0);
    // The accelerator is "pending" while hyped's KVM probe runs (a few
    // seconds after start), then the decision.
    assert!(["kvm", "tcg", "pending"].contains(&first["accel"]["mode"].as_str().unwrap()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let mode = status(&s).await["accel"]["mode"].clone();
        if mode == "kvm" || mode == "tcg" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "accel still {mode}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(first["network"]["enabled"], false);
    assert!(
        first["started_at"].as_str().unwrap().ends_with('Z'),
        "{first}"
    );

    // A job that fails (nothing listens there) is counted as failed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let job = json!({"kind": "xcpng_export", "url": format!("http://127.0.0.1:{port}"),
        "username": "root", "password": "p", "vm": "x", "name": "st-fail"});
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/jobs", s.base))
        .json(&job)
        .send()
        .await?;
    assert_eq!(res.status(), 202);
    let id = res.json::<Value>().await?["jobs"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.wait_job(&id).await?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = status(&s).await;
    assert_eq!(count(&later["jobs"], "failed"), 1, "{later}");
    assert!(
        later["uptime_seconds"].as_u64() > first["uptime_seconds"].as_u64(),
        "{first} then {later}"
    );
    Ok(())
}
