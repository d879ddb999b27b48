//! Exports a VM's disks from XCP-ng (or XenServer) as raw disk files: XAPI
//! over JSON-RPC (`/jsonrpc`) to log in, find the VM and its disks and track
//! tasks, then either `GET /export_raw_vdi` per disk or the whole VM as an
//! XVA (`GET /export`, or a local `.xva` file), whose 1 MiB chunks are
//! verified against their checksums and written sparsely.
//!
//! It owns the XAPI wire protocol and the XVA format, and nothing else: it
//! writes only under the destination directory it is given, never knows
//! about images, jobs or the store, and never logs or returns a password or
//! session id. Every await observes the cancellation token.

mod browse;
mod error;
mod ovaxml;
mod raw;
mod rpc;
mod sparse;
mod xva;

use std::path::{Path, PathBuf};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use browse::list_vms;
pub use error::XcpngError;
pub use rpc::Session;
pub use xva::rebuild_xva;

/// Disks larger than this are refused as absurd (64 TiB, XAPI's own VDI
/// limit is 2 TiB for VHD and 16 TiB for QCOW2-backed SRs).
pub const MAX_DISK_BYTES: u64 = 64 << 40;

/// Where an export comes from.
#[derive(Clone)]
pub enum Source {
    /// A pool master: `url` is `https://HOST` (XAPI's own address).
    Remote(Remote),
    /// An `.xva` file already on this host.
    XvaFile(PathBuf),
}

#[derive(Clone)]
pub struct Remote {
    pub url: String,
    pub username: String,
    pub password: String,
    /// Name label or uuid.
    pub vm: String,
    /// Accept self-signed certificates.
    pub insecure: bool,
    /// Export as one XVA instead of per-disk raw VDIs.
    pub xva: bool,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("vm", &self.vm)
            .field("insecure", &self.insecure)
            .field("xva", &self.xva)
            .finish_non_exhaustive()
    }
}

pub use hype_types::{ExportProgress as Progress, ExportedDisk, Firmware};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOutcome {
    /// Boot disk first (lowest `userdevice`).
    pub disks: Vec<ExportedDisk>,
    /// The firmware the VM booted with (`HVM_boot_params.firmware`).
    pub firmware: Firmware,
    /// The VM's shape, when its record says (`VCPUs_max`,
    /// `memory_static_max` in MiB).
    pub shape: Shape,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shape {
    pub cpus: Option<u32>,
    pub memory_mb: Option<u64>,
}

/// The CPUs and memory of a VM record (XAPI's, or ova.xml's snapshot).
pub(crate) fn vm_shape(rec: &serde_json::Value) -> Shape {
    Shape {
        cpus: rpc::as_u64(&rec["VCPUs_max"]).and_then(|n| u32::try_from(n).ok()),
        memory_mb: rpc::as_u64(&rec["memory_static_max"]).map(|b| b >> 20),
    }
}

/// The firmware of a VM record (XAPI's, or ova.xml's VM snapshot): its
/// `HVM_boot_params` map has `firmware` = `bios` or `uefi`; VMs from before
/// XCP-ng knew UEFI have no such key and boot BIOS. Anything else is an
/// answer this crate does not understand, so the caller refuses it rather
/// than guess.
pub(crate) fn vm_firmware(rec: &serde_json::Value) -> Result<Firmware, String> {
    match rec.get("HVM_boot_params").and_then(|p| p.get("firmware")) {
        None | Some(serde_json::Value::Null) => Ok(Firmware::Bios),
        Some(v) => v.as_str().and_then(Firmware::parse).ok_or_else(|| {
            format!("HVM_boot_params.firmware is {v}, neither \"bios\" nor \"uefi\"")
        }),
    }
}

/// Exports the VM's disks into `dest` (which must exist). On error or
/// cancellation the files it wrote are left for the caller to remove with
/// `dest` itself.
pub async fn export(
    source: &Source,
    dest: &Path,
    progress: watch::Sender<Progress>,
    cancel: CancellationToken,
) -> Result<ExportOutcome, XcpngError> {
    match source {
        Source::XvaFile(path) => {
            let file = tokio::fs::File::open(path)
                .await
                .map_err(XcpngError::io(path))?;
            progress.send_modify(|p| p.phase = "downloading");
            rebuild_xva(file, dest, &progress, &cancel).await
        }
        Source::Remote(r) => {
            let session =
                Session::login(&r.url, &r.username, &r.password, r.insecure, &cancel).await?;
            let out = if r.xva {
                raw::export_xva(&session, &r.vm, dest, &progress, &cancel).await
            } else {
                raw::export_raw(&session, &r.vm, dest, &progress, &cancel).await
            };
            // Logging out is courtesy; a failure there changes nothing.
            session.logout().await;
            out
        }
    }
}

/// Runs `fut` unless `cancel` fires first.
pub(crate) async fn cancellable<F: std::future::Future>(
    cancel: &CancellationToken,
    fut: F,
) -> Result<F::Output, XcpngError> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(XcpngError::Cancelled),
        out = fut => Ok(out),
    }
}
