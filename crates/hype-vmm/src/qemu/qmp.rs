//! A minimal QMP client: JSON lines over the VMM's unix socket. One
//! connection per operation keeps hyped stateless towards QEMU, so a
//! restarted hyped needs nothing but the socket path.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    #[error("connect: {0}")]
    Connect(#[source] std::io::Error),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("QEMU closed the QMP connection")]
    Closed,
    #[error("no answer within {} s", TIMEOUT.as_secs())]
    Timeout,
    #[error("unexpected reply: {0}")]
    Protocol(String),
    #[error("{class}: {desc}")]
    Command { class: String, desc: String },
}

#[derive(Deserialize)]
struct QmpErrorBody {
    class: String,
    desc: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Reply {
    Return {
        #[serde(rename = "return")]
        ret: Value,
    },
    Error {
        error: QmpErrorBody,
    },
    Event {
        #[allow(dead_code)]
        event: String,
    },
    Greeting {
        #[serde(rename = "QMP")]
        #[allow(dead_code)]
        qmp: Value,
    },
}

pub struct Qmp {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Qmp {
    /// Connects, reads the greeting and leaves capability negotiation mode.
    pub async fn connect(path: &Path) -> Result<Self, QmpError> {
        let stream = UnixStream::connect(path).await.map_err(QmpError::Connect)?;
        let (r, w) = stream.into_split();
        let mut qmp = Self {
            reader: BufReader::new(r),
            writer: w,
        };
        match qmp.read_reply().await? {
            Reply::Greeting { .. } => {}
            _ => return Err(QmpError::Protocol("no greeting".into())),
        }
        qmp.execute("qmp_capabilities", None).await?;
        Ok(qmp)
    }

    /// Runs one command and returns its `return` value; events in between
    /// are skipped.
    pub async fn execute(&mut self, command: &str, args: Option<Value>) -> Result<Value, QmpError> {
        let mut msg = json!({ "execute": command });
        if let Some(args) = args {
            msg["arguments"] = args;
        }
        let mut line = serde_json::to_vec(&msg).map_err(|e| QmpError::Protocol(e.to_string()))?;
        line.push(b'\n');
        self.writer.write_all(&line).await?;
        loop {
            match self.read_reply().await? {
                Reply::Return { ret } => return Ok(ret),
                Reply::Error { error } => {
                    return Err(QmpError::Command {
                        class: error.class,
                        desc: error.desc,
                    })
                }
                Reply::Event { .. } | Reply::Greeting { .. } => continue,
            }
        }
    }

    async fn read_reply(&mut self) -> Result<Reply, QmpError> {
        let mut line = String::new();
        let n = tokio::time::timeout(TIMEOUT, self.reader.read_line(&mut line))
            .await
            .map_err(|_| QmpError::Timeout)??;
        if n == 0 {
            return Err(QmpError::Closed);
        }
        serde_json::from_str(&line).map_err(|e| QmpError::Protocol(format!("{e}: {line}")))
    }
}
