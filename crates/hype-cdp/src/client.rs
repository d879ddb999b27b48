//! A minimal CDP client: one WebSocket, commands matched to answers by id,
//! events skipped.

use std::net::SocketAddrV4;
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
    #[error("selector '{selector}' does not name one element: {why}")]
    Selector { selector: String, why: String },
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
        Ok(Self {
            ws: open_socket(url, bearer).await?,
            next_id: 1,
        })
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

/// A WebSocket to `url`, with `Authorization: Bearer KEY` when given.
pub async fn open_socket(url: &str, bearer: Option<&str>) -> Result<DevtoolsSocket, CdpError> {
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
    Ok(ws)
}

/// The most a discovery document may weigh (a browser with a few hundred
/// tabs sends tens of KiB).
const MAX_DISCOVERY: usize = 4 << 20;

/// The discovery documents a browser serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discovery {
    Version,
    List,
}

impl Discovery {
    pub fn path(self) -> &'static str {
        match self {
            Discovery::Version => "/json/version",
            Discovery::List => "/json/list",
        }
    }
}

/// One HTTP client for every discovery request (a client is costly to
/// build, and a claim's first CDP request should not pay for it). It keeps
/// no idle connections: a guest's address passes to another VM when the
/// first is gone, and a kept connection would be to the wrong one.
fn discovery_client() -> Result<&'static reqwest::Client, reqwest::Error> {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c);
    }
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .pool_max_idle_per_host(0)
        .build()?;
    Ok(CLIENT.get_or_init(|| c))
}

/// A discovery document from the browser's HTTP endpoint `ADDR:PORT`, its
/// WebSocket URLs rebuilt to point at that same endpoint. The answer comes
/// from inside the guest: redirects are not followed and its size is
/// bounded.
pub async fn discover(endpoint: SocketAddrV4, doc: Discovery) -> Result<Value, CdpError> {
    let url = format!("http://{endpoint}{}", doc.path());
    let connect = |detail: String| CdpError::Connect {
        url: url.clone(),
        detail,
    };
    let mut resp = discovery_client()
        .map_err(|e| connect(e.to_string()))?
        .get(&url)
        .send()
        .await
        .map_err(|e| connect(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(connect(format!("answered {}", resp.status())));
    }
    let mut body = vec![];
    while let Some(chunk) = resp.chunk().await.map_err(|e| connect(e.to_string()))? {
        if body.len() + chunk.len() > MAX_DISCOVERY {
            return Err(connect(format!("answer over {MAX_DISCOVERY} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    let mut doc: Value = serde_json::from_slice(&body).map_err(|e| connect(e.to_string()))?;
    // The browser names itself by the address it saw; reach it where we did.
    crate::rewrite_discovery(&mut doc, &endpoint.to_string(), None);
    Ok(doc)
}

/// The WebSocket stream of a DevTools target.
pub type DevtoolsSocket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens `target`'s DevTools WebSocket at the browser endpoint `ADDR:PORT`;
/// the URL is built here from those two alone.
pub async fn connect_devtools(
    endpoint: SocketAddrV4,
    target: &crate::DevtoolsTarget,
) -> Result<DevtoolsSocket, CdpError> {
    let url = format!("ws://{endpoint}/devtools/{target}");
    let (ws, _) = tokio_tungstenite::connect_async(&url)
        .await
        .map_err(|e| CdpError::Connect {
            url: url.clone(),
            detail: e.to_string(),
        })?;
    Ok(ws)
}

/// A PNG of the browser's first page, from the browser's HTTP endpoint
/// `ADDR:PORT`.
pub async fn screenshot(endpoint: SocketAddrV4) -> Result<Vec<u8>, CdpError> {
    let targets = discover(endpoint, Discovery::List).await?;
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
