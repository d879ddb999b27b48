//! Credit flow control of one stream, both ways (see `hype_agent_proto::
//! stream`). Out (guest to host): `Credit` is what the host granted and has
//! not used; a producer takes from it before each `data` it sends, and
//! waits when none is left, so a slow host slows the producer (a pipe's
//! writer blocks) instead of the channel. In (host to guest): the reader
//! thread only queues what arrives ([`InputTx`]), never writes it, so a
//! slow consumer holds up nothing else; the stream's own thread takes it
//! from the queue ([`InputRx`]) and hands credit back as it consumes.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};

use hype_agent_proto::{encode, Chunk, GuestMessage, CHUNK, WINDOW};

use crate::channel::Sink;

/// What the host may still receive of one stream, and whether the stream
/// still sends at all.
#[derive(Debug)]
pub struct Credit {
    state: Mutex<CreditState>,
    changed: Condvar,
}

#[derive(Debug)]
struct CreditState {
    available: u64,
    closed: bool,
}

impl Default for Credit {
    fn default() -> Self {
        Self {
            state: Mutex::new(CreditState {
                available: WINDOW,
                closed: false,
            }),
            changed: Condvar::new(),
        }
    }
}

impl Credit {
    fn lock(&self) -> std::sync::MutexGuard<'_, CreditState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The host consumed `bytes`.
    pub fn add(&self, bytes: u64) {
        let mut state = self.lock();
        state.available = state.available.saturating_add(bytes);
        self.changed.notify_all();
    }

    /// No more data goes out (cancelled, or the stream gave up on its
    /// producers); waiting producers wake up and stop.
    pub fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Sends all of `bytes` as `data` on `fd`, in chunks of at most
    /// [`CHUNK`] and never beyond the credit; false once the stream is
    /// closed. A chunk is encoded outside the lock (the reader thread adds
    /// credit under it and must not wait for that) and queued under it,
    /// after a last look at `closed`, so nothing goes out after a `close`
    /// returned (an `eof` sent then is last).
    pub fn send(&self, sink: &Sink, id: u64, fd: u8, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() {
            let n = {
                let mut state = self.lock();
                while state.available == 0 && !state.closed {
                    state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
                }
                if state.closed {
                    return false;
                }
                let n = bytes
                    .len()
                    .min(CHUNK)
                    .min(usize::try_from(state.available).unwrap_or(usize::MAX));
                state.available -= n as u64;
                n
            };
            let line = encode(&GuestMessage::Data {
                id,
                fd,
                data: Chunk(bytes[..n].to_vec()),
            });
            let state = self.lock();
            if state.closed {
                return false;
            }
            sink.send_line(line);
            drop(state);
            bytes = &bytes[n..];
        }
        true
    }
}

/// One item of a stream's input.
#[derive(Debug)]
pub enum Input {
    Data(Vec<u8>),
    Eof,
}

/// The host sent more than the credit it had: a broken host.
#[derive(Debug, thiserror::Error)]
#[error("stream {id}: the host sent {outstanding} bytes beyond the credit it was granted")]
pub struct Overrun {
    pub id: u64,
    pub outstanding: u64,
}

/// The reader thread's end of a stream's input queue.
#[derive(Debug)]
pub struct InputTx {
    id: u64,
    tx: mpsc::Sender<Input>,
    /// Bytes received and not yet credited back.
    outstanding: Arc<AtomicU64>,
}

/// Makes a stream's input queue.
pub fn input(id: u64, sink: Sink) -> (InputTx, InputRx) {
    let (tx, rx) = mpsc::channel();
    let outstanding = Arc::new(AtomicU64::new(0));
    (
        InputTx {
            id,
            tx,
            outstanding: outstanding.clone(),
        },
        InputRx {
            id,
            rx,
            sink,
            uncredited: 0,
            outstanding,
        },
    )
}

impl InputTx {
    /// Queues what the host sent; never blocks. Data beyond the window is
    /// refused (the queue is bounded by the credit the guest granted).
    pub fn push(&self, input: Input) -> Result<(), Overrun> {
        if let Input::Data(data) = &input {
            let outstanding = self
                .outstanding
                .fetch_add(data.len() as u64, Ordering::AcqRel)
                + data.len() as u64;
            if outstanding > WINDOW {
                return Err(Overrun {
                    id: self.id,
                    outstanding: outstanding - WINDOW,
                });
            }
        }
        // The consumer may be gone already (its stream ended): nothing to do.
        let _ = self.tx.send(input);
        Ok(())
    }
}

/// The consuming thread's end of a stream's input queue.
#[derive(Debug)]
pub struct InputRx {
    id: u64,
    rx: mpsc::Receiver<Input>,
    sink: Sink,
    uncredited: u64,
    outstanding: Arc<AtomicU64>,
}

impl InputRx {
    /// The next input, or None when the stream was cancelled (the queue's
    /// sender went with the stream).
    pub fn recv(&mut self) -> Option<Input> {
        self.rx.recv().ok()
    }

    /// `bytes` of input were consumed; credit goes back to the host every
    /// half window, so it never stalls while the guest keeps up.
    pub fn consumed(&mut self, bytes: u64) {
        self.uncredited += bytes;
        if self.uncredited >= WINDOW / 2 {
            self.outstanding
                .fetch_sub(self.uncredited, Ordering::AcqRel);
            self.sink.send(&GuestMessage::Credit {
                id: self.id,
                bytes: self.uncredited,
            });
            self.uncredited = 0;
        }
    }
}

/// A stream's input as a byte reader (a tar archive being unpacked).
/// Input ends at `eof`; a cancelled stream reads as an error.
pub struct InputReader {
    rx: InputRx,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    /// Bytes received so far.
    pub total: u64,
}

impl InputReader {
    pub fn new(rx: InputRx) -> Self {
        Self {
            rx,
            buf: Vec::new(),
            pos: 0,
            eof: false,
            total: 0,
        }
    }

    /// Reads (and credits) whatever is left up to `eof`.
    pub fn drain(&mut self) -> io::Result<()> {
        let mut sink = [0u8; 8192];
        while self.read(&mut sink)? > 0 {}
        Ok(())
    }
}

impl Read for InputReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            if self.eof {
                return Ok(0);
            }
            match self.rx.recv() {
                Some(Input::Data(data)) => {
                    self.rx.consumed(data.len() as u64);
                    self.total += data.len() as u64;
                    self.buf = data;
                    self.pos = 0;
                }
                Some(Input::Eof) => self.eof = true,
                None => return Err(cancelled()),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The error a producer or consumer sees when its stream was cancelled.
pub fn cancelled() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "the stream was cancelled")
}

/// A stream's output as a byte writer (a tar archive being made): bytes
/// are gathered into chunks and sent within the credit.
pub struct OutputWriter {
    credit: Arc<Credit>,
    sink: Sink,
    id: u64,
    buf: Vec<u8>,
}

impl OutputWriter {
    pub fn new(credit: Arc<Credit>, sink: Sink, id: u64) -> Self {
        Self {
            credit,
            sink,
            id,
            buf: Vec::with_capacity(CHUNK),
        }
    }
}

impl Write for OutputWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = bytes.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&bytes[..n]);
        if self.buf.len() == CHUNK {
            self.flush()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let sent = self.credit.send(&self.sink, self.id, 1, &self.buf);
        self.buf.clear();
        if sent {
            Ok(())
        } else {
            Err(cancelled())
        }
    }
}
