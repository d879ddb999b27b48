//! One task per live VMM: it notices the VMM's exit the moment it happens
//! (pidfd), turns the agent's `ready` into `VM_RUNNING`, enforces the boot
//! deadline, and records how the VMM ended. On hyped's shutdown it lets go
//! of the VMM without touching it, so the VM outlives hyped.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hype_agent_proto::GuestMessage;
use hype_store::{Store, VmmUpdate};
use hype_types::{Transition, VmState};
use hype_vmm::process::{self, Exit, ExitWatch};
use hype_vmm::Vmm;
use nix::sys::signal::Signal;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::backends::VmmBackend;
use crate::runtimes::{Replies, Runtime, Runtimes};

/// What supervisors need of the rest of hyped, and nothing more.
#[derive(Clone)]
pub(crate) struct Deps {
    pub store: Arc<Store>,
    pub runtimes: Runtimes,
    pub vms_dir: PathBuf,
    /// Where confined VMMs' cgroups are (removed once a VMM is gone).
    pub cgroups: Option<hype_vmm::jail::cgroup::Cgroups>,
    pub boot_timeout: Duration,
    /// Where VMs' RAM files are (`ram::dir`).
    pub ram_dir: PathBuf,
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
    /// Execs one VM may run at once.
    pub max_execs_per_vm: usize,
}

/// A VMM to supervise.
pub(crate) struct Watched {
    /// The VM's id: its row is found by it, whatever its name is by then
    /// (a VM handed out of a warm pool is renamed under its supervisor).
    pub id: String,
    pub name: String,
    /// Its run directory's key, which also names its cgroup and RAM file.
    pub dir: String,
    pub vmm: VmmBackend,
    pub watch: ExitWatch,
    /// Still booting: `VM_RUNNING` is to come.
    pub booting: bool,
    pub has_agent: bool,
    pub launched_at: Instant,
    /// Sent to the agent first; the VM runs once it is answered (a fork's
    /// new identity).
    pub reconfigure: Option<hype_agent_proto::HostMessage>,
    /// A kernel booting from its start, which prints on its console at
    /// once: one silent for [`SILENT_BOOT`] is reset.
    pub fresh_kernel: bool,
}

/// How long a kernel booting from its start may print nothing on its
/// serial console. A healthy one prints within a second or two, even under
/// TCG on a loaded host (its console is up a few hundred ms into the boot).
/// One that has not died before its console existed: Debian's 6.1 kernel
/// under QEMU TCG does, about one boot in a hundred (a fault early in
/// `setup_arch` whose oops faults again until the stack is gone, then a
/// spin on `die_lock` with interrupts off; seen in the printk buffer of hung
/// guests). A reset boots it again in the same VMM, with the same devices.
const SILENT_BOOT: Duration = Duration::from_secs(30);
/// Resets of a silent boot before the boot deadline is left to decide.
const SILENT_BOOT_RESETS: u32 = 2;

/// Starts supervising `w`'s process; the returned runtime is also
/// registered in `deps.runtimes` until the VMM exits.
pub(crate) fn spawn(deps: &Deps, w: Watched) -> Runtime {
    let (agent_tx, agent_rx) = mpsc::channel(8);
    let (said_tx, said_rx) = mpsc::channel(8);
    let (exited_tx, exited_rx) = watch::channel(false);
    let generation = deps.runtimes.next_generation();
    let runtime = Runtime {
        generation,
        pid: w.watch.pid(),
        agent: agent_tx,
        exited: exited_rx,
        has_agent: w.has_agent,
        deleting: Arc::new(AtomicBool::new(false)),
        replies: Replies::default(),
        link: crate::streams::AgentLink::default(),
        exec_slots: Arc::new(tokio::sync::Semaphore::new(deps.max_execs_per_vm)),
    };
    deps.runtimes.insert(&w.name, runtime.clone());

    let reconfiguring = w.reconfigure.is_some();
    if let Some(msg) = w.reconfigure {
        // The agent task sends `hello` first, then this, in order.
        let _ = runtime.agent.try_send(msg);
    }
    let run_dir = deps.vms_dir.join(&w.dir);
    let agent_cancel = deps.shutdown.child_token();
    if w.has_agent {
        deps.tracker.spawn(crate::agent::run(
            w.vmm.clone(),
            w.name.clone(),
            run_dir.clone(),
            agent_rx,
            said_tx,
            runtime.link.clone(),
            agent_cancel.clone(),
        ));
    }
    let sup = Supervisor {
        deps: deps.clone(),
        run_dir: run_dir.clone(),
        id: w.id,
        name: w.name,
        dir: w.dir,
        vmm: w.vmm,
        watch: w.watch,
        said: said_rx,
        agent_cancel,
        deleting: runtime.deleting.clone(),
        generation,
        replies: runtime.replies.clone(),
        has_agent: w.has_agent,
        reconfiguring,
        // A restarted VM's console holds its earlier boots.
        console_at_launch: w.fresh_kernel.then(|| crate::console::len(&run_dir)),
        resets: 0,
    };
    let (booting, launched_at) = (w.booting, w.launched_at);
    deps.tracker
        .spawn(async move { sup.run(booting, launched_at, exited_tx).await });
    runtime
}

struct Supervisor {
    deps: Deps,
    run_dir: PathBuf,
    id: String,
    /// Its name when supervision began, for logs.
    name: String,
    dir: String,
    vmm: VmmBackend,
    watch: ExitWatch,
    said: mpsc::Receiver<GuestMessage>,
    agent_cancel: CancellationToken,
    deleting: Arc<AtomicBool>,
    generation: u64,
    replies: Replies,
    has_agent: bool,
    /// A fork whose agent has not yet taken its identity: its `ready`
    /// does not count until `reconfigured`.
    reconfiguring: bool,
    /// A fresh kernel boot's console length when it was launched.
    console_at_launch: Option<u64>,
    /// Resets of this boot because its console stayed silent.
    resets: u32,
}

/// How often a VMM without a guest agent is asked whether it runs the guest.
const STATUS_POLL: Duration = Duration::from_millis(100);

impl Supervisor {
    async fn run(mut self, booting: bool, launched_at: Instant, exited_tx: watch::Sender<bool>) {
        let deadline = tokio::time::Instant::from_std(launched_at) + self.deps.boot_timeout;
        let mut waiting_ready = booting;
        let mut crash_reason: Option<String> = None;
        let shutdown = self.deps.shutdown.clone();
        let mut console_check = tokio::time::interval(crate::console::CAP_CHECK);
        let mut silence_check = (booting && self.console_at_launch.is_some())
            .then(|| tokio::time::Instant::from_std(launched_at) + SILENT_BOOT);
        let exit = loop {
            tokio::select! {
                exit = self.watch.exited() => break exit,
                _ = shutdown.cancelled() => {
                    // Leave the VMM running: it is adopted after a restart.
                    self.agent_cancel.cancel();
                    return;
                }
                Some(msg) = self.said.recv() => match msg {
                    // The guest says it will not get ready; no point
                    // waiting out the boot deadline.
                    GuestMessage::Failed { message } if waiting_ready => {
                        waiting_ready = false;
                        tracing::warn!(vm = %self.name, message, "guest failed to boot");
                        crash_reason = Some(format!("guest: {message}"));
                        process::signal_group(self.watch.pid(), Signal::SIGKILL);
                    }
                    GuestMessage::Reconfigured { error: Some(e), .. } if waiting_ready => {
                        waiting_ready = false;
                        tracing::warn!(vm = %self.name, error = e, "fork could not take its identity");
                        crash_reason = Some(format!("guest could not take the fork's identity: {e}"));
                        process::signal_group(self.watch.pid(), Signal::SIGKILL);
                    }
                    GuestMessage::Reconfigured { error: None, .. } if waiting_ready => {
                        self.reconfiguring = false;
                        waiting_ready = false;
                        let total = launched_at.elapsed().as_millis();
                        let detail = format!("fork ready: identity taken {total} ms since VMM launch");
                        if self.mark_running(detail).await {
                            tracing::info!(vm = %self.name, total_ms = total as u64, "fork running");
                        }
                    }
                    msg => self.on_agent(msg, &mut waiting_ready, launched_at).await,
                },
                _ = tokio::time::sleep(STATUS_POLL), if waiting_ready && !self.has_agent => {
                    self.poll_running(&mut waiting_ready, launched_at).await
                }
                _ = console_check.tick() => crate::console::enforce_cap(&self.run_dir),
                _ = tokio::time::sleep_until(silence_check.unwrap_or(deadline)),
                    if waiting_ready && silence_check.is_some() => {
                    silence_check = self.on_silence().await;
                }
                _ = tokio::time::sleep_until(deadline), if waiting_ready => {
                    waiting_ready = false;
                    let secs = self.deps.boot_timeout.as_secs();
                    let who = if self.has_agent { "the guest agent did not report ready" } else { "the VMM did not run the guest" };
                    crash_reason = Some(format!(
                        "{who} within {secs} s{}{}",
                        self.resets_said(),
                        crate::console::last_line(&self.run_dir)
                            .map(|l| format!("; last console line: {l}"))
                            .unwrap_or_default()
                    ));
                    process::signal_group(self.watch.pid(), Signal::SIGKILL);
                }
            }
        };
        self.agent_cancel.cancel();
        if let Some(c) = &self.deps.cgroups {
            c.remove(&self.dir);
        }
        // Its RAM (a file on tmpfs) would hold host memory until removed.
        let _ = std::fs::remove_file(self.deps.ram_dir.join(format!("{}.ram", self.dir)));
        if !self.deleting.load(Ordering::SeqCst) {
            self.record_exit(exit, crash_reason).await;
        }
        self.deps.runtimes.forget(self.generation);
        let _ = exited_tx.send(true);
    }

    /// A fresh kernel boot's console after [`SILENT_BOOT`]: silent, it is
    /// reset (up to [`SILENT_BOOT_RESETS`] times). The next check's time,
    /// if any.
    async fn on_silence(&mut self) -> Option<tokio::time::Instant> {
        let silent = self
            .console_at_launch
            .is_some_and(|at| crate::console::len(&self.run_dir) <= at);
        if !silent || self.resets >= SILENT_BOOT_RESETS {
            return None;
        }
        self.resets += 1;
        tracing::warn!(
            vm = %self.name,
            resets = self.resets,
            "the guest printed nothing in {} s of boot: it died before its console came up; resetting it",
            SILENT_BOOT.as_secs()
        );
        if let Err(e) = self.vmm.reset(&self.name, &self.run_dir).await {
            tracing::warn!(vm = %self.name, error = %e, "cannot reset a silent boot");
            return None;
        }
        Some(tokio::time::Instant::now() + SILENT_BOOT)
    }

    /// The silent-boot resets, for the boot's outcome ("" without any).
    fn resets_said(&self) -> String {
        match self.resets {
            0 => String::new(),
            n => format!(
                "; reset {n}x after {} s without a word on its console",
                SILENT_BOOT.as_secs()
            ),
        }
    }

    /// Readiness without an agent: the VMM runs the guest, so the firmware
    /// has it. Nothing more about the guest can be known from outside.
    async fn poll_running(&self, waiting_ready: &mut bool, launched_at: Instant) {
        if !matches!(
            self.vmm.guest_running(&self.name, &self.run_dir).await,
            Ok(true)
        ) {
            return;
        }
        *waiting_ready = false;
        let total = launched_at.elapsed().as_millis();
        let detail = format!(
            "no guest agent: running means the VMM runs the guest ({total} ms since VMM launch)"
        );
        if self.mark_running(detail).await {
            tracing::info!(vm = %self.name, total_ms = total as u64, "VM running (no agent)");
        }
    }

    /// Records `running` (`VM_RUNNING` with `detail`); false if the VM was
    /// no longer starting.
    async fn mark_running(&self, detail: String) -> bool {
        let done = self
            .deps
            .store
            .transition_id(
                &self.id,
                Transition::Ready,
                Some(detail),
                VmmUpdate::default(),
            )
            .await;
        if let Err(e) = &done {
            tracing::warn!(vm = %self.name, error = %e, "running from a VM no longer starting");
        }
        done.is_ok()
    }

    async fn on_agent(&self, msg: GuestMessage, waiting_ready: &mut bool, launched_at: Instant) {
        match msg {
            GuestMessage::Ready {
                uptime_ms, init_ms, ..
            } => {
                if !*waiting_ready || self.reconfiguring {
                    return;
                }
                *waiting_ready = false;
                let total = launched_at.elapsed().as_millis();
                let detail = format!(
                    "guest ready: {uptime_ms} ms guest uptime (agent init {init_ms} ms), {total} ms since VMM launch{}",
                    self.resets_said()
                );
                if self.mark_running(detail).await {
                    tracing::info!(vm = %self.name, uptime_ms, total_ms = total as u64, "VM running")
                }
            }
            GuestMessage::Notice { message } => {
                tracing::info!(vm = %self.name, message, "guest notice")
            }
            GuestMessage::Downloaded(d) => self.record_download(d).await,
            GuestMessage::Pong { .. }
            | GuestMessage::NetInfo { .. }
            | GuestMessage::ProbeResult { .. }
            | GuestMessage::Stat { .. }
            | GuestMessage::Listing { .. }
            | GuestMessage::Done { .. }
            | GuestMessage::Error { .. }
            | GuestMessage::Unsupported { .. } => {
                let Some(id) = msg.id() else { return };
                let waiter = self.replies.lock().expect("replies lock").remove(&id);
                if let Some(tx) = waiter {
                    // The asker may have timed out meanwhile; that's fine.
                    let _ = tx.send(msg);
                }
            }
            GuestMessage::ShuttingDown | GuestMessage::Reconfigured { .. } => {}
            // A stream's, whose owner is gone (the agent task routes the
            // live ones straight to their streams).
            GuestMessage::Started { .. }
            | GuestMessage::Data { .. }
            | GuestMessage::Eof { .. }
            | GuestMessage::Credit { .. }
            | GuestMessage::Exited { .. }
            | GuestMessage::Opened { .. } => {}
            // While booting, `run` takes it and ends the VM; later it is news.
            GuestMessage::Failed { message } => {
                tracing::warn!(vm = %self.name, message, "guest reports a failure")
            }
        }
    }

    /// A download the guest reports: checked (the guest is untrusted),
    /// recorded with its `DOWNLOAD_COMPLETED`.
    async fn record_download(&self, d: hype_agent_proto::Download) {
        let sha_ok = d.sha256.len() == 64 && d.sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if hype_types::files::check_download_name(&d.name).is_err() || !sha_ok {
            tracing::warn!(vm = %self.name, name = ?d.name, "guest reported a download with a bad name or digest; ignored");
            return;
        }
        let clip = |s: String| s.chars().take(2048).collect::<String>();
        let download = hype_types::Download {
            name: d.name,
            size: d.size,
            sha256: d.sha256.to_ascii_lowercase(),
            url: clip(d.url),
            page_url: d.page_url.map(clip),
            finished_at: hype_store::now(),
        };
        match self.deps.store.record_download(&self.id, &download).await {
            Ok(Some(_)) => {
                tracing::info!(vm = %self.name, name = download.name, size = download.size, "browser download")
            }
            Ok(None) => {
                tracing::warn!(vm = %self.name, name = download.name, "download not recorded (VM gone, or too many)")
            }
            Err(e) => tracing::warn!(vm = %self.name, error = %e, "download not recorded"),
        }
    }

    async fn record_exit(&self, exit: Exit, crash_reason: Option<String>) {
        let store = &self.deps.store;
        let state = match store.get_vm_by_id(&self.id).await {
            Ok(vm) => vm.state,
            Err(e) => {
                tracing::warn!(vm = %self.name, error = %e, "VMM exited for a VM that is gone");
                return;
            }
        };
        let clear = VmmUpdate {
            pid: Some(None),
            ..Default::default()
        };
        let run_dir = &self.run_dir;
        let (t, detail) = match state {
            VmState::Stopping => (Transition::Exited, format!("VMM {exit}")),
            VmState::Starting | VmState::Running | VmState::Paused => {
                let reason = crash_reason.unwrap_or_else(|| {
                    let mut r = format!("VMM {exit}");
                    if let Some(l) = self.vmm.exit_reason(run_dir) {
                        r.push_str(&format!(": {l}"));
                    }
                    r
                });
                (Transition::Crash, reason)
            }
            VmState::Creating | VmState::Stopped | VmState::Crashed | VmState::Standby => return,
        };
        match store
            .transition_id(&self.id, t, Some(detail.clone()), clear)
            .await
        {
            Ok(_) if t == Transition::Crash => {
                tracing::warn!(vm = %self.name, detail, "VM crashed")
            }
            Ok(_) => tracing::info!(vm = %self.name, "VM stopped"),
            Err(e) => tracing::warn!(vm = %self.name, error = %e, "cannot record VMM exit"),
        }
        hype_vmm::remove_sockets(run_dir);
    }
}
