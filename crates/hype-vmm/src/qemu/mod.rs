//! The QEMU backend: `qemu-system-x86_64 -M microvm`, driven over QMP, with
//! the guest agent on a virtio-serial port backed by a unix socket.

mod devices;
mod qmp;
mod standby;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hype_types::VmmKind;
use tokio::net::UnixStream;

use crate::jail::Bind;
use crate::launch::{self, JailExtras};
use crate::spec::files;
use crate::{process, Accel, Boot, Firmware, Launched, Memory, Result, VmSpec, Vmm, VmmError};
pub use devices::IDE_MAX_DISKS;
pub use qmp::{Qmp, QmpError};

/// How long QEMU gets to open its QMP socket.
const SOCKET_DEADLINE: Duration = Duration::from_secs(15);
/// TCG's translation cache, in MiB.
const TCG_TB_MIB: u32 = 256;

/// OVMF's code for QEMU's first flash chip, from Debian's `ovmf` package
/// (the 4 MiB build: room for a variable store real installs fill).
pub const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
/// The empty variable store each UEFI VM gets its own copy of; it must be
/// the one built with the code above.
pub const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";

#[derive(Debug, Clone)]
pub struct Qemu {
    binary: PathBuf,
    version: Option<String>,
}

impl Qemu {
    /// Finds `qemu-system-x86_64` (or `binary`) and reads its version. The
    /// path is made absolute (a jail binds the binary at its own path).
    pub fn detect(binary: Option<PathBuf>) -> Option<Self> {
        let binary = binary.unwrap_or_else(|| PathBuf::from("qemu-system-x86_64"));
        let binary = crate::process::find_program(&binary)?;
        let out = Command::new(&binary).arg("--version").output().ok()?;
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        Some(Self {
            version: parse_version(&text),
            binary,
        })
    }

    pub fn binary(&self) -> &Path {
        &self.binary
    }

    fn args(&self, spec: &VmSpec) -> Vec<String> {
        let dir = &spec.run_dir;
        let p = |f: &str| dir.join(f).display().to_string();
        let firmware = matches!(spec.boot, Boot::Firmware { .. });
        let mut a: Vec<String> = vec![
            "-name".into(),
            format!("hype-{},debug-threads=on", spec.name),
            "-M".into(),
            // An imported disk expects a PC (PCI, a BIOS, ACPI) as its
            // firmware and boot loader were installed on one.
            match (firmware, spec.memory.file()) {
                (true, _) => "q35".into(),
                (false, None) => "microvm,acpi=on".into(),
                (false, Some(_)) => "microvm,acpi=on,memory-backend=mem".into(),
            },
            "-accel".into(),
            match spec.accel {
                Accel::Kvm => "kvm".into(),
                // The translation cache counts against the VM's memory
                // limit; bound it (QEMU's default is 1 GiB).
                Accel::Tcg => format!("tcg,tb-size={TCG_TB_MIB}"),
            },
            "-cpu".into(),
            match spec.accel {
                Accel::Kvm => "host".into(),
                Accel::Tcg => "max".into(),
            },
            "-smp".into(),
            spec.cpu_cores.to_string(),
            "-m".into(),
            format!("{}M", spec.memory_mb),
            "-nodefaults".into(),
            "-no-user-config".into(),
            "-display".into(),
            "none".into(),
            "-no-reboot".into(),
            "-chardev".into(),
            format!("file,id=console,path={},append=on", p(files::CONSOLE_LOG)),
            "-serial".into(),
            "chardev:console".into(),
            "-qmp".into(),
            format!("unix:{},server=on,wait=off", p(files::QMP_SOCK)),
            // QEMU's own seccomp filter: no obsolete or privilege-raising
            // calls, no new processes, no scheduler or resource changes.
            "-sandbox".into(),
            "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny".into(),
        ];
        // RAM in a file: shared (the VM can be saved for forks), or a
        // snapshot's, privately (read from the page cache until written).
        if !firmware {
            let backend = |path: &Path, mode: &str| {
                format!(
                    "memory-backend-file,id=mem,size={}M,mem-path={},{mode}",
                    spec.memory_mb,
                    path.display()
                )
            };
            match &spec.memory {
                Memory::Anonymous => {}
                Memory::Shared(p) => a.extend(["-object".into(), backend(p, "share=on")]),
                Memory::Private(p) => a.extend([
                    "-object".into(),
                    backend(p, "share=off,readonly=on,rom=off"),
                ]),
            }
        }
        // microvm has virtio-mmio devices, the PC virtio-pci ones.
        let bus = if firmware { "pci" } else { "device" };
        match &spec.boot {
            Boot::Kernel {
                kernel,
                initramfs,
                cmdline,
            } => {
                a.extend([
                    "-kernel".into(),
                    kernel.display().to_string(),
                    "-append".into(),
                    cmdline.clone(),
                    "-chardev".into(),
                    format!(
                        "socket,id=agent,path={},server=on,wait=off",
                        p(files::AGENT_SOCK)
                    ),
                    "-device".into(),
                    "virtio-serial-device".into(),
                    "-device".into(),
                    format!(
                        "virtserialport,chardev=agent,name={}",
                        hype_agent_proto::VIRTIO_PORT_NAME
                    ),
                ]);
                if let Some(initrd) = initramfs {
                    a.push("-initrd".into());
                    a.push(initrd.display().to_string());
                }
            }
            Boot::Firmware { firmware } => {
                match firmware {
                    // SeaBIOS, QEMU's default on a PC.
                    Firmware::Bios | Firmware::UefiImage(None) => {}
                    Firmware::UefiImage(Some(fw)) => {
                        a.push("-bios".into());
                        a.push(fw.display().to_string());
                    }
                    Firmware::UefiFlash { code, vars } => a.extend([
                        "-drive".into(),
                        format!(
                            "if=pflash,format=raw,unit=0,readonly=on,file={}",
                            code.display()
                        ),
                        "-drive".into(),
                        format!("if=pflash,format=raw,unit=1,file={}", vars.display()),
                    ]),
                }
            }
        }
        a.push("-device".into());
        a.push(format!("virtio-rng-{bus}"));
        a.extend(devices::disks(spec, firmware));
        if let (Some(tap), Some(mac)) = (&spec.tap, &spec.mac) {
            a.push("-netdev".into());
            // A jailed QEMU gets its tap as an open descriptor (its network
            // namespace is empty); an unconfined one opens it by name.
            a.push(match spec.jail {
                Some(_) => format!("tap,id=net0,fd={}", crate::jail::TAP_FD),
                None => format!("tap,id=net0,ifname={tap},script=no,downscript=no"),
            });
            a.push("-device".into());
            a.push(devices::nic(spec, firmware, mac));
        }
        a
    }

    /// Spawns QEMU with `spec`'s devices plus `extra` arguments and waits
    /// for its QMP socket. Leaves no process behind on error.
    async fn start(&self, spec: &VmSpec, extra: &[String], binds: Vec<Bind>) -> Result<Launched> {
        let ide = spec
            .disks
            .iter()
            .filter(|d| d.bus == crate::StorageBus::Ide);
        if ide.count() > devices::IDE_MAX_DISKS {
            return Err(VmmError::NotSupported {
                vm: spec.name.clone(),
                what: "more than four IDE disks",
                backend: "qemu",
            });
        }
        let mut args = self.args(spec);
        args.extend(extra.iter().cloned());
        let vmm = launch::spawn(
            spec,
            &self.binary,
            args,
            &[files::QMP_SOCK, files::AGENT_SOCK],
            JailExtras {
                binds,
                devices: vec![],
                tap_fd: true,
                new_net: true,
            },
        )?;
        let pid = vmm.pid;
        let qmp_path = spec.run_dir.join(files::QMP_SOCK);
        let started = Instant::now();
        loop {
            if !vmm.is_alive() {
                return Err(vmm.early_exit());
            }
            if qmp_path.exists() {
                match Qmp::connect(&qmp_path).await {
                    Ok(_) => break,
                    Err(e) if started.elapsed() > SOCKET_DEADLINE => {
                        vmm.kill();
                        return Err(VmmError::Qmp {
                            vm: spec.name.clone(),
                            command: "qmp_capabilities".into(),
                            message: e.to_string(),
                        });
                    }
                    Err(_) => {}
                }
            }
            if started.elapsed() > SOCKET_DEADLINE {
                vmm.kill();
                return Err(VmmError::SocketTimeout {
                    vm: spec.name.clone(),
                    path: qmp_path,
                    secs: SOCKET_DEADLINE.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(Launched {
            pid,
            version: self.version.clone(),
        })
    }

    async fn qmp(&self, name: &str, run_dir: &Path, command: &str) -> Result<()> {
        let path = run_dir.join(files::QMP_SOCK);
        let fail = |e: QmpError| VmmError::Qmp {
            vm: name.into(),
            command: command.into(),
            message: e.to_string(),
        };
        let mut qmp = Qmp::connect(&path).await.map_err(fail)?;
        qmp.execute(command, None).await.map_err(fail)?;
        Ok(())
    }
}

/// `QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u18)` → `7.2.19`.
fn parse_version(text: &str) -> Option<String> {
    let rest = text.split("version ").nth(1)?;
    rest.split_whitespace().next().map(str::to_owned)
}

/// The host's TSC: its frequency in kHz, and whether it is invariant
/// (`constant_tsc` and `nonstop_tsc`), from `/proc/cpuinfo`.
fn host_tsc() -> Option<(u64, bool)> {
    tsc_from_cpuinfo(&std::fs::read_to_string("/proc/cpuinfo").ok()?)
}

fn tsc_from_cpuinfo(info: &str) -> Option<(u64, bool)> {
    let field = |name: &str| {
        info.lines()
            .find(|l| l.split(':').next().map(str::trim) == Some(name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim())
    };
    let mhz: f64 = field("cpu MHz")?.parse().ok()?;
    let flags: Vec<&str> = field("flags").unwrap_or("").split_whitespace().collect();
    let invariant = ["constant_tsc", "nonstop_tsc"]
        .iter()
        .all(|f| flags.contains(f));
    Some(((mhz * 1000.0).round() as u64, invariant))
}

impl Qemu {
    /// Starts QEMU with `-incoming INCOMING` and `saved` bound read-only,
    /// then `load`s the state through QMP. On failure the process is killed
    /// and its last log line joins the reason: no process is left behind.
    async fn start_loading<F, Fut>(
        &self,
        spec: &VmSpec,
        incoming: String,
        saved: &Path,
        load: F,
    ) -> Result<Launched>
    where
        F: FnOnce(std::path::PathBuf, u32) -> Fut,
        Fut: std::future::Future<Output = Result<()>>,
    {
        let saved = Bind {
            path: saved.to_owned(),
            writable: false,
        };
        let launched = self
            .start(spec, &["-incoming".to_owned(), incoming], vec![saved])
            .await?;
        let pid = launched.pid;
        let qmp_path = spec.run_dir.join(files::QMP_SOCK);
        if let Err(e) = load(qmp_path, pid).await {
            let exit = process::kill_and_reap(pid).await;
            let log = launch::last_log_line(&spec.run_dir.join(files::VMM_LOG));
            return Err(VmmError::EarlyExit {
                vm: spec.name.clone(),
                reason: format!("{e}; QEMU {exit}: {log}"),
            });
        }
        Ok(launched)
    }
}

impl Vmm for Qemu {
    fn kind(&self) -> VmmKind {
        VmmKind::Qemu
    }

    fn version(&self) -> Option<String> {
        self.version.clone()
    }

    fn cmdline_extra(&self, accel: Accel) -> Vec<String> {
        match accel {
            Accel::Kvm => vec![],
            // Under TCG the guest's PIT-based TSC calibration fails about one
            // boot in four and the boot hangs; telling it the frequency skips
            // the calibration.
            Accel::Tcg => match host_tsc() {
                Some((khz, invariant)) => {
                    let mut extra =
                        vec![format!("tsc_early_khz={khz}"), format!("lpj={}", 2 * khz)];
                    // A TCG guest's TSC is the host's plus an offset, but its
                    // boot-time check between vCPUs fails under emulation and
                    // the guest falls back to jiffies: a 250 Hz tick on every
                    // idle vCPU, 4 ms clocks and no vDSO time. An idle browser
                    // guest then costs 4x the host CPU. Only an invariant host
                    // TSC can be vouched for.
                    if invariant {
                        extra.push("tsc=reliable".into());
                    }
                    extra
                }
                None => vec![],
            },
        }
    }

    async fn launch(&self, spec: &VmSpec) -> Result<Launched> {
        self.start(spec, &[], vec![]).await
    }

    async fn pause(&self, name: &str, run_dir: &Path) -> Result<()> {
        self.qmp(name, run_dir, "stop").await
    }

    async fn resume(&self, name: &str, run_dir: &Path) -> Result<()> {
        self.qmp(name, run_dir, "cont").await
    }

    async fn power_button(&self, name: &str, run_dir: &Path) -> Result<()> {
        self.qmp(name, run_dir, "system_powerdown").await
    }

    async fn connect_agent(&self, name: &str, run_dir: &Path) -> Result<UnixStream> {
        let path = run_dir.join(files::AGENT_SOCK);
        UnixStream::connect(&path)
            .await
            .map_err(|source| VmmError::Connect {
                vm: name.into(),
                path,
                source,
            })
    }

    async fn snapshot(&self, name: &str, run_dir: &Path, dest: &Path) -> Result<()> {
        standby::save(name, &run_dir.join(files::QMP_SOCK), dest).await
    }

    async fn restore(&self, spec: &VmSpec, from: &Path) -> Result<Launched> {
        let incoming = standby::incoming_arg(from);
        self.start_loading(spec, incoming, from, |qmp, pid| async move {
            standby::resume_loaded(&spec.name, &qmp, || process::is_alive(pid)).await
        })
        .await
    }

    async fn save_for_forks(&self, name: &str, run_dir: &Path, state: &Path) -> Result<()> {
        standby::save_device_state(name, &run_dir.join(files::QMP_SOCK), state).await
    }

    async fn fork(&self, spec: &VmSpec, state: &Path) -> Result<Launched> {
        self.start_loading(spec, "defer".into(), state, |qmp, pid| async move {
            standby::load_device_state(&spec.name, &qmp, state, || process::is_alive(pid)).await
        })
        .await
    }

    async fn quit(&self, name: &str, run_dir: &Path) -> Result<()> {
        self.qmp(name, run_dir, "quit").await
    }

    async fn reset(&self, name: &str, run_dir: &Path) -> Result<()> {
        let fail = |command: &'static str| {
            move |e: QmpError| VmmError::Qmp {
                vm: name.into(),
                command: command.into(),
                message: e.to_string(),
            }
        };
        let mut qmp = Qmp::connect(&run_dir.join(files::QMP_SOCK))
            .await
            .map_err(fail("system_reset"))?;
        // `-no-reboot` turns every reset into an exit, this one too: the
        // action is switched for it (QEMU decides when the reset is asked
        // for), then back, as `panic=-1` relies on the exit.
        let action = |a: &str| Some(serde_json::json!({ "reboot": a }));
        qmp.execute("set-action", action("reset"))
            .await
            .map_err(fail("set-action"))?;
        let reset = qmp.execute("system_reset", None).await;
        qmp.execute("set-action", action("shutdown"))
            .await
            .map_err(fail("set-action"))?;
        reset.map(drop).map_err(fail("system_reset"))
    }

    async fn guest_running(&self, name: &str, run_dir: &Path) -> Result<bool> {
        let path = run_dir.join(files::QMP_SOCK);
        let fail = |e: QmpError| VmmError::Qmp {
            vm: name.into(),
            command: "query-status".into(),
            message: e.to_string(),
        };
        let mut qmp = Qmp::connect(&path).await.map_err(fail)?;
        let status = qmp.execute("query-status", None).await.map_err(fail)?;
        Ok(status["status"] == "running")
    }

    fn exit_reason(&self, run_dir: &Path) -> Option<String> {
        // QEMU prints its reason as its last words.
        Some(launch::last_log_line(&run_dir.join(files::VMM_LOG))).filter(|l| !l.is_empty())
    }

    fn owns_process(&self, pid: u32, run_dir: &Path) -> bool {
        let qmp = format!(
            "unix:{},server=on,wait=off",
            run_dir.join(files::QMP_SOCK).display()
        );
        process::cmdline(pid).is_some_and(|argv| argv.contains(&qmp))
    }
}

#[cfg(test)]
mod tests;
