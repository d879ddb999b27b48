//! A VMM double for fast unit tests of the core's decisions (create, stop,
//! crash, reconcile). It is as real as it can be without a guest: each
//! "VMM" is a real process in its own group (so pidfds, signals and
//! adoption work as for QEMU), and its "agent" a real unix socket speaking
//! hype-agent-proto, whose behaviour a test chooses per VM. Behaviour with
//! real guests is tested against QEMU in hyped's tests.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hype_agent_proto::{decode, encode, GuestMessage, HostMessage, PROTOCOL_VERSION};
use hype_types::VmmKind;
use hype_vmm::process;
use hype_vmm::{Accel, Launched, Result, VmSpec, Vmm, VmmError};
use nix::sys::signal::Signal;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// What a VM's guest does, as the test wants it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Behaviour {
    /// Reports ready when asked, powers off when told.
    #[default]
    Ready,
    /// Never reports ready (a hung boot).
    NeverReady,
    /// Reports that it cannot boot.
    Fails(String),
    /// Ready, but ignores shutdown requests and the power button.
    Stubborn,
    /// The VMM does not even start.
    LaunchFails,
    /// Ready, with an agent of protocol 1 (before streams).
    OldAgent,
}

#[derive(Debug, Default)]
struct State {
    behaviour: HashMap<String, Behaviour>,
    paused: HashSet<String>,
    launches: u32,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct DoubleVmm {
    state: Arc<Mutex<State>>,
}

const MARK: &str = "vmm-double";

impl DoubleVmm {
    pub fn set(&self, vm: &str, b: Behaviour) {
        self.state
            .lock()
            .unwrap()
            .behaviour
            .insert(vm.to_owned(), b);
    }

    fn behaviour(&self, vm: &str) -> Behaviour {
        self.state
            .lock()
            .unwrap()
            .behaviour
            .get(vm)
            .cloned()
            .unwrap_or_default()
    }

    pub fn launches(&self) -> u32 {
        self.state.lock().unwrap().launches
    }

    fn mark(run_dir: &Path) -> PathBuf {
        run_dir.join(MARK)
    }

    /// The fake agent of one VM: answers on `agent.sock` until the VMM
    /// process is gone.
    fn serve_agent(&self, name: String, run_dir: PathBuf, pid: u32) -> std::io::Result<()> {
        let path = run_dir.join(hype_vmm::spec_files::AGENT_SOCK);
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    conn = listener.accept() => {
                        if let Ok((stream, _)) = conn {
                            tokio::spawn(me.clone().agent_session(name.clone(), stream, pid));
                        }
                    }
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {
                        if !process::is_alive(pid) {
                            let _ = std::fs::remove_file(&path);
                            return;
                        }
                    }
                }
            }
        });
        Ok(())
    }

    async fn agent_session(self, name: String, stream: UnixStream, pid: u32) {
        let (r, mut w) = stream.into_split();
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let Ok(msg) = decode::<HostMessage>(line.as_bytes()) else {
                continue;
            };
            let b = self.behaviour(&name);
            let answer = match (msg, &b) {
                (
                    HostMessage::Hello,
                    Behaviour::Ready | Behaviour::Stubborn | Behaviour::OldAgent,
                ) => Some(GuestMessage::Ready {
                    agent_version: "double".into(),
                    protocol: if b == Behaviour::OldAgent {
                        1
                    } else {
                        PROTOCOL_VERSION
                    },
                    uptime_ms: 1,
                    init_ms: 1,
                }),
                (HostMessage::Hello, Behaviour::Fails(m)) => {
                    Some(GuestMessage::Failed { message: m.clone() })
                }
                (HostMessage::Hello, _) => None,
                (HostMessage::Ping { id }, _) => Some(GuestMessage::Pong { id }),
                (HostMessage::Shutdown, Behaviour::Stubborn) => None,
                (HostMessage::Shutdown, _) => {
                    let _ = w.write_all(&encode(&GuestMessage::ShuttingDown)).await;
                    process::signal_group(pid, Signal::SIGTERM);
                    return;
                }
                (HostMessage::NetInfo { id }, _) => Some(GuestMessage::NetInfo {
                    id,
                    interfaces: vec![],
                    gateway: None,
                }),
                (HostMessage::Probe { id, target, .. }, _) => Some(GuestMessage::ProbeResult {
                    id,
                    target,
                    reachable: false,
                    rtt_ms: None,
                    error: Some("the double has no network".into()),
                }),
                (HostMessage::Reconfigure { id, .. }, _) => {
                    Some(GuestMessage::Reconfigured { id, error: None })
                }
                // Streams are tested against real guests; the double is
                // an agent that knows none of them.
                (HostMessage::Exec(req), _) => Some(GuestMessage::Unsupported {
                    id: req.id,
                    what: "exec".into(),
                }),
                (
                    ref m @ (HostMessage::ReadFile { id, .. }
                    | HostMessage::WriteFile { id, .. }
                    | HostMessage::Stat { id, .. }
                    | HostMessage::List { id, .. }
                    | HostMessage::Remove { id, .. }),
                    _,
                ) => Some(GuestMessage::Unsupported {
                    id,
                    what: m.kind().into(),
                }),
                (_, _) => None,
            };
            if let Some(a) = answer {
                if w.write_all(&encode(&a)).await.is_err() {
                    return;
                }
            }
        }
    }
}

impl Vmm for DoubleVmm {
    fn kind(&self) -> VmmKind {
        VmmKind::Qemu
    }

    fn version(&self) -> Option<String> {
        Some("double".into())
    }

    fn cmdline_extra(&self, _accel: Accel) -> Vec<String> {
        vec![]
    }

    async fn launch(&self, spec: &VmSpec) -> Result<Launched> {
        let io = |source| VmmError::Io {
            vm: spec.name.clone(),
            path: spec.run_dir.clone(),
            source,
        };
        if self.behaviour(&spec.name) == Behaviour::LaunchFails {
            return Err(VmmError::EarlyExit {
                vm: spec.name.clone(),
                reason: "the double was told not to start".into(),
            });
        }
        std::fs::create_dir_all(&spec.run_dir).map_err(io)?;
        let mut cmd = Command::new("/bin/sh");
        // `$0` names the run directory, so ownership can be checked from
        // the command line, as for QEMU.
        cmd.args(["-c", "while :; do sleep 1; done"])
            .arg(Self::mark(&spec.run_dir));
        let pid = process::spawn_detached(&mut cmd, &spec.run_dir.join("vmm.log")).map_err(io)?;
        self.state.lock().unwrap().launches += 1;
        self.serve_agent(spec.name.clone(), spec.run_dir.clone(), pid)
            .map_err(io)?;
        Ok(Launched {
            pid,
            version: self.version(),
        })
    }

    async fn pause(&self, name: &str, _run_dir: &Path) -> Result<()> {
        self.state.lock().unwrap().paused.insert(name.to_owned());
        Ok(())
    }

    async fn resume(&self, name: &str, _run_dir: &Path) -> Result<()> {
        self.state.lock().unwrap().paused.remove(name);
        Ok(())
    }

    async fn power_button(&self, name: &str, run_dir: &Path) -> Result<()> {
        if self.behaviour(name) != Behaviour::Stubborn {
            if let Some(pid) = find(run_dir) {
                process::signal_group(pid, Signal::SIGTERM);
            }
        }
        Ok(())
    }

    async fn connect_agent(&self, name: &str, run_dir: &Path) -> Result<UnixStream> {
        let path = run_dir.join(hype_vmm::spec_files::AGENT_SOCK);
        UnixStream::connect(&path)
            .await
            .map_err(|source| VmmError::Connect {
                vm: name.into(),
                path,
                source,
            })
    }

    async fn snapshot(&self, name: &str, _run_dir: &Path, dest: &Path) -> Result<()> {
        std::fs::write(dest.join("double-state"), name).map_err(|source| VmmError::Io {
            vm: name.into(),
            path: dest.to_owned(),
            source,
        })
    }

    async fn restore(&self, spec: &VmSpec, _from: &Path) -> Result<Launched> {
        self.launch(spec).await
    }

    async fn save_for_forks(&self, name: &str, _run_dir: &Path, state: &Path) -> Result<()> {
        std::fs::write(state, name).map_err(|source| VmmError::Io {
            vm: name.into(),
            path: state.to_owned(),
            source,
        })
    }

    async fn fork(&self, spec: &VmSpec, _state: &Path) -> Result<Launched> {
        self.launch(spec).await
    }

    async fn quit(&self, _name: &str, run_dir: &Path) -> Result<()> {
        if let Some(pid) = find(run_dir) {
            process::signal_group(pid, Signal::SIGKILL);
        }
        Ok(())
    }

    async fn reset(&self, _name: &str, _run_dir: &Path) -> Result<()> {
        Ok(())
    }

    async fn guest_running(&self, name: &str, _run_dir: &Path) -> Result<bool> {
        Ok(!self.state.lock().unwrap().paused.contains(name))
    }

    fn owns_process(&self, pid: u32, run_dir: &Path) -> bool {
        let mark = Self::mark(run_dir).display().to_string();
        process::cmdline(pid).is_some_and(|argv| argv.contains(&mark))
    }

    fn exit_reason(&self, _run_dir: &Path) -> Option<String> {
        None
    }
}

/// The double's process for `run_dir`, if one is alive.
fn find(run_dir: &Path) -> Option<u32> {
    let d = DoubleVmm::default();
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| process::is_alive(*pid) && d.owns_process(*pid, run_dir))
}
