//! The live streams of one host session (protocol version 2): execs and
//! file operations, keyed by the id the host gave them. The session's
//! reader thread hands every stream message here and never waits on a
//! stream: input is queued for the stream's own thread, credit and
//! control (resize, signal, cancel) take effect at once, and each stream
//! does its work on threads of its own. When the session ends, every
//! stream of it is cancelled: an exec's process group is killed, a partial
//! upload removed.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use hype_agent_proto::{GuestMessage, HostMessage, StreamErrorCode};

use crate::channel::{Sink, Sinks};
use crate::exec::Group;
use crate::flow::{self, Credit, Input, InputRx, InputTx};
use crate::users::{Accounts, UserError};
use crate::{exec, files, log};

/// Streams one session may have at once; more get `busy`. Each exec holds
/// a few threads and up to a window of buffered bytes each way.
pub const MAX_STREAMS: usize = 64;

/// Why a stream failed, with the guest's own reason and the path.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("{}: {}", .path.display(), chain(.source))]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: {why}", .path.display())]
    Path {
        path: PathBuf,
        code: StreamErrorCode,
        why: &'static str,
    },
    #[error(transparent)]
    User(#[from] UserError),
    #[error("{program}: no such program in PATH ({search})")]
    NoProgram { program: String, search: String },
    #[error("{0}")]
    Invalid(String),
    #[error("too many streams at once in the guest (at most {MAX_STREAMS})")]
    Busy,
}

/// An error with the causes it wraps (the tar crate's say which entry
/// failed, and their cause why).
fn chain(e: &io::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text
}

impl StreamError {
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    pub fn code(&self) -> StreamErrorCode {
        match self {
            Self::Io { source, .. } => match source.raw_os_error() {
                Some(errno) => StreamErrorCode::from_errno(errno),
                // Errors the tar crate wraps keep their kind, not their errno.
                None => match source.kind() {
                    io::ErrorKind::NotFound => StreamErrorCode::NotFound,
                    io::ErrorKind::PermissionDenied => StreamErrorCode::PermissionDenied,
                    io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
                        StreamErrorCode::NoSpace
                    }
                    io::ErrorKind::IsADirectory => StreamErrorCode::IsDirectory,
                    io::ErrorKind::NotADirectory => StreamErrorCode::NotDirectory,
                    io::ErrorKind::DirectoryNotEmpty => StreamErrorCode::NotEmpty,
                    io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
                        StreamErrorCode::Invalid
                    }
                    _ => StreamErrorCode::Io,
                },
            },
            Self::Path { code, .. } => *code,
            Self::User(UserError::Read { .. }) => StreamErrorCode::Io,
            Self::User(_) | Self::NoProgram { .. } => StreamErrorCode::NotFound,
            Self::Invalid(_) => StreamErrorCode::Invalid,
            Self::Busy => StreamErrorCode::Busy,
        }
    }
}

/// What a stream's threads share with the registry.
#[derive(Debug)]
pub struct Stream {
    pub id: u64,
    serial: u64,
    pub sink: Sink,
    /// Guest-to-host credit.
    pub credit: Arc<Credit>,
    cancelled: AtomicBool,
    registry: Weak<Registry>,
}

impl Stream {
    /// Sends `msg` unless the stream was cancelled (then the host wants
    /// nothing more of it).
    pub fn send(&self, msg: &GuestMessage) {
        if !self.is_cancelled() {
            self.sink.send(msg);
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// Sends the stream's `error`, its last message.
    pub fn fail(&self, e: &StreamError) {
        log!("stream {}: {e}", self.id);
        self.send(&GuestMessage::Error {
            id: self.id,
            code: e.code(),
            message: e.to_string(),
        });
        self.finish();
    }

    /// The stream is over: its id may be used again.
    pub fn finish(&self) {
        if let Some(registry) = self.registry.upgrade() {
            let mut map = registry.lock();
            if map
                .get(&self.id)
                .is_some_and(|e| e.stream.serial == self.serial)
            {
                map.remove(&self.id);
            }
        }
    }
}

/// How the host can act on a running stream beyond its data.
#[derive(Debug, Default)]
pub enum Control {
    #[default]
    None,
    Exec(Arc<Group>),
}

#[derive(Debug)]
struct Entry {
    stream: Arc<Stream>,
    input: Option<InputTx>,
    control: Control,
}

impl Entry {
    fn cancel(self) {
        self.stream.cancelled.store(true, Ordering::Release);
        self.stream.credit.close();
        if let Control::Exec(group) = &self.control {
            group.kill_all();
        }
        // Dropping `input` tells the stream's consumer: an upload removes
        // its temporary file.
    }
}

#[derive(Debug)]
struct Registry {
    map: Mutex<HashMap<u64, Entry>>,
    next_serial: AtomicU64,
    sinks: Sinks,
    accounts: Accounts,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One session's streams.
#[derive(Debug)]
pub struct Streams {
    registry: Arc<Registry>,
}

impl Streams {
    pub fn new(sinks: Sinks) -> Self {
        Self::with_accounts(sinks, Accounts::default())
    }

    pub fn with_accounts(sinks: Sinks, accounts: Accounts) -> Self {
        Self {
            registry: Arc::new(Registry {
                map: Mutex::new(HashMap::new()),
                next_serial: AtomicU64::new(0),
                sinks,
                accounts,
            }),
        }
    }

    /// Serves one stream message from the host.
    pub fn handle(&self, msg: HostMessage) {
        let accounts = self.registry.accounts.clone();
        match msg {
            HostMessage::Exec(req) => {
                let with_input = req.stdin || req.tty.is_some();
                self.start(req.id, with_input, move |stream, input| {
                    exec::start(*req, stream, input, &accounts).map(Control::Exec)
                });
            }
            HostMessage::ReadFile { id, path } => self.start(id, false, move |stream, _| {
                files::spawn(stream, "agent-read", move |s| files::read(s, &path))
            }),
            HostMessage::WriteFile {
                id,
                path,
                mode,
                owner,
                archive,
            } => self.start(id, true, move |stream, input| {
                let input = input.ok_or_else(|| StreamError::Invalid("no input".into()))?;
                let req = files::WriteRequest {
                    path,
                    mode,
                    owner,
                    archive,
                    accounts,
                };
                files::spawn(stream, "agent-write", move |s| files::write(s, req, input))
            }),
            HostMessage::Stat { id, path } => self.start(id, false, move |stream, _| {
                files::spawn(stream, "agent-stat", move |s| files::stat(s, &path))
            }),
            HostMessage::List { id, path } => self.start(id, false, move |stream, _| {
                files::spawn(stream, "agent-list", move |s| files::list(s, &path))
            }),
            HostMessage::Remove {
                id,
                path,
                recursive,
            } => self.start(id, false, move |stream, _| {
                files::spawn(stream, "agent-remove", move |s| {
                    files::remove(s, &path, recursive)
                })
            }),
            HostMessage::Data { id, data } => self.input(id, Input::Data(data.0)),
            HostMessage::Eof { id } => self.input(id, Input::Eof),
            HostMessage::Credit { id, bytes } => {
                if let Some(e) = self.registry.lock().get(&id) {
                    e.stream.credit.add(bytes);
                }
            }
            HostMessage::Resize { id, rows, cols } => {
                if let Some(group) = self.group(id) {
                    if let Err(e) = group.resize(rows, cols) {
                        self.notice(format!("agent: stream {id}: resize: {e}"));
                    }
                }
            }
            HostMessage::Signal { id, signal } => {
                if let Some(group) = self.group(id) {
                    if let Err(e) = group.signal(&signal) {
                        self.notice(format!("agent: stream {id}: {e}"));
                    }
                }
            }
            HostMessage::Cancel { id } => {
                let entry = self.registry.lock().remove(&id);
                if let Some(entry) = entry {
                    log!("stream {id}: cancelled by the host");
                    entry.cancel();
                }
            }
            other => log!("streams: not a stream message: {}", other.kind()),
        }
    }

    /// Cancels every stream: the host that asked for them is gone.
    pub fn cancel_all(&self) {
        let entries: Vec<Entry> = self.registry.lock().drain().map(|(_, e)| e).collect();
        if !entries.is_empty() {
            log!("session ended: cancelling {} stream(s)", entries.len());
        }
        for entry in entries {
            entry.cancel();
        }
    }

    fn notice(&self, message: String) {
        log!("{message}");
        self.registry
            .sinks
            .sink()
            .send(&GuestMessage::Notice { message });
    }

    fn group(&self, id: u64) -> Option<Arc<Group>> {
        match &self.registry.lock().get(&id)?.control {
            Control::Exec(group) => Some(group.clone()),
            Control::None => None,
        }
    }

    fn input(&self, id: u64, input: Input) {
        let mut map = self.registry.lock();
        let Some(entry) = map.get(&id) else {
            // Input racing the stream's end (or a cancel): nothing wants it.
            return;
        };
        let Some(tx) = &entry.input else {
            log!("stream {id}: input for a stream that takes none; dropped");
            return;
        };
        if let Err(overrun) = tx.push(input) {
            let entry = map.remove(&id);
            drop(map);
            if let Some(entry) = entry {
                let stream = entry.stream.clone();
                stream.send(&GuestMessage::Error {
                    id,
                    code: StreamErrorCode::Invalid,
                    message: overrun.to_string(),
                });
                entry.cancel();
            }
        }
    }

    /// Registers stream `id` and runs `run` (quick: it spawns what does the
    /// work); an error it returns is the stream's answer.
    fn start(
        &self,
        id: u64,
        with_input: bool,
        run: impl FnOnce(Arc<Stream>, Option<InputRx>) -> Result<Control, StreamError>,
    ) {
        let sink = self.registry.sinks.sink();
        let refuse = |e: StreamError| {
            log!("stream {id}: {e}");
            sink.send(&GuestMessage::Error {
                id,
                code: e.code(),
                message: e.to_string(),
            });
        };
        let (stream, input) = {
            let mut map = self.registry.lock();
            if map.contains_key(&id) {
                return refuse(StreamError::Invalid(format!(
                    "stream id {id} is already in use"
                )));
            }
            if map.len() >= MAX_STREAMS {
                return refuse(StreamError::Busy);
            }
            let stream = Arc::new(Stream {
                id,
                serial: self.registry.next_serial.fetch_add(1, Ordering::Relaxed),
                sink: sink.clone(),
                credit: Arc::new(Credit::default()),
                cancelled: AtomicBool::new(false),
                registry: Arc::downgrade(&self.registry),
            });
            let (tx, rx) = if with_input {
                let (tx, rx) = flow::input(id, sink.clone());
                (Some(tx), Some(rx))
            } else {
                (None, None)
            };
            map.insert(
                id,
                Entry {
                    stream: stream.clone(),
                    input: tx,
                    control: Control::None,
                },
            );
            (stream, rx)
        };
        match run(stream.clone(), input) {
            Ok(control) => {
                let mut map = self.registry.lock();
                match map.get_mut(&id) {
                    Some(entry) if entry.stream.serial == stream.serial => entry.control = control,
                    // Over already; a cancel that came first found no group
                    // to kill, so it is killed here.
                    _ => {
                        if let Control::Exec(group) = control {
                            if stream.is_cancelled() {
                                group.kill_all();
                            }
                        }
                    }
                }
            }
            Err(e) => stream.fail(&e),
        }
    }
}

impl Drop for Streams {
    fn drop(&mut self) {
        self.cancel_all();
    }
}
