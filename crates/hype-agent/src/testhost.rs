//! A host for tests: a real `Session` on one end of a socket pair, served
//! by its own thread exactly as a vsock connection is, and this end
//! speaking the protocol, so that framing, credit and cancellation are
//! what the tests exercise.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::thread::JoinHandle;
use std::time::Duration;

use hype_agent_proto::{decode, encode, Chunk, ExecRequest, GuestMessage, HostMessage, TtySize};

use crate::channel::Session;

pub struct Host {
    w: UnixStream,
    r: BufReader<UnixStream>,
    session: Option<JoinHandle<()>>,
    /// Messages read while looking for another one.
    pub held: Vec<GuestMessage>,
}

/// What an exec sent, gathered.
#[derive(Debug, Default)]
pub struct ExecOutput {
    pub pid: u32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub eofs: Vec<u8>,
    pub code: Option<i32>,
    pub signal: Option<String>,
    pub timed_out: bool,
}

impl Host {
    pub fn start() -> Self {
        let (host, guest) = UnixStream::pair().unwrap();
        let guest = File::from(std::os::fd::OwnedFd::from(guest));
        let mut session = Session::new(guest).unwrap();
        let ready = encode(&GuestMessage::Ready {
            agent_version: "test".into(),
            protocol: hype_agent_proto::PROTOCOL_VERSION,
            uptime_ms: 0,
            init_ms: 0,
        });
        let handle = std::thread::spawn(move || {
            session.run_until_eof(&ready).unwrap();
        });
        host.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Self {
            w: host.try_clone().unwrap(),
            r: BufReader::new(host),
            session: Some(handle),
            held: Vec::new(),
        }
    }

    pub fn send(&mut self, msg: &HostMessage) {
        self.w.write_all(&encode(msg)).unwrap();
    }

    pub fn send_raw(&mut self, line: &str) {
        self.w.write_all(line.as_bytes()).unwrap();
        self.w.write_all(b"\n").unwrap();
    }

    pub fn data(&mut self, id: u64, bytes: &[u8]) {
        self.send(&HostMessage::Data {
            id,
            data: Chunk(bytes.to_vec()),
        });
    }

    /// The next line from the guest (held ones first).
    pub fn recv(&mut self) -> GuestMessage {
        if !self.held.is_empty() {
            return self.held.remove(0);
        }
        self.recv_new()
    }

    fn recv_new(&mut self) -> GuestMessage {
        let mut line = String::new();
        let n = self.r.read_line(&mut line).expect("an answer in time");
        assert!(n > 0, "the session closed");
        decode(line.as_bytes()).unwrap()
    }

    /// Whether a line arrives within `wait`.
    pub fn quiet_for(&mut self, wait: Duration) -> bool {
        self.r.get_ref().set_read_timeout(Some(wait)).unwrap();
        let mut line = String::new();
        let got = self.r.read_line(&mut line);
        self.r
            .get_ref()
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        match got {
            Ok(n) if n > 0 => {
                self.held.push(decode(line.as_bytes()).unwrap());
                false
            }
            _ => true,
        }
    }

    /// The next message about stream `id`, others held for later.
    pub fn recv_for(&mut self, id: u64) -> GuestMessage {
        if let Some(i) = self.held.iter().position(|m| m.id() == Some(id)) {
            return self.held.remove(i);
        }
        loop {
            let msg = self.recv_new();
            if msg.id() == Some(id) {
                return msg;
            }
            self.held.push(msg);
        }
    }

    /// An exec as the current user (a test may not be root).
    pub fn exec(&mut self, id: u64, cmd: &[&str]) -> ExecRequest {
        ExecRequest {
            id,
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            env: BTreeMap::new(),
            cwd: None,
            // SAFETY: getuid has no preconditions.
            user: Some(unsafe { nix::libc::getuid() }.to_string()),
            tty: None,
            stdin: false,
            timeout_ms: None,
        }
    }

    pub fn tty(size: (u16, u16)) -> Option<TtySize> {
        Some(TtySize {
            rows: size.0,
            cols: size.1,
        })
    }

    /// Reads stream `id` to its `exited`, granting credit for every byte.
    pub fn collect(&mut self, id: u64) -> ExecOutput {
        let mut out = ExecOutput::default();
        loop {
            match self.recv_for(id) {
                GuestMessage::Started { pid, .. } => out.pid = pid,
                GuestMessage::Data { fd, data, .. } => {
                    self.send(&HostMessage::Credit {
                        id,
                        bytes: data.0.len() as u64,
                    });
                    match fd {
                        1 => out.stdout.extend(data.0),
                        _ => out.stderr.extend(data.0),
                    }
                }
                GuestMessage::Eof { fd, .. } => out.eofs.push(fd),
                GuestMessage::Credit { .. } => {}
                GuestMessage::Exited {
                    code,
                    signal,
                    timed_out,
                    ..
                } => {
                    out.code = code;
                    out.signal = signal;
                    out.timed_out = timed_out;
                    return out;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// Reads a file stream to its `eof` (or `error`), granting credit.
    pub fn read_all(&mut self, id: u64) -> Result<Vec<u8>, GuestMessage> {
        let mut bytes = Vec::new();
        loop {
            match self.recv_for(id) {
                GuestMessage::Opened { .. } => {}
                GuestMessage::Data { data, .. } => {
                    self.send(&HostMessage::Credit {
                        id,
                        bytes: data.0.len() as u64,
                    });
                    bytes.extend(data.0);
                }
                GuestMessage::Eof { .. } => return Ok(bytes),
                other => return Err(other),
            }
        }
    }

    /// Ends the connection (EOF) and waits for the session to be over.
    pub fn close(mut self) {
        self.w.shutdown(std::net::Shutdown::Write).unwrap();
        if let Some(handle) = self.session.take() {
            handle.join().unwrap();
        }
    }
}

/// Whether process `pid` is gone (or a zombie) within `wait`.
pub fn gone_within(pid: u32, wait: Duration) -> bool {
    let until = std::time::Instant::now() + wait;
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
        match stat {
            Err(_) => return true,
            Ok(s)
                if s.rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')) =>
            {
                return true
            }
            Ok(_) => {}
        }
        if std::time::Instant::now() > until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
