//! The pseudo-filesystems every later step relies on: /proc for the command
//! line and uptime, /sys to find the agent's port, devtmpfs for device nodes
//! (there is no udev), and tmpfs scratch space. The initramfs itself stays
//! the root filesystem; nothing here pivots or switches root.

use std::fs;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};

use crate::error::Error;

struct Mount {
    source: &'static str,
    target: &'static str,
    fstype: &'static str,
    flags: MsFlags,
    data: Option<&'static str>,
}

const NOSUID_NODEV_NOEXEC: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);

/// In mount order: /dev/pts and /dev/shm live on the devtmpfs.
const MOUNTS: &[Mount] = &[
    Mount {
        source: "proc",
        target: "/proc",
        fstype: "proc",
        flags: NOSUID_NODEV_NOEXEC,
        data: None,
    },
    Mount {
        source: "sysfs",
        target: "/sys",
        fstype: "sysfs",
        flags: NOSUID_NODEV_NOEXEC,
        data: None,
    },
    Mount {
        source: "devtmpfs",
        target: "/dev",
        fstype: "devtmpfs",
        flags: MsFlags::MS_NOSUID,
        data: Some("mode=0755"),
    },
    Mount {
        source: "devpts",
        target: "/dev/pts",
        fstype: "devpts",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NOEXEC),
        data: Some("mode=0620,ptmxmode=0666"),
    },
    Mount {
        source: "tmpfs",
        target: "/dev/shm",
        fstype: "tmpfs",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV),
        data: Some("mode=1777"),
    },
    Mount {
        source: "tmpfs",
        target: "/run",
        fstype: "tmpfs",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV),
        data: Some("mode=0755"),
    },
    Mount {
        source: "tmpfs",
        target: "/tmp",
        fstype: "tmpfs",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV),
        data: Some("mode=1777"),
    },
];

/// Mounts everything it can and returns what failed; one failed mount must
/// not stop the others.
pub fn mount_all() -> Vec<Error> {
    let mut errors = Vec::new();
    for m in MOUNTS {
        // The initramfs may lack the directory; a failure shows up in mount().
        let _ = fs::create_dir_all(m.target);
        match mount(Some(m.source), m.target, Some(m.fstype), m.flags, m.data) {
            // Already mounted (e.g. the kernel auto-mounted devtmpfs).
            Ok(()) | Err(Errno::EBUSY) => {}
            Err(source) => errors.push(Error::Mount {
                fstype: m.fstype,
                target: m.target,
                source,
            }),
        }
    }
    errors
}
