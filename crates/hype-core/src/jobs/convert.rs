//! From exported disk files to a registered image: `qemu-img convert` to
//! sparse raw, the virtual size checked against what the source declared,
//! sha256 of the result.

use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use super::exporter::ExportError;

fn failed(msg: impl Into<String>) -> ExportError {
    ExportError::Failed(msg.into())
}

/// Runs a child to its end unless cancelled (then it is killed).
pub(super) async fn run(
    cmd: &mut Command,
    what: &str,
    cancel: &CancellationToken,
) -> Result<Vec<u8>, ExportError> {
    cmd.kill_on_drop(true)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().map_err(|e| {
        failed(format!(
            "cannot run {what}: {e} (Debian package qemu-utils)"
        ))
    })?;
    let out = tokio::select! {
        _ = cancel.cancelled() => return Err(ExportError::Cancelled),
        out = child.wait_with_output() => out.map_err(|e| failed(format!("{what}: {e}")))?,
    };
    if !out.status.success() {
        return Err(failed(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out.stdout)
}

#[derive(Deserialize)]
struct Info {
    #[serde(rename = "virtual-size")]
    virtual_size: u64,
}

async fn info(path: &Path, cancel: &CancellationToken) -> Result<Info, ExportError> {
    let out = run(
        Command::new("qemu-img")
            .args(["info", "--output=json", "-f", "raw"])
            .arg(path),
        "qemu-img info",
        cancel,
    )
    .await?;
    serde_json::from_slice(&out).map_err(|e| failed(format!("qemu-img info: {e}")))
}

/// Converts `src`, of the format its exporter named, into sparse raw `dst`
/// and checks its size is `capacity`. The format is never probed: a raw
/// disk whose guest wrote a qcow2 header would otherwise be read as qcow2,
/// backing file (any file of this host) and all. Before converting, the
/// file must be one self-contained image (see [`super::single`]): qemu-img
/// runs as root and would copy whatever other file the image names.
pub(crate) async fn to_raw(
    src: &Path,
    format: &str,
    dst: &Path,
    capacity: u64,
    cancel: &CancellationToken,
) -> Result<(), ExportError> {
    super::single::check(src, format, cancel)
        .await
        .map_err(|e| failed(e.to_string()))?;
    run(
        Command::new("qemu-img")
            .args(["convert", "-q", "-f", format, "-O", "raw", "-S", "4k"])
            .arg(src)
            .arg(dst),
        "qemu-img convert",
        cancel,
    )
    .await?;
    let got = info(dst, cancel).await?.virtual_size;
    if got != capacity {
        return Err(failed(format!(
            "the converted disk is {got} bytes, but the source declared {capacity}"
        )));
    }
    Ok(())
}

/// sha256 of a file, hex, read off the async runtime.
pub(crate) async fn sha256(path: &Path, cancel: &CancellationToken) -> Result<String, ExportError> {
    let p = path.to_owned();
    let stop = cancel.clone();
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut f = std::fs::File::open(&p).map_err(|e| failed(format!("{}: {e}", p.display())))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            if stop.is_cancelled() {
                return Err(ExportError::Cancelled);
            }
            let n = f
                .read(&mut buf)
                .map_err(|e| failed(format!("{}: {e}", p.display())))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(hex::encode(h.finalize()))
    })
    .await
    .map_err(|e| failed(format!("hashing: {e}")))?
}
