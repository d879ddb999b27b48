//! Processes in a guest, run by its agent over a stream: one answer with
//! the output gathered ([`Hype::exec`]), or a live session whose input and
//! output are streamed ([`Hype::exec_session`], the WebSocket's and the
//! interactive CLI's).

use std::time::{Duration, Instant};

use base64::Engine as _;
use hype_agent_proto::{GuestMessage, HostMessage, STREAMS_SINCE};
use hype_types::{ExecResult, ExecSpec, OutputEncoding, VmState, MAX_EXEC_OUTPUT};
use tokio::sync::OwnedSemaphorePermit;

use crate::runtimes::Runtime;
use crate::streams::{GuestStream, StreamGone, StreamInput, StreamOutput};
use crate::{CoreError, Hype, Result};

/// How long the guest gets to start a process or open a file.
pub(crate) const OPEN_WAIT: Duration = Duration::from_secs(30);
/// Slack past an exec's own timeout before hyped gives up on the guest.
const EXIT_SLACK: Duration = Duration::from_secs(15);

/// Signals a session may send (`INT` and `SIGINT` both name the first).
const SIGNALS: [&str; 11] = [
    "SIGINT", "SIGTERM", "SIGKILL", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH",
    "SIGCONT", "SIGSTOP", "SIGTSTP",
];

/// What a live exec says, in order; `Exit` is last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecEvent {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Exit {
        code: Option<i32>,
        signal: Option<String>,
        timed_out: bool,
    },
}

/// A process running in a guest. Dropping the output half before `Exit`
/// kills it (and all it started).
pub struct ExecSession {
    pub pid: u32,
    pub input: ExecInput,
    pub output: ExecOutput,
}

pub struct ExecInput {
    name: String,
    inner: StreamInput,
}

pub struct ExecOutput {
    name: String,
    inner: StreamOutput,
    done: bool,
    /// Held until the exec ends: `--max-execs-per-vm`.
    _slot: OwnedSemaphorePermit,
}

impl Hype {
    /// The runtime of a running VM whose agent serves streams.
    pub(crate) async fn stream_runtime(&self, name: &str, action: &'static str) -> Result<Runtime> {
        let rec = self.inner.store.get_vm(name).await?;
        if rec.state != VmState::Running {
            return Err(CoreError::InvalidState {
                name: name.into(),
                state: rec.state,
                action,
            });
        }
        let rt = self
            .inner
            .runtimes
            .get(name)
            .ok_or_else(|| CoreError::AgentUnavailable {
                name: name.into(),
                why: "is not connected",
            })?;
        if !rt.has_agent {
            return Err(CoreError::NoAgent {
                name: name.into(),
                action,
            });
        }
        match rt.link.protocol() {
            0 => Err(CoreError::AgentUnavailable {
                name: name.into(),
                why: "has not said it is ready since hyped connected",
            }),
            p if p < STREAMS_SINCE => Err(CoreError::AgentTooOld {
                name: name.into(),
                what: "exec or file transfers".into(),
            }),
            _ => Ok(rt),
        }
    }

    /// Runs a process to its end and answers what it printed (at most
    /// [`MAX_EXEC_OUTPUT`] per stream) and how it ended.
    pub async fn exec(&self, name: &str, spec: ExecSpec, stdin: Vec<u8>) -> Result<ExecResult> {
        let started = Instant::now();
        let wait = Duration::from_secs(spec.timeout_seconds.unwrap_or(3600).into()) + EXIT_SLACK;
        // A process started without stdin has none to write or close (the
        // agent would log the stray end of file).
        let takes_stdin = spec.stdin;
        let ExecSession {
            input, mut output, ..
        } = self.exec_session(name, spec).await?;
        let feed = async {
            if !takes_stdin {
                return Ok(());
            }
            input.write(&stdin).await?;
            input.close().await
        };
        let gather = async {
            let (mut out, mut err, mut truncated) = (Vec::new(), Vec::new(), false);
            loop {
                match output.next().await? {
                    ExecEvent::Stdout(b) => keep(&mut out, &b, &mut truncated),
                    ExecEvent::Stderr(b) => keep(&mut err, &b, &mut truncated),
                    ExecEvent::Exit {
                        code,
                        signal,
                        timed_out,
                    } => return Ok::<_, CoreError>((out, err, truncated, code, signal, timed_out)),
                }
            }
        };
        let both = async {
            // stdin is fed while output is read: a process may fill its
            // stdout before it reads all of its stdin.
            let (fed, gathered) = tokio::join!(feed, gather);
            let gathered = gathered?;
            // A process that exits without reading its stdin is no error.
            if let Err(e) = fed {
                tracing::debug!(vm = name, error = %e, "stdin not taken");
            }
            Ok::<_, CoreError>(gathered)
        };
        let (out, err, truncated, code, signal, timed_out) = tokio::time::timeout(wait, both)
            .await
            .map_err(|_| CoreError::AgentTimeout { name: name.into() })??;
        let (stdout, stdout_encoding) = text_or_base64(out);
        let (stderr, stderr_encoding) = text_or_base64(err);
        Ok(ExecResult {
            exit_code: code,
            signal,
            timed_out,
            stdout,
            stdout_encoding,
            stderr,
            stderr_encoding,
            truncated,
            duration_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// Starts a process and hands back its live session once the guest
    /// says it runs; a program, user or directory that is not there fails
    /// here, before anything is streamed.
    pub async fn exec_session(&self, name: &str, spec: ExecSpec) -> Result<ExecSession> {
        let rt = self.stream_runtime(name, "exec in").await?;
        let slot =
            rt.exec_slots
                .clone()
                .try_acquire_owned()
                .map_err(|_| CoreError::TooManyExecs {
                    name: name.into(),
                    limit: self.inner.cfg.max_execs_per_vm,
                })?;
        let request = |id| {
            HostMessage::Exec(Box::new(hype_agent_proto::ExecRequest {
                id,
                cmd: spec.cmd,
                env: spec.env,
                cwd: spec.cwd,
                user: spec.user,
                tty: spec
                    .tty
                    .map(|(rows, cols)| hype_agent_proto::TtySize { rows, cols }),
                stdin: spec.stdin,
                timeout_ms: spec.timeout_seconds.map(|s| u64::from(s) * 1000),
            }))
        };
        let GuestStream { input, mut output } = GuestStream::open(&rt.link, &rt.agent, request)
            .await
            .map_err(|e| lost(name, e))?;
        let pid = match opened(name, &mut output).await? {
            GuestMessage::Started { pid, .. } => pid,
            other => return Err(unexpected(name, &other)),
        };
        Ok(ExecSession {
            pid,
            input: ExecInput {
                name: name.into(),
                inner: input,
            },
            output: ExecOutput {
                name: name.into(),
                inner: output,
                done: false,
                _slot: slot,
            },
        })
    }
}

/// The first answer of a stream, its errors turned into the core's.
pub(crate) async fn opened(name: &str, output: &mut StreamOutput) -> Result<GuestMessage> {
    let first = tokio::time::timeout(OPEN_WAIT, output.recv())
        .await
        .map_err(|_| CoreError::AgentTimeout { name: name.into() })?;
    match first {
        None => Err(lost(name, StreamGone::Lost)),
        Some(msg @ (GuestMessage::Error { .. } | GuestMessage::Unsupported { .. })) => {
            output.finished();
            Err(refusal(name, msg))
        }
        Some(msg) => Ok(msg),
    }
}

/// A guest's `error` or `unsupported` as the core's error.
pub(crate) fn refusal(name: &str, msg: GuestMessage) -> CoreError {
    match msg {
        GuestMessage::Error { code, message, .. } => CoreError::Guest {
            name: name.into(),
            code,
            message,
        },
        GuestMessage::Unsupported { what, .. } => CoreError::AgentTooOld {
            name: name.into(),
            what: format!("`{what}`"),
        },
        other => unexpected(name, &other),
    }
}

pub(crate) fn unexpected(name: &str, msg: &GuestMessage) -> CoreError {
    tracing::warn!(vm = name, ?msg, "agent answered out of turn");
    CoreError::AgentUnavailable {
        name: name.into(),
        why: "answered out of turn",
    }
}

pub(crate) fn lost(name: &str, _: StreamGone) -> CoreError {
    CoreError::AgentUnavailable {
        name: name.into(),
        why: "connection was lost (the VM stopped, or its VMM went away)",
    }
}

impl ExecInput {
    /// Bytes for the process's stdin (or its terminal).
    pub async fn write(&self, bytes: &[u8]) -> Result<()> {
        self.inner
            .write(bytes)
            .await
            .map_err(|e| lost(&self.name, e))
    }

    /// End of the process's stdin.
    pub async fn close(&self) -> Result<()> {
        self.inner.eof().await.map_err(|e| lost(&self.name, e))
    }

    /// A new terminal size (sessions with a PTY).
    pub async fn resize(&self, rows: u16, cols: u16) -> Result<()> {
        hype_types::exec::check_size(rows, cols).map_err(CoreError::InvalidRequest)?;
        let id = self.inner.id();
        self.inner
            .send(HostMessage::Resize { id, rows, cols })
            .await
            .map_err(|e| lost(&self.name, e))
    }

    /// Sends a signal (`SIGINT` or `INT`) to the process and its group.
    pub async fn signal(&self, signal: &str) -> Result<()> {
        let full = if signal.starts_with("SIG") {
            signal.to_owned()
        } else {
            format!("SIG{signal}")
        };
        if !SIGNALS.contains(&full.as_str()) {
            return Err(CoreError::InvalidRequest(format!(
                "signal {signal:?} is not one of {}",
                SIGNALS.join(", ")
            )));
        }
        let id = self.inner.id();
        self.inner
            .send(HostMessage::Signal { id, signal: full })
            .await
            .map_err(|e| lost(&self.name, e))
    }
}

impl ExecOutput {
    /// What the process does next; `Ok(None)` after its exit.
    pub async fn next_event(&mut self) -> Result<Option<ExecEvent>> {
        if self.done {
            return Ok(None);
        }
        self.next().await.map(Some)
    }

    async fn next(&mut self) -> Result<ExecEvent> {
        loop {
            let msg = self
                .inner
                .recv()
                .await
                .ok_or_else(|| lost(&self.name, StreamGone::Lost))?;
            match msg {
                GuestMessage::Data { fd: 2, data, .. } => return Ok(ExecEvent::Stderr(data.0)),
                GuestMessage::Data { data, .. } => return Ok(ExecEvent::Stdout(data.0)),
                GuestMessage::Eof { .. } => continue,
                GuestMessage::Exited {
                    code,
                    signal,
                    timed_out,
                    ..
                } => {
                    self.done = true;
                    self.inner.finished();
                    return Ok(ExecEvent::Exit {
                        code,
                        signal,
                        timed_out,
                    });
                }
                msg @ (GuestMessage::Error { .. } | GuestMessage::Unsupported { .. }) => {
                    self.done = true;
                    self.inner.finished();
                    return Err(refusal(&self.name, msg));
                }
                other => return Err(unexpected(&self.name, &other)),
            }
        }
    }
}

fn keep(buf: &mut Vec<u8>, bytes: &[u8], truncated: &mut bool) {
    let room = MAX_EXEC_OUTPUT.saturating_sub(buf.len());
    if bytes.len() > room {
        *truncated = true;
    }
    buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

fn text_or_base64(bytes: Vec<u8>) -> (String, OutputEncoding) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, OutputEncoding::Utf8),
        Err(e) => (
            base64::engine::general_purpose::STANDARD.encode(e.into_bytes()),
            OutputEncoding::Base64,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_text_when_it_can_be() {
        assert_eq!(
            text_or_base64(b"hi\n".to_vec()),
            ("hi\n".into(), OutputEncoding::Utf8)
        );
        assert_eq!(
            text_or_base64(vec![0xff, 0]),
            ("/wA=".into(), OutputEncoding::Base64)
        );
    }

    #[test]
    fn output_is_capped() {
        let (mut buf, mut truncated) = (Vec::new(), false);
        keep(&mut buf, &vec![1; MAX_EXEC_OUTPUT - 1], &mut truncated);
        assert!(!truncated);
        keep(&mut buf, &[2, 3], &mut truncated);
        assert!(truncated);
        assert_eq!(buf.len(), MAX_EXEC_OUTPUT);
    }
}
