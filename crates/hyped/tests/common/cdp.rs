//! A minimal CDP client for tests and benches: one WebSocket, commands
//! answered by id (events in between are skipped).

use anyhow::{bail, Context};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Cdp {
    ws: Ws,
    next: u64,
}

impl Cdp {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .with_context(|| format!("connect {url}"))?;
        Ok(Self { ws, next: 1 })
    }

    /// The first page target of the browser at `cdp_url` (hyped's proxy).
    pub async fn first_page(cdp_url: &str) -> anyhow::Result<Self> {
        let pages: Value = reqwest::get(format!("{cdp_url}/json/list"))
            .await?
            .error_for_status()?
            .json()
            .await?;
        let ws = pages
            .as_array()
            .and_then(|p| p.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .context("no page target")?
            .to_owned();
        Self::connect(&ws).await
    }

    /// The browser target at `cdp_url`.
    pub async fn browser(cdp_url: &str) -> anyhow::Result<Self> {
        let v: Value = reqwest::get(format!("{cdp_url}/json/version"))
            .await?
            .error_for_status()?
            .json()
            .await?;
        Self::connect(
            v["webSocketDebuggerUrl"]
                .as_str()
                .context("no browser url")?,
        )
        .await
    }

    pub async fn call(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.call_in(None, method, params).await
    }

    /// A command to the target attached as `session` (flat sessions).
    pub async fn call_in(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> anyhow::Result<Value> {
        let id = self.next;
        self.next += 1;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = s.into();
        }
        self.ws.send(Message::Text(msg.to_string().into())).await?;
        while let Some(m) = self.ws.next().await {
            let Message::Text(t) = m? else { continue };
            let v: Value = serde_json::from_str(&t)?;
            if v["id"] == id {
                if !v["error"].is_null() {
                    bail!("{method}: {}", v["error"]);
                }
                return Ok(v["result"].clone());
            }
        }
        bail!("{method}: connection closed")
    }

    /// Evaluates `expr` in the page and returns its value.
    pub async fn eval(&mut self, expr: &str) -> anyhow::Result<Value> {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
            )
            .await?;
        if !r["exceptionDetails"].is_null() {
            bail!("{expr}: {}", r["exceptionDetails"]);
        }
        Ok(r["result"]["value"].clone())
    }
}
