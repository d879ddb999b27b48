//! A VM's own writable disks, in its run directory, made on first boot and
//! kept until the VM is deleted: the sparse ext4 file of `persist: true`,
//! the copy-on-write overlay a VM of an imported disk writes to (the
//! registered image is shared and must never change), and a UEFI VM's copy
//! of OVMF's variable store.

use std::ffi::OsString;
use std::path::Path;

use crate::{CoreError, Result};

/// Why a VM's own disk could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error("{tool} failed: {stderr}")]
    Tool { tool: &'static str, stderr: String },
    #[error("cannot copy {}", from.display())]
    Copy {
        from: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub(crate) const PERSIST_DISK: &str = "persist.ext4";
/// Sparse: only what the guest writes takes host space.
const SIZE: u64 = 4 << 30;

/// Makes the persistent ext4 disk at `path` unless it exists.
pub(crate) async fn ensure(vm: &str, path: &Path) -> Result<()> {
    build(vm, path, "ext4.tmp", Some(SIZE), "mkfs.ext4", |tmp| {
        vec![
            "-q".into(),
            "-F".into(),
            "-L".into(),
            "hype-persist".into(),
            tmp.into(),
        ]
    })
    .await
}

/// Makes the qcow2 overlay at `path` over the raw `image` unless it exists.
pub(crate) async fn ensure_overlay(vm: &str, path: &Path, image: &Path) -> Result<()> {
    // The backing format is stated, never probed: the guest writes the
    // image's bytes and could make them look like a qcow2 header.
    build(vm, path, "qcow2.tmp", None, "qemu-img", |tmp| {
        let mut args: Vec<OsString> = ["create", "-q", "-f", "qcow2", "-F", "raw", "-b"]
            .map(OsString::from)
            .into();
        args.push(image.into());
        args.push(tmp.into());
        args
    })
    .await
}

/// Copies `template` to `path` unless `path` exists (through a temporary
/// file renamed into place, so a crash never leaves half a copy).
pub(crate) async fn ensure_copy(vm: &str, path: &Path, template: &Path) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    let io = |p: &Path| {
        let p = p.to_owned();
        move |source| CoreError::Io { path: p, source }
    };
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(io(dir))?;
    }
    let tmp = path.with_extension("tmp");
    if let Err(e) = tokio::fs::copy(template, &tmp).await {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(CoreError::Disk {
            name: vm.into(),
            source: DiskError::Copy {
                from: template.to_owned(),
                source: e,
            },
        });
    }
    tokio::fs::rename(&tmp, path).await.map_err(io(path))
}

/// Runs `tool` with `args(tmp)` on a temporary file beside `path` (first
/// made `sparse` bytes long, if given) and renames it into place, so a
/// crash never leaves a half-made disk. Nothing is done if `path` exists.
async fn build(
    vm: &str,
    path: &Path,
    tmp_ext: &str,
    sparse: Option<u64>,
    tool: &'static str,
    args: impl FnOnce(&Path) -> Vec<OsString>,
) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    let io = |source| CoreError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
    }
    let tmp = path.with_extension(tmp_ext);
    if let Some(size) = sparse {
        let f = tokio::fs::File::create(&tmp).await.map_err(io)?;
        f.set_len(size).await.map_err(io)?;
    }
    let out = tokio::process::Command::new(tool)
        .args(args(&tmp))
        .output()
        .await
        .map_err(io)?;
    if !out.status.success() {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(CoreError::Disk {
            name: vm.into(),
            source: DiskError::Tool {
                tool,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            },
        });
    }
    tokio::fs::rename(&tmp, path).await.map_err(io)
}
