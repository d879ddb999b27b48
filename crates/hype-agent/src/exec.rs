//! `exec`: a process started for the host, with its output streamed back
//! and its input streamed in. Each runs in a session of its own (setsid),
//! so its whole process group can be signalled, timed out or killed, and
//! nothing it started outlives it: when its main process exits, the rest
//! of the group is killed, its remaining output drained, `eof` sent for
//! each output and `exited` last. With a PTY the process gets a
//! controlling terminal (so Ctrl-C from the host, a 0x03 byte, is SIGINT
//! through the line discipline, and a resize is SIGWINCH).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use hype_agent_proto::{ExecRequest, GuestMessage, TtySize, CHUNK};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::libc;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use crate::flow::{Input, InputRx};
use crate::signals;
use crate::streams::{Stream, StreamError};
use crate::users::{Accounts, User};

/// The guest's own PATH for an exec (a request's `env` may replace it).
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Once the main process is gone, how long an output may stay silent
/// before it is given up: something outside the group (a daemon that
/// left it) may hold the pipe open for ever.
const DRAIN_IDLE: Duration = Duration::from_secs(1);
/// How often an output reader looks at the drain deadline.
const POLL_EVERY: Duration = Duration::from_millis(200);

/// An exec's process group, and its terminal if it has one.
#[derive(Debug)]
pub struct Group {
    pgid: Pid,
    pty: Option<OwnedFd>,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("unknown signal {0:?}; the process goes on")]
    UnknownSignal(String),
    #[error("the process has no terminal to resize")]
    NoTerminal,
    #[error("{0}")]
    Sys(#[from] Errno),
}

impl Group {
    /// Kills every process of the group.
    pub fn kill_all(&self) {
        // ESRCH: all gone already.
        let _ = killpg(self.pgid, Signal::SIGKILL);
    }

    /// Sends a signal, by name (`SIGINT`, or `INT`), to the group.
    pub fn signal(&self, name: &str) -> Result<(), ControlError> {
        let full = if name.starts_with("SIG") {
            name.to_string()
        } else {
            format!("SIG{name}")
        };
        let signal: Signal = full
            .parse()
            .map_err(|_| ControlError::UnknownSignal(name.to_string()))?;
        match killpg(self.pgid, signal) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Sets the terminal's size; the kernel sends SIGWINCH to its
    /// foreground group.
    pub fn resize(&self, rows: u16, cols: u16) -> Result<(), ControlError> {
        let pty = self.pty.as_ref().ok_or(ControlError::NoTerminal)?;
        set_size(pty, TtySize { rows, cols })
    }
}

fn set_size(pty: &OwnedFd, size: TtySize) -> Result<(), ControlError> {
    let ws = libc::winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which lives
    // across the call; the fd is open (owned by `pty`).
    Errno::result(unsafe { libc::ioctl(pty.as_raw_fd(), libc::TIOCSWINSZ, &ws) })?;
    Ok(())
}

/// Starts the request's process and the threads that serve it; returns its
/// group for the host's signals, resizes and cancel. Quick: it runs on the
/// session's reader thread.
pub fn start(
    req: ExecRequest,
    stream: Arc<Stream>,
    input: Option<InputRx>,
    accounts: &Accounts,
) -> Result<Arc<Group>, StreamError> {
    let program = req
        .cmd
        .first()
        .ok_or_else(|| StreamError::Invalid("exec: empty command".into()))?;
    let user = accounts.resolve(req.user.as_deref())?;
    let search = req.env.get("PATH").map_or(PATH, String::as_str);
    let program = find_program(program, search)?;
    let cwd = working_dir(req.cwd.as_deref(), &user)?;

    let mut command = Command::new(&program);
    command
        .args(&req.cmd[1..])
        .env_clear()
        .env("PATH", PATH)
        .env("HOME", &user.home)
        .env("USER", &user.name)
        .env("LOGNAME", &user.name)
        .env("SHELL", &user.shell)
        .env("LANG", "C.UTF-8")
        .current_dir(&cwd);
    if req.tty.is_some() {
        command.env("TERM", "xterm-256color");
    }
    command.envs(&req.env);

    let pty = match req.tty {
        Some(size) => Some(open_pty(size).map_err(StreamError::io("/dev/ptmx"))?),
        None => None,
    };
    let mut stdout = None;
    let mut stderr = None;
    let mut stdin = None;
    match &pty {
        Some((_, slave)) => {
            let dup = |s: &File| {
                s.try_clone()
                    .map(Stdio::from)
                    .map_err(StreamError::io("/dev/pts"))
            };
            command
                .stdin(dup(slave)?)
                .stdout(dup(slave)?)
                .stderr(dup(slave)?);
        }
        None => {
            command
                .stdin(if req.stdin {
                    Stdio::piped()
                } else {
                    Stdio::null()
                })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
        }
    }
    confine(&mut command, &user, pty.is_some());

    let (mut child, exit) =
        signals::spawn_child(&mut command).map_err(StreamError::io(&program))?;
    // The command holds the slave's copies; the child has its own now, and
    // the master sees EIO only once every slave descriptor is closed.
    drop(command);
    let pid = child.id();
    let pgid = Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
    let master = match pty {
        Some((master, slave)) => {
            drop(slave);
            Some(master)
        }
        None => {
            stdout = child.stdout.take().map(OwnedFd::from);
            stderr = child.stderr.take().map(OwnedFd::from);
            stdin = child.stdin.take().map(OwnedFd::from);
            None
        }
    };
    if let Some(master) = &master {
        stdout = master.try_clone().ok();
        stdin = master.try_clone().ok();
    }
    let group = Arc::new(Group { pgid, pty: master });
    stream.send(&GuestMessage::Started { id: stream.id, pid });

    let ctx = Running {
        stream,
        group: group.clone(),
        exited: Arc::new(Mutex::new(None)),
    };
    let mut readers = Vec::new();
    for (fd, out) in [(1u8, stdout), (2u8, stderr)] {
        if let Some(out) = out {
            readers.push(ctx.spawn_reader(fd, out));
        }
    }
    if let (Some(input), Some(stdin)) = (input, stdin) {
        ctx.spawn_writer(input, File::from(stdin));
    }
    let timeout = req.timeout_ms.map(Duration::from_millis);
    let supervise = {
        let ctx = ctx.clone();
        move || ctx.supervise(exit, timeout, readers)
    };
    if let Err(e) = std::thread::Builder::new()
        .name("agent-exec".into())
        .spawn(supervise)
    {
        group.kill_all();
        return Err(StreamError::io(&program)(e));
    }
    Ok(group)
}

/// `program` itself when it has a slash, else the first executable of that
/// name in `search`.
fn find_program(program: &str, search: &str) -> Result<PathBuf, StreamError> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    search
        .split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(program))
        .find(|path| {
            path.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .ok_or_else(|| StreamError::NoProgram {
            program: program.to_string(),
            search: search.to_string(),
        })
}

/// The request's working directory (which must exist), else the user's
/// home if it exists, else `/`.
fn working_dir(asked: Option<&str>, user: &User) -> Result<PathBuf, StreamError> {
    if let Some(dir) = asked {
        let meta = std::fs::metadata(dir).map_err(StreamError::io(dir))?;
        if !meta.is_dir() {
            return Err(StreamError::Path {
                path: dir.into(),
                code: hype_agent_proto::StreamErrorCode::NotDirectory,
                why: "not a directory",
            });
        }
        return Ok(dir.into());
    }
    if Path::new(&user.home).is_dir() {
        Ok(PathBuf::from(&user.home))
    } else {
        Ok(PathBuf::from("/"))
    }
}

/// A PTY of `size`: the master (close-on-exec, the agent's) and the slave
/// (the child's stdio). Both are opened close-on-exec so that no other
/// child started meanwhile inherits them.
fn open_pty(size: TtySize) -> io::Result<(OwnedFd, File)> {
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
    nix::pty::grantpt(&master)?;
    nix::pty::unlockpt(&master)?;
    let name = nix::pty::ptsname_r(&master)?;
    // SAFETY: into_raw_fd hands over sole ownership of the descriptor.
    let master = unsafe { OwnedFd::from_raw_fd(master.into_raw_fd()) };
    set_size(&master, size).map_err(|e| io::Error::other(e.to_string()))?;
    let slave = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(name)?;
    Ok((master, slave))
}

/// In the child, before exec: a session of its own (so the group can be
/// signalled as one, and a PTY can become its terminal), then the user's
/// groups, gid and uid, in that order (a dropped uid could not change
/// them any more).
fn confine(command: &mut Command, user: &User, tty: bool) {
    let uid = user.uid;
    let gid = user.gid;
    let groups: Vec<libc::gid_t> = user.groups.clone();
    // SAFETY: geteuid has no preconditions.
    let as_root = unsafe { libc::geteuid() } == 0;
    // SAFETY: the closure runs between fork and exec and makes only
    // async-signal-safe system calls on data prepared before the fork; it
    // allocates nothing.
    unsafe {
        command.pre_exec(move || {
            // A signal ignored by whatever started the agent stays ignored
            // across exec (a shell's background job ignores SIGINT): the
            // command starts with every disposition at its default, so a
            // ^C on its terminal interrupts it. (std clears the mask.)
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            // Linux has 64 signals; the C library refuses the ones it keeps.
            for sig in 1..=64 {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    libc::sigaction(sig, &dfl, std::ptr::null_mut());
                }
            }
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            if tty && libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            if as_root {
                if libc::setgroups(groups.len(), groups.as_ptr()) < 0
                    || libc::setgid(gid) < 0
                    || libc::setuid(uid) < 0
                {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::getuid() != uid {
                // Only root may become someone else (the agent is root in a
                // guest; a test on a host may not be).
                return Err(io::Error::from_raw_os_error(libc::EPERM));
            }
            Ok(())
        });
    }
}

/// What an exec's threads share.
#[derive(Clone)]
struct Running {
    stream: Arc<Stream>,
    group: Arc<Group>,
    /// When the main process exited (outputs then drain, bounded).
    exited: Arc<Mutex<Option<Instant>>>,
}

impl Running {
    /// Copies one output (fd 1 or 2, or the PTY) to the host within the
    /// credit; the returned receiver hears when it is done.
    fn spawn_reader(&self, fd: u8, out: OwnedFd) -> mpsc::Receiver<()> {
        let (done_tx, done_rx) = mpsc::channel();
        let ctx = self.clone();
        let spawned = std::thread::Builder::new()
            .name("agent-exec-out".into())
            .spawn(move || {
                ctx.copy_output(fd, out);
                let _ = done_tx.send(());
            });
        if let Err(e) = spawned {
            crate::log!("stream {}: no thread for fd {fd}: {e}", self.stream.id);
        }
        done_rx
    }

    fn copy_output(&self, fd: u8, out: OwnedFd) {
        let mut file = File::from(out);
        let mut buf = vec![0u8; CHUNK];
        let mut last_data = Instant::now();
        loop {
            let ready = {
                let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
                let wait = PollTimeout::try_from(POLL_EVERY).unwrap_or(PollTimeout::MAX);
                poll(&mut fds, wait)
            };
            match ready {
                Ok(0) | Err(Errno::EINTR) => {
                    let exited = *self.exited.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(at) = exited {
                        if last_data.max(at).elapsed() > DRAIN_IDLE {
                            return;
                        }
                    }
                    if self.stream.credit.is_closed() {
                        return;
                    }
                    continue;
                }
                Ok(_) => {}
                Err(_) => return,
            }
            let n = match file.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // EIO: a PTY whose every slave is closed.
                Err(_) => return,
            };
            last_data = Instant::now();
            if !self
                .stream
                .credit
                .send(&self.stream.sink, self.stream.id, fd, &buf[..n])
            {
                return;
            }
        }
    }

    /// Feeds the host's input to the process: a pipe (closed at `eof`) or
    /// the PTY's master (where `eof` means nothing: send ^D instead).
    fn spawn_writer(&self, mut input: InputRx, stdin: File) {
        let tty = self.group.pty.is_some();
        let id = self.stream.id;
        let spawned = std::thread::Builder::new()
            .name("agent-exec-in".into())
            .spawn(move || {
                let mut stdin = Some(stdin);
                while let Some(item) = input.recv() {
                    match item {
                        Input::Data(data) => {
                            // A process that closed its stdin loses the rest,
                            // but the credit still goes back.
                            if let Some(w) = stdin.as_mut() {
                                if w.write_all(&data).is_err() {
                                    stdin = None;
                                }
                            }
                            input.consumed(data.len() as u64);
                        }
                        Input::Eof if !tty => stdin = None,
                        Input::Eof => {}
                    }
                }
            });
        if let Err(e) = spawned {
            crate::log!("stream {id}: no thread for stdin: {e}");
        }
    }

    /// Waits for the main process (killing the group at the timeout), ends
    /// the rest of its group, lets the outputs drain, and reports: `eof`
    /// for each output, then `exited`.
    fn supervise(
        self,
        exit: mpsc::Receiver<WaitStatus>,
        timeout: Option<Duration>,
        readers: Vec<mpsc::Receiver<()>>,
    ) {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut timed_out = false;
        let got = match deadline {
            Some(at) => exit.recv_timeout(at.saturating_duration_since(Instant::now())),
            None => exit
                .recv()
                .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        let status = match got {
            Ok(status) => Some(status),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                self.group.kill_all();
                exit.recv().ok()
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
        };
        // Whatever the main process left behind in its group goes with it.
        self.group.kill_all();
        *self.exited.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        for done in &readers {
            let _ = done.recv();
        }
        let fds: &[u8] = if self.group.pty.is_some() {
            &[1]
        } else {
            &[1, 2]
        };
        let id = self.stream.id;
        for &fd in fds {
            self.stream.send(&GuestMessage::Eof { id, fd });
        }
        let (code, signal) = match status {
            Some(WaitStatus::Exited(_, code)) => (Some(code), None),
            Some(WaitStatus::Signaled(_, signal, _)) => (None, Some(signal.as_str().to_string())),
            _ => (None, None),
        };
        self.stream.send(&GuestMessage::Exited {
            id,
            code,
            signal,
            timed_out,
        });
        self.stream.finish();
    }
}

#[cfg(test)]
mod tests;
