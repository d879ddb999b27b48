//! Guest RAM in files. A guest booted on hype's kernel (QEMU or
//! cloud-hypervisor) keeps its RAM in a file of hyped's RAM directory (on
//! the host's `/dev/shm`, a tmpfs), mapped shared: a named snapshot then
//! needs only the VM's device state and a copy of that file, which every
//! fork maps privately, so pages a fork never writes stay one copy in the
//! page cache for all of them.
//!
//! The directory is hyped's alone (0700); each file is the VM's uid's when
//! its VMM is confined, and goes when its VMM does.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::{CoreConfig, CoreError, Result};

/// Where guests' RAM lives: `/dev/shm/hype-<data dir hash>`, one per hyped.
pub(crate) fn dir(cfg: &CoreConfig) -> PathBuf {
    let h = Sha256::digest(cfg.data_dir.display().to_string().as_bytes());
    PathBuf::from("/dev/shm").join(format!("hype-{}", &hex::encode(h)[..12]))
}

/// The RAM file of the VM whose run directory is `vm_dir`.
pub(crate) fn file(cfg: &CoreConfig, vm_dir: &str) -> PathBuf {
    dir(cfg).join(format!("{vm_dir}.ram"))
}

/// Makes a RAM file of holes for a boot, owned by `uid`
/// when its VMM is confined. Refused (507) when the RAM directory has less
/// room than the guest's memory.
pub(crate) fn prepare(
    cfg: &CoreConfig,
    vm: &str,
    vm_dir: &str,
    memory_mb: u32,
    uid: Option<u32>,
) -> Result<PathBuf> {
    let d = dir(cfg);
    let io = |path: PathBuf| move |source| CoreError::Io { path, source };
    std::fs::create_dir_all(&d).map_err(io(d.clone()))?;
    std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .map_err(io(d.clone()))?;
    let free = nix::sys::statvfs::statvfs(&d)
        .map(|s| s.blocks_available() * s.fragment_size())
        .unwrap_or(u64::MAX);
    let need = u64::from(memory_mb) << 20;
    if free < need {
        return Err(CoreError::Insufficient {
            name: vm.into(),
            what: format!("{} for its memory", d.display()),
            needed_mb: memory_mb,
            free_mb: (free >> 20) as u32,
        });
    }
    let f = file(cfg, vm_dir);
    let _ = std::fs::remove_file(&f);
    // Sized here: QEMU would size it, cloud-hypervisor refuses a file
    // shorter than the guest's RAM. A hole costs nothing until written.
    std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(&f)
        .and_then(|file| file.set_len(need))
        .map_err(io(f.clone()))?;
    if let Some(uid) = uid {
        std::os::unix::fs::chown(&f, Some(uid), Some(uid)).map_err(io(f.clone()))?;
    }
    Ok(f)
}

/// Frees a VM's RAM (its VMM is gone).
pub(crate) fn remove(cfg: &CoreConfig, vm_dir: &str) {
    let _ = std::fs::remove_file(file(cfg, vm_dir));
}
