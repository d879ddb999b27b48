//! `/api/v1/vms/{name}/exec`: processes in a guest, answered whole (POST)
//! or streamed over a WebSocket (`/exec/ws`, with a PTY when asked).
//!
//! The WebSocket's frames: the client sends stdin as binary frames and
//! [`ExecControl`] as text (resize, signal, eof); hyped sends output as
//! binary frames whose first byte names the stream (1 stdout or the
//! terminal, 2 stderr), and [`ExecNotice`] as text: `exit` last, then it
//! closes. A client that closes first kills the process.

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use futures::{SinkExt, StreamExt};
use hype_core::{ExecEvent, ExecSession};
use hype_types::exec::{STDERR_FRAME, STDOUT_FRAME};
use hype_types::{
    ErrorBody, ErrorKind, ExecControl, ExecNotice, ExecRequest, ExecResult, ExecStreamQuery,
};

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiListQuery};
use crate::AppState;

#[utoipa::path(post, path = "/api/v1/vms/{name}/exec", tag = "guest", params(("name" = String, Path)),
    request_body = ExecRequest,
    responses((status = 200, description = "The process ended (whatever its exit code)", body = ExecResult),
        (status = 404, description = "No such VM, or no such program, user or directory in the guest", body = ErrorBody),
        (status = 409, description = "The VM is not running, or has no guest agent (`no_agent`)", body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 429, description = "The VM runs --max-execs-per-vm execs already", body = ErrorBody),
        (status = 501, description = "The VM's agent is too old for exec", body = ErrorBody),
        (status = 504, body = ErrorBody)))]
pub async fn exec(
    State(s): State<AppState>,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<ExecRequest>,
) -> Result<Json<ExecResult>, ApiError> {
    let (spec, stdin) = req.validate().map_err(invalid)?;
    Ok(Json(s.hype.exec(&name, spec, stdin).await?))
}

#[utoipa::path(get, path = "/api/v1/vms/{name}/exec/ws", tag = "guest",
    params(("name" = String, Path), ExecStreamQuery),
    responses((status = 101, description = "The process runs: stdin, output and control as WebSocket frames"),
        (status = 400, description = "Not a WebSocket upgrade", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 501, body = ErrorBody), (status = 504, body = ErrorBody)))]
pub async fn exec_ws(
    State(s): State<AppState>,
    Path(name): Path<String>,
    ApiListQuery(q): ApiListQuery<ExecStreamQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let spec = q.validate().map_err(invalid)?;
    let upgrade = upgrade?;
    // Started before the upgrade, so a program that is not there is an
    // HTTP error rather than a socket that closes at once.
    let session = s.hype.exec_session(&name, spec).await?;
    let shutdown = s.shutdown.clone();
    Ok(upgrade
        .max_message_size(4 << 20)
        .on_upgrade(move |socket| pump(socket, session, shutdown)))
}

fn invalid(why: String) -> ApiError {
    ApiError::new(ErrorKind::Invalid, "invalid_request", why)
}

async fn pump(
    socket: WebSocket,
    session: ExecSession,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let (mut tx, mut rx) = socket.split();
    let ExecSession {
        input, mut output, ..
    } = session;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                let _ = tx.send(super::ws::shutting_down()).await;
                return;
            }
            event = output.next_event() => {
                let frame = match event {
                    Ok(Some(ExecEvent::Stdout(b))) => framed(STDOUT_FRAME, b),
                    Ok(Some(ExecEvent::Stderr(b))) => framed(STDERR_FRAME, b),
                    Ok(Some(ExecEvent::Exit { code, signal, timed_out })) => {
                        let _ = tx.send(super::ws::json(&ExecNotice::Exit { exit_code: code, signal, timed_out })).await;
                        let _ = tx.send(super::ws::close(1000, "exited")).await;
                        return;
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = tx.send(super::ws::json(&ExecNotice::Error {
                            code: e.code().into(),
                            message: e.describe(),
                        })).await;
                        let _ = tx.send(super::ws::close(1011, "the exec failed")).await;
                        return;
                    }
                };
                if tx.send(frame).await.is_err() {
                    return;
                }
            }
            m = rx.next() => {
                // The client went away: dropping the session kills the
                // process in the guest.
                let Some(Ok(m)) = m else { return };
                let done = match m {
                    ws::Message::Binary(b) => input.write(&b).await,
                    ws::Message::Text(t) => match serde_json::from_str::<ExecControl>(t.as_str()) {
                        Ok(ExecControl::Resize { rows, cols }) => input.resize(rows, cols).await,
                        Ok(ExecControl::Signal { signal }) => input.signal(&signal).await,
                        Ok(ExecControl::Eof) => input.close().await,
                        Err(e) => Err(hype_core::CoreError::InvalidRequest(format!(
                            "a text frame must be a control message (resize, signal, eof): {e}"
                        ))),
                    },
                    ws::Message::Close(_) => return,
                    ws::Message::Ping(_) | ws::Message::Pong(_) => Ok(()),
                };
                // A refused control frame is said and the session goes on.
                if let Err(e) = done {
                    let n = ExecNotice::Error { code: e.code().into(), message: e.describe() };
                    if tx.send(super::ws::json(&n)).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

fn framed(stream: u8, bytes: Vec<u8>) -> ws::Message {
    let mut frame = Vec::with_capacity(bytes.len() + 1);
    frame.push(stream);
    frame.extend_from_slice(&bytes);
    ws::Message::Binary(frame.into())
}
