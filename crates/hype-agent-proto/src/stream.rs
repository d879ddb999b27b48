//! What streams (exec, file transfers) carry, beside the messages in the
//! crate root: the request of an exec, file entries, error codes, and the
//! bytes of a chunk.
//!
//! Flow control is by credit, per stream and direction: a sender starts
//! with [`WINDOW`] bytes it may send, sends chunks of at most [`CHUNK`]
//! bytes while it has credit, and the receiver hands credit back (`credit`)
//! as it consumes what it got. So neither side ever buffers more than a
//! window per stream, and a slow consumer slows its producer instead of the
//! channel: other streams and pings go on.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Credit a sender starts with, per stream and direction.
pub const WINDOW: u64 = 512 << 10;
/// Most bytes in one `data` message (its base64 stays under the agent's
/// 64 KiB line limit).
pub const CHUNK: usize = 32 << 10;
/// Most entries a `listing` holds.
pub const MAX_LISTING: usize = 10_000;

/// Bytes on the wire, as base64 (the channel carries JSON lines).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Chunk(pub Vec<u8>);

impl fmt::Debug for Chunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Chunk({} bytes)", self.0.len())
    }
}

impl Serialize for Chunk {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Chunk {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map(Chunk)
            .map_err(serde::de::Error::custom)
    }
}

/// A terminal's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TtySize {
    pub rows: u16,
    pub cols: u16,
}

/// A process to start in the guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecRequest {
    pub id: u64,
    /// The program and its arguments; the program is looked up in `PATH`
    /// when it has no slash.
    pub cmd: Vec<String>,
    /// On top of the guest's own (`PATH`, `HOME`, `USER`, `LANG`, `TERM`
    /// with a PTY).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Default: the user's home directory, else `/`.
    #[serde(default)]
    pub cwd: Option<String>,
    /// `name`, `uid` or `uid:gid`; default: the guest's unprivileged user
    /// (`browser` in the browser image, `hype` in base), `root` on an
    /// imported disk's own system.
    #[serde(default)]
    pub user: Option<String>,
    /// Run on a PTY of this size (stdout and stderr are then one stream,
    /// fd 1).
    #[serde(default)]
    pub tty: Option<TtySize>,
    /// Whether the host will send stdin; without it stdin is /dev/null.
    #[serde(default)]
    pub stdin: bool,
    /// The guest kills the process group after this long (`exited` then
    /// says `timed_out`).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    File,
    Directory,
    Symlink,
    Other,
}

/// A file in the guest, as `lstat` sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// The name in its directory (for `stat`, the last part of the path).
    pub name: String,
    pub kind: FileKind,
    pub size: u64,
    /// Permission bits (`0o644`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Modification time, ms since the epoch.
    pub modified_ms: i64,
    /// Where a symlink points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// Why a request failed, for the host to map onto its own errors. The
/// message carries the guest's own reason (`strerror`, the path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamErrorCode {
    /// ENOENT (also: no such user, no such program).
    NotFound,
    /// A directory where a file was expected (EISDIR).
    IsDirectory,
    /// A file where a directory was expected (ENOTDIR).
    NotDirectory,
    /// ENOSPC, EDQUOT.
    NoSpace,
    /// EACCES, EPERM.
    PermissionDenied,
    /// A directory that is not empty, without `recursive`.
    NotEmpty,
    /// Too many streams at once in the guest.
    Busy,
    /// A request the guest cannot act on (an empty command, a relative
    /// path, a bad signal name).
    Invalid,
    /// Anything else (the message says what).
    Io,
}

impl StreamErrorCode {
    /// The code for an OS error number.
    pub fn from_errno(errno: i32) -> Self {
        // Linux's numbers: the guest is Linux, whatever the host is.
        match errno {
            2 => Self::NotFound,
            21 => Self::IsDirectory,
            20 => Self::NotDirectory,
            28 | 122 => Self::NoSpace,
            1 | 13 => Self::PermissionDenied,
            39 => Self::NotEmpty,
            22 | 36 => Self::Invalid,
            _ => Self::Io,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode, encode, GuestMessage, HostMessage};

    #[test]
    fn data_is_base64_on_the_wire() {
        let m = GuestMessage::Data {
            id: 4,
            fd: 1,
            data: Chunk(b"hi\n\xff".to_vec()),
        };
        let line = String::from_utf8(encode(&m)).unwrap();
        assert_eq!(
            line,
            "{\"type\":\"data\",\"id\":4,\"fd\":1,\"data\":\"aGkK/w==\"}\n"
        );
        assert_eq!(decode::<GuestMessage>(line.as_bytes()).unwrap(), m);
        assert!(decode::<HostMessage>(b"{\"type\":\"data\",\"id\":1,\"data\":\"!!\"}").is_err());
    }

    #[test]
    fn a_full_chunk_fits_the_guests_line_limit() {
        let m = HostMessage::Data {
            id: u64::MAX,
            data: Chunk(vec![0xff; CHUNK]),
        };
        assert!(encode(&m).len() < 64 * 1024);
    }

    #[test]
    fn exec_wire_shape() {
        let line = br#"{"type":"exec","id":7,"cmd":["sh","-c","exit 3"],"tty":{"rows":24,"cols":80},"stdin":true}"#;
        let HostMessage::Exec(req) = decode::<HostMessage>(line).unwrap() else {
            panic!("not an exec")
        };
        assert_eq!(req.id, 7);
        assert_eq!(req.tty, Some(TtySize { rows: 24, cols: 80 }));
        assert!(req.env.is_empty() && req.user.is_none() && req.timeout_ms.is_none());
        assert!(decode::<HostMessage>(br#"{"type":"exec","id":7,"cmd":[],"x":1}"#).is_err());
    }

    #[test]
    fn errors_name_their_code() {
        let m = GuestMessage::Error {
            id: 2,
            code: StreamErrorCode::from_errno(28),
            message: "/tmp/x: No space left on device".into(),
        };
        let line = String::from_utf8(encode(&m)).unwrap();
        assert!(line.contains("\"code\":\"no_space\""), "{line}");
        assert_eq!(m.id(), Some(2));
        assert_eq!(GuestMessage::ShuttingDown.id(), None);
    }
}
