//! `/api/v1/vms/{name}/live/ws`: the live view of a browser sandbox, for
//! the console's page `/vms/{name}/live`. hyped sends each screencast
//! frame as a binary message (one JPEG) and [`LiveNotice`] as text (the
//! tabs, the page's size); the viewer sends [`LiveInput`] as text (mouse,
//! keys, a tab to watch). The core drops frames a slow viewer has not
//! taken, so the browser never waits for the socket.
//!
//! `POST /api/v1/vms/{name}/live-links` makes a link to that view for
//! someone without the key (`live_links`): a read-only link's viewer gets
//! frames and tabs, and each input it sends is refused here, before the
//! core.

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};
use futures::{SinkExt, StreamExt};
use hype_core::{LiveEvent, LiveView};
use hype_types::{CreateLiveLink, ErrorBody, ErrorKind, LiveInput, LiveLink, LiveNotice};
use std::time::{Duration, Instant};

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::live_links::Grant;
use crate::AppState;

#[utoipa::path(post, path = "/api/v1/vms/{name}/live-links", tag = "browser",
    params(("name" = String, Path)), request_body = CreateLiveLink,
    responses((status = 201, description = "A link to the VM's live view, for a browser without the key: view-only unless `interactive`. The token is shown this once.", body = LiveLink),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The VM has no browser (`no_browser`)", body = ErrorBody),
        (status = 422, description = "`expires_in` outside 1..=86400, or a field other than `expires_in` and `interactive`", body = ErrorBody),
        (status = 500, description = "No random source for the token", body = ErrorBody)))]
pub async fn create_link(
    State(s): State<AppState>,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<CreateLiveLink>,
) -> Result<(StatusCode, Json<LiveLink>), ApiError> {
    req.validate()
        .map_err(hype_core::CoreError::InvalidRequest)?;
    let (vm_id, live_url) = s.hype.live_target(&name).await?;
    let made = s
        .links
        .make(
            &name,
            &vm_id,
            Duration::from_secs(req.expires_in),
            req.interactive,
        )
        .map_err(|e| ApiError::new(ErrorKind::Internal, "no_random", e.to_string()))?;
    let expires_at = super::session::rfc3339(made.ends_at)
        .ok_or_else(|| ApiError::new(ErrorKind::Internal, "time", "expiry out of range"))?;
    Ok((
        StatusCode::CREATED,
        Json(LiveLink {
            url: format!("{live_url}?token={}", made.token),
            token: made.token,
            expires_at,
            interactive: req.interactive,
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/vms/{name}/live/ws", tag = "browser",
    params(("name" = String, Path)),
    responses((status = 101, description = "The live view: JPEG frames as binary messages, `LiveNotice` as text; the viewer sends `LiveInput` as text"),
        (status = 400, description = "Not a WebSocket upgrade", body = ErrorBody),
        (status = 401, description = "No key or session; or a live link (`?token=hlv_...`) that expired, whose VM was deleted (`link_invalid`), or made for another VM (`link_scope`)", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The VM is not running, or has no browser (`no_browser`)", body = ErrorBody),
        (status = 502, body = ErrorBody)))]
pub async fn live_ws(
    State(s): State<AppState>,
    Path(name): Path<String>,
    grant: Option<Extension<Grant>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    // The key or a session may do anything; a link what it was made for.
    let access = Access {
        interactive: grant.as_ref().is_none_or(|g| g.interactive),
        ends: grant.map(|g| g.ends),
    };
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
            pump(socket, &mut view, access, shutdown).await;
            tracing::debug!(vm = %name, dropped = view.dropped(), "live viewer left");
        }))
}

/// What the viewer may do.
#[derive(Debug, Clone, Copy)]
struct Access {
    interactive: bool,
    /// When its link expires (never, for the key or a session).
    ends: Option<Instant>,
}

/// Close code when the viewer's live link expires: policy violation.
const CLOSE_LINK_EXPIRED: u16 = 1008;

async fn pump(
    socket: WebSocket,
    view: &mut LiveView,
    access: Access,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let (mut tx, mut rx) = socket.split();
    let notice = LiveNotice::Access {
        interactive: access.interactive,
    };
    if tx.send(super::ws::json(&notice)).await.is_err() {
        return;
    }
    let expiry = async {
        match access.ends {
            Some(t) => tokio::time::sleep_until(t.into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(expiry);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                let _ = tx.send(super::ws::shutting_down()).await;
                return;
            }
            _ = &mut expiry => {
                let _ = tx.send(super::ws::close(CLOSE_LINK_EXPIRED, "the live link expired")).await;
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
                    // Refused unread: a view-only viewer's input never
                    // reaches the core, whatever it says.
                    ws::Message::Text(_) if !access.interactive => Err((
                        "view_only",
                        "this live link is view-only: input and tab switches are refused".into(),
                    )),
                    ws::Message::Text(t) => match serde_json::from_str::<LiveInput>(t.as_str()) {
                        Ok(input) => view.input(input).await.map_err(|e| (e.code(), e.describe())),
                        Err(e) => Err(("invalid_request", format!(
                            "a text message must be mouse, key or tab input: {e}"
                        ))),
                    },
                    ws::Message::Binary(_) => Err((
                        "invalid_request",
                        "the viewer sends text messages only".into(),
                    )),
                    ws::Message::Close(_) => return,
                    ws::Message::Ping(_) | ws::Message::Pong(_) => Ok(()),
                };
                // Refused input is said and the view goes on.
                if let Err((code, message)) = done {
                    let n = LiveNotice::Error { code: code.into(), message };
                    if tx.send(super::ws::json(&n)).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
