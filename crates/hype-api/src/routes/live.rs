//! `/api/v1/vms/{name}/live/ws`: the live view of a browser sandbox, for
//! the console's page `/vms/{name}/live`. hyped sends each screencast
//! frame as a binary message (one JPEG) and [`LiveNotice`] as text (the
//! tabs, the page's size); the viewer sends [`LiveInput`] as text (mouse,
//! keys, a tab to watch). The core drops frames a slow viewer has not
//! taken, so the browser never waits for the socket.

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use hype_core::{LiveEvent, LiveView};
use hype_types::{ErrorBody, LiveInput, LiveNotice};

use crate::error::ApiError;
use crate::AppState;

#[utoipa::path(get, path = "/api/v1/vms/{name}/live/ws", tag = "browser",
    params(("name" = String, Path)),
    responses((status = 101, description = "The live view: JPEG frames as binary messages, `LiveNotice` as text; the viewer sends `LiveInput` as text"),
        (status = 400, description = "Not a WebSocket upgrade", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The VM is not running, or has no browser (`no_browser`)", body = ErrorBody),
        (status = 502, body = ErrorBody)))]
pub async fn live_ws(
    State(s): State<AppState>,
    Path(name): Path<String>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    // What cannot be watched (no such VM, not running, no browser) is
    // said first, as the CDP proxy says it; then a plain GET is refused
    // before anything connects, so it starts no screencast.
    s.hype.cdp_endpoint(&name).await?;
    let upgrade = upgrade?;
    // Connected before the upgrade, so a VM that cannot be watched is an
    // HTTP error rather than a socket that closes at once.
    let view = s.hype.live_view(&name).await?;
    let shutdown = s.shutdown.clone();
    Ok(upgrade
        .max_message_size(64 << 10)
        .on_upgrade(move |socket| async move {
            let mut view = view;
            pump(socket, &mut view, shutdown).await;
            tracing::debug!(vm = %name, dropped = view.dropped(), "live viewer left");
        }))
}

async fn pump(
    socket: WebSocket,
    view: &mut LiveView,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let (mut tx, mut rx) = socket.split();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                let _ = tx.send(super::ws::shutting_down()).await;
                return;
            }
            ev = view.next() => {
                let m = match ev {
                    LiveEvent::Frame(jpeg) => ws::Message::Binary(jpeg),
                    LiveEvent::Notice(n) => super::ws::json(&n),
                    LiveEvent::Closed(why) => {
                        let _ = tx.send(super::ws::close(why.code, &why.reason)).await;
                        return;
                    }
                };
                // A slow viewer holds us here; meanwhile the core keeps
                // only the newest frame.
                if tx.send(m).await.is_err() {
                    return;
                }
            }
            m = rx.next() => {
                // The viewer left: dropping the view stops the screencast.
                let Some(Ok(m)) = m else { return };
                let done = match m {
                    ws::Message::Text(t) => match serde_json::from_str::<LiveInput>(t.as_str()) {
                        Ok(input) => view.input(input).await,
                        Err(e) => Err(hype_core::CoreError::InvalidRequest(format!(
                            "a text message must be mouse, key or tab input: {e}"
                        ))),
                    },
                    ws::Message::Binary(_) => Err(hype_core::CoreError::InvalidRequest(
                        "the viewer sends text messages only".into(),
                    )),
                    ws::Message::Close(_) => return,
                    ws::Message::Ping(_) | ws::Message::Pong(_) => Ok(()),
                };
                // Refused input is said and the view goes on.
                if let Err(e) = done {
                    let n = LiveNotice::Error { code: e.code().into(), message: e.describe() };
                    if tx.send(super::ws::json(&n)).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
