//! What every backend does the same way while a VMM starts: a clean run
//! directory, the process spawned detached with its output in `vmm.log`, and,
//! if start-up fails, the process group killed and reaped or its death
//! explained from its own log.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::jail::{Bind, JailSpec, TapFd};
use crate::spec::files;
use crate::{process, Result, VmSpec, VmmError};

/// What a backend adds to a VM's jail beyond the VM's own files.
#[derive(Debug, Default)]
pub(crate) struct JailExtras {
    pub binds: Vec<Bind>,
    pub devices: Vec<PathBuf>,
    /// The VM's tap, opened by the jailer and passed in as a descriptor.
    pub tap_fd: bool,
    /// An empty network namespace (only with the tap passed in).
    pub new_net: bool,
}

/// A VMM process between spawn and "reachable".
pub(crate) struct Starting {
    pub pid: u32,
    vm: String,
    log: PathBuf,
    /// The jail's cgroups, removed if start-up fails.
    cgroups: Option<crate::jail::cgroup::Cgroups>,
}

/// Creates the run directory, removes `stale` sockets (VMMs refuse to bind
/// over them) and spawns `binary` with `args` there: in the VM's jail
/// when it has one, else as a detached process of hyped's own.
pub(crate) fn spawn(
    spec: &VmSpec,
    binary: &Path,
    args: Vec<String>,
    stale: &[&str],
    extras: JailExtras,
) -> Result<Starting> {
    let io = |path: &Path| {
        let path = path.to_owned();
        let vm = spec.name.clone();
        move |source| VmmError::Io { vm, path, source }
    };
    std::fs::create_dir_all(&spec.run_dir).map_err(io(&spec.run_dir))?;
    for f in stale {
        let _ = std::fs::remove_file(spec.run_dir.join(f));
    }
    let log = spec.run_dir.join(files::VMM_LOG);
    let pid = match &spec.jail {
        None => {
            let mut cmd = Command::new(binary);
            cmd.args(args).current_dir(&spec.run_dir);
            process::spawn_detached(&mut cmd, &log).map_err(|source| VmmError::Spawn {
                vm: spec.name.clone(),
                binary: binary.to_owned(),
                source,
            })?
        }
        Some(jail) => {
            // The VM's own files become the VM's uid's; the run directory
            // is where it may write.
            chown_tree(&spec.run_dir, jail.uid, jail.gid).map_err(io(&spec.run_dir))?;
            let mut binds: Vec<Bind> = spec
                .boot
                .files()
                .into_iter()
                .map(|(path, writable)| Bind { path, writable })
                .collect();
            for d in &spec.disks {
                binds.push(Bind {
                    path: d.path.clone(),
                    writable: !d.read_only,
                });
                binds.extend(d.backing.iter().map(|b| Bind {
                    path: b.clone(),
                    writable: false,
                }));
            }
            // Guest RAM in a file: the VM's own (written), or a snapshot's
            // that forks map privately (read-only, readable like the other
            // shared inputs below: it sits in hyped's data directory, which
            // no other user can enter, and each jail sees only its own).
            if let Some((path, writable)) = spec.memory.file() {
                binds.push(Bind { path, writable });
            }
            binds.extend(extras.binds);
            // Files outside the run directory: those the VM writes (a UEFI
            // variable store) become the VM's; inputs VMs share read-only
            // (images, imported disks, firmware), made by hyped under its
            // umask (0600), become readable by every VM uid. Host users
            // still cannot read them: the data directory is 0700, and a
            // jail shows only its own VM's files.
            for b in binds.iter().filter(|b| !b.path.starts_with(&spec.run_dir)) {
                if b.writable {
                    chown(&b.path, jail.uid, jail.gid).map_err(io(&b.path))?;
                } else {
                    readable_by_all(&b.path).map_err(io(&b.path))?;
                }
            }
            if !binary.starts_with("/usr/") {
                binds.push(Bind {
                    path: binary.to_owned(),
                    writable: false,
                });
            }
            let mut devices = crate::jail::base_devices();
            devices.extend(extras.devices);
            let mut own_devices = vec![];
            if spec.accel == crate::Accel::Kvm {
                own_devices.push("/dev/kvm".into());
            }
            let limits = crate::jail::cgroup::Limits::for_vm(
                spec.memory_mb,
                spec.cpu_cores,
                spec.accel == crate::Accel::Tcg,
                jail.priority,
            );
            let procs = jail
                .config
                .cgroups
                .create(&spec.name, limits)
                .map_err(io(Path::new("/sys/fs/cgroup")))?;
            let js = JailSpec {
                name: spec.name.clone(),
                uid: jail.uid,
                gid: jail.gid,
                root: jail.config.root.clone(),
                run_dir: spec.run_dir.clone(),
                binds,
                devices,
                own_devices,
                tap: match (&spec.tap, extras.tap_fd) {
                    (Some(name), true) => Some(TapFd {
                        name: name.clone(),
                        fd: crate::jail::TAP_FD,
                    }),
                    _ => None,
                },
                new_net: extras.new_net,
                cgroup_procs: procs,
                exe: binary.to_owned(),
                args,
            };
            match crate::jail::spawn(&jail.config, &js, &log) {
                Ok(pid) => pid,
                Err(e) => {
                    jail.config.cgroups.remove(&spec.name);
                    return Err(e);
                }
            }
        }
    };
    Ok(Starting {
        pid,
        vm: spec.name.clone(),
        log,
        cgroups: spec.jail.as_ref().map(|j| j.config.cgroups.clone()),
    })
}

/// Adds read permission for others to a regular file that lacks it.
fn readable_by_all(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)?;
    let mode = meta.permissions().mode();
    if meta.is_file() && mode & 0o004 == 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | 0o044))?;
    }
    Ok(())
}

fn chown(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
}

/// `chown -R`, not following symlinks.
fn chown_tree(dir: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(dir, Some(uid), Some(gid))?;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            chown_tree(&e.path(), uid, gid)?;
        } else {
            std::os::unix::fs::lchown(e.path(), Some(uid), Some(gid))?;
        }
    }
    Ok(())
}

impl Starting {
    pub fn is_alive(&self) -> bool {
        process::is_alive(self.pid)
    }

    /// Kills the group and reaps it, leaving no process behind.
    pub fn kill(&self) {
        process::signal_group(self.pid, Signal::SIGKILL);
        // Give the kernel a moment to turn it into a zombie, then reap.
        std::thread::sleep(Duration::from_millis(20));
        process::reap(self.pid);
        self.remove_cgroups();
    }

    fn remove_cgroups(&self) {
        if let Some(c) = &self.cgroups {
            c.remove(&self.vm);
        }
    }

    /// The error for a VMM that died during start-up: its exit status and
    /// the last thing it logged, which usually says why.
    pub fn early_exit(&self) -> VmmError {
        let exit = process::reap(self.pid);
        self.remove_cgroups();
        VmmError::EarlyExit {
            vm: self.vm.clone(),
            reason: format!("{exit}: {}", last_log_line(&self.log)),
        }
    }
}

pub(crate) fn last_log_line(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_owned()
}
