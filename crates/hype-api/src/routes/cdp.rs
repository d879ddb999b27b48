//! `/api/v1/vms/{name}/cdp/...`: the browser's DevTools endpoint through
//! hyped. Discovery documents come from the core (fetched from the guest
//! and checked there) with their URLs rewritten to come back here;
//! WebSocket upgrades are proxied frame for frame to the guest's relay.
//! Connections go only to the VM's own address, to a checked target.

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::{SinkExt, StreamExt};
use hype_cdp::Discovery;
use hype_types::ErrorBody;
use serde::Deserialize;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame as TCloseFrame;
use tokio_tungstenite::tungstenite::Message as TMessage;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// The API key, for CDP clients that cannot send a header; it is put
    /// into the WebSocket URLs of the answer.
    token: Option<String>,
}

async fn discovery(
    s: &AppState,
    name: &str,
    doc: Discovery,
    headers: &HeaderMap,
    token: Option<&str>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut doc = s.hype.cdp_discovery(name, doc).await?;
    // The client reached us by this authority (checked by the Host rule);
    // send it back the same way.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| {
            s.hype
                .config()
                .public_url
                .trim_start_matches("http://")
                .to_owned()
        });
    hype_cdp::rewrite_discovery(&mut doc, &format!("{host}/api/v1/vms/{name}/cdp"), token);
    Ok(Json(doc))
}

#[utoipa::path(get, path = "/api/v1/vms/{name}/cdp/json/version", tag = "browser",
    params(("name" = String, Path), TokenQuery),
    responses((status = 200, description = "The browser's /json/version, URLs pointing at hyped", body = Object),
        (status = 404, body = ErrorBody), (status = 409, description = "Not running, or no browser", body = ErrorBody),
        (status = 502, body = ErrorBody)))]
pub async fn version(
    State(s): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<TokenQuery>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    discovery(&s, &name, Discovery::Version, &headers, q.token.as_deref()).await
}

#[utoipa::path(get, path = "/api/v1/vms/{name}/cdp/json/list", tag = "browser",
    params(("name" = String, Path), TokenQuery),
    responses((status = 200, description = "The browser's targets, URLs pointing at hyped", body = Object),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<TokenQuery>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    discovery(&s, &name, Discovery::List, &headers, q.token.as_deref()).await
}

/// `/json`, Chrome's older name of `/json/list`.
#[utoipa::path(get, path = "/api/v1/vms/{name}/cdp/json", tag = "browser",
    params(("name" = String, Path), TokenQuery),
    responses((status = 200, description = "The browser's targets, as /json/list", body = Object),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn json(
    State(s): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<TokenQuery>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    discovery(&s, &name, Discovery::List, &headers, q.token.as_deref()).await
}

#[utoipa::path(get, path = "/api/v1/vms/{name}/cdp/devtools/{kind}/{id}", tag = "browser",
    params(("name" = String, Path),
        ("kind" = String, Path, pattern = "^(browser|page|worker|shared_worker|service_worker|iframe|other)$",
            description = "The kind of target"),
        ("id" = String, Path, pattern = "^[A-Za-z0-9-]{1,128}$", description = "The target's id"), TokenQuery),
    responses((status = 101, description = "WebSocket to the browser, frame for frame"),
        (status = 400, description = "Not a WebSocket upgrade", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, description = "Not a DevTools target", body = ErrorBody),
        (status = 502, body = ErrorBody)))]
pub async fn devtools(
    State(s): State<AppState>,
    Path((name, kind, id)): Path<(String, String, String)>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    // Connect first, so a browser that is not there is an HTTP error the
    // client can read rather than a WebSocket that closes at once.
    let upstream = s.hype.cdp_socket(&name, &format!("{kind}/{id}")).await?;
    let upgrade = upgrade?;
    let shutdown = s.shutdown.clone();
    let lease = s.hype.cdp_lease(&name);
    Ok(upgrade
        .max_message_size(256 << 20)
        .on_upgrade(move |client| pump(client, upstream, shutdown, lease)))
}

/// Copies frames both ways until either side closes, the sandbox expires
/// (the client gets a close frame saying so) or hyped shuts down.
async fn pump(
    client: WebSocket,
    upstream: hype_cdp::DevtoolsSocket,
    shutdown: tokio_util::sync::CancellationToken,
    mut lease: hype_core::CdpLease,
) {
    let (mut c_tx, mut c_rx) = client.split();
    let (mut u_tx, mut u_rx) = upstream.split();
    loop {
        tokio::select! {
            _ = lease.closed.changed() => {
                let why = lease.closed.borrow().clone();
                if let Some(why) = why {
                    let _ = c_tx.send(super::ws::close(why.code, &why.reason)).await;
                    let _ = u_tx.close().await;
                    return;
                }
            }
            _ = shutdown.cancelled() => {
                let _ = c_tx.send(super::ws::shutting_down()).await;
                let _ = u_tx.send(TMessage::Close(Some(TCloseFrame {
                    code: CloseCode::Away,
                    reason: "proxy shutting down".into(),
                }))).await;
                return;
            }
            m = c_rx.next() => {
                let Some(Ok(m)) = m else { let _ = u_tx.close().await; return };
                let out = match m {
                    ws::Message::Text(t) => TMessage::text(t.as_str()),
                    ws::Message::Binary(b) => TMessage::binary(b),
                    ws::Message::Ping(p) => TMessage::Ping(p),
                    ws::Message::Pong(p) => TMessage::Pong(p),
                    ws::Message::Close(f) => {
                        let _ = u_tx.send(TMessage::Close(f.map(|f| TCloseFrame {
                            code: f.code.into(),
                            reason: f.reason.as_str().to_owned().into(),
                        }))).await;
                        return;
                    }
                };
                if u_tx.send(out).await.is_err() { return; }
            }
            m = u_rx.next() => {
                let Some(Ok(m)) = m else { let _ = c_tx.close().await; return };
                let out = match m {
                    TMessage::Text(t) => ws::Message::Text(t.as_str().into()),
                    TMessage::Binary(b) => ws::Message::Binary(b),
                    TMessage::Ping(p) => ws::Message::Ping(p),
                    TMessage::Pong(p) => ws::Message::Pong(p),
                    TMessage::Close(f) => {
                        let _ = c_tx.send(ws::Message::Close(f.map(|f| ws::CloseFrame {
                            code: f.code.into(),
                            reason: f.reason.as_str().into(),
                        }))).await;
                        return;
                    }
                    TMessage::Frame(_) => continue,
                };
                if c_tx.send(out).await.is_err() { return; }
            }
        }
    }
}

#[utoipa::path(get, path = "/api/v1/vms/{name}/screenshot", tag = "browser",
    params(("name" = String, Path)),
    responses((status = 200, description = "PNG of the active page", body = Vec<u8>, content_type = "image/png"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn screenshot(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let png = s.hype.screenshot(&name).await?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png))
}
