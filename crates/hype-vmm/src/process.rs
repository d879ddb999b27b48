//! VMM processes: started in their own process group so they outlive hyped
//! and can be signalled as a unit, and watched through a pidfd so an exit is
//! seen the instant it happens, for our own children and for VMMs adopted
//! after a restart alike.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};

use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::io::unix::AsyncFd;

/// How a watched process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(String),
    /// Not our child (adopted after a restart): the kernel won't tell us.
    Unknown,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exited with status {c}"),
            Exit::Signal(s) => write!(f, "killed by {s}"),
            Exit::Unknown => f.write_str("exited"),
        }
    }
}

/// Spawns `cmd` as the leader of a new process group with stdin closed and
/// stdout/stderr appended to `log`. The child is not tied to hyped's life.
pub fn spawn_detached(cmd: &mut Command, log: &Path) -> io::Result<u32> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let err = out.try_clone()?;
    std::os::unix::process::CommandExt::process_group(cmd, 0);
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()?;
    // Dropping a std Child neither kills nor waits; the pidfd watcher reaps.
    Ok(child.id())
}

/// A handle that becomes ready when the process exits.
pub struct ExitWatch {
    pid: u32,
    fd: AsyncFd<OwnedFd>,
}

impl ExitWatch {
    /// Opens a pidfd for `pid`. Fails if the process is already gone.
    pub fn new(pid: u32) -> io::Result<Self> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
        let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the syscall just returned this fd to us, and nobody else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
        // SAFETY: the OwnedFd moves into the AsyncFd and stays open, as the
        // same descriptor, until the AsyncFd is dropped.
        let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        Ok(Self { pid, fd })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Resolves when the process has exited, reaping it if it is our child.
    pub async fn exited(&self) -> Exit {
        loop {
            match self.fd.readable().await {
                Ok(mut guard) => {
                    guard.retain_ready();
                    break;
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
        reap(self.pid)
    }
}

/// Collects the exit status of our child `pid`, if it is one and has exited.
pub fn reap(pid: u32) -> Exit {
    match waitpid(Pid::from_raw(pid as i32), Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, code)) => Exit::Code(code),
        Ok(WaitStatus::Signaled(_, sig, _)) => Exit::Signal(sig.as_str().to_owned()),
        _ => Exit::Unknown,
    }
}

/// `program` as an absolute path: itself if it has a slash, else the first
/// executable of that name on `PATH`.
pub fn find_program(program: &Path) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if program.components().count() > 1 {
        return std::fs::canonicalize(program).ok();
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Whether a process with this pid exists (zombies count as gone).
pub fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// How long `pid` has been running or waiting for a CPU, in all: its CPU
/// time (`/proc/PID/stat`, which keeps that of threads that ended) and the
/// time its live threads waited on a run queue (each one's `schedstat`).
/// Unlike CPU time alone it does not read as idle when a busy process is
/// starved (a CPU-idle cgroup on a loaded host). `None` once it is gone.
pub fn runnable_time(pid: u32) -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name: utime and stime are fields 14 and 15.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let ticks: u64 = fields.next()?.parse::<u64>().ok()? + fields.next()?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a constant of the C library.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .ok()
        .filter(|&h| h > 0)?;
    let mut waited_ns: u64 = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        // A thread that ended since the listing is skipped.
        if let Ok(s) = std::fs::read_to_string(task.path().join("schedstat")) {
            waited_ns += s
                .split_whitespace()
                .nth(1)
                .and_then(|w| w.parse().ok())
                .unwrap_or(0);
        }
    }
    Some(
        std::time::Duration::from_millis(ticks * 1000 / hz)
            + std::time::Duration::from_nanos(waited_ns),
    )
}

/// The process's argv, NUL-separated as the kernel keeps it.
pub fn cmdline(pid: u32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect(),
    )
}

/// Kills `pid`'s process group and waits (a few seconds at most) until
/// `pid` is gone, reaping it if it is our child.
pub async fn kill_and_reap(pid: u32) -> Exit {
    signal_group(pid, Signal::SIGKILL);
    match ExitWatch::new(pid) {
        Ok(w) => tokio::time::timeout(std::time::Duration::from_secs(5), w.exited())
            .await
            .unwrap_or(Exit::Unknown),
        Err(_) => reap(pid),
    }
}

/// Sends `sig` to the whole process group led by `pid`.
pub fn signal_group(pid: u32, sig: Signal) {
    let _ = killpg(Pid::from_raw(pid as i32), sig);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sees_a_kill_at_once_and_reports_the_signal() {
        let dir = tempfile::tempdir().unwrap();
        let pid = spawn_detached(Command::new("sleep").arg("30"), &dir.path().join("log")).unwrap();
        let watch = ExitWatch::new(pid).unwrap();
        assert!(is_alive(pid));
        // spawn returns after fork; exec may still be under way.
        let t = std::time::Instant::now();
        while cmdline(pid).unwrap() != ["sleep", "30"] {
            assert!(t.elapsed() < std::time::Duration::from_secs(5));
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let t = std::time::Instant::now();
        signal_group(pid, Signal::SIGKILL);
        assert_eq!(watch.exited().await, Exit::Signal("SIGKILL".into()));
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
        assert!(!is_alive(pid));
    }

    #[test]
    fn counts_the_runnable_time_of_every_thread() {
        use nix::time::{clock_gettime, ClockId};
        let me = std::process::id();
        let before = runnable_time(me).unwrap();
        // Two threads each spin until they have had 200 ms of CPU (not of
        // the clock: a loaded host schedules them less): the process's
        // time counts both, the one that ended too.
        let spin = || {
            let own = || {
                let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).unwrap();
                std::time::Duration::from(t)
            };
            let start = own();
            while own() - start < std::time::Duration::from_millis(200) {
                std::hint::black_box(0u64);
            }
        };
        let other = std::thread::spawn(spin);
        spin();
        other.join().unwrap();
        let used = runnable_time(me).unwrap() - before;
        // CPU time comes in clock ticks, scaled to the scheduler's total.
        assert!(used >= std::time::Duration::from_millis(350), "{used:?}");
        assert_eq!(runnable_time(u32::MAX), None);
    }

    #[tokio::test]
    async fn reports_exit_codes_and_captures_output() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let pid =
            spawn_detached(Command::new("sh").args(["-c", "echo hi >&2; exit 3"]), &log).unwrap();
        let watch = ExitWatch::new(pid).unwrap();
        assert_eq!(watch.exited().await, Exit::Code(3));
        assert_eq!(std::fs::read_to_string(log).unwrap(), "hi\n");
    }
}
