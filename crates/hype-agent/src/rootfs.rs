//! Booting into a root filesystem image (`hype.rootfs=/dev/vda`): the image
//! is mounted read-only, a tmpfs takes every write through overlayfs, and
//! the agent chroots into the overlay while staying PID 1. The image is
//! shared by every VM booted from it (QEMU opens it `readonly=on`), so
//! nothing may ever be written to it; the tmpfs is the VM's private,
//! throw-away state.
//!
//! The initramfs is the kernel's `rootfs`, which cannot be pivot_root'ed
//! away, so this does what switch_root does: move the new root onto `/` and
//! chroot into it. The initramfs's few MiB stay in memory underneath; unlike
//! switch_root the agent does not delete them, because it keeps running
//! from its /init there and the modules are already loaded.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};

use crate::error::Error;
use crate::log;

/// Where the pieces are mounted before the switch; hidden once it is done.
const LOWER: &str = "/.hype/lower";
const RW: &str = "/.hype/rw";
const NEW_ROOT: &str = "/.hype/root";
/// The pseudo-filesystems mount::mount_all set up, carried into the new root
/// (their submounts, /dev/pts and /dev/shm, move with /dev).
const CARRIED: &[&str] = &["/proc", "/sys", "/dev", "/run", "/tmp"];
/// virtio-blk probes the disk while its module loads, but devtmpfs creates
/// the node asynchronously; the wait is normally a few milliseconds.
const DEVICE_WAIT: Duration = Duration::from_secs(10);

/// Mounts `device` (ext4) under an overlay and makes it the root. The
/// overlay's writable layer is `persist` (an ext4 disk of the VM's own) when
/// given, else a tmpfs.
pub fn switch_to(device: &Path, persist: Option<&Path>) -> Result<(), Error> {
    wait_for_device(device)?;
    if let Some(p) = persist {
        wait_for_device(p)?;
    }
    for dir in [LOWER, RW, NEW_ROOT] {
        create_dir(Path::new(dir))?;
    }
    mount(
        Some(device),
        LOWER,
        Some("ext4"),
        MsFlags::MS_RDONLY | MsFlags::MS_NODEV,
        // The image is shared and read-only on the host side too; without
        // noload, ext4 would try to replay a journal it cannot write.
        Some("noload"),
    )
    .map_err(mount_err("ext4", LOWER))?;
    match persist {
        Some(p) => mount(Some(p), RW, Some("ext4"), MsFlags::MS_NODEV, None::<&str>)
            .map_err(mount_err("ext4", RW))?,
        None => mount(
            Some("tmpfs"),
            RW,
            Some("tmpfs"),
            MsFlags::MS_NODEV,
            Some("mode=0755"),
        )
        .map_err(mount_err("tmpfs", RW))?,
    }
    let upper = Path::new(RW).join("upper");
    let work = Path::new(RW).join("work");
    create_dir(&upper)?;
    create_dir(&work)?;
    let options = format!(
        "lowerdir={LOWER},upperdir={},workdir={}",
        upper.display(),
        work.display()
    );
    mount(
        Some("overlay"),
        NEW_ROOT,
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    )
    .map_err(mount_err("overlay", NEW_ROOT))?;

    carry(CARRIED, NEW_ROOT)?;
    make_root(NEW_ROOT)
}

/// Moves the mounts at `dirs` (with their submounts) to the same places
/// under `new_root`.
pub(crate) fn carry(dirs: &[&'static str], new_root: &str) -> Result<(), Error> {
    for dir in dirs {
        let target = PathBuf::from(format!("{new_root}{dir}"));
        create_dir(&target)?;
        mount(
            Some(*dir),
            &target,
            None::<&str>,
            MsFlags::MS_MOVE,
            None::<&str>,
        )
        .map_err(mount_err("move", dir))?;
    }
    Ok(())
}

/// switch_root's sequence: the filesystem mounted at `dir` replaces / in the
/// mount tree, then chroot makes it the process's root too (for every
/// thread: they share the filesystem context).
pub(crate) fn make_root(dir: &'static str) -> Result<(), Error> {
    let io_err = |what: &'static str| {
        move |source: Errno| Error::Io {
            what,
            path: PathBuf::from(dir),
            source: source.into(),
        }
    };
    nix::unistd::chdir(dir).map_err(io_err("chdir to"))?;
    mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
        .map_err(mount_err("move", "/"))?;
    nix::unistd::chroot(".").map_err(io_err("chroot into"))?;
    nix::unistd::chdir("/").map_err(io_err("chdir to / of"))?;
    Ok(())
}

pub(crate) fn wait_for_device(device: &Path) -> Result<(), Error> {
    let started = Instant::now();
    while !device.exists() {
        if started.elapsed() > DEVICE_WAIT {
            return Err(Error::NoDevice {
                path: device.to_path_buf(),
                waited: DEVICE_WAIT,
            });
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let waited = started.elapsed();
    if waited > Duration::from_millis(100) {
        log!(
            "{} appeared after {} ms",
            device.display(),
            waited.as_millis()
        );
    }
    Ok(())
}

pub(crate) fn create_dir(path: &Path) -> Result<(), Error> {
    fs::create_dir_all(path).map_err(|source| Error::Io {
        what: "create directory",
        path: path.to_path_buf(),
        source,
    })
}

fn mount_err(fstype: &'static str, target: &'static str) -> impl Fn(Errno) -> Error {
    move |source| Error::Mount {
        fstype,
        target,
        source,
    }
}
