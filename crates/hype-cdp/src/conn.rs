//! A CDP connection that keeps both directions: commands (to the browser
//! or, with a `sessionId`, to an attached target in flat mode) answered by
//! id, and every event delivered in order to one receiver. Commands may be
//! sent from many tasks at once; one reader task owns the socket's read
//! half and ends when the browser goes away, failing whatever still waits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::{CdpError, DevtoolsSocket};

/// How long a command waits for its answer.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Events buffered for a slow consumer before the connection waits for it.
const EVENT_BUFFER: usize = 1024;

/// One event, from the browser or an attached target.
#[derive(Debug, Clone)]
pub struct CdpEvent {
    /// The attached target's session, `None` for the browser's own.
    pub session: Option<String>,
    pub method: String,
    pub params: Value,
}

type Waiting = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// The sending side; clone it freely.
#[derive(Clone)]
pub struct Connection {
    sink: Arc<tokio::sync::Mutex<SplitSink<DevtoolsSocket, Message>>>,
    pending: Waiting,
    next: Arc<AtomicU64>,
}

impl Connection {
    /// Takes over `socket`; the events come out of the returned receiver
    /// (which ends when the browser closes the connection).
    pub fn open(socket: DevtoolsSocket) -> (Self, mpsc::Receiver<CdpEvent>) {
        let (sink, mut stream) = socket.split();
        let pending: Waiting = Arc::default();
        let (tx, rx) = mpsc::channel(EVENT_BUFFER);
        let waiting = pending.clone();
        tokio::spawn(async move {
            while let Some(frame) = stream.next().await {
                let Ok(Message::Text(text)) = frame else {
                    if matches!(frame, Ok(Message::Close(_)) | Err(_)) {
                        break;
                    }
                    continue;
                };
                let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else {
                    continue;
                };
                if let Some(id) = v.get("id").and_then(Value::as_u64) {
                    let waiter = waiting.lock().expect("pending lock").remove(&id);
                    if let Some(w) = waiter {
                        let _ = w.send(v);
                    }
                    continue;
                }
                let Some(method) = v.get("method").and_then(Value::as_str) else {
                    continue;
                };
                let ev = CdpEvent {
                    session: v
                        .get("sessionId")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    method: method.to_owned(),
                    params: v.get("params").cloned().unwrap_or(Value::Null),
                };
                if tx.send(ev).await.is_err() {
                    break;
                }
            }
            // Whoever still waits learns the browser is gone.
            waiting.lock().expect("pending lock").clear();
        });
        (
            Self {
                sink: Arc::new(tokio::sync::Mutex::new(sink)),
                pending,
                next: Arc::new(AtomicU64::new(1)),
            },
            rx,
        )
    }

    async fn write(&self, session: Option<&str>, id: u64, method: &str, params: Value) -> bool {
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = Value::String(s.to_owned());
        }
        self.sink
            .lock()
            .await
            .send(Message::text(msg.to_string()))
            .await
            .is_ok()
    }

    /// Sends `method` (to `session`'s target, or the browser) and waits for
    /// its result.
    pub async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, CdpError> {
        self.start(session, method, params).await?.answer().await
    }

    /// Sends `method` and returns at once with what waits for its answer:
    /// commands sent one after the other reach the target in that order,
    /// whatever is awaited when. A target waiting for its debugger may not
    /// answer some commands until it runs, so its setup is sent this way,
    /// then the go-ahead, and only then are the answers awaited.
    pub async fn start(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Pending, CdpError> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().expect("pending lock").insert(id, tx);
        if !self.write(session, id, method, params).await {
            self.pending.lock().expect("pending lock").remove(&id);
            return Err(CdpError::Closed);
        }
        Ok(Pending {
            id,
            method: method.into(),
            rx,
            waiting: self.pending.clone(),
        })
    }

    /// Sends `method` without waiting for its answer.
    pub async fn send(&self, session: Option<&str>, method: &str, params: Value) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.write(session, id, method, params).await;
    }

    /// Closes the connection (the reader ends, the events receiver too).
    pub async fn close(&self) {
        let _ = self.sink.lock().await.close().await;
    }
}

/// A command sent, its answer still to come ([`Connection::start`]).
pub struct Pending {
    id: u64,
    method: String,
    rx: oneshot::Receiver<Value>,
    waiting: Waiting,
}

impl Pending {
    /// The command's result, or its error, within the connection's timeout.
    pub async fn answer(self) -> Result<Value, CdpError> {
        let answer = match tokio::time::timeout(TIMEOUT, self.rx).await {
            Ok(Ok(v)) => v,
            Ok(Err(_)) => return Err(CdpError::Closed),
            Err(_) => {
                self.waiting.lock().expect("pending lock").remove(&self.id);
                return Err(CdpError::Timeout {
                    method: self.method,
                });
            }
        };
        if let Some(err) = answer.get("error") {
            return Err(CdpError::Command {
                method: self.method,
                message: err["message"].as_str().unwrap_or("unknown error").into(),
            });
        }
        Ok(answer["result"].clone())
    }
}
