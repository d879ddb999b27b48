//! hyped against hostile clients: web pages in the operator's browser (DNS
//! rebinding, cross-site requests), short keys, clients that flood the API.
//! Each test is one finding of the security review (issue 15), tried as an
//! attacker would.

mod common;

use std::time::Duration;

use common::Server;
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const EVIL_HOST: &str = "attacker.example:7777";
const EVIL_ORIGIN: &str = "http://attacker.example";

async fn status_with(
    s: &Server,
    method: reqwest::Method,
    path: &str,
    header: (&str, &str),
) -> anyhow::Result<(u16, Value)> {
    let resp = reqwest::Client::new()
        .request(method, format!("{}{path}", s.base))
        .header(header.0, header.1)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await.unwrap_or(Value::Null)))
}

/// Finding 1: a rebinding Host and a foreign Origin get 403 on REST, SSE,
/// CDP (WebSocket) and /mcp, with a message naming the setting; hyped's own
/// address, localhost and `--public-host` names still work.
#[tokio::test(flavor = "multi_thread")]
async fn rebinding_hosts_and_foreign_origins_are_refused_everywhere() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let s = Server::start_in(
        tmp.path(),
        &["--public-host", "hype.internal.test", "--rate-limit", "0"],
    )?;
    s.create_running("victim").await?;
    let routes = [
        (reqwest::Method::GET, "/api/v1/vms"),
        (reqwest::Method::POST, "/api/v1/vms/victim/pause"),
        (reqwest::Method::GET, "/api/v1/events/vms"),
        (reqwest::Method::POST, "/mcp"),
        (reqwest::Method::GET, "/api/v1/vms/victim/cdp/json/version"),
    ];
    for (m, path) in &routes {
        for header in [
            ("host", EVIL_HOST),
            ("origin", EVIL_ORIGIN),
            ("origin", "null"),
        ] {
            let (status, body) = status_with(&s, m.clone(), path, header).await?;
            assert_eq!(status, 403, "{m} {path} with {header:?}: {body}");
            let msg = body["error"]["message"].as_str().unwrap_or("");
            assert!(msg.contains("--public-host"), "{msg}");
        }
    }
    // The cross-site POST did not pause the VM.
    assert_eq!(s.client.get_vm("victim").await?.state.as_str(), "running");
    // A WebSocket upgrade from a foreign page is refused before anything.
    let host = s.base.trim_start_matches("http://");
    let mut req =
        format!("ws://{host}/api/v1/vms/victim/cdp/devtools/browser/x").into_client_request()?;
    req.headers_mut().insert("origin", EVIL_ORIGIN.parse()?);
    let err = tokio_tungstenite::connect_async(req).await.unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
    // What must keep working: the address itself, localhost, a named host,
    // and the page's own origin.
    let port = host.rsplit(':').next().unwrap();
    for header in [
        ("host", format!("localhost:{port}")),
        ("host", "hype.internal.test".to_owned()),
        ("origin", s.base.clone()),
        ("origin", "https://hype.internal.test".to_owned()),
    ] {
        let (status, body) = status_with(
            &s,
            reqwest::Method::GET,
            "/api/v1/vms",
            (header.0, &header.1),
        )
        .await?;
        assert_eq!(status, 200, "{header:?}: {body}");
    }
    s.client.delete_vm("victim").await?;
    Ok(())
}

/// Finding 12: an empty or short API key is refused at start, before
/// anything is made.
#[test]
fn short_api_keys_are_refused_at_start() -> anyhow::Result<()> {
    for key in ["", "k3y", "fifteen-chars-x"] {
        let tmp = tempfile::tempdir()?;
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hyped"))
            .args(["--listen", "0.0.0.0:0", "--network", "off", "--data-dir"])
            .arg(tmp.path())
            .args(["--api-key", key])
            .output()?;
        assert!(!out.status.success(), "key {key:?} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("at least 16"), "{err}");
        assert!(
            !err.contains(key) || key.is_empty(),
            "the key is echoed: {err}"
        );
        assert!(!tmp.path().join("hype.db").exists(), "nothing created");
    }
    Ok(())
}

/// Rate limiting: a client over its rate gets 429 with Retry-After in the
/// API's error shape; another client is not affected.
#[tokio::test(flavor = "multi_thread")]
async fn a_flooding_client_gets_429_with_retry_after() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let s = Server::start_in(tmp.path(), &["--rate-limit", "5"])?;
    let http = reqwest::Client::new();
    let mut limited = None;
    for _ in 0..40 {
        let r = http
            .get(format!("{}/api/v1/version", s.base))
            .send()
            .await?;
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("40 requests at once were all served at a limit of 5/s");
    let wait: u64 = r.headers()["retry-after"].to_str()?.parse()?;
    assert!((1..=2).contains(&wait), "{wait}");
    let body: Value = r.json().await?;
    assert_eq!(body["error"]["code"], "rate_limited");
    // Liveness is never limited, and the rate comes back.
    let r = http.get(format!("{}/healthz", s.base)).send().await?;
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_secs(wait + 1)).await;
    let r = http
        .get(format!("{}/api/v1/version", s.base))
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    Ok(())
}

fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

/// hyped's resident memory, from /proc.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Findings 9 and 10, on one guest: hyped's data is private (directory
/// 0700, files 0600, whatever the caller's umask), and a console flood of
/// 1 GiB neither fills the disk nor grows hyped's memory, while a follower
/// keeps getting the newest lines.
#[tokio::test(flavor = "multi_thread")]
async fn data_is_private_and_a_console_flood_is_capped() -> anyhow::Result<()> {
    // A permissive umask in the caller must not leak into hyped's files.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let s = Server::start()?;
    s.create_running("flood").await?;
    let run = s.data.join("vms/flood");
    assert_eq!(mode(&s.data), 0o700);
    assert_eq!(mode(&s.data.join("vms")), 0o700);
    for f in ["hype.db", "vms/flood/console.log", "vms/flood/vmm.log"] {
        assert_eq!(
            mode(&s.data.join(f)) & 0o077,
            0,
            "{f} is readable by others"
        );
    }
    let pid = s.hyped_pid().unwrap();
    let mut follow = s.client.follow_logs("flood").await?;
    let before = rss_kib(pid);
    // What a guest printing without pause would write, in 64 MiB pieces.
    let line = "x".repeat(1023) + "\n";
    let chunk = line.repeat(64 * 1024);
    {
        use std::io::Write;
        let mut console = std::fs::OpenOptions::new()
            .append(true)
            .open(run.join("console.log"))?;
        for _ in 0..16 {
            console.write_all(chunk.as_bytes())?;
            console.write_all(b"flood marker\n")?;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    // The follower sees the newest output.
    let saw_marker = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(Ok(f)) = follow.next().await {
            if f.data == "flood marker" {
                return true;
            }
        }
        false
    })
    .await?;
    assert!(saw_marker);
    // Within the supervisor's next check, the console is under its cap.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let size = std::fs::metadata(run.join("console.log"))?.len();
    assert!(size <= 16 << 20, "console.log is {size} bytes");
    let tail = s.client.logs("flood").await?;
    assert!(
        tail.len() <= 1 << 20,
        "a whole-log answer of {} bytes",
        tail.len()
    );
    assert!(
        tail.ends_with("flood marker\n"),
        "{:?}",
        &tail[tail.len() - 40..]
    );
    let after = rss_kib(pid);
    assert!(
        after < before + 64 * 1024,
        "hyped grew from {before} KiB to {after} KiB"
    );
    s.client.delete_vm("flood").await?;
    Ok(())
}

/// Finding 8: a VMM that hyped spawned but never recorded (it died between
/// the two) is killed when hyped starts again, and frees what it held.
#[tokio::test(flavor = "multi_thread")]
async fn a_vmm_no_vm_accounts_for_is_killed_at_start() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let mut s = Server::start_in(tmp.path(), &[])?;
    let vm = s.create_running("lost").await?;
    let qemu = vm.vmm.pid.expect("a VMM");
    // hyped dies (SIGKILL, no cleanup) and its record of the VMM is lost,
    // as if it had died right after the spawn.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(s.hyped_pid().unwrap() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    s.stop();
    let db = tmp.path().join("hype.db");
    let forget = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); \
             c.execute(\"UPDATE vms SET state='stopped', vmm_pid=NULL WHERE name='lost'\"); c.commit()",
        )
        .arg(&db)
        .status()?;
    assert!(forget.success());
    assert!(hype_vmm_alive(qemu), "the VMM outlived hyped");
    let s = Server::start_in(tmp.path(), &[])?;
    let t = std::time::Instant::now();
    while hype_vmm_alive(qemu) {
        assert!(t.elapsed() < Duration::from_secs(5), "the orphan lives on");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(s.vmm_pids().is_empty());
    // The VM is usable again: it starts with a VMM of its own.
    let mut ev = s
        .client
        .vm_events(Some("lost"), Some(s.last_event_id().await?))
        .await?;
    s.client.vm_action("lost", "start").await?;
    s.wait_event(&mut ev, Duration::from_secs(180), |e| {
        e.event_type == hype_types::EventType::VmRunning
    })
    .await?;
    s.client.delete_vm("lost").await?;
    Ok(())
}

fn hype_vmm_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().next())
                .is_some_and(|st| st != "Z" && st != "X")
        })
        .unwrap_or(false)
}

/// One QMP command on `sock`, as anything that reached the VMM's control
/// socket could send it; the answer (`return` or `error`).
async fn qmp(sock: &std::path::Path, cmd: Value) -> anyhow::Result<Value> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let s = tokio::net::UnixStream::connect(sock).await?;
    let (r, mut w) = s.into_split();
    let mut lines = BufReader::new(r).lines();
    lines.next_line().await?; // greeting
    w.write_all(b"{\"execute\":\"qmp_capabilities\"}\n").await?;
    lines.next_line().await?;
    w.write_all(format!("{cmd}\n").as_bytes()).await?;
    loop {
        let line = lines.next_line().await?.unwrap_or_default();
        let v: Value = serde_json::from_str(&line)?;
        if v.get("event").is_none() {
            return Ok(v);
        }
    }
}

fn status_field(pid: u32, key: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{key}:"))
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_default()
}

/// Confinement: a running VM's VMM is its own non-root uid, under seccomp,
/// in its own PID and network namespaces, in a cgroup whose memory limit
/// is set, and cannot open a host file outside the root it was given,
/// even when asked to through its own control socket.
#[tokio::test(flavor = "multi_thread")]
async fn a_vmm_runs_confined() -> anyhow::Result<()> {
    let s = Server::start()?;
    let vm = s.create_running("jailed").await?;
    let pid = vm.vmm.pid.expect("a VMM");
    let uid: u32 = status_field(pid, "Uid")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()?;
    assert!(uid >= 1000, "uid {uid}");
    assert_eq!(status_field(pid, "Seccomp"), "2");
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
    assert_eq!(
        status_field(pid, "NSpid").split_whitespace().count(),
        2,
        "in a PID namespace of its own"
    );
    for ns in ["pid", "net", "mnt", "ipc", "uts"] {
        assert_ne!(
            std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))?,
            std::fs::read_link(format!("/proc/self/ns/{ns}"))?,
            "{ns} namespace"
        );
    }
    // Its cgroup bounds its memory (v2's memory.max or v1's limit).
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    let limit = cgroups.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, ctrl, path) = (parts.next()?, parts.next()?, parts.next()?);
        let file = match ctrl {
            "" => format!("/sys/fs/cgroup{path}/memory.max"),
            "memory" => format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"),
            _ => return None,
        };
        std::fs::read_to_string(file).ok()
    });
    let limit: u64 = limit.expect("a memory cgroup").trim().parse()?;
    assert!(limit > 256 << 20 && limit < 2 << 30, "memory limit {limit}");
    // Its root holds the VM's files, not the host's.
    let root = format!("/proc/{pid}/root");
    assert!(!std::path::Path::new(&format!("{root}/etc/shadow")).exists());
    assert!(!std::path::Path::new(&format!("{root}{}", s.data.join("hype.db").display())).exists());
    // A VMM told to open host files finds none of them.
    let sock = s.data.join("vms/jailed/qmp.sock");
    for (i, file) in ["/etc/shadow", &s.data.join("hype.db").display().to_string()]
        .into_iter()
        .enumerate()
    {
        let answer = qmp(
            &sock,
            serde_json::json!({"execute": "blockdev-add", "arguments": {
                "driver": "file", "filename": file, "node-name": format!("steal{i}"),
                "read-only": true}}),
        )
        .await?;
        let err = answer["error"]["desc"].as_str().unwrap_or("");
        assert!(err.contains("No such file"), "{file}: {answer}");
    }
    // The VM still works as before: its agent answers and it stops.
    assert_eq!(
        s.client.vm_action("jailed", "stop").await?.state.as_str(),
        "stopped"
    );
    s.client.delete_vm("jailed").await?;
    Ok(())
}
