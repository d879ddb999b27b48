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
