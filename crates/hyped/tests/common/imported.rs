//! Helpers for the tests of imported full disks: the test disks of
//! scripts/build-test-disk.sh, import jobs, and the marks their busybox
//! `/init` prints on the serial console.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::bail;
use hype_types::{EventType, JobState};
use serde_json::{json, Value};

use super::xapi::{Xapi, PASSWORD};
use super::Server;

pub const BOOTED: &str = "HYPE_TEST_DISK: booted from the imported disk";
pub const WROTE: &str = "HYPE_TEST_DISK: wrote mark: ";
pub const POWERING_OFF: &str = "HYPE_TEST_DISK: power button, powering off";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The cached test disk of `mode` (`bios` or `uefi`; built on first use).
pub fn test_disk(mode: &str) -> PathBuf {
    built_disk("build-test-disk.sh", &[mode])
}

/// The Debian disk of scripts/build-debian-test-disk.sh (built on first
/// use, in a few minutes).
pub fn debian_disk() -> PathBuf {
    built_disk("build-debian-test-disk.sh", &[])
}

/// The Debian disk of `scripts/build-debian-test-disk.sh sata`: Debian's
/// generic kernel booted by syslinux, no virtio in its boot path.
#[allow(dead_code)]
pub fn debian_sata_disk() -> PathBuf {
    built_disk("build-debian-test-disk.sh", &["sata"])
}

/// Runs `scripts/<script> <args>`, which prints the disk's path.
fn built_disk(script: &str, args: &[&str]) -> PathBuf {
    let out = Command::new("bash")
        .arg(repo().join("scripts").join(script))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("bash runs scripts/{script}: {e}"));
    assert!(
        out.status.success(),
        "{script} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// One API call; the status and the JSON body (`null` if none).
pub async fn call(s: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
    let mut req = reqwest::Client::new().request(m, format!("{}{path}", s.base));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Imports VM "Web 01" served by `x` as image `name`, with `extra` fields
/// in the job, and waits for the job to complete.
pub async fn import(s: &Server, x: &Xapi, name: &str, extra: Value) -> anyhow::Result<()> {
    let mut body = json!({"kind": "xcpng_export", "name": name, "url": x.url,
        "username": "root", "password": PASSWORD, "vm": "Web 01"});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let jobs = s
        .client
        .submit_jobs(body.to_string().into_bytes(), "application/json")
        .await?;
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let job = s.client.get_job(&jobs[0].id).await?;
        match job.state {
            JobState::Completed => return Ok(()),
            st if st.is_final() => bail!("import {name}: {st}: {:?}", job.error),
            _ if Instant::now() > until => bail!("import {name} did not finish"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Waits up to `secs` until `vm`'s console log holds `needle`; returns the
/// log.
pub async fn console_until(
    s: &Server,
    vm: &str,
    needle: &str,
    secs: u64,
) -> anyhow::Result<String> {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let log = s.client.logs(vm).await?;
        if log.contains(needle) {
            return Ok(log);
        }
        if Instant::now() > until {
            bail!("no {needle:?} in {vm}'s console after {secs} s:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The marks the guest wrote, boot after boot, from its console.
pub fn marks_written(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.trim().strip_prefix(WROTE))
        .map(str::to_owned)
        .collect()
}

/// Follows `name`'s events from `from` to VM_RUNNING; its detail, or why
/// it crashed.
pub async fn until_running(s: &Server, name: &str, from: i64) -> anyhow::Result<String> {
    let mut events = s.client.vm_events(Some(name), Some(from)).await?;
    let ev = s
        .wait_event(&mut events, Duration::from_secs(180), |e| {
            matches!(e.event_type, EventType::VmRunning | EventType::VmCrashed)
        })
        .await?;
    if ev.event_type != EventType::VmRunning {
        bail!("{name} did not run: {:?}", ev.detail);
    }
    Ok(ev.detail.unwrap_or_default())
}
