//! A minimal CDP client: one WebSocket, commands matched to answers by id,
//! events skipped.

use std::time::Duration;

use base64::Engine;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum CdpError {
    #[error("cannot reach the browser at {url}: {detail}")]
    Connect { url: String, detail: String },
    #[error("the browser has no page to show")]
    NoPage,
    #[error("CDP {method} failed: {message}")]
    Command { method: String, message: String },
    #[error("CDP {method}: no answer within {} s", TIMEOUT.as_secs())]
    Timeout { method: String },
    #[error("the browser closed the connection")]
    Closed,
    #[error("unexpected answer: {0}")]
    Protocol(String),
    #[error("element e{node} is not on the page any more")]
    StaleNode { node: u64 },
    #[error("element e{node} has no visible box (hidden or not rendered)")]
    NotVisible { node: u64 },
    #[error("navigation to {url} failed: {why}")]
    Navigation { url: String, why: String },
    #[error("unknown key '{key}': use a single character or a KeyboardEvent.key name such as Enter, Tab, Escape, Backspace, ArrowDown")]
    UnknownKey { key: String },
    #[error("the script threw: {message}")]
    Script { message: String },
}

pub struct CdpSession {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl CdpSession {
    pub async fn connect(url: &str) -> Result<Self, CdpError> {
        Self::connect_authorized(url, None).await
    }

    /// Connects with `Authorization: Bearer KEY` (hyped's proxy), so the
    /// key never has to be part of a URL.
    pub async fn connect_authorized(url: &str, bearer: Option<&str>) -> Result<Self, CdpError> {
        let err = |detail: String| CdpError::Connect {
            url: url.into(),
            detail,
        };
        let mut req = url.into_client_request().map_err(|e| err(e.to_string()))?;
        if let Some(k) = bearer {
            let v = format!("Bearer {k}")
                .parse()
                .map_err(|_| err("the API key is not a valid header value".into()))?;
            req.headers_mut().insert("authorization", v);
        }
        let (ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .map_err(|e| err(e.to_string()))?;
        Ok(Self { ws, next_id: 1 })
    }

    /// Sends `method` and waits for its result.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, CdpError> {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({"id": id, "method": method, "params": params});
        self.ws
            .send(Message::text(msg.to_string()))
            .await
            .map_err(|_| CdpError::Closed)?;
        let answer = tokio::time::timeout(TIMEOUT, async {
            while let Some(frame) = self.ws.next().await {
                let Ok(Message::Text(text)) = frame else {
                    continue;
                };
                let v: Value = serde_json::from_str(text.as_str())
                    .map_err(|e| CdpError::Protocol(e.to_string()))?;
                if v["id"].as_u64() == Some(id) {
                    return Ok(v);
                }
            }
            Err(CdpError::Closed)
        })
        .await
        .map_err(|_| CdpError::Timeout {
            method: method.into(),
        })??;
        if let Some(err) = answer.get("error") {
            return Err(CdpError::Command {
                method: method.into(),
                message: err["message"].as_str().unwrap_or("unknown error").into(),
            });
        }
        Ok(answer["result"].clone())
    }
}

/// A discovery document (`/json/version` or `/json/list`) from the
/// browser's HTTP endpoint `http://ADDR:PORT`, its WebSocket URLs pointing
/// at that same endpoint.
pub async fn discover(endpoint: &str, path: &str) -> Result<Value, CdpError> {
    let url = format!("{endpoint}{path}");
    let connect = |detail: String| CdpError::Connect {
        url: url.clone(),
        detail,
    };
    let mut doc: Value = reqwest::get(&url)
        .await
        .map_err(|e| connect(e.to_string()))?
        .json()
        .await
        .map_err(|e| connect(e.to_string()))?;
    // The browser names itself by the address it saw; reach it where we did.
    let authority = endpoint.trim_start_matches("http://");
    crate::rewrite_discovery(&mut doc, authority, None);
    Ok(doc)
}

/// A PNG of the browser's first page, from the browser's HTTP endpoint
/// `http://ADDR:PORT`.
pub async fn screenshot(endpoint: &str) -> Result<Vec<u8>, CdpError> {
    let targets = discover(endpoint, "/json/list").await?;
    let ws = targets
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["type"] == "page")
        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        .ok_or(CdpError::NoPage)?
        .to_owned();
    let mut s = CdpSession::connect(&ws).await?;
    let shot = s
        .call("Page.captureScreenshot", json!({"format": "png"}))
        .await?;
    screenshot_bytes(&shot)
}

/// The image bytes of a `Page.captureScreenshot` answer.
pub(crate) fn screenshot_bytes(shot: &Value) -> Result<Vec<u8>, CdpError> {
    let data = shot["data"]
        .as_str()
        .ok_or_else(|| CdpError::Protocol("no data in the screenshot".into()))?;
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| CdpError::Protocol(e.to_string()))
}
