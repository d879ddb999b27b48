//! The wire protocol between hyped and `hype-agent`, the guest's PID 1.
//!
//! It owns the message types and their framing (one JSON object per line) and
//! nothing else: no I/O, no transport. The same bytes travel over a
//! virtio-serial port on QEMU and over hybrid vsock on cloud-hypervisor, so
//! this crate must stay free of anything transport-specific. It is linked into
//! the static guest binary, so it keeps its dependencies to serde alone.

use serde::{Deserialize, Serialize};

/// Name of the virtio-serial port the agent talks on (QEMU).
pub const VIRTIO_PORT_NAME: &str = "hype.agent";
/// Vsock port the agent listens on (cloud-hypervisor).
pub const VSOCK_PORT: u32 = 1024;
/// Bumped when a message changes incompatibly.
pub const PROTOCOL_VERSION: u32 = 1;

/// Host to guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum HostMessage {
    /// Sent by the host right after it (re)connects; the guest answers with
    /// `Ready` if it is ready, so a host that restarted learns the state.
    Hello,
    /// Liveness probe; answered by `Pong` with the same id.
    Ping { id: u64 },
    /// Sync filesystems and power the machine off.
    Shutdown,
    /// Report the guest's interfaces and addresses; answered by `NetInfo`.
    NetInfo { id: u64 },
    /// Send ICMP echo requests to `target` (IPv4) from inside the guest;
    /// answered by `ProbeResult`. Lets the host check what a guest can reach.
    Probe {
        id: u64,
        target: String,
        timeout_ms: u32,
    },
    /// Sent to a fork before it counts as running. A fork runs on its
    /// snapshot's memory, so it still has the source VM's identity: it
    /// takes the new VM's here. Answered by `Reconfigured`.
    Reconfigure {
        id: u64,
        hostname: String,
        /// eth0's new address, `A.B.C.D/NN` (none without a network).
        address: Option<String>,
        gateway: Option<String>,
        /// eth0's new MAC, `aa:bb:cc:dd:ee:ff`.
        mac: Option<String>,
        /// Fresh host entropy, hex: mixed into the kernel's pool, which is
        /// then reseeded, so forks never share their next random numbers.
        entropy: String,
        /// The host's wall clock (ms since the epoch): the snapshot's is old.
        unix_time_ms: u64,
    },
}

/// One guest network interface, as the guest sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestIface {
    pub name: String,
    pub mac: Option<String>,
    pub up: bool,
    /// `A.B.C.D/NN`
    pub addresses: Vec<String>,
}

/// Guest to host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GuestMessage {
    /// The guest finished booting: modules loaded, network configured, and
    /// the workload (if any) answers.
    Ready {
        agent_version: String,
        protocol: u32,
        /// Guest uptime when ready, from `/proc/uptime`: kernel boot plus init.
        uptime_ms: u64,
        /// Time the agent itself spent from its start to ready.
        init_ms: u64,
    },
    Pong {
        id: u64,
    },
    /// The guest is about to power off (answer to `Shutdown`).
    ShuttingDown,
    /// The guest cannot finish booting (e.g. an imported disk without a
    /// root filesystem the kernel can mount); sent instead of `Ready`. The
    /// guest stays up only so that this can be read: the host ends it.
    Failed {
        message: String,
    },
    /// Something the host should log and surface (e.g. a workload restart).
    Notice {
        message: String,
    },
    NetInfo {
        id: u64,
        interfaces: Vec<GuestIface>,
        /// The default route's gateway, if any.
        gateway: Option<String>,
    },
    ProbeResult {
        id: u64,
        target: String,
        /// Whether an echo reply came back before the timeout.
        reachable: bool,
        rtt_ms: Option<u64>,
        /// Why the probe could not even be sent (no route, bad target, ...).
        error: Option<String>,
    },
    /// The answer to `Reconfigure`: `error` says which step failed.
    Reconfigured {
        id: u64,
        error: Option<String>,
    },
}

/// Splits a kernel command line into words as the kernel (and the agent)
/// do: on whitespace, except inside double quotes, which are dropped
/// (`a="b c"` is one word `a=b c`, `"hype.ip"=x` is `hype.ip=x`). hyped
/// checks a user's command line with this same function, so what it
/// refuses is exactly what the agent would read.
pub fn split_cmdline(cmdline: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_quotes = false;
    let mut started = false;
    for c in cmdline.chars() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                started = true;
            }
            c if c.is_whitespace() && !in_quotes => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

/// Encodes one message as a line, newline included.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut line = serde_json::to_vec(msg).expect("agent messages always serialize");
    line.push(b'\n');
    line
}

/// Decodes one line (with or without its trailing newline).
pub fn decode<'a, T: Deserialize<'a>>(line: &'a [u8]) -> Result<T, serde_json::Error> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    serde_json::from_slice(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_messages_round_trip() {
        for m in [
            HostMessage::Hello,
            HostMessage::Ping { id: 7 },
            HostMessage::Shutdown,
        ] {
            let line = encode(&m);
            assert_eq!(line.last(), Some(&b'\n'));
            assert_eq!(decode::<HostMessage>(&line).unwrap(), m);
        }
    }

    #[test]
    fn failed_wire_shape() {
        let m = GuestMessage::Failed {
            message: "no root filesystem on /dev/vda".into(),
        };
        let line = encode(&m);
        assert_eq!(
            String::from_utf8(line.clone()).unwrap(),
            "{\"type\":\"failed\",\"message\":\"no root filesystem on /dev/vda\"}\n"
        );
        assert_eq!(decode::<GuestMessage>(&line).unwrap(), m);
    }

    #[test]
    fn ready_wire_shape_is_stable() {
        let m = GuestMessage::Ready {
            agent_version: "0.1.0".into(),
            protocol: PROTOCOL_VERSION,
            uptime_ms: 812,
            init_ms: 40,
        };
        let s = String::from_utf8(encode(&m)).unwrap();
        assert_eq!(
            s,
            "{\"type\":\"ready\",\"agent_version\":\"0.1.0\",\"protocol\":1,\"uptime_ms\":812,\"init_ms\":40}\n"
        );
    }

    #[test]
    fn command_lines_split_as_the_kernel_does() {
        assert_eq!(
            split_cmdline(r#"a=1  b="c d" "hype.ip"=x hy"pe.gw"=y """#),
            ["a=1", "b=c d", "hype.ip=x", "hype.gw=y", ""]
        );
        assert!(split_cmdline("   ").is_empty());
    }

    #[test]
    fn unknown_host_message_is_rejected() {
        assert!(decode::<HostMessage>(b"{\"type\":\"format_disk\"}").is_err());
        assert!(decode::<HostMessage>(b"{\"type\":\"ping\",\"id\":1,\"x\":2}").is_err());
    }
}
