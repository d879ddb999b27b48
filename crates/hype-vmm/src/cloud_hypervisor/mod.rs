//! The cloud-hypervisor backend: one CH process per VM, configured and
//! driven over its REST API socket, with the guest agent reached through
//! CH's hybrid vsock (a unix socket on the host that forwards `CONNECT
//! <port>` to the guest's vsock port). CH runs on KVM only.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hype_ch::api::{
    ConsoleConfig, ConsoleMode, CpusConfig, DiskConfig, ImageType, MemoryConfig, MemoryZoneConfig,
    NetConfig, PayloadConfig, RestoreConfig, RngConfig, SerialConfig, VmConfig, VmSnapshotConfig,
    VsockConfig,
};
use hype_ch::{ChClient, ChError, ChVersion};
use hype_types::VmmKind;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::jail::Bind;
use crate::launch::JailExtras;
use crate::spec::files;
use crate::Memory;
use crate::{
    launch, process, Accel, Boot, DiskFormat, Firmware, Launched, Result, VmSpec, Vmm, VmmError,
};

/// Where Debian's `cloudhv-efi-x86-64` package (edk2 built for
/// cloud-hypervisor) puts its firmware; `--ch-firmware` overrides it.
pub const DEFAULT_FIRMWARE: &str = "/usr/share/cloud-hypervisor/CLOUDHV.fd";

/// How long CH gets to answer on its API socket.
const SOCKET_DEADLINE: Duration = Duration::from_secs(15);
/// The guest's vsock CID; any value from 3 up works, since each VM has its
/// own hybrid vsock socket and CIDs never meet.
const GUEST_CID: u64 = 3;
/// Bounds the hybrid vsock handshake, so a wedged CH cannot hold the
/// agent task.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(2);
/// Longest handshake answer accepted (`OK <port>\n` is a dozen bytes).
const MAX_HANDSHAKE_LINE: u64 = 64;
/// The one memory zone of a VM whose RAM is a file.
const RAM_ZONE: &str = "ram";
/// A standby snapshot's copy of a RAM file, which CH's own snapshot leaves
/// out (it expects the file to stay; hyped frees it with the VMM).
const SAVED_RAM: &str = "ram";

#[derive(Debug, Clone)]
pub struct CloudHypervisor {
    binary: PathBuf,
    version: Option<String>,
}

impl CloudHypervisor {
    /// A backend running `binary`, which reported `version`.
    pub fn new(binary: PathBuf, version: Option<String>) -> Self {
        Self { binary, version }
    }

    pub fn binary(&self) -> &Path {
        &self.binary
    }

    fn client(run_dir: &Path) -> ChClient {
        ChClient::new(run_dir.join(files::CH_SOCK))
    }

    /// `path=...` as passed to `--api-socket`; also how adoption recognises
    /// the process.
    fn api_socket_arg(run_dir: &Path) -> String {
        format!("path={}", run_dir.join(files::CH_SOCK).display())
    }

    /// Spawns CH with its API socket in `spec`'s run directory, waits for
    /// the API, then runs `setup` (create and boot, or restore). Leaves no
    /// process behind on error.
    async fn start<F, Fut>(
        &self,
        spec: &VmSpec,
        extra_binds: Vec<Bind>,
        setup: F,
    ) -> Result<Launched>
    where
        F: FnOnce(ChClient) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<(), ChError>>,
    {
        let args = vec![
            "--api-socket".to_owned(),
            Self::api_socket_arg(&spec.run_dir),
            // CH's own seccomp filters (its default; said, not assumed).
            "--seccomp".into(),
            "true".into(),
        ];
        // CH opens its tap by name (a persistent tap the VM's uid owns), so
        // it keeps the host's network namespace and /dev/net/tun.
        let extras = JailExtras {
            binds: extra_binds,
            devices: vec!["/dev/net/tun".into()],
            tap_fd: false,
            new_net: false,
        };
        // CH refuses to bind over an existing socket file.
        let vmm = launch::spawn(
            spec,
            &self.binary,
            args,
            &[files::CH_SOCK, files::VSOCK_SOCK],
            extras,
        )?;
        let pid = vmm.pid;
        let socket = spec.run_dir.join(files::CH_SOCK);
        let wait = hype_ch::wait_for_socket(socket.clone(), Instant::now() + SOCKET_DEADLINE);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                res = &mut wait => match res {
                    Ok(_) => break,
                    Err(_) if !vmm.is_alive() => return Err(vmm.early_exit()),
                    Err(_) => {
                        vmm.kill();
                        return Err(VmmError::SocketTimeout {
                            vm: spec.name.clone(),
                            path: socket,
                            secs: SOCKET_DEADLINE.as_secs(),
                        });
                    }
                },
                () = tokio::time::sleep(Duration::from_millis(50)) => {
                    if !vmm.is_alive() {
                        return Err(vmm.early_exit());
                    }
                }
            }
        }
        if let Err(source) = setup(ChClient::new(&socket)).await {
            // A rejected config leaves CH running with nothing to do.
            vmm.kill();
            return Err(VmmError::Ch {
                vm: spec.name.clone(),
                source: Box::new(source),
            });
        }
        Ok(Launched {
            pid,
            version: self.version.clone(),
        })
    }

    async fn call<F, Fut>(&self, name: &str, run_dir: &Path, f: F) -> Result<()>
    where
        F: FnOnce(ChClient) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<(), ChError>>,
    {
        f(Self::client(run_dir))
            .await
            .map_err(|source| VmmError::Ch {
                vm: name.into(),
                source: Box::new(source),
            })
    }
}

/// The `vm.create` body for `spec`, for a CH of `version`; refuses a
/// firmware CH cannot run.
fn vm_config(spec: &VmSpec, version: Option<ChVersion>) -> Result<VmConfig> {
    let p = |f: &str| spec.run_dir.join(f).display().to_string();
    let net = match (&spec.tap, &spec.mac) {
        (Some(tap), Some(mac)) => Some(vec![NetConfig {
            tap: Some(tap.clone()),
            mac: Some(mac.clone()),
            ..NetConfig::default()
        }]),
        _ => None,
    };
    // CH has virtio devices only; on a kernel boot the guest is hype's
    // and every disk is virtio-blk (as on QEMU's microvm).
    if matches!(spec.boot, Boot::Firmware { .. }) {
        if spec
            .disks
            .iter()
            .any(|d| d.bus != crate::StorageBus::Virtio)
        {
            return Err(VmmError::NotSupported {
                vm: spec.name.clone(),
                what: "a disk on SCSI, SATA or IDE",
                backend: "cloud-hypervisor",
            });
        }
        if spec.nic != crate::NicModel::Virtio {
            return Err(VmmError::NotSupported {
                vm: spec.name.clone(),
                what: "an e1000 NIC",
                backend: "cloud-hypervisor",
            });
        }
    }
    let payload = match &spec.boot {
        Boot::Kernel {
            kernel,
            initramfs,
            cmdline,
        } => PayloadConfig {
            kernel: Some(kernel.display().to_string()),
            initramfs: initramfs.as_ref().map(|i| i.display().to_string()),
            cmdline: Some(cmdline.clone()),
            ..PayloadConfig::default()
        },
        // CH has no BIOS: an imported disk boots through a UEFI firmware
        // loaded whole (it has no flash chips for OVMF's split build).
        Boot::Firmware { firmware } => {
            let firmware = match firmware {
                Firmware::UefiImage(f) => f.clone().unwrap_or_else(|| DEFAULT_FIRMWARE.into()),
                Firmware::Bios | Firmware::UefiFlash { .. } => {
                    return Err(VmmError::NotSupported {
                        vm: spec.name.clone(),
                        what: match firmware {
                            Firmware::Bios => "a BIOS boot",
                            _ => "UEFI in flash chips (OVMF)",
                        },
                        backend: "cloud-hypervisor",
                    })
                }
            };
            PayloadConfig {
                firmware: Some(firmware.display().to_string()),
                ..PayloadConfig::default()
            }
        }
    };
    let disks: Vec<DiskConfig> = spec
        .disks
        .iter()
        .map(|d| {
            DiskConfig {
                path: Some(d.path.display().to_string()),
                readonly: d.read_only.then_some(true),
                ..DiskConfig::default()
            }
            .typed(
                version,
                match d.format {
                    DiskFormat::Raw => ImageType::Raw,
                    DiskFormat::Qcow2 => ImageType::Qcow2,
                },
            )
        })
        .collect();
    Ok(VmConfig {
        cpus: Some(CpusConfig {
            boot_vcpus: spec.cpu_cores,
            max_vcpus: spec.cpu_cores,
            ..CpusConfig::default()
        }),
        memory: Some(memory_config(spec)),
        payload,
        disks: (!disks.is_empty()).then_some(disks),
        net,
        rng: Some(RngConfig {
            src: "/dev/urandom".into(),
            ..RngConfig::default()
        }),
        serial: Some(SerialConfig {
            mode: ConsoleMode::File,
            file: Some(p(files::CONSOLE_LOG)),
            ..SerialConfig::default()
        }),
        // The agent talks over vsock; a virtio-console would only be a
        // second, unused console.
        console: Some(ConsoleConfig {
            mode: ConsoleMode::Off,
            ..ConsoleConfig::default()
        }),
        // Only hype's agent listens on vsock.
        vsock: spec.boot.has_agent().then(|| VsockConfig {
            cid: GUEST_CID,
            socket: p(files::VSOCK_SOCK),
            ..VsockConfig::default()
        }),
        ..VmConfig::default()
    })
}

/// Guest RAM: anonymous, or one zone backed by the spec's RAM file (shared
/// for a VM that may be forked, private for a fork).
fn memory_config(spec: &VmSpec) -> MemoryConfig {
    let size = u64::from(spec.memory_mb) * 1024 * 1024;
    match spec.memory.file() {
        None => MemoryConfig {
            size,
            ..MemoryConfig::default()
        },
        Some((file, shared)) => MemoryConfig {
            size: 0,
            zones: Some(vec![MemoryZoneConfig {
                id: RAM_ZONE.into(),
                size,
                file: Some(file.display().to_string()),
                shared: Some(shared),
            }]),
            ..MemoryConfig::default()
        },
    }
}

/// Checks CH's answer to `CONNECT <port>`: `OK <host port>`.
fn handshake_ok(line: &str) -> bool {
    line.strip_prefix("OK ")
        .is_some_and(|rest| rest.trim_end().parse::<u32>().is_ok())
}

/// CH's last logged error with its causes, from a log where it is followed
/// by a backtrace: `<vcpu0> ERROR:vmm/src/cpu.rs:1460 -- VCPU generated
/// error: ...`, then `Caused by:` and indented causes.
fn error_from_log(log: &str) -> Option<String> {
    let lines: Vec<&str> = log.lines().collect();
    let at = lines.iter().rposition(|l| l.contains(" ERROR:"))?;
    let first = lines[at];
    let mut reason = first
        .split_once(" -- ")
        .map_or(first, |(_, msg)| msg)
        .trim()
        .to_owned();
    let mut causes = false;
    for line in &lines[at + 1..] {
        let line = line.trim();
        match line {
            "" => continue,
            "Caused by:" => causes = true,
            l if l.starts_with("Stack backtrace") => break,
            l if causes => {
                // Causes come numbered (`0: ...`) when there are several.
                let l = l
                    .split_once(": ")
                    .filter(|(n, _)| n.parse::<u32>().is_ok())
                    .map_or(l, |(_, rest)| rest);
                reason.push_str(": ");
                reason.push_str(l);
            }
            _ => break,
        }
    }
    Some(reason.chars().take(500).collect())
}

/// Runs the file work `f` on `path` off the async workers (RAM files are
/// hundreds of MiB).
async fn blocking<F>(vm: &str, path: &Path, f: F) -> Result<()>
where
    F: FnOnce(&Path) -> std::io::Result<()> + Send + 'static,
{
    let p = path.to_owned();
    tokio::task::spawn_blocking(move || f(&p))
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))
        .map_err(|source| VmmError::Io {
            vm: vm.into(),
            path: path.to_owned(),
            source,
        })
}

/// `file://` URL of a local directory, as CH's snapshot calls take it.
fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

impl Vmm for CloudHypervisor {
    fn kind(&self) -> VmmKind {
        VmmKind::CloudHypervisor
    }

    fn version(&self) -> Option<String> {
        self.version.clone()
    }

    fn cmdline_extra(&self, _accel: Accel) -> Vec<String> {
        // KVM only, where the guest calibrates its clocks fine.
        vec![]
    }

    async fn launch(&self, spec: &VmSpec) -> Result<Launched> {
        let version = self.version.as_deref().and_then(|v| v.parse().ok());
        let config = vm_config(spec, version)?;
        // The default firmware is named by CH, not by the spec.
        let firmware = match &spec.boot {
            Boot::Firmware {
                firmware: Firmware::UefiImage(None),
            } => vec![Bind {
                path: DEFAULT_FIRMWARE.into(),
                writable: false,
            }],
            _ => vec![],
        };
        self.start(spec, firmware, |client| async move {
            client.create(&config).await?;
            client.boot().await
        })
        .await
    }

    async fn pause(&self, name: &str, run_dir: &Path) -> Result<()> {
        self.call(name, run_dir, |c| async move { c.pause().await })
            .await
    }

    async fn resume(&self, name: &str, run_dir: &Path) -> Result<()> {
        self.call(name, run_dir, |c| async move { c.resume().await })
            .await
    }

    async fn power_button(&self, name: &str, run_dir: &Path) -> Result<()> {
        self.call(name, run_dir, |c| async move { c.power_button().await })
            .await
    }

    async fn connect_agent(&self, name: &str, run_dir: &Path) -> Result<UnixStream> {
        let path = run_dir.join(files::VSOCK_SOCK);
        let port = hype_agent_proto::VSOCK_PORT;
        let mut stream = UnixStream::connect(&path)
            .await
            .map_err(|source| VmmError::Connect {
                vm: name.into(),
                path: path.clone(),
                source,
            })?;
        let fail = |reason: String| VmmError::VsockHandshake {
            vm: name.into(),
            path: path.clone(),
            port,
            reason,
        };
        let handshake = async {
            stream
                .write_all(format!("CONNECT {port}\n").as_bytes())
                .await?;
            // Byte by byte up to the newline: anything after it is the
            // agent's, and a buffered reader would swallow it.
            let mut line = Vec::new();
            let mut reader = BufReader::with_capacity(1, &mut stream).take(MAX_HANDSHAKE_LINE);
            reader.read_until(b'\n', &mut line).await?;
            Ok::<_, std::io::Error>(String::from_utf8_lossy(&line).into_owned())
        };
        let line = match tokio::time::timeout(HANDSHAKE_DEADLINE, handshake).await {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => return Err(fail(e.to_string())),
            Err(_) => return Err(fail(format!("no answer within {HANDSHAKE_DEADLINE:?}"))),
        };
        if !handshake_ok(&line) {
            // CH closes the connection without a word when nothing listens
            // on the port, which is the normal case early in the boot.
            let reason = if line.is_empty() {
                "connection closed (is the agent listening yet?)".to_owned()
            } else {
                format!("unexpected answer {:?}", line.trim_end())
            };
            return Err(fail(reason));
        }
        Ok(stream)
    }

    async fn snapshot(&self, name: &str, run_dir: &Path, dest: &Path) -> Result<()> {
        let config = VmSnapshotConfig {
            destination_url: file_url(dest),
        };
        self.call(name, run_dir, |c| async move { c.snapshot(&config).await })
            .await?;
        // CH leaves out RAM kept in a shared file: standby keeps a copy,
        // as the file goes with the VMM.
        let Some(ram) = fork::ram_file(&dest.join(fork::CONFIG_FILE)) else {
            return Ok(());
        };
        let to = dest.join(SAVED_RAM);
        blocking(name, &to, move |to| {
            crate::ram::copy_sparse(&ram, to).map(drop)
        })
        .await
    }

    async fn restore(&self, spec: &VmSpec, from: &Path) -> Result<Launched> {
        // The devices come from the snapshot's own config, which names the
        // same tap, disks and socket paths `spec` would.
        let config = RestoreConfig {
            source_url: file_url(from),
            prefault: None,
        };
        let saved = Bind {
            path: from.to_owned(),
            writable: false,
        };
        // The RAM it was saved with goes back into the VM's new RAM file.
        fork::retarget(&from.join(fork::CONFIG_FILE), &spec.name, &spec.memory)?;
        let saved_ram = from.join(SAVED_RAM);
        if let (true, Memory::Shared(ram)) = (saved_ram.exists(), &spec.memory) {
            let ram = ram.clone();
            blocking(&spec.name, &saved_ram.clone(), move |from| {
                let dst = std::fs::OpenOptions::new().write(true).open(&ram)?;
                crate::ram::fill(from, &dst).map(drop)
            })
            .await?;
        }
        self.start(spec, vec![saved], |client| async move {
            client.restore(&config).await?;
            client.resume().await
        })
        .await
    }

    async fn save_for_forks(&self, name: &str, run_dir: &Path, state: &Path) -> Result<()> {
        // A directory the VMM writes, as the run directory's owner (the
        // VM's uid when confined).
        let io = |source| VmmError::Io {
            vm: name.into(),
            path: state.to_owned(),
            source,
        };
        let _ = std::fs::remove_dir_all(state);
        std::fs::create_dir(state).map_err(io)?;
        let owner = std::fs::metadata(run_dir).map_err(io)?;
        std::os::unix::fs::chown(
            state,
            Some(std::os::unix::fs::MetadataExt::uid(&owner)),
            Some(std::os::unix::fs::MetadataExt::gid(&owner)),
        )
        .map_err(io)?;
        let config = VmSnapshotConfig {
            destination_url: file_url(state),
        };
        let saved = self
            .call(name, run_dir, |c| async move { c.snapshot(&config).await })
            .await;
        if saved.is_err() {
            let _ = std::fs::remove_dir_all(state);
        }
        saved
    }

    async fn fork(&self, spec: &VmSpec, state: &Path) -> Result<Launched> {
        let restore = spec.run_dir.join(fork::RESTORE_DIR);
        fork::prepare(state, &restore, spec)?;
        let config = RestoreConfig {
            source_url: file_url(&restore),
            prefault: None,
        };
        let launched = self
            .start(spec, vec![], |client| async move {
                client.restore(&config).await?;
                client.resume().await
            })
            .await;
        // CH has read it all; the fork's state lives in its VMM now.
        let _ = std::fs::remove_dir_all(&restore);
        launched
    }

    async fn reset(&self, name: &str, run_dir: &Path) -> Result<()> {
        self.call(name, run_dir, |c| async move { c.reboot().await })
            .await
    }

    async fn quit(&self, name: &str, run_dir: &Path) -> Result<()> {
        self.call(name, run_dir, |c| async move { c.shutdown_vmm().await })
            .await
    }

    async fn guest_running(&self, name: &str, run_dir: &Path) -> Result<bool> {
        let info = Self::client(run_dir)
            .info()
            .await
            .map_err(|source| VmmError::Ch {
                vm: name.into(),
                source: Box::new(source),
            })?;
        Ok(info.state == hype_ch::api::VmState::Running)
    }

    fn exit_reason(&self, run_dir: &Path) -> Option<String> {
        let log = std::fs::read_to_string(run_dir.join(files::VMM_LOG)).ok()?;
        error_from_log(&log)
    }

    fn owns_process(&self, pid: u32, run_dir: &Path) -> bool {
        let arg = Self::api_socket_arg(run_dir);
        process::cmdline(pid).is_some_and(|argv| argv.contains(&arg))
    }
}

mod fork;
#[cfg(test)]
mod tests;
