//! Unit tests of the module above.

use super::*;

fn spec(dir: &Path) -> VmSpec {
    VmSpec {
        name: "a".into(),
        id: "id".into(),
        cpu_cores: 2,
        memory_mb: 256,
        boot: Boot::Kernel {
            kernel: "/img/vmlinux".into(),
            initramfs: Some("/img/initramfs.img".into()),
            cmdline: "console=ttyS0".into(),
        },
        disks: vec![],
        run_dir: dir.to_owned(),
        accel: Accel::Kvm,
        tap: None,
        mac: None,
        nic: crate::NicModel::Virtio,
        jail: None,
        memory: crate::Memory::Anonymous,
    }
}

#[test]
fn a_firmware_boot_with_an_emulated_disk_or_nic_is_refused() {
    let mut s = spec(Path::new("/run/a"));
    s.boot = Boot::Firmware {
        firmware: Firmware::UefiImage(None),
    };
    s.disks = vec![crate::Disk {
        bus: crate::StorageBus::Sata,
        path: "/run/a/disk.qcow2".into(),
        format: DiskFormat::Qcow2,
        read_only: false,
        backing: None,
    }];
    let e = vm_config(&s, None).unwrap_err().to_string();
    assert!(e.contains("SATA") && e.contains("cloud-hypervisor"), "{e}");
    s.disks[0].bus = crate::StorageBus::Virtio;
    s.nic = crate::NicModel::E1000;
    let e = vm_config(&s, None).unwrap_err().to_string();
    assert!(e.contains("e1000"), "{e}");
    s.nic = crate::NicModel::Virtio;
    assert!(vm_config(&s, None).is_ok());
}

#[test]
fn an_imported_disk_boots_through_the_firmware_without_vsock() {
    let mut s = spec(Path::new("/run/a"));
    s.boot = Boot::Firmware {
        firmware: Firmware::UefiImage(None),
    };
    s.disks = vec![crate::Disk {
        bus: crate::StorageBus::Virtio,
        path: "/run/a/disk.qcow2".into(),
        format: DiskFormat::Qcow2,
        read_only: false,
        backing: None,
    }];
    let c = vm_config(&s, None).unwrap();
    assert_eq!(c.payload.firmware.as_deref(), Some(DEFAULT_FIRMWARE));
    assert_eq!(
        (c.payload.kernel, c.payload.cmdline, c.payload.initramfs),
        (None, None, None)
    );
    let disks = c.disks.unwrap();
    assert_eq!(disks.len(), 1);
    assert_eq!(disks[0].path.as_deref(), Some("/run/a/disk.qcow2"));
    assert_ne!(disks[0].readonly, Some(true));
    assert_eq!(c.vsock, None);
    s.boot = Boot::Firmware {
        firmware: Firmware::UefiImage(Some("/opt/CLOUDHV.fd".into())),
    };
    assert_eq!(
        vm_config(&s, None).unwrap().payload.firmware.as_deref(),
        Some("/opt/CLOUDHV.fd")
    );
}

#[test]
fn an_overlay_may_open_its_backing_file_from_ch_51_on() {
    let mut s = spec(Path::new("/run/a"));
    s.disks = vec![crate::Disk {
        bus: crate::StorageBus::Virtio,
        path: "/run/a/disk.qcow2".into(),
        format: DiskFormat::Qcow2,
        read_only: false,
        backing: None,
    }];
    let new = vm_config(&s, "v53.0".parse().ok()).unwrap().disks.unwrap();
    assert_eq!(
        (new[0].image_type, new[0].backing_files),
        (Some(ImageType::Qcow2), Some(true))
    );
    let old = vm_config(&s, "v48.0".parse().ok()).unwrap().disks.unwrap();
    assert_eq!((old[0].image_type, old[0].backing_files), (None, None));
}

#[test]
fn a_bios_disk_or_ovmf_flash_is_refused_before_ch_starts() {
    let mut s = spec(Path::new("/run/a"));
    s.boot = Boot::Firmware {
        firmware: Firmware::Bios,
    };
    let e = vm_config(&s, None).unwrap_err();
    assert!(matches!(e, VmmError::NotSupported { .. }), "{e}");
    assert!(e.to_string().contains("BIOS"), "{e}");
    s.boot = Boot::Firmware {
        firmware: Firmware::UefiFlash {
            code: "/c.fd".into(),
            vars: "/v.fd".into(),
        },
    };
    assert!(vm_config(&s, None).is_err());
}

#[test]
fn config_matches_the_spec() {
    let c = vm_config(&spec(Path::new("/run/a")), None).unwrap();
    let cpus = c.cpus.unwrap();
    assert_eq!((cpus.boot_vcpus, cpus.max_vcpus), (2, 2));
    assert_eq!(c.memory.unwrap().size, 256 << 20);
    assert_eq!(c.payload.kernel.as_deref(), Some("/img/vmlinux"));
    assert_eq!(c.payload.initramfs.as_deref(), Some("/img/initramfs.img"));
    assert_eq!(c.payload.cmdline.as_deref(), Some("console=ttyS0"));
    assert_eq!(c.disks, None);
    assert_eq!(c.net, None);
    let serial = c.serial.unwrap();
    assert_eq!(serial.mode, ConsoleMode::File);
    assert_eq!(serial.file.as_deref(), Some("/run/a/console.log"));
    assert_eq!(c.console.unwrap().mode, ConsoleMode::Off);
    let vsock = c.vsock.unwrap();
    assert_eq!((vsock.cid, vsock.socket.as_str()), (3, "/run/a/vsock.sock"));
    assert_eq!(c.rng.unwrap().src, "/dev/urandom");
}

#[test]
fn rootfs_is_read_only_and_net_needs_tap_and_mac() {
    let mut s = spec(Path::new("/run/a"));
    s.disks = vec![crate::Disk {
        bus: crate::StorageBus::Virtio,
        path: "/img/rootfs.ext4".into(),
        format: DiskFormat::Raw,
        read_only: true,
        backing: None,
    }];
    s.tap = Some("hype-tap0".into());
    let c = vm_config(&s, None).unwrap();
    let disks = c.disks.unwrap();
    assert_eq!(disks[0].path.as_deref(), Some("/img/rootfs.ext4"));
    assert_eq!(disks[0].readonly, Some(true));
    assert_eq!(c.net, None);
    s.mac = Some("52:54:00:00:00:01".into());
    let net = vm_config(&s, None).unwrap().net.unwrap();
    assert_eq!(net[0].tap.as_deref(), Some("hype-tap0"));
    assert_eq!(net[0].mac.as_deref(), Some("52:54:00:00:00:01"));
}

#[test]
fn the_exit_reason_is_chs_last_error_with_its_causes() {
    let log = "cloud-hypervisor:   0.15s: <vcpu0> WARN:vmm/src/cpu.rs:268 -- Kernel lacks CONFIG_SCHED_CORE\n\
cloud-hypervisor:  39.43s: <vcpu0> ERROR:vmm/src/cpu.rs:1460 -- VCPU generated error: VcpuRun(Failed to run vcpu\n\
\n\
Caused by:\n\
Unexpected exit reason on vcpu run: InternalError\n\
\n\
Stack backtrace:\n\
   0: <unknown>\n\
  16: clone3\n\
         at ./misc/../sysdeps/unix/sysv/linux/x86_64/clone3.S:81:0)\n";
    assert_eq!(
        error_from_log(log).as_deref(),
        Some("VCPU generated error: VcpuRun(Failed to run vcpu: Unexpected exit reason on vcpu run: InternalError")
    );
    assert_eq!(error_from_log("all fine\n"), None);
}

#[test]
fn handshake_answers() {
    assert!(handshake_ok("OK 1073741824\n"));
    assert!(!handshake_ok(""));
    assert!(!handshake_ok("OK\n"));
    assert!(!handshake_ok("ERR\n"));
}

#[tokio::test]
async fn connect_agent_speaks_the_hybrid_vsock_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::UnixListener::bind(dir.path().join(files::VSOCK_SOCK)).unwrap();
    let fake_ch = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 13];
        tokio::io::AsyncReadExt::read_exact(&mut s, &mut buf)
            .await
            .unwrap();
        assert_eq!(buf, b"CONNECT 1024\n");
        // The answer and the agent's first line arrive together.
        s.write_all(b"OK 1073741824\n{\"type\":\"ready\"}\n")
            .await
            .unwrap();
        let (_, _) = listener.accept().await.unwrap();
    });
    let ch = CloudHypervisor::new("cloud-hypervisor".into(), None);
    let stream = ch.connect_agent("a", dir.path()).await.unwrap();
    let mut rest = String::new();
    BufReader::new(stream).read_line(&mut rest).await.unwrap();
    assert_eq!(rest, "{\"type\":\"ready\"}\n");
    // A guest not listening yet: CH closes without an answer.
    let err = ch.connect_agent("a", dir.path()).await.unwrap_err();
    assert!(matches!(err, VmmError::VsockHandshake { .. }), "{err}");
    fake_ch.await.unwrap();
}

#[test]
fn adoption_checks_the_api_socket_argument() {
    let ch = CloudHypervisor::new("cloud-hypervisor".into(), None);
    assert!(!ch.owns_process(std::process::id(), Path::new("/nonexistent/run")));
    assert_eq!(
        CloudHypervisor::api_socket_arg(Path::new("/d/vms/a")),
        "path=/d/vms/a/ch.sock"
    );
    assert!(ch.cmdline_extra(Accel::Kvm).is_empty());
}

/// A VM that may be forked: RAM in a shared file, a NIC, the root disk.
fn forkable(dir: &Path) -> VmSpec {
    let mut s = spec(dir);
    s.memory = Memory::Shared("/dev/shm/hype-x/a.ram".into());
    s.tap = Some("hype-tap-a".into());
    s.mac = Some("52:54:00:00:00:0a".into());
    s.disks = vec![crate::Disk {
        bus: crate::StorageBus::Virtio,
        path: "/img/rootfs.img".into(),
        format: DiskFormat::Raw,
        read_only: true,
        backing: None,
    }];
    s
}

#[test]
fn ram_in_a_file_is_one_zone_of_that_file() {
    let s = forkable(Path::new("/run/a"));
    let m = vm_config(&s, None).unwrap().memory.unwrap();
    // CH refuses a size beside zones.
    assert_eq!(m.size, 0);
    let zones = m.zones.unwrap();
    assert_eq!(zones.len(), 1);
    assert_eq!(zones[0].size, 256 << 20);
    assert_eq!(zones[0].file.as_deref(), Some("/dev/shm/hype-x/a.ram"));
    assert_eq!(zones[0].shared, Some(true));
    let anonymous = vm_config(&spec(Path::new("/run/a")), None).unwrap();
    assert_eq!(anonymous.memory.unwrap().size, 256 << 20);
}

/// What CH saves as `config.json` for `s`: the create body plus fields
/// hype never sets, which must survive the rewrite.
fn saved_config(s: &VmSpec) -> serde_json::Value {
    let mut v = serde_json::to_value(vm_config(s, None).unwrap()).unwrap();
    v["platform"] = serde_json::json!({"num_pci_segments": 1, "uuid": "u"});
    if let Some(net) = v["net"].get_mut(0) {
        net["fds"] = serde_json::json!([7]);
        net["id"] = "_net1".into();
    }
    v
}

fn fork_spec(dir: &Path) -> VmSpec {
    let mut f = forkable(dir);
    f.name = "b".into();
    f.memory = Memory::Private("/data/snapshots/s/memory".into());
    f.tap = Some("hype-tap-b".into());
    f.mac = Some("52:54:00:00:00:0b".into());
    f
}

#[test]
fn a_forks_config_names_its_own_devices_and_maps_the_ram_privately() {
    let mut config = saved_config(&forkable(Path::new("/run/a")));
    fork::fork_config(&mut config, &fork_spec(Path::new("/run/b"))).unwrap();
    let zone = &config["memory"]["zones"][0];
    assert_eq!(zone["file"], "/data/snapshots/s/memory");
    assert_eq!(zone["shared"], false);
    assert_eq!(zone["size"], 256u64 << 20);
    assert_eq!(config["net"][0]["tap"], "hype-tap-b");
    assert_eq!(config["net"][0]["mac"], "52:54:00:00:00:0b");
    assert!(config["net"][0].get("fds").is_none(), "{config}");
    assert_eq!(config["net"][0]["id"], "_net1");
    assert_eq!(config["serial"]["file"], "/run/b/console.log");
    assert_eq!(config["vsock"]["socket"], "/run/b/vsock.sock");
    assert_eq!(config["disks"][0]["path"], "/img/rootfs.img");
    assert_eq!(config["payload"]["kernel"], "/img/vmlinux");
    assert_eq!(
        config["platform"]["uuid"], "u",
        "fields hype does not set stay"
    );
    // Nothing of the source's run directory is left.
    assert!(!config.to_string().contains("/run/a"), "{config}");
}

#[test]
fn a_snapshot_that_does_not_fit_the_fork_is_refused() {
    let fork = fork_spec(Path::new("/run/b"));
    let mut anonymous = saved_config(&{
        let mut s = forkable(Path::new("/run/a"));
        s.memory = Memory::Anonymous;
        s
    });
    let e = fork::fork_config(&mut anonymous, &fork).unwrap_err();
    assert!(e.contains("memory zone"), "{e}");

    let mut two_disks = saved_config(&forkable(Path::new("/run/a")));
    let disk = two_disks["disks"][0].clone();
    two_disks["disks"].as_array_mut().unwrap().push(disk);
    let e = fork::fork_config(&mut two_disks, &fork).unwrap_err();
    assert!(e.contains("2 disks"), "{e}");

    let mut no_net = fork.clone();
    no_net.tap = None;
    let e =
        fork::fork_config(&mut saved_config(&forkable(Path::new("/run/a"))), &no_net).unwrap_err();
    assert!(e.contains("NICs"), "{e}");

    let mut shared = fork.clone();
    shared.memory = Memory::Shared("/dev/shm/x".into());
    let e =
        fork::fork_config(&mut saved_config(&forkable(Path::new("/run/a"))), &shared).unwrap_err();
    assert!(e.contains("privately"), "{e}");
}

#[test]
fn a_standby_config_maps_the_ram_file_it_comes_back_with() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    // A fork in standby saved its private RAM; it comes back on its own
    // shared file.
    let saved = saved_config(&fork_spec(Path::new("/run/b")));
    std::fs::write(&config, saved.to_string()).unwrap();
    assert_eq!(
        fork::ram_file(&config),
        None,
        "private RAM is in the snapshot"
    );
    fork::retarget(&config, "b", &Memory::Shared("/dev/shm/h/b.ram".into())).unwrap();
    assert_eq!(
        fork::ram_file(&config).as_deref(),
        Some(Path::new("/dev/shm/h/b.ram"))
    );
    // Anonymous RAM has no zone to point anywhere.
    let plain = saved_config(&spec(Path::new("/run/c")));
    std::fs::write(&config, plain.to_string()).unwrap();
    fork::retarget(&config, "c", &Memory::Shared("/dev/shm/h/c.ram".into())).unwrap();
    assert_eq!(fork::ram_file(&config), None);
}
