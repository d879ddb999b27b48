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
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use hype_agent_proto::{decode, encode, GuestMessage, HostMessage, VIRTIO_PORT_NAME};
use nix::libc;

use crate::error::Error;
use crate::streams::Streams;
use crate::{log, netinfo, power, probe, signals, vsock};

/// How long to wait for the port before logging; then it keeps waiting.
const PORT_WAIT: Duration = Duration::from_secs(5);
/// Safety net in case a SIGIO is ever missed while the host is away.
const RECONNECT_POLL: Duration = Duration::from_secs(1);
/// How long a `ShuttingDown` may take to reach the host before powering off.
const GOODBYE_WAIT: Duration = Duration::from_secs(2);
/// Longest accepted line; longer ones are dropped (hyped never sends them).
const MAX_LINE: usize = 64 * 1024;
/// Bytes asked for per read: a whole `data` line (44 KB) in one go.
const READ_CHUNK: usize = 64 * 1024;

/// Unsolicited lines (notices, downloads) kept while no host session
/// exists; the oldest go first.
const MAX_PENDING: usize = 64;

/// virtio device id of a vsock device (virtio spec 5.10).
const VIRTIO_ID_VSOCK: u32 = 19;

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

#[derive(Debug, PartialEq, Eq)]
enum Transport {
    Port(PathBuf),
    Vsock,
}

/// The named port wins when it exists; a vsock device is used only without
/// one. Waiting for the port stays the default because its name arrives a
/// moment after the device, whereas devices are all there once the modules
/// are loaded.
fn wait_for_transport() -> Transport {
    let started = Instant::now();
    let mut warned = false;
    loop {
        if let Some(path) = find_port(Path::new("/sys/class/virtio-ports"), VIRTIO_PORT_NAME) {
            // devtmpfs creates the node asynchronously after the sysfs entry.
            if path.exists() {
                return Transport::Port(path);
            }
        } else if has_virtio_device(Path::new("/sys/bus/virtio/devices"), VIRTIO_ID_VSOCK) {
            return Transport::Vsock;
        }
        if !warned && started.elapsed() > PORT_WAIT {
            warned = true;
            log!(
                "{}; still waiting",
                Error::PortNotFound {
                    name: VIRTIO_PORT_NAME,
                    waited: PORT_WAIT
                }
            );
        }
        let pause = if warned { 500 } else { 10 };
        std::thread::sleep(Duration::from_millis(pause));
    }
}

/// Whether a virtio device with this device id is present; sysfs prints the
/// id as `0x0013`.
fn has_virtio_device(devices_dir: &Path, id: u32) -> bool {
    let Ok(entries) = fs::read_dir(devices_dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        fs::read_to_string(entry.path().join("device")).is_ok_and(|text| {
            let text = text.trim();
            let digits = text.strip_prefix("0x").unwrap_or(text);
            u32::from_str_radix(digits, 16) == Ok(id)
        })
    })
}

/// The /dev node of the port whose `name` attribute is `name`. The name
/// arrives from the host in a control message after the port itself, so a
/// port may briefly exist without one.
fn find_port(class_dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in fs::read_dir(class_dir).ok()?.flatten() {
        let Ok(port_name) = fs::read_to_string(entry.path().join("name")) else {
            continue;
        };
        if port_name.trim_end() == name {
            return Some(Path::new("/dev").join(entry.file_name()));
        }
    }
    None
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
        // Fails only once the session is gone, when nobody listens anyway.
        let _ = self.writer.send(Outgoing {
            line: encode(msg),
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
            Reply::Ready => self.send(ready_line.to_vec()),
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

#[derive(Debug, PartialEq, Eq)]
enum ReadEvent {
    Line(Vec<u8>),
    /// The host is not connected (or just went away).
    Eof,
    /// A line over `MAX_LINE` started; it is skipped up to its newline.
    Overlong,
}

/// Splits a byte stream into lines, with a bound on line length. A partial
/// line pending at EOF belonged to a host that is gone and is dropped.
struct LineReader<R> {
    inner: R,
    /// Bytes read and not yet handed out: `pending[start..]`.
    pending: Vec<u8>,
    start: usize,
    /// How much of `pending[start..]` is known to hold no newline, so a
    /// long line (a 44 KB `data`) is scanned once, not once per read.
    scanned: usize,
    skipping: bool,
    chunk: Vec<u8>,
}

impl<R: Read> LineReader<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            start: 0,
            scanned: 0,
            skipping: false,
            chunk: vec![0; READ_CHUNK],
        }
    }

    fn next(&mut self) -> io::Result<ReadEvent> {
        loop {
            let unscanned = &self.pending[self.start + self.scanned..];
            if let Some(at) = unscanned.iter().position(|&b| b == b'\n') {
                let end = self.start + self.scanned + at + 1;
                let line = self.pending[self.start..end].to_vec();
                self.start = end;
                self.scanned = 0;
                if self.start == self.pending.len() {
                    self.pending.clear();
                    self.start = 0;
                }
                if std::mem::take(&mut self.skipping) {
                    continue;
                }
                return Ok(ReadEvent::Line(line));
            }
            self.scanned = self.pending.len() - self.start;
            if self.scanned > MAX_LINE {
                self.pending.clear();
                self.start = 0;
                self.scanned = 0;
                if !self.skipping {
                    self.skipping = true;
                    return Ok(ReadEvent::Overlong);
                }
            }
            let n = match self.inner.read(&mut self.chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                self.pending.clear();
                self.start = 0;
                self.scanned = 0;
                self.skipping = false;
                return Ok(ReadEvent::Eof);
            }
            // What was handed out goes before the buffer grows again.
            if self.start > 0 {
                self.pending.drain(..self.start);
                self.start = 0;
            }
            self.pending.extend_from_slice(&self.chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out pre-set chunks, one per read(), then EOF.
    struct Chunks(Vec<Vec<u8>>);

    impl Read for Chunks {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Ok(0);
            }
            let chunk = self.0.remove(0);
            buf[..chunk.len()].copy_from_slice(&chunk);
            Ok(chunk.len())
        }
    }

    fn reader(chunks: &[&[u8]]) -> LineReader<Chunks> {
        LineReader::new(Chunks(chunks.iter().map(|c| c.to_vec()).collect()))
    }

    fn line(s: &str) -> ReadEvent {
        ReadEvent::Line(s.as_bytes().to_vec())
    }

    #[test]
    fn lines_split_and_joined_across_reads() {
        let mut r = reader(&[
            b"{\"type\":\"he",
            b"llo\"}\n{\"type\":\"ping\",\"id\":1}\n{\"ty",
        ]);
        assert_eq!(r.next().unwrap(), line("{\"type\":\"hello\"}\n"));
        assert_eq!(r.next().unwrap(), line("{\"type\":\"ping\",\"id\":1}\n"));
        // The half line of a host that went away is dropped at EOF.
        assert_eq!(r.next().unwrap(), ReadEvent::Eof);
        assert!(r.pending.is_empty());
    }

    #[test]
    fn reading_resumes_after_eof() {
        let mut r = reader(&[b"a\n"]);
        assert_eq!(r.next().unwrap(), line("a\n"));
        assert_eq!(r.next().unwrap(), ReadEvent::Eof);
        r.inner.0.push(b"b\n".to_vec());
        assert_eq!(r.next().unwrap(), line("b\n"));
    }

    #[test]
    fn overlong_lines_are_skipped() {
        let big = vec![b'x'; 4000];
        let mut chunks: Vec<&[u8]> = vec![&big; MAX_LINE / 4000 + 2];
        chunks.push(b"tail\nnext\n");
        let mut r = reader(&chunks);
        assert_eq!(r.next().unwrap(), ReadEvent::Overlong);
        assert_eq!(r.next().unwrap(), line("next\n"));
    }

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
    fn port_is_found_by_name() {
        let dir = std::env::temp_dir().join(format!("hype-agent-test-{}", std::process::id()));
        for (port, name) in [
            ("vport0p0", ""),
            ("vport1p1", "other\n"),
            ("vport1p2", "hype.agent\n"),
        ] {
            fs::create_dir_all(dir.join(port)).unwrap();
            fs::write(dir.join(port).join("name"), name).unwrap();
        }
        assert_eq!(
            find_port(&dir, "hype.agent"),
            Some(PathBuf::from("/dev/vport1p2"))
        );
        assert_eq!(find_port(&dir, "missing"), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn vsock_device_is_found_by_id() {
        let dir = std::env::temp_dir().join(format!("hype-agent-vdev-{}", std::process::id()));
        for (dev, id) in [("virtio0", "0x0001\n"), ("virtio1", "0x0003\n")] {
            fs::create_dir_all(dir.join(dev)).unwrap();
            fs::write(dir.join(dev).join("device"), id).unwrap();
        }
        assert!(!has_virtio_device(&dir, VIRTIO_ID_VSOCK));
        fs::create_dir_all(dir.join("virtio2")).unwrap();
        fs::write(dir.join("virtio2").join("device"), "0x0013\n").unwrap();
        assert!(has_virtio_device(&dir, VIRTIO_ID_VSOCK));
        assert!(!has_virtio_device(&dir.join("missing"), VIRTIO_ID_VSOCK));
        fs::remove_dir_all(&dir).unwrap();
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
