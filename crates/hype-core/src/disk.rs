//! A VM's own writable disks, in its run directory, made on first boot and
//! kept until the VM is deleted: the sparse ext4 file of `persist: true`,
//! and the copy-on-write overlay a VM of an imported disk writes to (the
//! registered image is shared and must never change).

use std::path::Path;

use crate::{CoreError, Result};

pub(crate) const PERSIST_DISK: &str = "persist.ext4";
/// Sparse: only what the guest writes takes host space.
const SIZE: u64 = 4 << 30;

/// Makes the disk at `path` unless it exists.
pub(crate) async fn ensure(vm: &str, path: &Path) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    let name = vm.to_owned();
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || make(&name, &path))
        .await
        .map_err(|e| CoreError::Disk {
            name: vm.to_owned(),
            why: format!("disk preparation stopped: {e}"),
        })?
}

fn make(vm: &str, path: &Path) -> Result<()> {
    let io = |source| CoreError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    // Built beside and renamed, so a crash never leaves a half-made disk.
    let tmp = path.with_extension("ext4.tmp");
    std::fs::File::create(&tmp)
        .and_then(|f| f.set_len(SIZE))
        .map_err(io)?;
    let out = std::process::Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", "hype-persist"])
        .arg(&tmp)
        .output()
        .map_err(io)?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&tmp);
        return Err(CoreError::Disk {
            name: vm.into(),
            why: format!(
                "mkfs.ext4 failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    std::fs::rename(&tmp, path).map_err(io)
}

/// Makes the qcow2 overlay at `path` over the raw `image` unless it exists.
pub(crate) async fn ensure_overlay(vm: &str, path: &Path, image: &Path) -> Result<()> {
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
    let tmp = path.with_extension("qcow2.tmp");
    // The backing format is stated, never probed: the guest writes the
    // image's bytes and could make them look like a qcow2 header.
    let out = tokio::process::Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
        .arg(image)
        .arg(&tmp)
        .output()
        .await
        .map_err(io)?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&tmp);
        return Err(CoreError::Disk {
            name: vm.into(),
            why: format!(
                "qemu-img create failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    tokio::fs::rename(&tmp, path).await.map_err(io)
}
