//! The wire protocol between hyped and `hype-agent`, the guest's PID 1.
//!
//! It owns the message types and their framing (one JSON object per line) and
//! nothing else: no I/O, no transport. The same bytes travel over a
//! virtio-serial port on QEMU and over hybrid vsock on cloud-hypervisor, so
//! this crate must stay free of anything transport-specific. It is linked into
//! the static guest binary, so it keeps its dependencies to serde (and
//! base64, for the bytes of streams) alone.
//!
//! Version 2 adds streams (exec, file transfer) multiplexed over the one
//! channel: see [`stream`] and docs/agent-protocol.md.

use serde::{Deserialize, Serialize};

pub mod stream;
pub use stream::{
    Chunk, ExecRequest, FileEntry, FileKind, StreamErrorCode, TtySize, CHUNK, WINDOW,
};

/// Name of the virtio-serial port the agent talks on (QEMU).
pub const VIRTIO_PORT_NAME: &str = "hype.agent";
/// Vsock port the agent listens on (cloud-hypervisor).
pub const VSOCK_PORT: u32 = 1024;
/// Bumped when messages are added or changed. A host checks the version a
/// guest's `ready` names before it sends anything that version lacks.
pub const PROTOCOL_VERSION: u32 = 2;
/// The first version with streams (exec, files).
pub const STREAMS_SINCE: u32 = 2;

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
    /// Starts a process as stream `id`; answered by `Started` (then
    /// `Data`/`Eof` on fds 1 and 2, and `Exited` last) or `Error`.
    Exec(Box<ExecRequest>),
    /// Input for stream `id`: a process's stdin, or an upload's content.
    /// Sent only within the credit the guest granted (see [`WINDOW`]).
    Data { id: u64, data: Chunk },
    /// No more input on stream `id`: closes stdin, or completes an upload.
    Eof { id: u64 },
    /// The host consumed `bytes` of stream `id`'s output: the guest may
    /// send that many more.
    Credit { id: u64, bytes: u64 },
    /// A new terminal size for stream `id`'s PTY.
    Resize { id: u64, rows: u16, cols: u16 },
    /// Sends `signal` (a name such as `SIGINT`) to stream `id`'s process
    /// group.
    Signal { id: u64, signal: String },
    /// Ends stream `id` now: its processes are killed, a partial upload is
    /// removed. Answered by nothing (an `Exited` may still be on its way).
    Cancel { id: u64 },
    /// Reads `path` as stream `id`: a file's bytes, or a directory as a tar
    /// archive. Answered by `Opened`, then `Data`/`Eof` on fd 1, or `Error`.
    ReadFile { id: u64, path: String },
    /// Writes `path` from stream `id`'s `Data`: a file (through a temporary
    /// beside it, renamed into place at `Eof`), or with `archive`, a tar
    /// unpacked into the directory `path`. `owner` is `user`, `uid` or
    /// `uid:gid`. Answered by `Opened` (send now), then `Done` or `Error`.
    WriteFile {
        id: u64,
        path: String,
        mode: Option<u32>,
        owner: Option<String>,
        archive: bool,
    },
    /// Answered by `Stat` or `Error`.
    Stat { id: u64, path: String },
    /// A directory's entries; answered by `Listing` or `Error`.
    List { id: u64, path: String },
    /// Removes a file, or with `recursive` a directory and what it holds;
    /// answered by `Done` or `Error`.
    Remove {
        id: u64,
        path: String,
        recursive: bool,
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
    /// Stream `id`'s process runs.
    Started {
        id: u64,
        pid: u32,
    },
    /// Output of stream `id` on `fd` (1: stdout, or a PTY, or a file read;
    /// 2: stderr), within the credit the host granted.
    Data {
        id: u64,
        fd: u8,
        data: Chunk,
    },
    /// `fd` of stream `id` has no more output.
    Eof {
        id: u64,
        fd: u8,
    },
    /// The guest consumed `bytes` of stream `id`'s input.
    Credit {
        id: u64,
        bytes: u64,
    },
    /// Stream `id`'s process ended, after all its output was sent. `code`
    /// for an exit, `signal` (a name) for a kill; `timed_out` when the
    /// guest killed it at the request's `timeout_ms`.
    Exited {
        id: u64,
        code: Option<i32>,
        signal: Option<String>,
        timed_out: bool,
    },
    /// A read or write of stream `id` can go ahead; `entry` is what was
    /// opened (for a write, the destination as it is before).
    Opened {
        id: u64,
        entry: FileEntry,
    },
    /// A write (`bytes` written) or a removal finished.
    Done {
        id: u64,
        bytes: u64,
    },
    Stat {
        id: u64,
        entry: FileEntry,
    },
    Listing {
        id: u64,
        entries: Vec<FileEntry>,
        /// More entries than [`stream::MAX_LISTING`] exist; the rest are
        /// left out.
        truncated: bool,
    },
    /// Request or stream `id` failed; it is over.
    Error {
        id: u64,
        code: StreamErrorCode,
        message: String,
    },
    /// The agent does not know the message `what` that carried `id` (a
    /// host newer than the guest): an answer instead of silence.
    Unsupported {
        id: u64,
        what: String,
    },
    /// The browser finished a download into [`DOWNLOADS_DIR`]. Sent when it
    /// happens (queued, like notices, while no host is connected).
    Downloaded(Download),
}

/// Where a browser sandbox's pages download to, in every browser context.
pub const DOWNLOADS_DIR: &str = "/home/browser/Downloads";

/// A file the browser downloaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Download {
    /// Its name in [`DOWNLOADS_DIR`]: the page's suggested name, made
    /// unique (`report (1).pdf`) and never a path.
    pub name: String,
    pub size: u64,
    /// Hex.
    pub sha256: String,
    /// What was downloaded.
    pub url: String,
    /// The page that started it, when Chromium says.
    pub page_url: Option<String>,
    /// When it finished, ms since the epoch (the guest's clock).
    pub finished_ms: i64,
}

impl HostMessage {
    /// The wire name of this message (its `type`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Hello => "hello",
            Self::Ping { .. } => "ping",
            Self::Shutdown => "shutdown",
            Self::NetInfo { .. } => "net_info",
            Self::Probe { .. } => "probe",
            Self::Reconfigure { .. } => "reconfigure",
            Self::Exec(_) => "exec",
            Self::Data { .. } => "data",
            Self::Eof { .. } => "eof",
            Self::Credit { .. } => "credit",
            Self::Resize { .. } => "resize",
            Self::Signal { .. } => "signal",
            Self::Cancel { .. } => "cancel",
            Self::ReadFile { .. } => "read_file",
            Self::WriteFile { .. } => "write_file",
            Self::Stat { .. } => "stat",
            Self::List { .. } => "list",
            Self::Remove { .. } => "remove",
        }
    }
}

impl GuestMessage {
    /// The request or stream this message answers, if any.
    pub fn id(&self) -> Option<u64> {
        match self {
            Self::Pong { id }
            | Self::NetInfo { id, .. }
            | Self::ProbeResult { id, .. }
            | Self::Reconfigured { id, .. }
            | Self::Started { id, .. }
            | Self::Data { id, .. }
            | Self::Eof { id, .. }
            | Self::Credit { id, .. }
            | Self::Exited { id, .. }
            | Self::Opened { id, .. }
            | Self::Done { id, .. }
            | Self::Stat { id, .. }
            | Self::Listing { id, .. }
            | Self::Error { id, .. }
            | Self::Unsupported { id, .. } => Some(*id),
            Self::Ready { .. }
            | Self::ShuttingDown
            | Self::Failed { .. }
            | Self::Notice { .. }
            | Self::Downloaded(_) => None,
        }
    }
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
            "{\"type\":\"ready\",\"agent_version\":\"0.1.0\",\"protocol\":2,\"uptime_ms\":812,\"init_ms\":40}\n"
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
