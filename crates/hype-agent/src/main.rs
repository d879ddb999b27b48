//! `hype-agent`: PID 1 of every hype microVM.
//!
//! It owns the guest's boot and nothing beyond it: the pseudo-filesystems,
//! the kernel modules listed in `/etc/hype/modules.order` (there is no
//! modprobe in the guest), the optional static network from the kernel
//! command line, and the channel to hyped, a virtio-serial port named
//! `hype.agent` (or vsock port 1024 where the VMM has no virtio-serial)
//! that speaks `hype-agent-proto`. With `hype.rootfs=` it also switches to
//! that root filesystem (under a tmpfs overlay) and runs headless Chromium
//! there, with a relay to its DevTools port. With `hype.root=` (an imported
//! disk booted with hype's kernel) it mounts that disk's root, hands PID 1
//! to the disk's own init and stays beside it as an ordinary process. It
//! reaps orphaned processes and powers the machine off when asked. It must
//! not touch the host's view of the VM (disks, devices) beyond what the
//! boot needs, and it must never exit: the kernel panics when PID 1 dies,
//! so every failure is logged to the console and the agent carries on, or
//! idles, instead.

mod browser;
mod cdp;
mod channel;
mod cmdline;
mod downloads;
mod error;
mod exec;
mod files;
mod flow;
mod identity;
mod log;
mod modules;
mod mount;
mod net;
mod netinfo;
mod osdisk;
mod power;
mod probe;
mod rootfs;
mod signals;
mod streams;
#[cfg(test)]
mod testhost;
mod users;
mod vsock;

use std::path::Path;
use std::time::{Duration, Instant};

use hype_agent_proto::{GuestMessage, PROTOCOL_VERSION};

fn main() {
    let started = Instant::now();

    // Everything below mounts filesystems and powers the machine off; run by
    // mistake on a host, it would do exactly that to the host.
    if nix::unistd::getpid().as_raw() != 1 {
        eprintln!("hype-agent: refusing to run: not PID 1 (this is the guest's init)");
        std::process::exit(2);
    }

    // Before any thread exists, so that every thread inherits the mask and
    // the signals wait for the thread that collects them.
    if let Err(e) = signals::block_async_signals() {
        log!("cannot block SIGCHLD/SIGIO: {e}");
    }

    for err in mount::mount_all() {
        log!("{err}");
    }

    let config = match std::fs::read_to_string("/proc/cmdline") {
        Ok(text) => {
            let (config, errors) = cmdline::parse(&text);
            for err in errors {
                log!("kernel command line: {err}");
            }
            config
        }
        Err(e) => {
            log!("cannot read /proc/cmdline: {e}");
            cmdline::Config::default()
        }
    };

    if config.probe {
        // hyped boots a throwaway VM with hype.probe=1 to learn whether this
        // accelerator can run a guest at all; it greps for this exact line.
        log::raw_line("HYPE_PROBE_OK");
        power::power_off();
    }

    log!(
        "starting (name={}, id={})",
        config.name.as_deref().unwrap_or("-"),
        config.id.as_deref().unwrap_or("-")
    );

    // An imported disk's own init will reap; and hand_over forks, which
    // wants no other thread around.
    if config.root.is_none() {
        if let Err(e) = signals::spawn_reaper() {
            log!("cannot start the zombie reaper: {e}");
        }
    }

    match modules::load_all(Path::new(modules::ORDER_PATH)) {
        Ok(summary) => log!(
            "modules: {} loaded, {} already present, {} failed",
            summary.loaded,
            summary.already,
            summary.failed
        ),
        Err(e) => log!("{e}"),
    }

    if let Some(device) = &config.root {
        boot_disk_system(&config, device, started);
    }

    // Before the network: its /etc/resolv.conf belongs in the new root.
    let browser_root = match &config.rootfs {
        Some(device) => {
            let t = Instant::now();
            match rootfs::switch_to(device, config.persist.as_deref()) {
                Ok(()) => {
                    log!(
                        "root: {} (read-only) under an overlay on {}, after {} ms",
                        device.display(),
                        config
                            .persist
                            .as_deref()
                            .map_or("tmpfs".into(), |p| p.display().to_string()),
                        t.elapsed().as_millis()
                    );
                    true
                }
                Err(e) => {
                    log!("root: {e}; staying in the initramfs, no browser");
                    false
                }
            }
        }
        None => false,
    };

    host_and_network(&config);

    if browser_root {
        start_browser(
            config.persist.is_some(),
            config.net.as_ref().and_then(|n| n.gateway),
        );
    }
    serve_ready(started)
}

/// The hostname and the static network from the command line.
fn host_and_network(config: &cmdline::Config) {
    if let Some(name) = &config.name {
        if let Err(e) = nix::unistd::sethostname(name) {
            log!("cannot set hostname {name:?}: {e}");
        }
    }
    if let Err(e) = net::loopback_up() {
        log!("network: {e}");
    }
    if let Some(net) = &config.net {
        match net::configure(net) {
            Ok(()) => log!("network: eth0 {}/{} up", net.addr, net.prefix),
            Err(e) => log!("network: {e}"),
        }
    }
}

/// Reports ready and serves hyped forever.
fn serve_ready(started: Instant) -> ! {
    let init_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let uptime_ms = read_uptime_ms().unwrap_or_else(|e| {
        log!("{e}");
        0
    });
    log!("ready after {init_ms} ms in the agent, {uptime_ms} ms since boot");

    let ready = GuestMessage::Ready {
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        protocol: PROTOCOL_VERSION,
        uptime_ms,
        init_ms,
    };
    channel::serve(ready)
}

/// `hype.root=`: an imported disk's own system. The network is set up
/// first, while any file it writes (resolv.conf) still lands in the
/// initramfs rather than on the guest's disk; then the disk's root becomes
/// `/`, its init becomes PID 1, and this agent goes on as a child of it.
/// Ready means that init has started. If there is no system to start, the
/// host is told why (`failed`) and ends the VM.
fn boot_disk_system(config: &cmdline::Config, device: &Path, started: Instant) -> ! {
    host_and_network(config);
    let t = Instant::now();
    let root = match osdisk::switch_to(device, config.init.as_deref()) {
        Ok(root) => root,
        Err(e) => fail(format!("{e}")),
    };
    log!(
        "root: {} (read-write) after {} ms; starting its init {}",
        root.device.display(),
        t.elapsed().as_millis(),
        root.init.display()
    );
    if let Err(why) = osdisk::hand_over(&root) {
        fail(why);
    }
    power::hand_to_guest_init();
    users::serving_disk_system();
    log!(
        "{} is PID 1; the agent goes on as pid {}",
        root.init.display(),
        nix::unistd::getpid()
    );
    serve_ready(started)
}

/// Tells the host the boot failed, for as long as it takes to hear it.
fn fail(message: String) -> ! {
    log!("boot failed: {message}");
    channel::serve(GuestMessage::Failed { message })
}

/// How long `ready` waits for Chromium's first answer. Under TCG its first
/// start takes tens of seconds; past this the VM is reported ready anyway
/// (with a notice), so that the host can still reach and stop it, and the
/// supervisor keeps trying.
const BROWSER_DEADLINE: Duration = Duration::from_secs(300);

/// Starts the relay and the Chromium supervisor, then waits for Chromium to
/// answer (or the deadline).
fn start_browser(persistent: bool, gateway: Option<std::net::Ipv4Addr>) {
    if let Err(e) = cdp::spawn_relay(gateway) {
        channel::notice(format!("browser: {e}"));
    }
    let answered = match browser::spawn_supervisor(persistent) {
        Ok(rx) => rx,
        Err(e) => {
            channel::notice(format!("browser: {e}; no browser in this VM"));
            return;
        }
    };
    if let Err(e) = downloads::spawn(browser::DEVTOOLS_PORT) {
        channel::notice(format!("browser: {e}; downloads are not reported"));
    }
    let t = Instant::now();
    match answered.recv_timeout(BROWSER_DEADLINE) {
        Ok(took) => log!(
            "browser: ready (chromium answered {} ms after its start, {} ms after the agent \
             asked; guest uptime {} ms)",
            took.as_millis(),
            t.elapsed().as_millis(),
            read_uptime_ms().unwrap_or(0)
        ),
        Err(_) => channel::notice(format!(
            "browser: chromium did not answer within {} s; reporting ready without it",
            BROWSER_DEADLINE.as_secs()
        )),
    }
}

/// Guest uptime, the first field of `/proc/uptime` (seconds, two decimals).
fn read_uptime_ms() -> Result<u64, error::Error> {
    let path = Path::new("/proc/uptime");
    let text = std::fs::read_to_string(path).map_err(|source| error::Error::Io {
        what: "read",
        path: path.to_path_buf(),
        source,
    })?;
    parse_uptime_ms(&text).ok_or_else(|| error::Error::BadUptime(text.trim().to_string()))
}

fn parse_uptime_ms(text: &str) -> Option<u64> {
    let secs: f64 = text.split_whitespace().next()?.parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some((secs * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_uptime_ms;

    #[test]
    fn uptime_is_read_from_the_first_field() {
        assert_eq!(parse_uptime_ms("3.27 5.90\n"), Some(3270));
        assert_eq!(parse_uptime_ms("0.00 0.00"), Some(0));
        assert_eq!(parse_uptime_ms(""), None);
        assert_eq!(parse_uptime_ms("abc 1"), None);
    }
}
