//! Headless Chromium, the reason the `browser` image exists. The agent
//! starts it as the unprivileged `browser` user, keeps it running (restarts
//! with backoff, each death reported to the host as a `notice`), and tells
//! main when its DevTools endpoint first answers, which is when the VM is
//! worth reporting `ready`. Chromium listens on loopback only; `cdp.rs`
//! relays the guest's public port to it.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::{chown, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Condvar, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use crate::error::Error;
use crate::{channel, log, signals};

/// Chromium's headless shell (Debian's `chromium-headless-shell`): the
/// headless-only build Playwright runs by default, which starts with a
/// fifth of the whole browser's work (see build-browser-rootfs.sh).
const CHROMIUM: &str = "/usr/lib/chromium/chromium-headless-shell";
const USER: &str = "browser";
/// Chromium's own DevTools port, on loopback.
pub const DEVTOOLS_PORT: u16 = 9223;
/// Each start gets an empty profile here (tmpfs); a restarted browser must
/// not trip over the lock files of the one that died.
const PROFILE_DIR: &str = "/tmp/hype-chromium";
/// How often to ask `/json/version` while Chromium starts.
const POLL_EVERY: Duration = Duration::from_millis(250);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A run this long resets the backoff: the browser was working.
const STABLE_RUN: Duration = Duration::from_secs(60);

/// What `/json/version` must contain for Chromium to count as up.
const VERSION_MARKER: &str = "webSocketDebuggerUrl";

/// Set when the guest powers off: the browser is not restarted.
static STOPPING: AtomicBool = AtomicBool::new(false);
/// The pid of the running Chromium when its profile is kept (a persistent
/// VM), which a power-off lets close cleanly; notified when it ends.
static KEPT: (Mutex<Option<u32>>, Condvar) = (Mutex::new(None), Condvar::new());

/// Before a power-off: a Chromium whose profile is kept gets SIGTERM and
/// up to `wait` to close, which writes what it holds in memory (cookies
/// set in the last seconds) to the profile. A throwaway profile is not
/// waited for. No Chromium starts after this.
pub fn stop(wait: Duration) {
    STOPPING.store(true, Ordering::SeqCst);
    let (lock, ended) = &KEPT;
    let running = lock.lock().unwrap_or_else(|p| p.into_inner());
    let Some(pid) = *running else { return };
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
    let started = Instant::now();
    let (running, timeout) = ended
        .wait_timeout_while(running, wait, |p| p.is_some())
        .unwrap_or_else(|p| p.into_inner());
    drop(running);
    if timeout.timed_out() {
        log!(
            "browser: chromium did not close within {} s",
            wait.as_secs()
        );
    } else {
        log!(
            "browser: chromium closed its profile in {} ms",
            started.elapsed().as_millis()
        );
    }
}

struct Account {
    uid: u32,
    gid: u32,
    home: String,
}

/// Where Chromium keeps its profile, and whether it outlives a start.
struct Profile {
    dir: PathBuf,
    keep: bool,
}

impl Profile {
    /// On a VM with a persistent disk the profile lives in the user's home
    /// and is kept (cookies and logins survive); otherwise each start gets
    /// an empty one on tmpfs.
    fn for_account(account: &Account, persistent: bool) -> Self {
        if persistent {
            Self {
                dir: Path::new(&account.home).join(".config/hype-chromium"),
                keep: true,
            }
        } else {
            Self {
                dir: PathBuf::from(PROFILE_DIR),
                keep: false,
            }
        }
    }
}

/// Starts the supervisor thread. The receiver gets, once, how long the first
/// Chromium took from its start to answering `/json/version`.
pub fn spawn_supervisor(persistent: bool) -> Result<mpsc::Receiver<Duration>, Error> {
    let account = lookup_account(Path::new("/etc/passwd"), USER)?;
    let profile = Profile::for_account(&account, persistent);
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("browser".into())
        .spawn(move || supervise(&account, &profile, &tx))
        .map_err(|source| Error::Thread {
            what: "the browser supervisor",
            source,
        })?;
    Ok(rx)
}

fn supervise(account: &Account, profile: &Profile, answered_tx: &mpsc::Sender<Duration>) -> ! {
    let mut backoff = BACKOFF_FIRST;
    let mut first = true;
    loop {
        let started = Instant::now();
        let run = run_once(account, profile, first.then_some(answered_tx));
        if STOPPING.load(Ordering::SeqCst) {
            // Powering off: the end is expected, and nothing restarts.
            loop {
                std::thread::park();
            }
        }
        match run {
            Ok(RunEnd { status, answered }) => {
                first &= !answered;
                let ran = started.elapsed();
                if ran > STABLE_RUN {
                    backoff = BACKOFF_FIRST;
                }
                channel::notice(format!(
                    "browser: chromium {} after {:.1} s; restarting in {} s",
                    describe(status),
                    ran.as_secs_f64(),
                    backoff.as_secs()
                ));
            }
            Err(e) => channel::notice(format!("browser: {e}; retrying in {} s", backoff.as_secs())),
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

struct RunEnd {
    status: WaitStatus,
    /// Whether this run answered `/json/version` at least once.
    answered: bool,
}

/// Runs one Chromium until it exits. `answered_tx`, when given, is told how
/// long it took to answer.
fn run_once(
    account: &Account,
    profile: &Profile,
    answered_tx: Option<&mpsc::Sender<Duration>>,
) -> Result<RunEnd, Error> {
    prepare_profile(account, profile)?;
    let mut command = command(account, profile);
    let (mut child, exited) = signals::spawn_watched(|| {
        let child = command.spawn()?;
        let pid = child.id();
        Ok((child, pid))
    })
    .map_err(|source| Error::Io {
        what: "start",
        path: CHROMIUM.into(),
        source,
    })?;
    let started = Instant::now();
    let pid = child.id();
    log!("browser: chromium started (pid {pid})");
    if profile.keep {
        *KEPT.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(pid);
    }
    forward_output(&mut child);

    let mut answered = false;
    let status = loop {
        let wait = if answered { BACKOFF_MAX } else { POLL_EVERY };
        match exited.recv_timeout(wait) {
            Ok(status) => break status,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // The reaper never drops a watched sender without sending.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break WaitStatus::StillAlive;
            }
        }
        if !answered && devtools_answers() {
            answered = true;
            let took = started.elapsed();
            log!(
                "browser: chromium answers on 127.0.0.1:{DEVTOOLS_PORT} after {} ms",
                took.as_millis()
            );
            if let Some(tx) = answered_tx {
                let _ = tx.send(took);
            }
        }
    };
    // Renderers and the zygote share Chromium's process group; none may
    // outlive it and hold the port or the profile.
    if let Ok(pgid) = i32::try_from(pid) {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
    *KEPT.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    KEPT.1.notify_all();
    Ok(RunEnd { status, answered })
}

fn command(account: &Account, profile: &Profile) -> Command {
    let mut command = Command::new(CHROMIUM);
    command
        .args([
            "--remote-debugging-address=127.0.0.1",
            &format!("--remote-debugging-port={DEVTOOLS_PORT}"),
            &format!("--user-data-dir={}", profile.dir.display()),
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            // No background work nobody asked for: extensions, phishing
            // models, default apps (Puppeteer's and Playwright's defaults).
            "--disable-extensions",
            "--disable-component-extensions-with-background-pages",
            "--disable-client-side-phishing-detection",
            "--disable-default-apps",
            // SpareRendererForSitePerProcess: a renderer started ahead of
            // need would be in a snapshot with its random generator's
            // state, and every fork's next tab would draw the same numbers
            // from it; a renderer started when a tab opens is forked from
            // the zygote then, and seeds anew from the kernel (reseeded for
            // each fork).
            // The shell has no browser UI (the whole browser's address-bar
            // popup, Translate or MediaRouter): nothing else to turn off.
            "--disable-features=SpareRendererForSitePerProcess",
            "about:blank",
        ])
        .env_clear()
        .env("HOME", &account.home)
        .env("USER", USER)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "C.UTF-8")
        .current_dir("/")
        // std drops the supplementary groups, then setgid, then setuid, in
        // the child after fork.
        .uid(account.uid)
        .gid(account.gid)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn prepare_profile(account: &Account, profile: &Profile) -> Result<(), Error> {
    let dir = profile.dir.as_path();
    let io_err = |what| {
        move |source| Error::Io {
            what,
            path: dir.to_path_buf(),
            source,
        }
    };
    if profile.keep {
        // A browser that died (or a VM that was killed) leaves its
        // singleton lock behind; the next Chromium would refuse the profile.
        for lock in ["SingletonLock", "SingletonSocket", "SingletonCookie"] {
            let _ = fs::remove_file(dir.join(lock));
        }
        if dir.is_dir() {
            return Ok(());
        }
        if let Some(parent) = dir.parent() {
            fs::create_dir_all(parent).map_err(io_err("create"))?;
            chown(parent, Some(account.uid), Some(account.gid)).map_err(io_err("chown"))?;
        }
    } else {
        match fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("remove")(e)),
        }
    }
    fs::create_dir(dir).map_err(io_err("create"))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_err("chmod"))?;
    chown(dir, Some(account.uid), Some(account.gid)).map_err(io_err("chown"))
}

/// Copies Chromium's stdout and stderr to the console, line by line and
/// prefixed, so its complaints end up in the VM's serial log.
fn forward_output(child: &mut Child) {
    let streams: [Option<Box<dyn Read + Send>>; 2] = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ];
    for stream in streams.into_iter().flatten() {
        let spawned = std::thread::Builder::new()
            .name("browser-log".into())
            .spawn(move || {
                for line in BufReader::new(stream).lines() {
                    match line {
                        Ok(line) => log!("chromium: {line}"),
                        Err(_) => break,
                    }
                }
            });
        if let Err(e) = spawned {
            log!("browser: no thread for chromium's output: {e}");
        }
    }
}

/// Whether `GET /json/version` on Chromium's port answers with the browser's
/// WebSocket URL.
pub fn devtools_answers() -> bool {
    version_body(DEVTOOLS_PORT).is_some_and(|body| body.contains(VERSION_MARKER))
}

/// The body of a 200 answer to `GET /json/version` on `port` of loopback.
pub fn version_body(port: u16) -> Option<String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).ok()?;
    let _ = stream.set_read_timeout(Some(PROBE_TIMEOUT));
    let _ = stream.set_write_timeout(Some(PROBE_TIMEOUT));
    let request = format!(
        "GET /json/version HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = Vec::new();
    // Connection: close, so the answer ends at EOF (or the read timeout).
    let _ = stream.take(64 * 1024).read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    if !answer.starts_with("HTTP/1.1 200") {
        return None;
    }
    answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
}

fn describe(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exited with status {code}"),
        WaitStatus::Signaled(_, signal, _) => format!("was killed by {signal}"),
        other => format!("ended ({other:?})"),
    }
}

/// The account's uid, gid and home from a passwd file. Parsed by hand: the
/// agent is linked statically, and glibc's getpwnam would try to load NSS
/// modules at run time.
fn lookup_account(passwd: &Path, user: &'static str) -> Result<Account, Error> {
    let text = fs::read_to_string(passwd).map_err(|source| Error::Io {
        what: "read",
        path: passwd.to_path_buf(),
        source,
    })?;
    parse_passwd(&text, user).ok_or_else(|| Error::NoUser {
        user,
        path: passwd.to_path_buf(),
    })
}

fn parse_passwd(text: &str, user: &str) -> Option<Account> {
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            [name, _, uid, gid, _, home, ..] if *name == user => Some(Account {
                uid: uid.parse().ok()?,
                gid: gid.parse().ok()?,
                home: (*home).to_string(),
            }),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lookup() {
        let text = "root:x:0:0:root:/root:/bin/bash\n\
                    browser:x:1000:1000::/home/browser:/usr/sbin/nologin\n";
        let account = parse_passwd(text, "browser").unwrap();
        assert_eq!((account.uid, account.gid), (1000, 1000));
        assert_eq!(account.home, "/home/browser");
        assert!(parse_passwd(text, "nobody").is_none());
        assert!(parse_passwd("browser:x:abc:1000::/h:/bin/sh", "browser").is_none());
    }
}
