//! `/api/v1/vms/{name}/cdp/...`: the browser's DevTools endpoint through
//! hyped. Discovery documents are fetched from the guest and their URLs
//! rewritten to come back here; WebSocket upgrades are proxied frame for
//! frame to the guest's relay (which fixes Host and drops Origin, as
//! Chromium requires). Connections go only to the VM's own address.

use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::{SinkExt, StreamExt};
use hype_types::ErrorBody;
use serde::Deserialize;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame as TCloseFrame;
use tokio_tungstenite::tungstenite::Message as TMessage;

use crate::error::ApiError;
use crate::AppState;

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

fn upstream_error(name: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "browser_unreachable",
        format!("VM '{name}': the browser did not answer: {e}"),
    )
}

async fn discovery(
    s: &AppState,
    name: &str,
    path: &str,
    headers: &HeaderMap,
    token: Option<&str>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let addr = s.hype.cdp_endpoint(name).await?;
    let mut doc: serde_json::Value = reqwest::get(format!("http://{addr}{path}"))
        .await
        .map_err(|e| upstream_error(name, e))?
        .json()
        .await
        .map_err(|e| upstream_error(name, e))?;
    // The client reached us by this authority; send it back the same way.
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
    params(("name" = String, Path)),
    responses((status = 200, description = "The browser's /json/version, URLs pointing at hyped"),
        (status = 404, body = ErrorBody), (status = 409, description = "Not running, or no browser", body = ErrorBody),
        (status = 502, body = ErrorBody)))]
pub async fn version(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    discovery(&s, &name, "/json/version", &headers, q.token.as_deref()).await
}

#[utoipa::path(get, path = "/api/v1/vms/{name}/cdp/json/list", tag = "browser",
    params(("name" = String, Path)),
    responses((status = 200, description = "The browser's targets, URLs pointing at hyped"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    discovery(&s, &name, "/json/list", &headers, q.token.as_deref()).await
}

#[utoipa::path(get, path = "/api/v1/vms/{name}/cdp/devtools/{target}", tag = "browser",
    params(("name" = String, Path), ("target" = String, Path, description = "`browser/ID` or `page/ID`")),
    responses((status = 101, description = "WebSocket to the browser, frame for frame"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn devtools(
    State(s): State<AppState>,
    Path((name, target)): Path<(String, String)>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let addr = s.hype.cdp_endpoint(&name).await?;
    // Connect first, so a browser that is not there is an HTTP error the
    // client can read rather than a WebSocket that closes at once.
    let url = format!("ws://{addr}/devtools/{target}");
    let (upstream, _) = tokio_tungstenite::connect_async(&url)
        .await
        .map_err(|e| upstream_error(&name, e))?;
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
    upstream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
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
                    let _ = c_tx.send(ws::Message::Close(Some(ws::CloseFrame {
                        code: why.code,
                        reason: why.reason.as_str().into(),
                    }))).await;
                    let _ = u_tx.close().await;
                    return;
                }
            }
            _ = shutdown.cancelled() => {
                let _ = c_tx.send(ws::Message::Close(Some(ws::CloseFrame {
                    code: 1001,
                    reason: "hyped is shutting down".into(),
                }))).await;
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
    responses((status = 200, description = "PNG of the active page", content_type = "image/png"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn screenshot(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let png = s.hype.screenshot(&name).await?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png))
}
