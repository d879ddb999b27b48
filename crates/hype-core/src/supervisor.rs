//! One task per live VMM: it notices the VMM's exit the moment it happens
//! (pidfd), turns the agent's `ready` into `VM_RUNNING`, enforces the boot
//! deadline, and records how the VMM ended. On hyped's shutdown it lets go
//! of the VMM without touching it, so the VM outlives hyped.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hype_agent_proto::{GuestMessage, HostMessage};
use hype_store::VmmUpdate;
use hype_types::{Transition, VmState};
use hype_vmm::process::{self, Exit, ExitWatch};
use hype_vmm::{AnyVmm, Vmm};
use nix::sys::signal::Signal;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::manager::Inner;

/// What the rest of the core holds for a supervised VMM.
#[derive(Clone)]
pub(crate) struct Runtime {
    pub generation: u64,
    pub pid: u32,
    pub agent: mpsc::Sender<HostMessage>,
    pub exited: watch::Receiver<bool>,
    /// Whether a hype agent runs in the guest (not in an imported disk's).
    pub has_agent: bool,
    /// Set by delete: the exit is expected and the row is about to go.
    pub deleting: Arc<AtomicBool>,
    /// Requests to the agent waiting for their answer, by id.
    replies: Replies,
}

type Replies = Arc<Mutex<HashMap<u64, oneshot::Sender<GuestMessage>>>>;

static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

/// Why a request to the guest agent got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AgentUnanswered {
    /// The supervisor is gone (the VMM exited meanwhile).
    Gone,
    Timeout,
}

impl Runtime {
    /// Sends the request `make(id)` to the agent and waits for the answer
    /// carrying the same id.
    pub async fn request(
        &self,
        make: impl FnOnce(u64) -> HostMessage,
        timeout: Duration,
    ) -> Result<GuestMessage, AgentUnanswered> {
        let id = REQUEST_IDS.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.replies.lock().expect("replies lock").insert(id, tx);
        let answered = async {
            self.agent
                .send(make(id))
                .await
                .map_err(|_| AgentUnanswered::Gone)?;
            rx.await.map_err(|_| AgentUnanswered::Gone)
        };
        let out = tokio::time::timeout(timeout, answered)
            .await
            .unwrap_or(Err(AgentUnanswered::Timeout));
        self.replies.lock().expect("replies lock").remove(&id);
        out
    }

    /// Waits until the supervisor has recorded the VMM's exit.
    pub async fn wait_exited(&self) {
        let mut rx = self.exited.clone();
        let _ = rx.wait_for(|gone| *gone).await;
    }
}

/// Starts supervising `watch`'s process for VM `name`.
pub(crate) fn spawn(
    inner: &Arc<Inner>,
    name: String,
    vmm: AnyVmm,
    watch: ExitWatch,
    booting: bool,
    has_agent: bool,
    launched_at: Instant,
) -> Runtime {
    let (agent_tx, agent_rx) = mpsc::channel(8);
    let (said_tx, said_rx) = mpsc::channel(8);
    let (exited_tx, exited_rx) = watch::channel(false);
    let generation = inner.next_generation();
    let runtime = Runtime {
        generation,
        pid: watch.pid(),
        agent: agent_tx,
        exited: exited_rx,
        has_agent,
        deleting: Arc::new(AtomicBool::new(false)),
        replies: Replies::default(),
    };
    inner
        .runtimes
        .lock()
        .expect("runtimes lock")
        .insert(name.clone(), runtime.clone());

    let run_dir = inner.cfg.run_dir(&name);
    let agent_cancel = inner.shutdown.child_token();
    if has_agent {
        inner.tracker.spawn(crate::agent::run(
            vmm.clone(),
            name.clone(),
            run_dir,
            agent_rx,
            said_tx,
            agent_cancel.clone(),
        ));
    }
    let inner2 = inner.clone();
    let deleting = runtime.deleting.clone();
    let replies = runtime.replies.clone();
    inner.tracker.spawn(async move {
        let sup = Supervisor {
            inner: inner2,
            name,
            vmm,
            watch,
            said: said_rx,
            agent_cancel,
            deleting,
            generation,
            replies,
            has_agent,
        };
        sup.run(booting, launched_at, exited_tx).await;
    });
    runtime
}

struct Supervisor {
    inner: Arc<Inner>,
    name: String,
    vmm: AnyVmm,
    watch: ExitWatch,
    said: mpsc::Receiver<GuestMessage>,
    agent_cancel: CancellationToken,
    deleting: Arc<AtomicBool>,
    generation: u64,
    replies: Replies,
    has_agent: bool,
}

/// How often a VMM without a guest agent is asked whether it runs the guest.
const STATUS_POLL: Duration = Duration::from_millis(100);

impl Supervisor {
    async fn run(mut self, booting: bool, launched_at: Instant, exited_tx: watch::Sender<bool>) {
        let deadline = tokio::time::Instant::from_std(launched_at) + self.inner.cfg.boot_timeout;
        let mut waiting_ready = booting;
        let mut crash_reason: Option<String> = None;
        let shutdown = self.inner.shutdown.clone();
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
                    msg => self.on_agent(msg, &mut waiting_ready, launched_at).await,
                },
                _ = tokio::time::sleep(STATUS_POLL), if waiting_ready && !self.has_agent => {
                    self.poll_running(&mut waiting_ready, launched_at).await
                }
                _ = tokio::time::sleep_until(deadline), if waiting_ready => {
                    waiting_ready = false;
                    let secs = self.inner.cfg.boot_timeout.as_secs();
                    let who = if self.has_agent { "the guest agent did not report ready" } else { "the VMM did not run the guest" };
                    crash_reason = Some(format!(
                        "{who} within {secs} s{}",
                        last_line(&self.inner.cfg.run_dir(&self.name), hype_vmm::spec_files::CONSOLE_LOG)
                            .map(|l| format!("; last console line: {l}"))
                            .unwrap_or_default()
                    ));
                    process::signal_group(self.watch.pid(), Signal::SIGKILL);
                }
            }
        };
        self.agent_cancel.cancel();
        if !self.deleting.load(Ordering::SeqCst) {
            self.record_exit(exit, crash_reason).await;
        }
        self.inner.forget_runtime(&self.name, self.generation);
        let _ = exited_tx.send(true);
    }

    /// Readiness without an agent: the VMM runs the guest, so the firmware
    /// has it. Nothing more about the guest can be known from outside.
    async fn poll_running(&self, waiting_ready: &mut bool, launched_at: Instant) {
        let run_dir = self.inner.cfg.run_dir(&self.name);
        if !matches!(self.vmm.guest_running(&self.name, &run_dir).await, Ok(true)) {
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
            .inner
            .store
            .transition(
                &self.name,
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
                if !*waiting_ready {
                    return;
                }
                *waiting_ready = false;
                let total = launched_at.elapsed().as_millis();
                let detail = format!(
                    "guest ready: {uptime_ms} ms guest uptime (agent init {init_ms} ms), {total} ms since VMM launch"
                );
                if self.mark_running(detail).await {
                    tracing::info!(vm = %self.name, uptime_ms, total_ms = total as u64, "VM running")
                }
            }
            GuestMessage::Notice { message } => {
                tracing::info!(vm = %self.name, message, "guest notice")
            }
            GuestMessage::Pong { id }
            | GuestMessage::NetInfo { id, .. }
            | GuestMessage::ProbeResult { id, .. } => {
                let waiter = self.replies.lock().expect("replies lock").remove(&id);
                if let Some(tx) = waiter {
                    // The asker may have timed out meanwhile; that's fine.
                    let _ = tx.send(msg);
                }
            }
            GuestMessage::ShuttingDown => {}
            // While booting, `run` takes it and ends the VM; later it is news.
            GuestMessage::Failed { message } => {
                tracing::warn!(vm = %self.name, message, "guest reports a failure")
            }
        }
    }

    async fn record_exit(&self, exit: Exit, crash_reason: Option<String>) {
        let store = &self.inner.store;
        let state = match store.get_vm(&self.name).await {
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
        let run_dir = self.inner.cfg.run_dir(&self.name);
        let (t, detail) = match state {
            VmState::Stopping => (Transition::Exited, format!("VMM {exit}")),
            VmState::Starting | VmState::Running | VmState::Paused => {
                let reason = crash_reason.unwrap_or_else(|| {
                    let mut r = format!("VMM {exit}");
                    if let Some(l) = self.vmm.exit_reason(&run_dir) {
                        r.push_str(&format!(": {l}"));
                    }
                    r
                });
                (Transition::Crash, reason)
            }
            VmState::Creating | VmState::Stopped | VmState::Crashed | VmState::Standby => return,
        };
        match store
            .transition(&self.name, t, Some(detail.clone()), clear)
            .await
        {
            Ok(_) if t == Transition::Crash => {
                tracing::warn!(vm = %self.name, detail, "VM crashed")
            }
            Ok(_) => tracing::info!(vm = %self.name, "VM stopped"),
            Err(e) => tracing::warn!(vm = %self.name, error = %e, "cannot record VMM exit"),
        }
        hype_vmm::remove_sockets(&run_dir);
    }
}

/// The last non-empty line of a file in the run directory, trimmed.
pub(crate) fn last_line(run_dir: &Path, file: &str) -> Option<String> {
    let text = std::fs::read(run_dir.join(file)).ok()?;
    let text = String::from_utf8_lossy(&text);
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| l.chars().take(300).collect())
}
