use std::path::PathBuf;

pub use hype_types::{NicModel, StorageBus};

use crate::Accel;

/// Everything a backend needs to launch one VM.
#[derive(Debug, Clone)]
pub struct VmSpec {
    pub name: String,
    pub id: String,
    pub cpu_cores: u32,
    pub memory_mb: u32,
    /// What starts the guest: hype's kernel, or firmware reading a disk.
    pub boot: Boot,
    /// Disks in the order the guest sees them (`/dev/vda`, `/dev/vdb`, ...
    /// on virtio-blk); firmware boots the first.
    pub disks: Vec<Disk>,
    /// `{data}/vms/<name>`: sockets, console log, VMM log.
    pub run_dir: PathBuf,
    pub accel: Accel,
    /// Host tap device and guest MAC, when the VM is networked.
    pub tap: Option<String>,
    pub mac: Option<String>,
    /// The NIC's model; anything but virtio only on a firmware boot (a
    /// whole PC), for guests without virtio drivers.
    pub nic: NicModel,
    /// Confinement of the VMM; `None` runs it as hyped's own user, with
    /// the host's whole filesystem (only when confinement is off).
    pub jail: Option<VmJail>,
    /// Where the guest's RAM lives.
    pub memory: Memory,
}

/// Where a guest's RAM lives, which decides what can be forked from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Memory {
    /// The VMM's own anonymous memory.
    Anonymous,
    /// A file the VMM maps shared (its writes land in the file): the VM
    /// can be saved for forks without writing its RAM anywhere.
    Shared(PathBuf),
    /// A snapshot's RAM, mapped privately: every fork reads the same page
    /// cache until it writes a page, which then becomes its own.
    Private(PathBuf),
}

impl Memory {
    /// The file behind the RAM, and whether the VMM writes it.
    pub fn file(&self) -> Option<(PathBuf, bool)> {
        match self {
            Memory::Anonymous => None,
            Memory::Shared(p) => Some((p.clone(), true)),
            Memory::Private(p) => Some((p.clone(), false)),
        }
    }
}

/// The jail a VM's VMM runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmJail {
    pub config: crate::jail::JailConfig,
    /// The VM's own uid and gid (from the range hyped owns).
    pub uid: u32,
    pub gid: u32,
    /// Its CPU weight beside other VMs (background while in a warm pool).
    pub priority: crate::jail::cgroup::Priority,
}

/// How the guest starts. The machine follows from it: hype's own images
/// boot a minimal machine (QEMU `microvm`) straight into the kernel; an
/// imported full disk needs a whole PC whose firmware finds its boot loader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Boot {
    /// hype's kernel and initramfs; the guest agent reports ready.
    Kernel {
        /// Uncompressed ELF (PVH) kernel; QEMU also takes a bzImage.
        kernel: PathBuf,
        initramfs: Option<PathBuf>,
        cmdline: String,
    },
    /// Firmware boots the first disk (an imported disk's copy-on-write
    /// overlay); there is no guest agent.
    Firmware { firmware: Firmware },
}

/// Which firmware boots an imported disk. A disk installed for BIOS has
/// its boot loader in the MBR, one installed for UEFI only an EFI system
/// partition: each boots under its own kind only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Firmware {
    /// The VMM's own BIOS (QEMU's SeaBIOS); cloud-hypervisor has none.
    Bios,
    /// UEFI as one image the VMM loads whole: cloud-hypervisor's payload
    /// firmware (`CLOUDHV.fd`; `None` means its default path), QEMU's
    /// `-bios`. Variables a guest writes are lost at power-off.
    UefiImage(Option<PathBuf>),
    /// UEFI as QEMU's two flash chips (OVMF): the code, read-only and
    /// shared, and the VM's own copy of the variable store, so the boot
    /// entries a guest writes survive stop and start.
    UefiFlash { code: PathBuf, vars: PathBuf },
}

/// One disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// The controller it hangs on: virtio-blk, except on a firmware boot
    /// of an imported disk whose guest wants SCSI, SATA or IDE.
    pub bus: StorageBus,
    pub path: PathBuf,
    /// Stated to the VMM, never probed: a guest writes a raw disk's bytes
    /// and could make them look like a qcow2 header naming a host file.
    pub format: DiskFormat,
    /// A disk several VMs share (a built image's root filesystem).
    pub read_only: bool,
    /// The raw file a `Qcow2` overlay reads through to (an imported
    /// disk), which the VMM opens read-only.
    pub backing: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskFormat {
    Raw,
    /// A per-VM overlay whose backing file is a raw image.
    Qcow2,
}

impl DiskFormat {
    /// QEMU's spelling (`format=`).
    pub fn as_str(self) -> &'static str {
        match self {
            DiskFormat::Raw => "raw",
            DiskFormat::Qcow2 => "qcow2",
        }
    }
}

impl Boot {
    /// The files the boot reads (kernel, initramfs, firmware).
    pub fn files(&self) -> Vec<(PathBuf, bool)> {
        match self {
            Boot::Kernel {
                kernel, initramfs, ..
            } => std::iter::once(kernel.clone())
                .chain(initramfs.clone())
                .map(|p| (p, false))
                .collect(),
            Boot::Firmware { firmware } => match firmware {
                Firmware::Bios | Firmware::UefiImage(None) => vec![],
                Firmware::UefiImage(Some(p)) => vec![(p.clone(), false)],
                Firmware::UefiFlash { code, vars } => {
                    vec![(code.clone(), false), (vars.clone(), true)]
                }
            },
        }
    }

    /// The kernel command line, for kernel boots.
    pub fn cmdline(&self) -> Option<&str> {
        match self {
            Boot::Kernel { cmdline, .. } => Some(cmdline),
            Boot::Firmware { .. } => None,
        }
    }

    /// Whether a hype agent runs in the guest.
    pub fn has_agent(&self) -> bool {
        matches!(self, Boot::Kernel { .. })
    }
}

/// A VMM that is up and reachable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launched {
    pub pid: u32,
    pub version: Option<String>,
}

/// Well-known files in a run directory.
pub mod files {
    pub const CONSOLE_LOG: &str = "console.log";
    pub const VMM_LOG: &str = "vmm.log";
    pub const QMP_SOCK: &str = "qmp.sock";
    pub const AGENT_SOCK: &str = "agent.sock";
    /// The copy-on-write overlay of a VM of an imported disk.
    pub const OVERLAY_DISK: &str = "disk.qcow2";
    /// A UEFI VM's own UEFI variable store (a copy of OVMF's VARS file).
    pub const UEFI_VARS: &str = "uefi-vars.fd";
    /// cloud-hypervisor's API socket.
    pub const CH_SOCK: &str = "ch.sock";
    /// cloud-hypervisor's hybrid vsock socket (the host end of the guest's
    /// vsock device).
    pub const VSOCK_SOCK: &str = "vsock.sock";
}
