//! The agent's side of the hyped channel, carrying `hype-agent-proto` lines:
//! a virtio-serial port named `hype.agent` (QEMU) or, when the machine has a
//! virtio vsock device instead, a vsock listener (cloud-hypervisor, which
//! has no virtio-serial; see `vsock.rs`).
//!
//! virtio-serial has two quirks that shape this file. A write blocks while no
//! host is connected, so writes go through their own thread and never hold
//! up the reader (or the power-off). A read returns 0 (EOF) at once while no
//! host is connected, and poll() reports the port readable then too, so the
//! reader instead sleeps until the port's SIGIO says the host side changed.
//! The port stays open across host reconnects; it is only reopened if it
//! fails outright (hot-unplug).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use hype_agent_proto::{decode, encode, GuestMessage, HostMessage};
use nix::libc;

use crate::error::Error;
use crate::streams::Streams;

mod lines;
mod port;

use crate::{log, netinfo, power, probe, signals, vsock};
use lines::{LineReader, ReadEvent, MAX_LINE};
use port::{wait_for_transport, Transport};

/// Safety net in case a SIGIO is ever missed while the host is away.
const RECONNECT_POLL: Duration = Duration::from_secs(1);
/// How long a `ShuttingDown` may take to reach the host before powering off.
const GOODBYE_WAIT: Duration = Duration::from_secs(2);

/// Unsolicited lines (notices, downloads) kept while no host session
/// exists; the oldest go first.
const MAX_PENDING: usize = 64;

/// Where lines raised outside a session (the browser supervisor's notices,
/// finished downloads) go: the newest session's writer, or a short queue
/// until a host connects.
struct Unsolicited {
    writer: Option<mpsc::Sender<Outgoing>>,
    pending: VecDeque<Vec<u8>>,
}

static UNSOLICITED: Mutex<Unsolicited> = Mutex::new(Unsolicited {
    writer: None,
    pending: VecDeque::new(),
});

/// Logs `message` and sends it to the host as a `notice`, now if a session
/// is up, else when the next one starts.
pub fn notice(message: String) {
    log!("{message}");
    unsolicited(&GuestMessage::Notice { message });
}

/// Sends a message nobody asked for (a notice, a finished download) to the
/// host, now if a session is up, else when the next one starts.
pub fn unsolicited(msg: &GuestMessage) {
    let line = encode(msg);
    let mut queue = UNSOLICITED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(writer) = &queue.writer {
        match writer.send(Outgoing {
            line,
            sent: None,
            epoch: None,
        }) {
            Ok(()) => return,
            // That session's writer is gone; keep the line for the next.
            Err(mpsc::SendError(out)) => {
                queue.writer = None;
                queue.pending.push_back(out.line);
            }
        }
    } else {
        queue.pending.push_back(line);
    }
    while queue.pending.len() > MAX_PENDING {
        queue.pending.pop_front();
    }
}

/// Serves the channel forever; returns only by powering off.
pub fn serve(ready: GuestMessage) -> ! {
    let ready_line = encode(&ready);
    loop {
        match wait_for_transport() {
            Transport::Port(path) => match Session::open(&path) {
                Ok(mut session) => {
                    session.send(ready_line.clone());
                    session.attach_notices();
                    if let Err(e) = session.run(&ready_line) {
                        log!("agent port {}: {e}; reopening", path.display());
                    }
                }
                Err(e) => log!("{e}"),
            },
            Transport::Vsock => {
                let e = vsock::serve(&ready_line);
                log!("{e}; listening again");
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

struct Outgoing {
    line: Vec<u8>,
    sent: Option<mpsc::SyncSender<()>>,
    /// The host connection a stream's line was meant for; lines of an
    /// earlier one are dropped instead of reaching the next host. None:
    /// for whoever is connected.
    epoch: Option<u64>,
}

/// Makes the [`Sink`]s of a session's streams, and ends a connection's.
#[derive(Debug, Clone)]
pub(crate) struct Sinks {
    writer: mpsc::Sender<Outgoing>,
    epoch: Arc<AtomicU64>,
}

impl Sinks {
    /// A sink for the host connected now.
    pub(crate) fn sink(&self) -> Sink {
        Sink {
            writer: self.writer.clone(),
            epoch: self.epoch.load(Ordering::Acquire),
        }
    }

    /// The host went away: what its streams still queued is dropped.
    fn next_connection(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }
}

/// Where one stream's lines go: the session's writer, so lines never
/// interleave, and only to the connection that started the stream.
#[derive(Debug, Clone)]
pub(crate) struct Sink {
    writer: mpsc::Sender<Outgoing>,
    epoch: u64,
}

impl Sink {
    pub(crate) fn send(&self, msg: &GuestMessage) {
        self.send_line(encode(msg));
    }

    /// Sends a line already encoded (`hype_agent_proto::encode`).
    pub(crate) fn send_line(&self, line: Vec<u8>) {
        // Fails only once the session is gone, when nobody listens anyway.
        let _ = self.writer.send(Outgoing {
            line,
            sent: None,
            epoch: Some(self.epoch),
        });
    }
}

/// One host connection: lines in, answers out through a writer thread.
pub(crate) struct Session {
    reader: LineReader<File>,
    writer: mpsc::Sender<Outgoing>,
    sinks: Sinks,
    streams: Streams,
}

impl Session {
    /// Starts a session on a connected socket (or any byte stream).
    pub(crate) fn new(file: File) -> io::Result<Self> {
        Self::assemble(LineReader::new(file.try_clone()?), file)
    }

    fn assemble(reader: LineReader<File>, write_half: File) -> io::Result<Self> {
        let epoch = Arc::new(AtomicU64::new(0));
        let writer = spawn_writer(write_half, epoch.clone())?;
        let sinks = Sinks {
            writer: writer.clone(),
            epoch,
        };
        Ok(Self {
            reader,
            writer,
            streams: Streams::new(sinks.clone()),
            sinks,
        })
    }

    fn open(path: &Path) -> Result<Self, Error> {
        let io_err = |source| Error::Io {
            what: "open agent port",
            path: path.to_path_buf(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(path)
            .map_err(io_err)?;
        if let Err(e) = signals::enable_sigio(file.as_fd()) {
            log!("no SIGIO on the agent port ({e}); polling for reconnects instead");
        }
        let write_half = file.try_clone().map_err(io_err)?;
        let session = Self::assemble(LineReader::new(file), write_half).map_err(io_err)?;
        log!("agent port {} open", path.display());
        Ok(session)
    }

    /// Makes this session the one notices go to, and flushes the queue.
    /// Called after `ready`, which must be a connection's first line.
    pub(crate) fn attach_notices(&self) {
        let mut queue = UNSOLICITED.lock().unwrap_or_else(|p| p.into_inner());
        for line in queue.pending.drain(..) {
            self.send(line);
        }
        queue.writer = Some(self.writer.clone());
    }

    pub(crate) fn send(&self, line: Vec<u8>) {
        // The writer only goes away with the session, so this cannot fail
        // while the session is alive.
        let _ = self.writer.send(Outgoing {
            line,
            sent: None,
            epoch: None,
        });
    }

    /// The host went away (or a new connection replaced it): its streams
    /// end, and nothing of theirs reaches the next host.
    fn end_connection(&self) {
        self.sinks.next_connection();
        self.streams.cancel_all();
    }

    fn run(&mut self, ready_line: &[u8]) -> io::Result<()> {
        loop {
            match self.reader.next()? {
                ReadEvent::Line(line) => self.handle(&line, ready_line),
                ReadEvent::Eof => {
                    // EOF on the port: no host is connected (any more).
                    self.end_connection();
                    signals::wait_sigio(RECONNECT_POLL);
                }
                ReadEvent::Overlong => log!("dropped a line longer than {MAX_LINE} bytes"),
            }
        }
    }

    /// Serves a socket connection until the host closes it; unlike the
    /// port, a socket's EOF means the connection is over.
    pub(crate) fn run_until_eof(&mut self, ready_line: &[u8]) -> io::Result<()> {
        loop {
            match self.reader.next()? {
                ReadEvent::Line(line) => self.handle(&line, ready_line),
                ReadEvent::Eof => {
                    self.end_connection();
                    return Ok(());
                }
                ReadEvent::Overlong => log!("dropped a line longer than {MAX_LINE} bytes"),
            }
        }
    }

    fn handle(&self, line: &[u8], ready_line: &[u8]) {
        let msg = match decode::<HostMessage>(line) {
            Ok(msg) => msg,
            Err(e) => {
                let text = String::from_utf8_lossy(line);
                log!("bad message {:?}: {e}", text.trim_end());
                self.send(encode(&answer_undecodable(line, &e)));
                return;
            }
        };
        match respond(msg) {
            Reply::Ready => {
                // A host sends `hello` right after it connects, so whatever
                // streams exist belong to a connection that is gone, even if
                // this end never saw it go: on the port, a host that
                // reconnects at once may leave no EOF to read.
                self.end_connection();
                self.send(ready_line.to_vec());
            }
            Reply::Stream(msg) => self.streams.handle(msg),
            Reply::Message(reply) => self.send(encode(&reply)),
            Reply::NetInfo { id } => {
                let (answer, errors) = netinfo::report(id);
                for e in errors {
                    log!("net_info: {e}");
                    let notice = GuestMessage::Notice {
                        message: format!("agent: net_info: {e}"),
                    };
                    self.send(encode(&notice));
                }
                self.send(encode(&answer));
            }
            Reply::Probe {
                id,
                target,
                timeout_ms,
            } => self.spawn_probe(id, target, timeout_ms),
            Reply::Reconfigure { id, identity } => {
                let answer = crate::identity::apply(id, *identity);
                if let GuestMessage::Reconfigured { error: Some(e), .. } = &answer {
                    log!("reconfigure: {e}");
                }
                self.send(encode(&answer));
            }
            Reply::PowerOff => {
                log!("shutdown requested");
                let (sent_tx, sent_rx) = mpsc::sync_channel(1);
                let _ = self.writer.send(Outgoing {
                    line: encode(&GuestMessage::ShuttingDown),
                    sent: Some(sent_tx),
                    epoch: None,
                });
                // If the host vanished right after asking, the write blocks
                // forever; power off anyway.
                let _ = sent_rx.recv_timeout(GOODBYE_WAIT);
                power::shutdown();
            }
        }
    }

    /// A probe waits up to its timeout for replies; on its own thread it
    /// cannot hold up pings or a shutdown. Its answer joins the others in
    /// the writer's queue, so lines never interleave.
    fn spawn_probe(&self, id: u64, target: String, timeout_ms: u32) {
        let writer = self.writer.clone();
        let for_thread = target.clone();
        let spawned = std::thread::Builder::new()
            .name("agent-probe".into())
            .spawn(move || {
                let answer = probe::run(id, for_thread, timeout_ms);
                let _ = writer.send(Outgoing {
                    line: encode(&answer),
                    sent: None,
                    epoch: None,
                });
            });
        if let Err(source) = spawned {
            let e = Error::Thread {
                what: "a probe",
                source,
            };
            log!("{e}");
            self.send(encode(&probe::failed(id, target, &e)));
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Reply {
    Ready,
    /// Served by the session's streams (version 2).
    Stream(HostMessage),
    Message(GuestMessage),
    PowerOff,
    /// Answered from the kernel's state, on the reader thread (it is quick).
    NetInfo {
        id: u64,
    },
    /// Answered later, from a thread of its own.
    Probe {
        id: u64,
        target: String,
        timeout_ms: u32,
    },
    /// A fork's new identity, applied on the reader thread: nothing else
    /// should run in the guest on the old one meanwhile.
    Reconfigure {
        id: u64,
        identity: Box<crate::identity::Identity>,
    },
}

fn respond(msg: HostMessage) -> Reply {
    match msg {
        // A host that (re)connected learns the state it may have missed.
        HostMessage::Hello => Reply::Ready,
        HostMessage::Ping { id } => Reply::Message(GuestMessage::Pong { id }),
        HostMessage::Shutdown => Reply::PowerOff,
        HostMessage::NetInfo { id } => Reply::NetInfo { id },
        HostMessage::Probe {
            id,
            target,
            timeout_ms,
        } => Reply::Probe {
            id,
            target,
            timeout_ms,
        },
        HostMessage::Reconfigure {
            id,
            hostname,
            address,
            gateway,
            mac,
            entropy,
            unix_time_ms,
        } => Reply::Reconfigure {
            id,
            identity: Box::new(crate::identity::Identity {
                hostname,
                address,
                gateway,
                mac,
                entropy,
                unix_time_ms,
            }),
        },
        msg @ (HostMessage::Exec(_)
        | HostMessage::ReadFile { .. }
        | HostMessage::WriteFile { .. }
        | HostMessage::Stat { .. }
        | HostMessage::List { .. }
        | HostMessage::Remove { .. }
        | HostMessage::Data { .. }
        | HostMessage::Eof { .. }
        | HostMessage::Credit { .. }
        | HostMessage::Resize { .. }
        | HostMessage::Signal { .. }
        | HostMessage::Cancel { .. }) => Reply::Stream(msg),
    }
}

/// Every `type` this agent knows (see `HostMessage::kind`).
const KNOWN_TYPES: &[&str] = &[
    "hello",
    "ping",
    "shutdown",
    "net_info",
    "probe",
    "reconfigure",
    "exec",
    "data",
    "eof",
    "credit",
    "resize",
    "signal",
    "cancel",
    "read_file",
    "write_file",
    "stat",
    "list",
    "remove",
];

/// The answer to a line that is no `HostMessage`. One that carries an id
/// gets an answer to that id, so the host is not left waiting: a type this
/// agent does not know (a newer host) is `unsupported`, a known one with
/// bad fields an `error`. Without an id, a `notice`.
fn answer_undecodable(line: &[u8], e: &serde_json::Error) -> GuestMessage {
    let value: Option<serde_json::Value> = decode(line).ok();
    let kind = value.as_ref().and_then(|v| v.get("type")?.as_str());
    let id = value.as_ref().and_then(|v| v.get("id")?.as_u64());
    match (kind, id) {
        (Some(kind), Some(id)) if !KNOWN_TYPES.contains(&kind) => GuestMessage::Unsupported {
            id,
            what: kind.to_string(),
        },
        (Some(_), Some(id)) => GuestMessage::Error {
            id,
            code: hype_agent_proto::StreamErrorCode::Invalid,
            message: format!("bad message: {e}"),
        },
        _ => GuestMessage::Notice {
            message: format!("agent: bad message: {e}"),
        },
    }
}

fn spawn_writer(mut file: File, epoch: Arc<AtomicU64>) -> io::Result<mpsc::Sender<Outgoing>> {
    let (tx, rx) = mpsc::channel::<Outgoing>();
    std::thread::Builder::new()
        .name("agent-writer".into())
        .spawn(move || {
            for msg in rx {
                if msg
                    .epoch
                    .is_some_and(|e| e != epoch.load(Ordering::Acquire))
                {
                    continue;
                }
                if let Err(e) = file.write_all(&msg.line) {
                    log!("write to agent port: {e}");
                }
                if let Some(sent) = msg.sent {
                    let _ = sent.send(());
                }
            }
        })?;
    Ok(tx)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn responses() {
        assert_eq!(respond(HostMessage::Hello), Reply::Ready);
        assert_eq!(
            respond(HostMessage::Ping { id: 9 }),
            Reply::Message(GuestMessage::Pong { id: 9 })
        );
        assert_eq!(respond(HostMessage::Shutdown), Reply::PowerOff);
        assert_eq!(
            respond(HostMessage::NetInfo { id: 3 }),
            Reply::NetInfo { id: 3 }
        );
        assert_eq!(
            respond(HostMessage::Probe {
                id: 4,
                target: "10.0.0.1".into(),
                timeout_ms: 500
            }),
            Reply::Probe {
                id: 4,
                target: "10.0.0.1".into(),
                timeout_ms: 500
            }
        );
    }

    #[test]
    fn a_socket_session_answers_and_ends_at_eof() {
        let (host, guest) = std::os::unix::net::UnixStream::pair().unwrap();
        let guest = File::from(std::os::fd::OwnedFd::from(guest));
        let mut session = Session::new(guest).unwrap();
        let mut host_w = host.try_clone().unwrap();
        host_w
            .write_all(b"{\"type\":\"ping\",\"id\":5}\n{\"type\":\"hello\"}\n")
            .unwrap();
        host_w.shutdown(std::net::Shutdown::Write).unwrap();
        session.run_until_eof(b"READY\n").unwrap();
        drop(session);
        let mut answers = String::new();
        let mut host_r = host;
        host_r.read_to_string(&mut answers).unwrap();
        assert_eq!(answers, "{\"type\":\"pong\",\"id\":5}\nREADY\n");
    }
}
