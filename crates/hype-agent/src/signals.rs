//! Signals PID 1 cares about. SIGCHLD and SIGIO are blocked in every thread
//! and collected synchronously by the thread that needs them, which avoids
//! async-signal-safety concerns entirely: the reaper waits for SIGCHLD, the
//! channel waits for SIGIO (virtio-serial raises it when the host side of the
//! port connects or disconnects).

use std::os::fd::{AsRawFd, BorrowedFd};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use nix::errno::Errno;
use nix::libc;
use nix::sys::signal::{
    pthread_sigmask, sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal,
};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::log;

/// Children whose exit someone waits for. The reaper's waitpid(-1) would
/// otherwise take their status first; it hands it over instead.
static WATCHED: Mutex<Vec<(i32, mpsc::Sender<WaitStatus>)>> = Mutex::new(Vec::new());
/// Whether the reaper runs (the agent is PID 1). Otherwise (an imported
/// disk's own init is PID 1, or a test on a host) a child is waited for
/// by whoever started it.
static REAPING: AtomicBool = AtomicBool::new(false);

extern "C" fn ignore(_: libc::c_int) {}

fn async_set() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    set.add(Signal::SIGIO);
    set
}

/// Must run before any thread is spawned.
pub fn block_async_signals() -> nix::Result<()> {
    // The kernel drops signals that PID 1 leaves at SIG_DFL; a real (empty)
    // handler keeps them deliverable however the mask ends up.
    let action = SigAction::new(
        SigHandler::Handler(ignore),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGCHLD, Signal::SIGIO] {
        // SAFETY: the handler does nothing, so it is trivially async-signal-safe.
        unsafe { sigaction(sig, &action) }?;
    }
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&async_set()), None)
}

/// Reaps every child that exits, including orphans the kernel reparents to
/// PID 1, so they never pile up as zombies.
pub fn spawn_reaper() -> std::io::Result<()> {
    REAPING.store(true, Ordering::Release);
    std::thread::Builder::new()
        .name("reaper".into())
        .spawn(|| {
            let mut set = SigSet::empty();
            set.add(Signal::SIGCHLD);
            loop {
                // SIGCHLD coalesces, so each wake-up drains all exited children.
                if let Err(e) = set.wait() {
                    log!("sigwait(SIGCHLD): {e}");
                    std::thread::sleep(Duration::from_secs(1));
                }
                reap_all();
            }
        })
        .map(drop)
}

/// Starts a child with `spawn` and returns it with a receiver for its exit
/// status, which the reaper delivers. The table stays locked across the
/// spawn, so a child that exits at once is still found by the reaper, which
/// looks it up only after taking the lock.
pub fn spawn_watched<T>(
    spawn: impl FnOnce() -> std::io::Result<(T, u32)>,
) -> std::io::Result<(T, mpsc::Receiver<WaitStatus>)> {
    let mut watched = WATCHED.lock().unwrap_or_else(|p| p.into_inner());
    let (child, pid) = spawn()?;
    let (tx, rx) = mpsc::channel();
    watched.push((i32::try_from(pid).unwrap_or(i32::MAX), tx));
    Ok((child, rx))
}

/// Starts `command` and returns the child with a receiver for its exit
/// status, whoever reaps it: the reaper when it runs, else a thread that
/// waits for this one child.
pub fn spawn_child(command: &mut Command) -> std::io::Result<(Child, mpsc::Receiver<WaitStatus>)> {
    if REAPING.load(Ordering::Acquire) {
        return spawn_watched(|| {
            let child = command.spawn()?;
            let pid = child.id();
            Ok((child, pid))
        });
    }
    let mut child = command.spawn()?;
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::Builder::new()
        .name("agent-wait".into())
        .spawn(move || loop {
            match waitpid(pid, None) {
                Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => {
                    let _ = tx.send(status);
                    return;
                }
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(e) => {
                    log!("waitpid({pid}): {e}");
                    return;
                }
            }
        });
    if let Err(e) = waiter {
        let _ = child.kill();
        let _ = child.wait();
        return Err(e);
    }
    Ok((child, rx))
}

fn reap_all() {
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
            Ok(status @ (WaitStatus::Exited(pid, _) | WaitStatus::Signaled(pid, _, _))) => {
                let mut watched = WATCHED.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(i) = watched.iter().position(|(p, _)| *p == pid.as_raw()) {
                    let _ = watched.swap_remove(i).1.send(status);
                }
            }
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(e) => {
                log!("waitpid: {e}");
                return;
            }
        }
    }
}

/// Asks for SIGIO on connection changes of `fd`'s port.
pub fn enable_sigio(fd: BorrowedFd<'_>) -> nix::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: fcntl on an fd that `fd` keeps open; no pointers are passed.
    Errno::result(unsafe { libc::fcntl(raw, libc::F_SETOWN, libc::getpid()) })?;
    // SAFETY: as above.
    let flags = Errno::result(unsafe { libc::fcntl(raw, libc::F_GETFL) })?;
    // SAFETY: as above.
    Errno::result(unsafe { libc::fcntl(raw, libc::F_SETFL, flags | libc::O_ASYNC) })?;
    Ok(())
}

/// Waits until a SIGIO arrives or `timeout` passes, whichever is first.
pub fn wait_sigio(timeout: Duration) {
    let mut set = SigSet::empty();
    set.add(Signal::SIGIO);
    let ts = libc::timespec {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
    };
    // SAFETY: `set` and `ts` outlive the call; a null siginfo pointer is
    // allowed. Errors (EAGAIN on timeout, EINTR) all mean "look again".
    unsafe { libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), &ts) };
}
