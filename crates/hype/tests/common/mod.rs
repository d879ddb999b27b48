//! A real hyped for the CLI's tests: the binary built beside `hype`, on
//! the given address, with its own data directory and the images built by
//! `scripts/build-images.sh` (HYPE_IMAGES_DIR, default /var/lib/hype/images).
#![allow(dead_code)]

pub mod tmux;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub fn hyped_bin() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_hype")).with_file_name("hyped");
    assert!(p.is_file(), "{} missing: cargo build -p hyped", p.display());
    p
}

pub fn images_dir() -> String {
    std::env::var("HYPE_IMAGES_DIR").unwrap_or_else(|_| "/var/lib/hype/images".into())
}

pub struct Hyped {
    child: Option<Child>,
    pub base: String,
}

pub fn start_hyped(data: &Path, listen: &str) -> anyhow::Result<Hyped> {
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
    Ok(Hyped {
        child: Some(child),
        base,
    })
}

impl Hyped {
    /// SIGTERM and wait; VMMs keep running. Once only: the pid of a
    /// reaped child may belong to another process later.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = child.wait();
        }
    }
}

pub fn hype(base: &str, args: &[&str]) -> (i32, String, String) {
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

pub fn kill_vmms(data: &Path) {
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

impl Drop for Hyped {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port free right now, to listen on again after a restart of hyped.
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}
