//! A real hyped for tests: the built binary on an ephemeral port, its own
//! data directory with a real SQLite file, and the real images built by
//! `scripts/build-images.sh` (HYPE_IMAGES_DIR, default /var/lib/hype/images).
//! Dropping a server stops hyped and kills every VMM it left, so no test
//! leaks a QEMU.
#![allow(dead_code)]

pub mod cdp;
pub mod imported;
pub mod peer;
pub mod vcsim;
pub mod xapi;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hype_client::{Client, SseStream};
use hype_types::{Event, EventType, Vm};

/// Tests of one binary that each boot browser guests take turns: under TCG
/// on two cores, side by side they starve each other's Chromium past the
/// 30 s CDP deadlines a user would see too (a flaky test is a failed one).
#[allow(dead_code)]
pub fn browser_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// The `hype` CLI of this build, built if this test run did not.
#[allow(dead_code)]
pub fn hype_binary() -> anyhow::Result<PathBuf> {
    let hyped = Path::new(env!("CARGO_BIN_EXE_hyped"));
    let profile_dir = hyped.parent().expect("a directory");
    let target = profile_dir.parent().expect("a target directory");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "-q", "-p", "hype", "--target-dir"])
        .arg(target)
        .status()?;
    anyhow::ensure!(status.success(), "cargo build -p hype failed");
    Ok(profile_dir.join("hype"))
}

pub fn images_dir() -> PathBuf {
    let dir = PathBuf::from(
        std::env::var("HYPE_IMAGES_DIR").unwrap_or_else(|_| "/var/lib/hype/images".into()),
    );
    assert!(
        dir.join("base/manifest.json").is_file(),
        "no base image in {}: run scripts/build-images.sh first",
        dir.display()
    );
    dir
}

pub struct Server {
    pub data: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    child: Option<Child>,
    pub base: String,
    pub client: Client,
}

impl Server {
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with(&[])
    }

    /// A hyped with `extra` flags in a data directory of its own.
    pub fn start_with(extra: &[&str]) -> anyhow::Result<Self> {
        let tmp = tempfile::tempdir()?;
        let data = tmp.path().to_owned();
        let mut s = Self::start_in(&data, extra)?;
        s._tmp = Some(tmp);
        Ok(s)
    }

    /// A hyped with `extra` flags and `envs` in its environment.
    #[allow(dead_code)]
    pub fn start_with_env(extra: &[&str], envs: &[(&str, &str)]) -> anyhow::Result<Self> {
        let tmp = tempfile::tempdir()?;
        let data = tmp.path().to_owned();
        let mut s = Self::start_in_env(&data, extra, envs)?;
        s._tmp = Some(tmp);
        Ok(s)
    }

    /// Starts hyped on `data` (kept by the caller, so a restart finds it).
    pub fn start_in(data: &Path, extra: &[&str]) -> anyhow::Result<Self> {
        Self::start_in_env(data, extra, &[])
    }

    /// Starts hyped on `data` with `envs` in its environment.
    pub fn start_in_env(
        data: &Path,
        extra: &[&str],
        envs: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hyped"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            // The built images, unless the test brings its own.
            .args(if extra.contains(&"--images-dir") {
                vec![]
            } else {
                vec![
                    "--images-dir".to_owned(),
                    images_dir().display().to_string(),
                ]
            })
            .args(["--stop-timeout", "20"])
            // Tests in the host's namespace never configure the host's
            // network; the networking tests run in namespaces of their own.
            .args(if extra.contains(&"--network") {
                &[][..]
            } else {
                &["--network", "off"][..]
            })
            .args(extra)
            .envs(envs.iter().copied())
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(data.join("hyped.log"))?,
            ))
            .spawn()
            .context("spawn hyped")?;
        let stdout = child.stdout.take().expect("piped");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let Some(base) = line.trim().strip_prefix("hyped listening on ") else {
            let _ = child.kill();
            bail!(
                "hyped did not start: {line:?}; see {}/hyped.log",
                data.display()
            );
        };
        let base = base.to_owned();
        // The listener is bound before start-up (reconcile) is done; the
        // first answer means hyped is fully up.
        if let Err(e) = healthz(base.trim_start_matches("http://")) {
            let _ = child.kill();
            bail!(
                "hyped did not come up ({e}); see {}/hyped.log",
                data.display()
            );
        }
        let key = extra
            .windows(2)
            .find(|w| w[0] == "--api-key")
            .map(|w| w[1].to_owned());
        Ok(Self {
            data: data.to_owned(),
            _tmp: None,
            child: Some(child),
            client: Client::new(&base, key),
            base,
        })
    }

    /// Stops hyped with SIGTERM and waits; VMMs keep running.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = c.wait();
        }
    }

    /// A hyped with networking on `subnet` (in the caller's namespace, see
    /// [`in_netns`]) and a boot deadline long enough for browser guests
    /// under TCG; `extra` adds flags.
    pub fn networked(dir: &Path, subnet: &str, extra: &[&str]) -> anyhow::Result<Self> {
        let mut args = vec![
            "--network",
            "on",
            "--subnet",
            subnet,
            "--boot-timeout",
            "400",
        ];
        args.extend_from_slice(extra);
        Self::start_in(dir, &args)
    }

    /// hyped's log so far. It must hold what hyped logs at every start:
    /// a test that looks for what must never be logged cannot pass on a
    /// log that was not captured.
    pub fn log(&self) -> anyhow::Result<String> {
        let log = std::fs::read_to_string(self.data.join("hyped.log"))?;
        anyhow::ensure!(
            log.contains("qemu found") && !log.contains("Unable to write an event"),
            "hyped's log in {} was not captured: {log:?}",
            self.data.display()
        );
        Ok(log)
    }

    /// Kills hyped with SIGKILL (a crash: nothing of its own shutdown
    /// runs) and waits for it.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn hyped_pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Follows lifecycle events until `pred` matches one, or the deadline.
    pub async fn wait_event(
        &self,
        stream: &mut SseStream,
        deadline: Duration,
        mut pred: impl FnMut(&Event) -> bool,
    ) -> anyhow::Result<Event> {
        let until = Instant::now() + deadline;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let frame = tokio::time::timeout(left, stream.next())
                .await
                .context("timed out waiting for an event")?
                .context("event stream ended")??;
            let ev: Event = serde_json::from_str(&frame.data)?;
            if pred(&ev) {
                return Ok(ev);
            }
        }
    }

    /// Kills VM `name`'s VMM (`pid`) with SIGKILL and returns the
    /// `VM_CRASHED` that must follow within a second, naming the signal.
    pub async fn kill_expecting_crash(&self, name: &str, pid: u32) -> anyhow::Result<Event> {
        let mut events = self.client.vm_events(Some(name), None).await?;
        let killed = Instant::now();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        )?;
        let ev = self
            .wait_event(&mut events, Duration::from_secs(5), |e| {
                e.event_type == EventType::VmCrashed
            })
            .await?;
        let took = killed.elapsed();
        anyhow::ensure!(took < Duration::from_secs(1), "VM_CRASHED after {took:?}");
        anyhow::ensure!(
            ev.detail.as_deref().unwrap_or("").contains("SIGKILL"),
            "{:?}",
            ev.detail
        );
        Ok(ev)
    }

    /// Polls VM `name` until it runs; an error if it crashes or the
    /// deadline passes.
    pub async fn wait_running(&self, name: &str, deadline: Duration) -> anyhow::Result<Vm> {
        let until = Instant::now() + deadline;
        loop {
            let vm = self.client.get_vm(name).await?;
            match vm.state.as_str() {
                "running" => return Ok(vm),
                "crashed" | "stopped" => {
                    let events: serde_json::Value =
                        reqwest::get(format!("{}/api/v1/events?limit=1000", self.base))
                            .await?
                            .json()
                            .await?;
                    let why = events["events"]
                        .as_array()
                        .and_then(|e| e.iter().rev().find(|e| e["vm"] == name))
                        .map(|e| e["detail"].to_string())
                        .unwrap_or_default();
                    bail!("{name} is {}: {why}", vm.state)
                }
                _ if Instant::now() > until => bail!("{name} not running after {deadline:?}"),
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Creates a base VM `name` (1 vCPU, 256 MiB) and waits for VM_RUNNING.
    pub async fn create_running(&self, name: &str) -> anyhow::Result<Vm> {
        let body = serde_json::json!({"name": name, "cpu_cores": 1, "memory_mb": 256});
        self.create_running_as(body, Duration::from_secs(180)).await
    }

    /// Creates the VM `body` describes and waits for VM_RUNNING; an error
    /// on VM_CRASHED or past `deadline`.
    pub async fn create_running_as(
        &self,
        body: serde_json::Value,
        deadline: Duration,
    ) -> anyhow::Result<Vm> {
        let name = body["name"].as_str().context("no name")?.to_owned();
        let mut events = self
            .client
            .vm_events(Some(&name), Some(self.last_event_id().await?))
            .await?;
        let vm = self
            .client
            .create_vm(&serde_json::from_value(body)?)
            .await?;
        assert_eq!(vm.state.as_str(), "starting");
        let ev = self
            .wait_event(&mut events, deadline, |e| {
                matches!(e.event_type, EventType::VmRunning | EventType::VmCrashed)
            })
            .await?;
        if ev.event_type != EventType::VmRunning {
            bail!("{name} did not boot: {:?}", ev.detail);
        }
        Ok(self.client.get_vm(&name).await?)
    }

    /// POSTs `body` to `path`: the status and the answer (JSON, or its
    /// text as a string).
    pub async fn post(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let r = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await?;
        let status = r.status().as_u16();
        let text = r.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        ))
    }

    /// DELETEs `path`: the status and the answer's text.
    pub async fn delete(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let r = reqwest::Client::new()
            .delete(format!("{}{path}", self.base))
            .send()
            .await?;
        Ok((r.status().as_u16(), r.text().await?))
    }

    /// Polls job `id` until it ends (at most two minutes).
    pub async fn wait_job(&self, id: &str) -> anyhow::Result<hype_types::Job> {
        for _ in 0..600 {
            let j = self.client.get_job(id).await?;
            if j.state.is_final() {
                return Ok(j);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        anyhow::bail!("job {id} never ended")
    }

    pub async fn last_event_id(&self) -> anyhow::Result<i64> {
        let text = reqwest::get(format!("{}/metrics", self.base))
            .await?
            .text()
            .await?;
        let line = text
            .lines()
            .find(|l| l.starts_with("hype_last_event_id "))
            .context("metrics lack hype_last_event_id")?;
        Ok(line.split_whitespace().nth(1).context("value")?.parse()?)
    }

    /// QEMU processes of VMs (not hyped's KVM probe) whose command line points
    /// into this data directory.
    pub fn vmm_pids(&self) -> Vec<u32> {
        vmm_pids_under(&self.data)
    }
}

/// One blocking GET /healthz; it waits in the listen queue until hyped
/// serves.
fn healthz(addr: &str) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.write_all(b"GET /healthz HTTP/1.0\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    anyhow::ensure!(answer.contains(" 200 "), "healthz answered {answer:?}");
    Ok(())
}

pub fn vmm_pids_under(data: &Path) -> Vec<u32> {
    let needle = data.join("vms").display().to_string();
    let mut out = vec![];
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd);
        // A jailed VMM runs as `/usr/bin/qemu-system-…`, a bare one by name.
        let argv0 = cmd.split('\0').next().unwrap_or("");
        let exe = argv0.rsplit('/').next().unwrap_or("");
        if exe.starts_with("qemu-system") && cmd.contains(&needle) {
            out.push(pid);
        }
    }
    out
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        for pid in vmm_pids_under(&self.data) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        // A restarted hyped would free its RAM, this one will not be
        // restarted (and the next hyped to start frees it only after
        // ten minutes).
        let _ = std::fs::remove_dir_all(self.ram_dir());
    }
}

impl Server {
    /// Where this hyped keeps guests' RAM: on tmpfs, named after the data
    /// directory (hype-core's `ram::dir`).
    pub fn ram_dir(&self) -> std::path::PathBuf {
        use sha2::Digest;
        let h = hex::encode(sha2::Sha256::digest(self.data.display().to_string()));
        std::path::PathBuf::from(format!("/dev/shm/hype-{}", &h[..12]))
    }
}

pub fn sh(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(args[0]).args(&args[1..]).output()?;
    anyhow::ensure!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Runs `f` on a thread inside a new network namespace with lo up and IPv4
/// forwarding on.
pub fn in_netns<F, Fut>(f: F) -> anyhow::Result<()>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)?;
        sh(&["ip", "link", "set", "lo", "up"])?;
        std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")?;
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(f())
    })
    .join()
    .map_err(|_| anyhow::anyhow!("test thread panicked"))?
}
