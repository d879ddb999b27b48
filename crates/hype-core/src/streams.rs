//! The host's side of agent streams (exec, file transfers): a table of the
//! live streams of one VM, which the agent task routes the guest's stream
//! messages into, and [`GuestStream`], one stream as its user holds it.
//!
//! Flow control is the agent protocol's credit (see hype-agent-proto's
//! `stream` module): the host sends a stream's input only within the credit
//! the guest granted, and grants credit back as its consumer takes output,
//! so a slow HTTP client slows the guest's process instead of filling
//! hyped's memory. A stream dropped before its end is cancelled in the
//! guest; a lost agent connection ends every stream at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hype_agent_proto::{Chunk, GuestMessage, HostMessage, CHUNK, WINDOW};
use tokio::sync::{mpsc, Semaphore};

static STREAM_IDS: AtomicU64 = AtomicU64::new(1 << 40);

struct Entry {
    tx: mpsc::UnboundedSender<GuestMessage>,
    /// Bytes the host may still send on this stream.
    credit: Arc<Semaphore>,
}

/// What the agent task and the rest of the core share about one VM's agent
/// link: its live streams and the protocol version its `ready` named.
#[derive(Clone, Default)]
pub(crate) struct AgentLink {
    streams: Arc<Mutex<HashMap<u64, Entry>>>,
    protocol: Arc<AtomicU32>,
}

impl AgentLink {
    /// The protocol version of the guest's agent (0 until it said `ready`).
    pub fn protocol(&self) -> u32 {
        self.protocol.load(Ordering::Relaxed)
    }

    pub fn set_protocol(&self, version: u32) {
        self.protocol.store(version, Ordering::Relaxed);
    }

    /// Delivers `msg` to its stream; gives it back if it belongs to none.
    pub fn route(&self, msg: GuestMessage) -> Option<GuestMessage> {
        let Some(id) = msg.id() else {
            return Some(msg);
        };
        let streams = self.streams.lock().expect("streams lock");
        let Some(entry) = streams.get(&id) else {
            return Some(msg);
        };
        match msg {
            GuestMessage::Credit { bytes, .. } => {
                // A guest cannot grant more than a window at a time; more
                // would be a confused (or hostile) agent.
                let bytes = usize::try_from(bytes.min(WINDOW)).unwrap_or(0);
                entry.credit.add_permits(bytes);
            }
            msg => {
                let _ = entry.tx.send(msg);
            }
        }
        None
    }

    /// The connection to the agent dropped: the guest has cancelled every
    /// stream of it, so each ends here too (its receiver sees the end).
    pub fn end_all(&self) {
        let gone: Vec<Entry> = self
            .streams
            .lock()
            .expect("streams lock")
            .drain()
            .map(|(_, e)| e)
            .collect();
        for e in gone {
            e.credit.close();
        }
    }

    fn remove(&self, id: u64) {
        self.streams.lock().expect("streams lock").remove(&id);
    }
}

/// Why a stream could not go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamGone {
    /// The agent connection or the VMM went away.
    Lost,
}

/// Cancels the stream in the guest when the last half is dropped before
/// its end, and takes it out of the table.
struct Guard {
    id: u64,
    link: AgentLink,
    agent: mpsc::Sender<HostMessage>,
    finished: AtomicBool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.link.remove(self.id);
        if !self.finished.load(Ordering::SeqCst) {
            let _ = self.agent.try_send(HostMessage::Cancel { id: self.id });
        }
    }
}

/// One stream: what goes to the guest ([`StreamInput`]) and what comes
/// back ([`StreamOutput`]); split them to use both at once.
pub(crate) struct GuestStream {
    pub input: StreamInput,
    pub output: StreamOutput,
}

pub(crate) struct StreamInput {
    guard: Arc<Guard>,
    credit: Arc<Semaphore>,
}

pub(crate) struct StreamOutput {
    guard: Arc<Guard>,
    rx: mpsc::UnboundedReceiver<GuestMessage>,
    /// Output taken since credit was last granted back.
    unacked: u64,
}

impl GuestStream {
    /// Registers a stream and sends its opening request `make(id)`.
    pub async fn open(
        link: &AgentLink,
        agent: &mpsc::Sender<HostMessage>,
        make: impl FnOnce(u64) -> HostMessage,
    ) -> Result<Self, StreamGone> {
        let id = STREAM_IDS.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        let credit = Arc::new(Semaphore::new(WINDOW as usize));
        link.streams.lock().expect("streams lock").insert(
            id,
            Entry {
                tx,
                credit: credit.clone(),
            },
        );
        let guard = Arc::new(Guard {
            id,
            link: link.clone(),
            agent: agent.clone(),
            finished: AtomicBool::new(false),
        });
        agent.send(make(id)).await.map_err(|_| StreamGone::Lost)?;
        Ok(Self {
            input: StreamInput {
                guard: guard.clone(),
                credit,
            },
            output: StreamOutput {
                guard,
                rx,
                unacked: 0,
            },
        })
    }
}

impl StreamInput {
    pub fn id(&self) -> u64 {
        self.guard.id
    }

    /// Sends `bytes` as the stream's input, in chunks, each once the guest
    /// has granted the credit for it.
    pub async fn write(&self, bytes: &[u8]) -> Result<(), StreamGone> {
        for chunk in bytes.chunks(CHUNK) {
            let permits = self
                .credit
                .acquire_many(chunk.len() as u32)
                .await
                .map_err(|_| StreamGone::Lost)?;
            permits.forget();
            self.send(HostMessage::Data {
                id: self.guard.id,
                data: Chunk(chunk.to_vec()),
            })
            .await?;
        }
        Ok(())
    }

    /// Sends a control message of this stream (eof, resize, signal).
    pub async fn send(&self, msg: HostMessage) -> Result<(), StreamGone> {
        self.guard
            .agent
            .send(msg)
            .await
            .map_err(|_| StreamGone::Lost)
    }

    pub async fn eof(&self) -> Result<(), StreamGone> {
        self.send(HostMessage::Eof { id: self.guard.id }).await
    }
}

impl StreamOutput {
    /// The guest's next message on this stream; `None` once the stream is
    /// lost. Taking a `data` grants its bytes back as credit.
    pub async fn recv(&mut self) -> Option<GuestMessage> {
        let msg = self.rx.recv().await?;
        if let GuestMessage::Data { data, .. } = &msg {
            self.unacked += data.0.len() as u64;
            if self.unacked >= WINDOW / 2 {
                let bytes = std::mem::take(&mut self.unacked);
                let _ = self
                    .guard
                    .agent
                    .send(HostMessage::Credit {
                        id: self.guard.id,
                        bytes,
                    })
                    .await;
            }
        }
        Some(msg)
    }

    /// The stream reached its end in the guest: dropping it now cancels
    /// nothing.
    pub fn finished(&self) {
        self.guard.finished.store(true, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn output_is_routed_credit_granted_and_a_drop_cancels() {
        let link = AgentLink::default();
        let (agent, mut to_guest) = mpsc::channel(16);
        let mut s = GuestStream::open(&link, &agent, |id| HostMessage::ReadFile {
            id,
            path: "/x".into(),
        })
        .await
        .unwrap();
        let id = s.input.id();
        assert!(matches!(
            to_guest.recv().await,
            Some(HostMessage::ReadFile { .. })
        ));
        // Not a stream's: given back.
        assert!(link.route(GuestMessage::Pong { id: 1 }).is_some());
        for _ in 0..(WINDOW as usize / CHUNK / 2) {
            let data = GuestMessage::Data {
                id,
                fd: 1,
                data: Chunk(vec![7; CHUNK]),
            };
            assert!(link.route(data).is_none());
            assert!(matches!(
                s.output.recv().await,
                Some(GuestMessage::Data { .. })
            ));
        }
        // Half a window taken: granted back.
        match to_guest.recv().await {
            Some(HostMessage::Credit { id: i, bytes }) => assert_eq!((i, bytes), (id, WINDOW / 2)),
            other => panic!("{other:?}"),
        }
        drop(s);
        assert!(matches!(to_guest.recv().await, Some(HostMessage::Cancel { id: i }) if i == id));
        assert!(link.route(GuestMessage::Eof { id, fd: 1 }).is_some());
    }

    #[tokio::test]
    async fn input_waits_for_credit_and_ends_when_the_link_drops() {
        let link = AgentLink::default();
        let (agent, mut to_guest) = mpsc::channel(64);
        let s = GuestStream::open(&link, &agent, |id| HostMessage::Eof { id })
            .await
            .unwrap();
        let id = s.input.id();
        to_guest.recv().await;
        // A window's worth goes at once; the next chunk waits for credit.
        s.input.write(&vec![0; WINDOW as usize]).await.unwrap();
        let more = vec![0; CHUNK];
        let blocked =
            tokio::time::timeout(std::time::Duration::from_millis(100), s.input.write(&more)).await;
        assert!(blocked.is_err(), "sent beyond the guest's credit");
        link.route(GuestMessage::Credit {
            id,
            bytes: CHUNK as u64,
        });
        s.input.write(&more).await.unwrap();
        link.end_all();
        assert_eq!(s.input.write(&more).await, Err(StreamGone::Lost));
        let GuestStream { mut output, .. } = s;
        assert!(output.recv().await.is_none());
    }
}
