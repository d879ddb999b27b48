//! Realistic request values with every modelled field set, as hype would
//! send them for a small Linux guest.

use hype_ch::api::*;
use hype_ch::ChVersion;

const MIB: u64 = 1 << 20;

pub fn rate_limiter() -> RateLimiterConfig {
    RateLimiterConfig {
        bandwidth: Some(TokenBucket {
            size: 100 * MIB,
            one_time_burst: Some(10 * MIB),
            refill_time: 1000,
        }),
        ops: Some(TokenBucket {
            size: 5000,
            one_time_burst: Some(500),
            refill_time: 1000,
        }),
    }
}

pub fn disk() -> DiskConfig {
    DiskConfig {
        path: Some("/var/lib/hype/vms/web-1/data.ext4".into()),
        readonly: Some(false),
        direct: Some(true),
        iommu: Some(false),
        num_queues: Some(2),
        queue_size: Some(256),
        vhost_user: Some(false),
        vhost_socket: Some("/run/hype/web-1/vhost-blk.sock".into()),
        rate_limiter_config: Some(rate_limiter()),
        pci_segment: Some(0),
        id: Some("data1".into()),
        serial: Some("hype-data1".into()),
        rate_limit_group: Some("tenant-a".into()),
        backing_files: None,
        image_type: None,
    }
}

/// A qcow2 overlay's disk as sent to v51+: every field set.
pub fn typed_disk() -> DiskConfig {
    disk().typed(Some(ChVersion::new(53, 0)), ImageType::Qcow2)
}

pub fn net() -> NetConfig {
    NetConfig {
        tap: Some("hype-tap0".into()),
        ip: Some("10.0.2.1".into()),
        mask: Some("255.255.255.252".into()),
        mac: Some("52:54:00:12:34:56".into()),
        host_mac: Some("52:54:00:65:43:21".into()),
        mtu: Some(1500),
        iommu: Some(false),
        num_queues: Some(2),
        queue_size: Some(256),
        vhost_user: Some(false),
        vhost_socket: Some("/run/hype/web-1/vhost-net.sock".into()),
        vhost_mode: Some("Client".into()),
        id: Some("eth0".into()),
        pci_segment: Some(0),
        rate_limiter_config: Some(rate_limiter()),
    }
}

pub fn vm_config() -> VmConfig {
    VmConfig {
        cpus: Some(CpusConfig {
            boot_vcpus: 2,
            max_vcpus: 4,
            topology: Some(CpuTopology {
                threads_per_core: Some(1),
                cores_per_die: Some(4),
                dies_per_package: Some(1),
                packages: Some(1),
            }),
            kvm_hyperv: Some(false),
            max_phys_bits: Some(46),
        }),
        memory: Some(MemoryConfig {
            size: 512 * MIB,
            hotplug_size: Some(1024 * MIB),
            hotplugged_size: Some(0),
            mergeable: Some(false),
            hotplug_method: Some("Acpi".into()),
            shared: Some(true),
            hugepages: Some(false),
            hugepage_size: Some(2 * MIB),
            prefault: Some(false),
            thp: Some(true),
            zones: Some(vec![MemoryZoneConfig {
                id: "mem0".into(),
                size: 512 * MIB,
                file: Some("/dev/shm/hype-0123456789ab/vm.ram".into()),
                shared: Some(true),
            }]),
        }),
        payload: PayloadConfig {
            firmware: Some("/var/lib/hype/system/firmware/hypervisor-fw".into()),
            kernel: Some("/var/lib/hype/system/kernels/vmlinux".into()),
            cmdline: Some("console=hvc0 root=/dev/vda rw".into()),
            initramfs: Some("/var/lib/hype/system/kernels/initramfs.cpio.gz".into()),
        },
        disks: Some(vec![disk()]),
        net: Some(vec![net()]),
        rng: Some(RngConfig {
            src: "/dev/urandom".into(),
            iommu: Some(false),
        }),
        balloon: Some(BalloonConfig {
            size: 0,
            deflate_on_oom: Some(true),
            free_page_reporting: Some(true),
        }),
        fs: Some(vec![FsConfig {
            tag: "hostshare".into(),
            socket: "/run/hype/web-1/virtiofsd.sock".into(),
            num_queues: 1,
            queue_size: 1024,
            pci_segment: Some(0),
            id: Some("fs0".into()),
        }]),
        serial: Some(SerialConfig {
            mode: ConsoleMode::Socket,
            file: Some("/var/lib/hype/vms/web-1/serial.log".into()),
            socket: Some("/run/hype/web-1/serial.sock".into()),
        }),
        console: Some(ConsoleConfig {
            mode: ConsoleMode::File,
            file: Some("/var/lib/hype/vms/web-1/console.log".into()),
            socket: Some("/run/hype/web-1/console.sock".into()),
            iommu: Some(false),
        }),
        vsock: Some(VsockConfig {
            cid: 3,
            socket: "/run/hype/web-1/vsock.sock".into(),
            iommu: Some(false),
            pci_segment: Some(0),
            id: Some("vsock0".into()),
        }),
        iommu: Some(false),
        watchdog: Some(true),
        pvpanic: Some(true),
    }
}

pub fn device() -> DeviceConfig {
    DeviceConfig {
        path: Some("/sys/bus/pci/devices/0000:01:00.0".into()),
        iommu: Some(false),
        pci_segment: Some(0),
        id: Some("gpu0".into()),
    }
}

pub fn snapshot() -> VmSnapshotConfig {
    VmSnapshotConfig {
        destination_url: "file:///var/lib/hype/vms/web-1/snapshots/1".into(),
    }
}

pub fn restore() -> RestoreConfig {
    RestoreConfig {
        source_url: "file:///var/lib/hype/vms/web-1/snapshots/1".into(),
        prefault: Some(true),
    }
}

pub fn resize() -> VmResize {
    VmResize {
        desired_vcpus: Some(4),
        desired_ram: Some(1024 * MIB),
        desired_balloon: Some(256 * MIB),
    }
}

pub fn remove_device() -> VmRemoveDevice {
    VmRemoveDevice { id: "data1".into() }
}
