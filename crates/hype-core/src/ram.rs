//! Guest RAM in files. A QEMU guest booted on hype's kernel keeps its RAM
//! in a file of hyped's RAM directory (on the host's `/dev/shm`, a tmpfs),
//! mapped shared: a named snapshot then needs only the VM's device state
//! and a copy of that file, which every fork maps privately, so pages a
//! fork never writes stay one copy in the page cache for all of them.
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

/// Makes an empty RAM file for a boot (the VMM sizes it), owned by `uid`
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
    std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(&f)
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

/// Copies a guest's RAM file to `to`, only its data: a guest touches a
/// fraction of its memory, and the rest stays a hole in the copy too
/// (SEEK_DATA/SEEK_HOLE on tmpfs). Returns the bytes copied. The copy is
/// readable by forks' VMMs (what the jail's read-only binds need); it sits
/// in hyped's own data directory, which no one else can enter.
pub(crate) fn copy_sparse(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<u64> {
    use nix::unistd::{lseek, Whence};
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::{FileExt, OpenOptionsExt};

    let src = std::fs::File::open(from)?;
    let len = src.metadata()?.len();
    let dst = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(to)?;
    dst.set_len(len)?;
    let fd = src.as_raw_fd();
    let mut at: i64 = 0;
    let mut copied = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    while (at as u64) < len {
        let start = match lseek(fd, at, Whence::SeekData) {
            Ok(s) => s,
            // No data after `at`.
            Err(nix::errno::Errno::ENXIO) => break,
            Err(e) => return Err(e.into()),
        };
        let end = lseek(fd, start, Whence::SeekHole)?;
        // copy_file_range does not cross filesystems (tmpfs to the disk).
        let mut off = start as u64;
        while off < end as u64 {
            let n = buf.len().min((end as u64 - off) as usize);
            src.read_exact_at(&mut buf[..n], off)?;
            // Pages the guest zeroed stay holes in the copy too.
            if buf[..n].iter().any(|&b| b != 0) {
                dst.write_all_at(&buf[..n], off)?;
                copied += n as u64;
            }
            off += n as u64;
        }
        at = end;
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, SeekFrom, Write};

    #[test]
    fn sparse_copies_keep_data_and_holes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let mut f = std::fs::File::create(&a).unwrap();
        f.set_len(64 << 20).unwrap();
        f.seek(SeekFrom::Start(8 << 20)).unwrap();
        f.write_all(&[7u8; 4096]).unwrap();
        f.seek(SeekFrom::Start((64 << 20) - 4096)).unwrap();
        f.write_all(&[9u8; 4096]).unwrap();
        drop(f);
        let copied = super::copy_sparse(&a, &b).unwrap();
        assert!((8192..4 << 20).contains(&copied), "copied {copied}");
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        // The copy is not the file's whole length on disk.
        use std::os::unix::fs::MetadataExt;
        assert!(std::fs::metadata(&b).unwrap().blocks() * 512 < 8 << 20);
    }
}
