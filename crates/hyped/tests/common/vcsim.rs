//! govmomi's vCenter simulator with the project's `ExportVm`
//! (tests/vsphere/vcsim, built by scripts/build-vcsim.sh), killed on drop,
//! and the stream-optimised VMDKs it serves as a VM's disks.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::Context;

/// A running simulator and its SDK URL.
pub struct Sim(pub Child, pub String);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The simulator's command, listening on a free port and accepting
/// `user`/`password`; callers add its flags. The build script fails with a
/// pointer to install-deps.sh when Go or govmomi are missing.
pub fn command(user: &str, password: &str) -> anyhow::Result<Command> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let built = Command::new(root.join("scripts/build-vcsim.sh")).output()?;
    anyhow::ensure!(
        built.status.success(),
        "cannot build the vCenter simulator; run scripts/install-deps.sh: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let mut cmd = Command::new(String::from_utf8(built.stdout)?.trim());
    cmd.args(["-listen", "127.0.0.1:0"])
        .env("VCSIM_USERNAME", user)
        .env("VCSIM_PASSWORD", password)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    Ok(cmd)
}

/// Starts `cmd` (from [`command`]) and reads the URL its banner names.
pub fn spawn(cmd: &mut Command) -> anyhow::Result<Sim> {
    let mut child = cmd.spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    let v: serde_json::Value = serde_json::from_str(&line).context("simulator banner")?;
    let url = v["url"].as_str().context("url")?.to_owned();
    Ok(Sim(child, url))
}

/// Converts the raw disk `raw` into the stream-optimised VMDK `vmdk`, as
/// vSphere's `ExportVm` hands disks out.
pub fn stream_vmdk(raw: &Path, vmdk: &Path) -> anyhow::Result<()> {
    let ok = Command::new("qemu-img")
        .args(["convert", "-f", "raw", "-O", "vmdk"])
        .args(["-o", "subformat=streamOptimized"])
        .arg(raw)
        .arg(vmdk)
        .status()?
        .success();
    anyhow::ensure!(ok, "qemu-img convert to VMDK");
    Ok(())
}

/// The resume scenario shared by `tests/import_resume.rs` and
/// `benches/import_resume.rs`: a 2 GiB disk, the simulator serving it
/// throttled, and a hyped that has the password in its environment.
pub mod resume {
    use std::io::{Seek, SeekFrom, Write};
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::time::{Duration, Instant};

    use anyhow::Context;
    use hype_types::Job;

    use super::{command, spawn, stream_vmdk, Sim};
    use crate::common::Server;

    pub const USER: &str = "vc-admin";
    pub const PASSWORD: &str = "vc-resume-pw-5521";
    pub const ENV: &str = "HYPE_VSPHERE_PASSWORD";
    pub const CAPACITY: u64 = 2 << 30;
    /// Bytes per second the simulator sends a download: the VMDK (about 96
    /// MiB of incompressible data) takes about 12 s, time to stop hyped twice.
    pub const RATE: u64 = 8 << 20;

    impl Sim {
        /// The simulator serving `disk` as a disk of `CAPACITY`, throttled.
        pub fn start(disk: &Path, data: &Path) -> anyhow::Result<Sim> {
            spawn(
                command(USER, PASSWORD)?
                    .arg("-data-dir")
                    .arg(data)
                    .arg("-disk-file")
                    .arg(disk)
                    .args(["-disk-capacity", &CAPACITY.to_string()])
                    .args(["-rate", &RATE.to_string()]),
            )
        }

        /// The disk requests the simulator served: (lease, range, bytes sent).
        pub async fn gets(&self) -> anyhow::Result<Vec<(String, String, u64)>> {
            let base = self.1.trim_end_matches("/sdk");
            let http = reqwest::Client::builder()
                .danger_accept_invalid_certs(true)
                .build()?;
            let events: Vec<serde_json::Value> = http
                .get(format!("{base}/hype/events"))
                .send()
                .await?
                .json()
                .await?;
            Ok(events
                .iter()
                .filter(|e| {
                    e["kind"] == "get" && e["file"].as_str().is_some_and(|f| f.ends_with(".vmdk"))
                })
                .map(|e| {
                    (
                        e["lease"].as_str().unwrap_or_default().to_owned(),
                        e["range"].as_str().unwrap_or_default().to_owned(),
                        e["sent"].as_u64().unwrap_or(0),
                    )
                })
                .collect())
        }
    }

    /// The scenario's source in `dir`: the disk's sha256, the VMDK's size,
    /// and the simulator serving it.
    pub fn source(dir: &Path) -> anyhow::Result<(String, u64, Sim)> {
        let (sha, vmdk) = make_disks(dir)?;
        let vmdk_size = std::fs::metadata(&vmdk)?.len();
        Ok((sha, vmdk_size, Sim::start(&vmdk, dir)?))
    }

    /// A sparse 2 GiB raw disk with 96 MiB of incompressible data spread over
    /// it (1 MiB every 21 MiB), its sha256, and the same disk as the
    /// stream-optimised VMDK `ExportVm` hands out.
    pub fn make_disks(dir: &Path) -> anyhow::Result<(String, PathBuf)> {
        let raw = dir.join("src.raw");
        let mut f = std::fs::File::create(&raw)?;
        f.set_len(CAPACITY)?;
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut chunk = vec![0u8; 1 << 20];
        for i in 0..96u64 {
            for b in chunk.chunks_mut(8) {
                // xorshift64: cheap bytes deflate cannot shrink.
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.copy_from_slice(&x.to_le_bytes());
            }
            f.seek(SeekFrom::Start(i * (21 << 20)))?;
            f.write_all(&chunk)?;
        }
        drop(f);
        // sha256sum: hashing 2 GiB in this unoptimised test build takes long.
        let out = Command::new("sha256sum").arg(&raw).output()?;
        anyhow::ensure!(out.status.success(), "sha256sum");
        let sha = String::from_utf8(out.stdout)?
            .split_whitespace()
            .next()
            .context("sha256sum output")?
            .to_owned();
        let vmdk = dir.join("src.vmdk");
        stream_vmdk(&raw, &vmdk)?;
        std::fs::remove_file(&raw)?;
        Ok((sha, vmdk))
    }

    pub fn hyped(data: &Path) -> anyhow::Result<Server> {
        Server::start_in_env(
            data,
            &["--import-allow-host", "127.0.0.1"],
            &[(ENV, PASSWORD)],
        )
    }

    /// A job body exporting the simulator's VM from `url` as image `name`,
    /// with the password in the body (hyped has none of its own then).
    pub fn job_with_password(url: &str, name: &str) -> Vec<u8> {
        serde_json::json!({"kind": "vsphere_export", "name": name, "url": url,
            "username": USER, "password": PASSWORD, "vm": "/DC0/vm/DC0_C0_RP0_VM0",
            "insecure": true})
        .to_string()
        .into_bytes()
    }

    /// Checks job `id` is `pending` in the awaiting-password phase.
    pub async fn awaits_password(s: &Server, id: &str) -> anyhow::Result<()> {
        let j = s.client.get_job(id).await?;
        anyhow::ensure!(
            j.state == hype_types::JobState::Pending
                && j.progress.phase == hype_types::AWAITING_PASSWORD,
            "{j:?}"
        );
        Ok(())
    }

    /// Polls the job until its download has `at_least` bytes (kept ones
    /// included), failing if it ends first.
    pub async fn wait_bytes(s: &Server, id: &str, at_least: u64) -> anyhow::Result<Job> {
        let until = Instant::now() + Duration::from_secs(120);
        loop {
            let j = s.client.get_job(id).await?;
            anyhow::ensure!(!j.state.is_final(), "the job ended early: {j:?}");
            if j.progress.phase == "downloading" && j.progress.bytes_done.unwrap_or(0) >= at_least {
                return Ok(j);
            }
            anyhow::ensure!(
                Instant::now() < until,
                "the download never reached {at_least} bytes: {j:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
