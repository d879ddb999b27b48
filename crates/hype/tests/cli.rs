//! The CLI as a person uses it: the real `hype` binary against a real hyped
//! (built beside it) booting real QEMU guests.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{hype, kill_vmms, start_hyped};

#[test]
fn create_list_watch_across_a_restart_and_delete() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    // A fixed port, so the watcher can find hyped again after its restart.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let listen = format!("127.0.0.1:{port}");
    let mut a = start_hyped(tmp.path(), &listen)?;
    let base = a.base.clone();

    let (code, out, err) = hype(
        &base,
        &["vms", "create", "demo", "--memory", "256", "-o", "json"],
    );
    assert_eq!(code, 0, "create failed: {err}");
    let vm: serde_json::Value = serde_json::from_str(&out)?;
    assert_eq!(vm["state"], "running", "create waits for VM_RUNNING: {out}");

    let (code, out, _) = hype(&base, &["vms", "list"]);
    assert_eq!(code, 0);
    let row = out
        .lines()
        .find(|l| l.starts_with("demo"))
        .expect("demo listed");
    assert!(row.contains("running"), "{out}");

    // A watcher from the start of time, running across a restart of hyped.
    let mut watch = Command::new(env!("CARGO_BIN_EXE_hype"))
        .args(["vms", "watch", "demo", "-o", "json"])
        .env("HYPE_API_BASE", &base)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let (tx, rx) = mpsc::channel::<serde_json::Value>();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                let _ = tx.send(v);
            }
        }
    });
    let next = |rx: &mpsc::Receiver<serde_json::Value>| rx.recv_timeout(Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(hype(&base, &["vms", "pause", "demo"]).0, 0);
    assert_eq!(next(&rx)?["type"], "VM_PAUSED");

    a.stop();
    std::thread::sleep(Duration::from_millis(300));
    let mut b = start_hyped(tmp.path(), &listen)?;
    assert_eq!(hype(&base, &["vms", "resume", "demo"]).0, 0);
    assert_eq!(hype(&base, &["vms", "delete", "demo"]).0, 0);
    let resumed = next(&rx)?;
    assert_eq!(
        resumed["type"], "VM_RESUMED",
        "the watcher reconnected: {resumed}"
    );
    let deleted = next(&rx)?;
    assert_eq!(deleted["type"], "VM_DELETED");
    assert_eq!(
        deleted["id"].as_i64(),
        resumed["id"].as_i64().map(|i| i + 1)
    );
    assert!(
        rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "no duplicates"
    );

    let _ = watch.kill();
    let _ = watch.wait();
    b.stop();
    kill_vmms(tmp.path());
    Ok(())
}

#[test]
fn errors_help() -> anyhow::Result<()> {
    let (code, _, err) = hype("http://127.0.0.1:9", &["vms", "list"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot reach hyped at http://127.0.0.1:9"),
        "{err}"
    );

    let tmp = tempfile::tempdir()?;
    let mut h = start_hyped(tmp.path(), "127.0.0.1:0")?;
    let (code, _, err) = hype(&h.base, &["vms", "get", "nope"]);
    assert_eq!((code, err.trim()), (1, "error: no VM named 'nope'"));
    let (code, _, err) = hype(&h.base, &["vms", "create", "Bad!", "--no-wait"]);
    assert_eq!(code, 1);
    assert!(err.contains("invalid VM name"), "{err}");
    // Warm pools: what a user would try first, with hyped's own words.
    let (code, out, _) = hype(&h.base, &["pools", "list"]);
    assert_eq!((code, out.lines().count()), (0, 1), "{out}");
    assert!(out.starts_with("NAME") && out.contains("READY"), "{out}");
    let (code, _, err) = hype(
        &h.base,
        &["pools", "create", "warm", "--image", "nope", "--size", "1"],
    );
    assert!(code == 1 && err.contains("no image named 'nope'"), "{err}");
    let missing = "error: no warm pool named 'warm'; `hype pools list` shows what there is";
    let (code, _, err) = hype(&h.base, &["pools", "get", "warm"]);
    assert_eq!((code, err.trim()), (1, missing));
    let (code, _, err) = hype(&h.base, &["vms", "create", "x", "--pool", "warm"]);
    assert_eq!((code, err.trim()), (1, missing));
    let (code, _, err) = hype(
        &h.base,
        &["vms", "create", "x", "--pool", "warm", "--no-pool"],
    );
    assert_eq!(code, 2, "{err}");
    h.stop();
    Ok(())
}

#[test]
fn status_prints_the_figures() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let mut h = start_hyped(tmp.path(), "127.0.0.1:0")?;
    let (code, out, err) = hype(&h.base, &["status"]);
    assert_eq!(code, 0, "{err}");
    for label in [
        "Server:",
        "Up:",
        "VMs:",
        "Jobs:",
        "Memory:",
        "VM disk:",
        "Images disk:",
        "Accelerator:",
        "Network:",
    ] {
        assert!(out.contains(label), "{label} missing: {out}");
    }
    assert!(out.contains(&tmp.path().display().to_string()), "{out}");
    let (code, out, _) = hype(&h.base, &["status", "-o", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out)?;
    assert!(v["uptime_seconds"].is_u64() && v["vms"].is_array(), "{v}");
    h.stop();
    Ok(())
}
