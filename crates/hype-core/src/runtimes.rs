//! The VMMs under supervision right now, one [`Runtime`] per VM: what the
//! rest of the core may know of a live VMM (its pid, its agent channel,
//! whether it has exited). Only a supervisor adds or removes entries; an
//! entry names the supervisor generation that owns it, so a supervisor that
//! ends late never removes its successor's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hype_agent_proto::{GuestMessage, HostMessage};
use tokio::sync::{mpsc, oneshot, watch};

/// Requests to the agent waiting for their answer, by id.
pub(crate) type Replies = Arc<Mutex<HashMap<u64, oneshot::Sender<GuestMessage>>>>;

static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

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
    pub replies: Replies,
    /// Its agent's streams and protocol version.
    pub link: crate::streams::AgentLink,
    /// Execs that may still start at once (`--max-execs-per-vm`).
    pub exec_slots: Arc<tokio::sync::Semaphore>,
}

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

    /// Marks the coming exit as expected (the VM is being deleted).
    pub fn expect_exit(&self) {
        self.deleting.store(true, Ordering::SeqCst);
    }
}

/// The supervised VMMs, by VM name.
#[derive(Clone, Default)]
pub(crate) struct Runtimes {
    map: Arc<Mutex<HashMap<String, Runtime>>>,
    generation: Arc<AtomicU64>,
}

impl Runtimes {
    pub fn next_generation(&self) -> u64 {
        self.generation.fetch_add(1, Ordering::Relaxed)
    }

    pub fn insert(&self, name: &str, rt: Runtime) {
        self.map
            .lock()
            .expect("runtimes lock")
            .insert(name.to_owned(), rt);
    }

    pub fn get(&self, name: &str) -> Option<Runtime> {
        self.map.lock().expect("runtimes lock").get(name).cloned()
    }

    /// Removes the entry of supervisor `generation`, under whichever name
    /// it is by now (a newer supervisor's entry for that name stays).
    pub fn forget(&self, generation: u64) {
        let mut map = self.map.lock().expect("runtimes lock");
        map.retain(|_, r| r.generation != generation);
    }

    /// Files `old`'s runtime under `new` (a VM handed out of a warm pool).
    pub fn rename(&self, old: &str, new: &str) {
        let mut map = self.map.lock().expect("runtimes lock");
        if let Some(rt) = map.remove(old) {
            map.insert(new.to_owned(), rt);
        }
    }
}
