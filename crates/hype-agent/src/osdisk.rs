//! Booting an imported disk's own system with hype's kernel
//! (`hype.root=/dev/vda`): find the partition that holds a root filesystem,
//! mount it read-write (the disk is the VM's own copy-on-write overlay, so
//! the guest's writes are meant to last), make it the root as switch_root
//! does, and hand PID 1 to that system's init. The agent forks first and
//! stays beside the guest's init as an ordinary process, so hyped keeps its
//! channel (ready, ping, network, probes, shutdown).
//!
//! Only what Debian's cloud kernel mounts without further modules works:
//! ext2/3/4 (built in). Other filesystems, LVM and LUKS are named in the
//! error, which tells the user to boot such an image through firmware.

use std::ffi::CString;
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::mount::{mount, umount, MsFlags};
use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow};
use nix::unistd::{execv, fork, ForkResult};

use crate::error::Error;
use crate::{log, rootfs, signals};

const NEW_ROOT: &str = "/.hype/root";
/// Carried into the guest's root, as an initramfs hands them over; the
/// guest's init finds them mounted and leaves them be.
const CARRIED: &[&str] = &["/proc", "/sys", "/dev", "/run"];
/// Where the kernel looks for init when it has no initramfs, in its order.
const INIT_SEARCH: &[&str] = &["/sbin/init", "/etc/init", "/bin/init", "/bin/sh"];
/// Any of these marks a filesystem as a system's root rather than, say, a
/// separate /boot or /home.
const ROOT_MARKS: &[&str] = &[
    "etc/os-release",
    "usr/lib/os-release",
    "sbin/init",
    "etc/fstab",
];
/// Enough to see every signature `identify` knows (btrfs's is at 64 KiB).
const PROBE_BYTES: usize = 0x10048;

/// The guest's root, mounted and switched to.
#[derive(Debug)]
pub struct Root {
    pub device: PathBuf,
    /// The init to exec, as a path inside the new root.
    pub init: PathBuf,
}

/// Finds the root filesystem on `device` (the disk itself or one of its
/// partitions), mounts it and makes it `/`. `init` is the user's `init=`.
pub fn switch_to(device: &Path, init: Option<&Path>) -> Result<Root, Error> {
    rootfs::wait_for_device(device)?;
    rootfs::create_dir(Path::new(NEW_ROOT))?;
    let mut seen = Vec::new();
    let mut found = None;
    for candidate in candidates(device)? {
        rootfs::wait_for_device(&candidate)?;
        let name = candidate.display().to_string();
        match probe(&candidate)? {
            Some(kind) if kind == EXT => {
                mount(
                    Some(&candidate),
                    NEW_ROOT,
                    Some("ext4"),
                    MsFlags::empty(),
                    None::<&str>,
                )
                .map_err(|source| Error::Mount {
                    fstype: "ext4",
                    target: NEW_ROOT,
                    source,
                })?;
                let root = Path::new(NEW_ROOT);
                if ROOT_MARKS
                    .iter()
                    .any(|m| root.join(m).symlink_metadata().is_ok())
                {
                    found = Some(candidate);
                    break;
                }
                let _ = umount(NEW_ROOT);
                seen.push(format!("{name}: {kind} without a system on it"));
            }
            Some(kind) => seen.push(format!("{name}: {kind}")),
            None => seen.push(format!("{name}: no filesystem hype knows")),
        }
    }
    let Some(device) = found else {
        return Err(Error::NoRoot {
            device: device.to_path_buf(),
            seen: seen.join("; "),
        });
    };

    rootfs::carry(CARRIED, NEW_ROOT)?;
    rootfs::make_root(NEW_ROOT)?;
    let init = find_init(init).ok_or_else(|| Error::NoInit {
        device: device.clone(),
        tried: init
            .map(|i| i.display().to_string())
            .unwrap_or_else(|| INIT_SEARCH.join(", ")),
    })?;
    Ok(Root { device, init })
}

/// Forks. PID 1 (the parent) execs the guest's init and never returns; the
/// child returns, to go on as the agent: `Ok` once that exec succeeded,
/// else why it failed. Call it before any thread exists: the child keeps
/// only the calling one.
pub fn hand_over(root: &Root) -> Result<(), String> {
    // The write end closes by itself when exec succeeds, so the child's
    // read sees end-of-file; a failed exec writes its reason first.
    let (rx, tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .map_err(|e| format!("cannot make a pipe to watch init start: {e}"))?;
    // SAFETY: no other thread exists (see above), so the child cannot
    // inherit a lock some other thread held.
    match unsafe { fork() } {
        Err(e) => Err(format!("cannot fork the agent off PID 1: {e}")),
        Ok(ForkResult::Child) => {
            drop(tx);
            let _ = nix::sys::prctl::set_name(c"hype-agent");
            let mut why = String::new();
            let _ = File::from(rx).read_to_string(&mut why);
            if why.is_empty() {
                Ok(())
            } else {
                Err(why)
            }
        }
        Ok(ForkResult::Parent { .. }) => {
            drop(rx);
            let err = exec_init(&root.init);
            let why = format!("cannot start {}: {err}", root.init.display());
            log!("{why}; PID 1 stays the agent's");
            let _ = std::io::Write::write_all(&mut File::from(tx), why.as_bytes());
            // PID 1 must not exit; it goes on reaping whatever is left.
            if let Err(e) = signals::spawn_reaper() {
                log!("cannot start the zombie reaper: {e}");
            }
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
    }
}

/// Replaces this process (PID 1) with `init`, passing on the arguments
/// the kernel gave init; returns only on failure.
fn exec_init(init: &Path) -> nix::Error {
    // The signal mask survives exec; the guest's init must not start with
    // SIGCHLD blocked.
    if let Err(e) = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None) {
        return e;
    }
    let Ok(path) = CString::new(init.as_os_str().as_bytes()) else {
        return nix::Error::EINVAL;
    };
    let mut argv = vec![path.clone()];
    argv.extend(
        std::env::args_os()
            .skip(1)
            .filter_map(|a| CString::new(a.as_bytes()).ok()),
    );
    match execv(&path, &argv) {
        Err(e) => e,
        Ok(never) => match never {},
    }
}

/// The disk's partitions in order, or the device itself when it is a
/// partition or has none.
fn candidates(device: &Path) -> Result<Vec<PathBuf>, Error> {
    let Some(name) = device.file_name().and_then(|n| n.to_str()) else {
        return Ok(vec![device.to_path_buf()]);
    };
    let sys = Path::new("/sys/class/block").join(name);
    let entries = fs::read_dir(&sys).map_err(|source| Error::Io {
        what: "list",
        path: sys.clone(),
        source,
    })?;
    let mut parts: Vec<(u32, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let part = fs::read_to_string(e.path().join("partition")).ok()?;
            let number = part.trim().parse().ok()?;
            Some((number, Path::new("/dev").join(e.file_name())))
        })
        .collect();
    if parts.is_empty() {
        return Ok(vec![device.to_path_buf()]);
    }
    parts.sort();
    Ok(parts.into_iter().map(|(_, p)| p).collect())
}

const EXT: &str = "ext2/3/4";

/// What the first bytes of `device` hold.
fn probe(device: &Path) -> Result<Option<&'static str>, Error> {
    let io = |source| Error::Io {
        what: "read",
        path: device.to_path_buf(),
        source,
    };
    let mut buf = Vec::with_capacity(PROBE_BYTES);
    File::open(device)
        .map_err(io)?
        .take(PROBE_BYTES as u64)
        .read_to_end(&mut buf)
        .map_err(io)?;
    Ok(identify(&buf))
}

/// Names a filesystem or volume by its on-disk signature.
fn identify(buf: &[u8]) -> Option<&'static str> {
    let at = |offset: usize, magic: &[u8]| buf.get(offset..offset + magic.len()) == Some(magic);
    if at(1080, &[0x53, 0xef]) {
        Some(EXT)
    } else if at(0, b"XFSB") {
        Some("xfs (hype's kernel boot mounts ext2/3/4 roots only)")
    } else if at(0x10040, b"_BHRfS_M") {
        Some("btrfs (hype's kernel boot mounts ext2/3/4 roots only)")
    } else if at(512, b"LABELONE") {
        Some("an LVM physical volume (not supported by hype's kernel boot)")
    } else if at(0, b"LUKS\xba\xbe") {
        Some("LUKS-encrypted (not supported by hype's kernel boot)")
    } else if at(4086, b"SWAPSPACE2") {
        Some("swap")
    } else if at(3, b"NTFS    ") {
        Some("ntfs")
    } else if at(54, b"FAT") || at(82, b"FAT32") {
        Some("vfat")
    } else {
        None
    }
}

/// The init to run, checked inside the new root (an absolute symlink such
/// as `/sbin/init -> /lib/systemd/systemd` resolves only there).
fn find_init(wanted: Option<&Path>) -> Option<PathBuf> {
    let executable = |p: &Path| {
        CString::new(p.as_os_str().as_bytes()).is_ok_and(|c| {
            nix::unistd::access(c.as_c_str(), nix::unistd::AccessFlags::X_OK).is_ok()
        })
    };
    match wanted {
        Some(p) => executable(p).then(|| p.to_path_buf()),
        None => INIT_SEARCH
            .iter()
            .map(Path::new)
            .find(|p| executable(p))
            .map(Path::to_path_buf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(offset: usize, magic: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; PROBE_BYTES];
        buf[offset..offset + magic.len()].copy_from_slice(magic);
        buf
    }

    #[test]
    fn signatures_are_told_apart() {
        assert_eq!(identify(&with(1080, &[0x53, 0xef])), Some(EXT));
        assert!(identify(&with(0, b"XFSB")).unwrap().starts_with("xfs"));
        assert!(identify(&with(0x10040, b"_BHRfS_M"))
            .unwrap()
            .starts_with("btrfs"));
        assert!(identify(&with(512, b"LABELONE")).unwrap().contains("LVM"));
        assert!(identify(&with(0, b"LUKS\xba\xbe"))
            .unwrap()
            .starts_with("LUKS"));
        assert_eq!(identify(&with(4086, b"SWAPSPACE2")), Some("swap"));
        assert_eq!(identify(&with(54, b"FAT16   ")), Some("vfat"));
        assert_eq!(identify(&vec![0u8; PROBE_BYTES]), None);
        // A short device is read as far as it goes.
        assert_eq!(identify(&[0u8; 100]), None);
    }
}
