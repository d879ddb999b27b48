//! Guest RAM in files. A guest booted on hype's kernel (QEMU or
//! cloud-hypervisor) keeps its RAM in a file of hyped's RAM directory (on
//! the host's `/dev/shm`, a tmpfs), mapped shared: a named snapshot then
//! needs only the VM's device state and a copy of that file, which every
//! fork maps privately, so pages a fork never writes stay one copy in the
//! page cache for all of them.
//!
//! The directory is hyped's alone (0700); each file is the VM's uid's when
//! its VMM is confined, and goes when its VMM does.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::{CoreConfig, CoreError, Result};

/// The tmpfs under which every hyped keeps its RAM directory.
pub(crate) const ROOT: &str = "/dev/shm";

/// Where guests' RAM lives: `/dev/shm/hype-<data dir hash>`, one per hyped.
pub(crate) fn dir(cfg: &CoreConfig) -> PathBuf {
    let h = Sha256::digest(cfg.data_dir.display().to_string().as_bytes());
    Path::new(ROOT).join(format!("hype-{}", &hex::encode(h)[..12]))
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

/// How old an unmapped RAM file must be before another hyped's is taken
/// for garbage: a file is made moments before its VMM maps it.
pub(crate) const STRAY_AGE: Duration = Duration::from_secs(600);

/// Frees RAM that no hyped will: the files in other hypeds' RAM
/// directories under `root` (`hype-*`, as [`dir`] names them) that no
/// process maps and that are older than `min_age`, and those directories
/// once empty. A hyped killed with its data directory (a test run's
/// temporary one) never starts again to free its own, and tmpfs holds them
/// until the host reboots. `own` is left to reconcile's `remove_stray_ram`,
/// which knows this hyped's VMs.
///
/// `root` is world-writable: only real directories owned by this user with
/// no access for others are entered, and only regular files in them are
/// removed, so a planted symlink leads nowhere.
pub(crate) fn sweep_strays(root: &Path, own: &Path, min_age: Duration) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return vec![];
    };
    let mapped = mapped_under(root);
    let old = |m: &std::fs::Metadata| {
        m.modified()
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= min_age)
    };
    let me = nix::unistd::geteuid().as_raw();
    let mut removed = vec![];
    for e in entries.flatten() {
        let d = e.path();
        if !e.file_name().to_string_lossy().starts_with("hype-") || d == own {
            continue;
        }
        // Not followed if a symlink. Read before its files go: removing
        // them makes the directory new.
        let Ok(m) = e.metadata() else { continue };
        if !m.is_dir() || m.uid() != me || m.mode() & 0o077 != 0 {
            continue;
        }
        let dir_old = old(&m);
        for f in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = f.path();
            let stray = std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_file() && old(&m))
                && !mapped.contains(&p);
            if stray && std::fs::remove_file(&p).is_ok() {
                removed.push(p);
            }
        }
        // Only when empty (remove_dir refuses otherwise) and old: a hyped
        // that makes its directory now finds it, or makes it again.
        if dir_old && std::fs::remove_dir(&d).is_ok() {
            removed.push(d);
        }
    }
    removed
}

/// Every file under `root` some process maps, from `/proc/*/maps`.
fn mapped_under(root: &Path) -> HashSet<PathBuf> {
    let prefix = format!("{}/", root.display());
    let mut mapped = HashSet::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if !e
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let Ok(maps) = std::fs::read_to_string(e.path().join("maps")) else {
            continue;
        };
        for line in maps.lines() {
            if let Some(at) = line.find(&prefix) {
                let path = line[at..].trim_end_matches(" (deleted)");
                mapped.insert(PathBuf::from(path));
            }
        }
    }
    mapped
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{self, File};
    use std::os::unix::fs::{symlink, PermissionsExt};
    use std::time::SystemTime;

    fn aged(path: &Path) {
        let then = SystemTime::now() - Duration::from_secs(3600);
        File::open(path).unwrap().set_modified(then).unwrap();
    }

    fn ram_dir(root: &Path, name: &str) -> PathBuf {
        let d = root.join(name);
        fs::create_dir(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).unwrap();
        d
    }

    #[test]
    fn frees_old_unmapped_ram_of_other_hypeds_only() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        let own = ram_dir(root, "hype-own");
        fs::write(own.join("a.ram"), b"x").unwrap();
        aged(&own.join("a.ram"));
        // A dead hyped's: one old file, then an empty, old directory.
        let dead = ram_dir(root, "hype-dead");
        fs::write(dead.join("b.ram"), b"x").unwrap();
        aged(&dead.join("b.ram"));
        aged(&dead);
        // A live one's: an old file mapped by a process (this one), and a
        // file just made whose VMM is starting.
        let live = ram_dir(root, "hype-live");
        let mapped = live.join("c.ram");
        fs::write(&mapped, vec![0u8; 4096]).unwrap();
        aged(&mapped);
        let file = File::open(&mapped).unwrap();
        // SAFETY: a private read-only mapping of a file this test owns,
        // unmapped below; nothing reads through it.
        let map = unsafe {
            nix::libc::mmap(
                std::ptr::null_mut(),
                4096,
                nix::libc::PROT_READ,
                nix::libc::MAP_PRIVATE,
                std::os::fd::AsRawFd::as_raw_fd(&file),
                0,
            )
        };
        assert_ne!(map, nix::libc::MAP_FAILED);
        fs::write(live.join("d.ram"), b"x").unwrap();
        aged(&live);
        // Not entered: a directory others can read, a symlink, and a name
        // hype does not use.
        let open = root.join("hype-open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(open.join("e.ram"), b"x").unwrap();
        aged(&open.join("e.ram"));
        let elsewhere = ram_dir(root, "elsewhere");
        fs::write(elsewhere.join("f.ram"), b"x").unwrap();
        aged(&elsewhere.join("f.ram"));
        symlink(&elsewhere, root.join("hype-link")).unwrap();

        let mut removed = sweep_strays(root, &own, STRAY_AGE);
        removed.sort();
        assert_eq!(removed, vec![dead.clone(), dead.join("b.ram")]);
        for kept in [
            own.join("a.ram"),
            mapped.clone(),
            live.join("d.ram"),
            open.join("e.ram"),
            elsewhere.join("f.ram"),
        ] {
            assert!(kept.exists(), "{} kept", kept.display());
        }
        // Once its VMM is gone, the live one's old file goes too; the
        // fresh one and the directory stay.
        // SAFETY: `map` is the mapping made above, of 4096 bytes.
        assert_eq!(unsafe { nix::libc::munmap(map, 4096) }, 0);
        assert_eq!(sweep_strays(root, &own, STRAY_AGE), vec![mapped]);
        assert!(live.join("d.ram").exists());
    }
}
