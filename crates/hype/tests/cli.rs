//! The CLI as a person uses it: the real `hype` binary against a real hyped
//! (built beside it) booting real QEMU guests.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn hyped_bin() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_hype")).with_file_name("hyped");
    assert!(p.is_file(), "{} missing: cargo build -p hyped", p.display());
    p
}

fn images_dir() -> String {
    std::env::var("HYPE_IMAGES_DIR").unwrap_or_else(|_| "/var/lib/hype/images".into())
}

struct Hyped {
    child: Child,
    base: String,
}

fn start_hyped(data: &Path, listen: &str) -> anyhow::Result<Hyped> {
    let mut child = Command::new(hyped_bin())
        .args(["--listen", listen, "--data-dir"])
        .arg(data)
        .args(["--images-dir", &images_dir()])
        .args(["--network", "off"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line)?;
    let base = line
        .trim()
        .strip_prefix("hyped listening on ")
        .ok_or_else(|| anyhow::anyhow!("hyped did not start: {line:?}"))?
        .to_owned();
    Ok(Hyped { child, base })
}

impl Hyped {
    fn stop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

fn hype(base: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hype"))
        .args(args)
        .env("HYPE_API_BASE", base)
        .env_remove("HYPE_API_KEY")
        .output()
        .expect("run hype");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn kill_vmms(data: &Path) {
    let needle = data.display().to_string();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmd).contains(&needle) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

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
    h.stop();
    Ok(())
}
