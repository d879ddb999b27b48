//! Processes in a guest: `POST /api/v1/vms/{name}/exec` and its WebSocket
//! twin `GET .../exec/ws`, as asked and as answered.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Longest an exec may run, and the default.
pub const MAX_EXEC_TIMEOUT_SECONDS: u32 = 3600;
pub const DEFAULT_EXEC_TIMEOUT_SECONDS: u32 = 60;
/// Most output kept per stream in an answer to `POST .../exec`; more is
/// read (so the process is never held up) and dropped, and `truncated` says
/// so. The WebSocket streams everything.
pub const MAX_EXEC_OUTPUT: usize = 1 << 20;
/// Most bytes of `stdin` in a `POST .../exec` (the WebSocket streams any).
pub const MAX_EXEC_STDIN: usize = 1 << 20;
const MAX_ARGV_BYTES: usize = 128 << 10;

/// A process to run in the guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecRequest {
    /// The program and its arguments (no shell: `["sh", "-c", "..."]` for
    /// one). A program without a slash is looked up in the guest's `PATH`.
    #[schema(example = json!(["sh", "-c", "echo hello; exit 3"]))]
    pub cmd: Vec<String>,
    /// Added to the guest's environment (`PATH`, `HOME`, `USER`, `LANG`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// An absolute guest path; default: the user's home, else `/`.
    #[serde(default)]
    pub cwd: Option<String>,
    /// `name`, `uid` or `uid:gid`; default: the guest's unprivileged user
    /// (`browser` in the browser image, `hype` in base; `root` on an
    /// imported disk's own system).
    #[serde(default)]
    pub user: Option<String>,
    /// Text given to the process's stdin (then end of file); without it
    /// stdin is empty.
    #[serde(default)]
    pub stdin: Option<String>,
    /// The same, base64 (for bytes that are not text).
    #[serde(default)]
    pub stdin_base64: Option<String>,
    /// The process and everything it started are killed after this long.
    #[serde(default)]
    #[schema(default = 60, minimum = 1, maximum = 3600)]
    pub timeout_seconds: Option<u32>,
}

/// How the bytes of `stdout` or `stderr` are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum OutputEncoding {
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "base64")]
    Base64,
}

/// What a finished process did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExecResult {
    /// Its exit status; absent when a signal ended it.
    pub exit_code: Option<i32>,
    /// The signal that ended it (`SIGKILL`), if one did.
    pub signal: Option<String>,
    /// Killed at `timeout_seconds`.
    pub timed_out: bool,
    pub stdout: String,
    pub stdout_encoding: OutputEncoding,
    pub stderr: String,
    pub stderr_encoding: OutputEncoding,
    /// Some output was left out (over 1 MiB per stream).
    pub truncated: bool,
    pub duration_ms: u64,
}

/// The query of `GET .../exec/ws`: the request's fields, with `cmd` and
/// `env` repeated (`?cmd=sh&cmd=-c&cmd=tty&env=A=1&tty=true`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExecStreamQuery {
    /// The program and its arguments, one `cmd` per word.
    #[serde(default)]
    pub cmd: Vec<String>,
    /// `KEY=VALUE`, repeated.
    #[serde(default)]
    pub env: Vec<String>,
    pub cwd: Option<String>,
    pub user: Option<String>,
    /// Run on a pseudo-terminal (then stdout and stderr are one stream).
    #[serde(default)]
    pub tty: bool,
    /// The terminal's size, with `tty`.
    #[param(minimum = 1, maximum = 1000)]
    pub rows: Option<u16>,
    #[param(minimum = 1, maximum = 1000)]
    pub cols: Option<u16>,
    /// Whether the client sends stdin (binary frames); without it stdin is
    /// empty.
    #[serde(default)]
    pub stdin: bool,
    /// Default: none (an interactive session lasts as long as it is used).
    #[param(minimum = 1, maximum = 3600)]
    pub timeout_seconds: Option<u32>,
}

/// A text frame a client sends on `.../exec/ws` (binary frames are stdin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ExecControl {
    /// The terminal's new size (with `tty=true`).
    Resize { rows: u16, cols: u16 },
    /// A signal for the process and its group: `SIGINT`, `SIGTERM`,
    /// `SIGKILL`, `SIGHUP`, `SIGQUIT`, `SIGUSR1`, `SIGUSR2`, `SIGWINCH`,
    /// `SIGCONT`, `SIGSTOP`, `SIGTSTP`.
    Signal { signal: String },
    /// End of stdin.
    Eof,
}

/// A text frame hyped sends on `.../exec/ws`; binary frames are output,
/// their first byte the stream (1: stdout or the terminal, 2: stderr).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExecNotice {
    /// The process ended; the last frame before the close.
    Exit {
        exit_code: Option<i32>,
        signal: Option<String>,
        timed_out: bool,
    },
    /// A control frame was refused (the session goes on), or the session
    /// failed (then hyped closes it).
    Error { code: String, message: String },
}

/// The first byte of an output frame.
pub const STDOUT_FRAME: u8 = 1;
pub const STDERR_FRAME: u8 = 2;

/// An exec, checked: what the core runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecSpec {
    pub cmd: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: Option<String>,
    pub user: Option<String>,
    pub tty: Option<(u16, u16)>,
    pub stdin: bool,
    pub timeout_seconds: Option<u32>,
}

impl ExecRequest {
    /// The spec, and the stdin bytes, or what is wrong.
    pub fn validate(&self) -> Result<(ExecSpec, Vec<u8>), String> {
        use base64::Engine as _;
        let stdin = match (&self.stdin, &self.stdin_base64) {
            (Some(_), Some(_)) => return Err("give stdin or stdin_base64, not both".into()),
            (Some(t), None) => t.as_bytes().to_vec(),
            (None, Some(b)) => base64::engine::general_purpose::STANDARD
                .decode(b)
                .map_err(|e| format!("stdin_base64 is not base64: {e}"))?,
            (None, None) => Vec::new(),
        };
        if stdin.len() > MAX_EXEC_STDIN {
            return Err(format!(
                "stdin is {} bytes; at most {MAX_EXEC_STDIN} (the WebSocket exec streams any)",
                stdin.len()
            ));
        }
        let timeout = self.timeout_seconds.unwrap_or(DEFAULT_EXEC_TIMEOUT_SECONDS);
        let spec = ExecSpec {
            cmd: self.cmd.clone(),
            env: self.env.clone(),
            cwd: self.cwd.clone(),
            user: self.user.clone(),
            tty: None,
            stdin: !stdin.is_empty(),
            timeout_seconds: Some(timeout),
        };
        spec.validate()?;
        Ok((spec, stdin))
    }
}

impl ExecStreamQuery {
    pub fn validate(&self) -> Result<ExecSpec, String> {
        let mut env = BTreeMap::new();
        for pair in &self.env {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("env {pair:?} is not KEY=VALUE"))?;
            env.insert(k.to_owned(), v.to_owned());
        }
        let tty = match (self.tty, self.rows, self.cols) {
            (false, None, None) => None,
            (false, _, _) => return Err("rows and cols go with tty=true".into()),
            (true, rows, cols) => Some((rows.unwrap_or(24), cols.unwrap_or(80))),
        };
        let spec = ExecSpec {
            cmd: self.cmd.clone(),
            env,
            cwd: self.cwd.clone(),
            user: self.user.clone(),
            tty,
            stdin: self.stdin,
            timeout_seconds: self.timeout_seconds,
        };
        spec.validate()?;
        Ok(spec)
    }
}

impl ExecSpec {
    fn validate(&self) -> Result<(), String> {
        if self.cmd.is_empty() || self.cmd[0].is_empty() {
            return Err("cmd must name a program: [\"ls\", \"-l\"]".into());
        }
        let argv: usize = self.cmd.iter().map(|a| a.len() + 1).sum();
        let envs: usize = self.env.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        if argv + envs > MAX_ARGV_BYTES {
            return Err(format!(
                "cmd and env take {} bytes; at most {MAX_ARGV_BYTES}",
                argv + envs
            ));
        }
        if self.cmd.iter().any(|a| a.contains('\0')) {
            return Err("cmd cannot hold a NUL byte".into());
        }
        for (k, v) in &self.env {
            let bad = k.is_empty()
                || k.contains('=')
                || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || k.starts_with(|c: char| c.is_ascii_digit());
            if bad {
                return Err(format!(
                    "env name {k:?} is not a variable name ([A-Za-z_][A-Za-z0-9_]*)"
                ));
            }
            if v.contains('\0') {
                return Err(format!("env {k} cannot hold a NUL byte"));
            }
        }
        if let Some(cwd) = &self.cwd {
            check_guest_path("cwd", cwd)?;
        }
        if let Some(user) = &self.user {
            check_user("user", user)?;
        }
        if let Some((rows, cols)) = self.tty {
            check_size(rows, cols)?;
        }
        if let Some(t) = self.timeout_seconds {
            if t == 0 || t > MAX_EXEC_TIMEOUT_SECONDS {
                return Err(format!(
                    "timeout_seconds must be between 1 and {MAX_EXEC_TIMEOUT_SECONDS}"
                ));
            }
        }
        Ok(())
    }
}

/// A terminal size a PTY can take.
pub fn check_size(rows: u16, cols: u16) -> Result<(), String> {
    if rows == 0 || cols == 0 || rows > 1000 || cols > 1000 {
        return Err(format!(
            "a terminal of {rows}x{cols}: rows and cols must be 1 to 1000"
        ));
    }
    Ok(())
}

/// A guest path as the agent takes it: absolute, no NUL, bounded.
pub fn check_guest_path(what: &str, path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!(
            "{what} must be an absolute guest path, not {path:?}"
        ));
    }
    if path.contains('\0') {
        return Err(format!("{what} cannot hold a NUL byte"));
    }
    if path.len() > 4096 {
        return Err(format!("{what} is longer than 4096 bytes"));
    }
    Ok(())
}

/// `name`, `uid` or `uid:gid`.
pub fn check_user(what: &str, user: &str) -> Result<(), String> {
    let numeric = |s: &str| !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit());
    let name = |s: &str| {
        !s.is_empty()
            && s.len() <= 32
            && s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    let ok = match user.split_once(':') {
        Some((u, g)) => numeric(u) && numeric(g),
        None => numeric(user) || name(user),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} {user:?} is not a user name, uid or uid:gid"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: &str) -> Result<ExecRequest, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn a_plain_request_gets_the_default_timeout() {
        let (spec, stdin) = req(r#"{"cmd":["true"]}"#).unwrap().validate().unwrap();
        assert_eq!(spec.timeout_seconds, Some(60));
        assert!(stdin.is_empty() && !spec.stdin && spec.tty.is_none());
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        assert!(req(r#"{"cmd":["true"],"shell":true}"#).is_err());
        for (body, needle) in [
            (r#"{"cmd":[]}"#, "must name a program"),
            (r#"{"cmd":["ls"],"cwd":"tmp"}"#, "absolute"),
            (r#"{"cmd":["ls"],"user":"Root;"}"#, "not a user"),
            (r#"{"cmd":["ls"],"env":{"A=B":"1"}}"#, "variable name"),
            (
                r#"{"cmd":["ls"],"timeout_seconds":0}"#,
                "between 1 and 3600",
            ),
            (
                r#"{"cmd":["ls"],"stdin":"a","stdin_base64":"YQ=="}"#,
                "not both",
            ),
            (r#"{"cmd":["ls"],"stdin_base64":"***"}"#, "not base64"),
        ] {
            let e = req(body).unwrap().validate().unwrap_err();
            assert!(e.contains(needle), "{body}: {e}");
        }
    }

    #[test]
    fn stdin_comes_as_text_or_base64() {
        let (spec, stdin) = req(r#"{"cmd":["cat"],"stdin_base64":"/wA="}"#)
            .unwrap()
            .validate()
            .unwrap();
        assert!(spec.stdin);
        assert_eq!(stdin, [0xff, 0]);
    }

    #[test]
    fn users_are_names_or_ids() {
        for ok in ["root", "browser", "_svc", "1000", "1000:1000"] {
            check_user("user", ok).unwrap();
        }
        for bad in ["", "1000:", ":5", "a b", "x:y", "Root"] {
            assert!(check_user("user", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stream_queries_pair_env_and_size() {
        let q = ExecStreamQuery {
            cmd: vec!["sh".into()],
            env: vec!["A=1=2".into()],
            tty: true,
            cols: Some(100),
            ..Default::default()
        };
        let spec = q.validate().unwrap();
        assert_eq!(spec.env["A"], "1=2");
        assert_eq!(spec.tty, Some((24, 100)));
        let q = ExecStreamQuery {
            cmd: vec!["sh".into()],
            rows: Some(5),
            ..Default::default()
        };
        assert!(q.validate().unwrap_err().contains("tty=true"));
        let q = ExecStreamQuery {
            cmd: vec!["sh".into()],
            env: vec!["NOEQUALS".into()],
            ..Default::default()
        };
        assert!(q.validate().is_err());
    }
}
