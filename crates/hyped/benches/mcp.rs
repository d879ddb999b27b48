//! MCP browser tools against the same actions made directly over CDP, in
//! one run on one browser sandbox: p50/p99 of `browser_snapshot` and
//! `browser_click` through hyped's `/mcp` (streamable HTTP, a handshake-era
//! session) on a page of 1,000 elements, and of `Accessibility.getFullAXTree`
//! rendered + a mouse click over hyped's CDP proxy. Needs the `browser` image.
//!
//! `cargo bench -p hyped --bench mcp` (`HYPE_BENCH_CALLS`, default 30; as
//! root: hyped runs with networking in a namespace of the bench's own)

#[path = "../tests/common/mod.rs"]
mod common;
mod figures;

use std::time::{Duration, Instant};

use common::Server;
use figures::{env_n, pct};
use serde_json::{json, Value};

/// A page of 1,000 elements: buttons, each setting the title when clicked.
const BUILD: &str = "() => { document.body.innerHTML = ''; for (let i = 0; i < 1000; i++) { const b = document.createElement('button'); b.textContent = 'b' + i; b.onclick = () => { document.title = 'c' + i; }; document.body.appendChild(b); } return document.querySelectorAll('button').length; }";

/// A handshake-era MCP session over plain HTTP.
struct Mcp {
    http: reqwest::Client,
    url: String,
    session: String,
    id: u64,
}

impl Mcp {
    async fn post(&mut self, body: Value) -> anyhow::Result<(reqwest::header::HeaderMap, Value)> {
        let mut req = self
            .http
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .json(&body);
        if !self.session.is_empty() {
            req = req
                .header("mcp-session-id", &self.session)
                .header("mcp-protocol-version", "2025-11-25");
        }
        let resp = req.send().await?.error_for_status()?;
        let headers = resp.headers().clone();
        let text = resp.text().await?;
        // One JSON body, or SSE frames whose last data line is the answer.
        let v = match text.lines().rev().find_map(|l| l.strip_prefix("data:")) {
            Some(d) => serde_json::from_str(d.trim())?,
            None if text.trim().is_empty() => Value::Null,
            None => serde_json::from_str(&text)?,
        };
        Ok((headers, v))
    }

    async fn open(url: String) -> anyhow::Result<Self> {
        let mut m = Self {
            http: reqwest::Client::new(),
            url,
            session: String::new(),
            id: 0,
        };
        let (h, _) = m
            .post(
                json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "bench", "version": "0"}}}),
            )
            .await?;
        m.session = h
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        m.post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await?;
        Ok(m)
    }

    async fn call(&mut self, tool: &str, args: Value) -> anyhow::Result<String> {
        self.id += 1;
        let (_, v) = self
            .post(
                json!({"jsonrpc": "2.0", "id": self.id, "method": "tools/call",
                "params": {"name": tool, "arguments": args}}),
            )
            .await?;
        let text: String = v["result"]["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["text"].as_str())
            .collect();
        anyhow::ensure!(v["result"]["isError"] != true, "{tool}: {text}");
        Ok(text)
    }
}

fn ref_of(snap: &str, name: &str) -> anyhow::Result<String> {
    let tag = format!("button \"{name}\" [ref=");
    let i = snap
        .find(&tag)
        .ok_or_else(|| anyhow::anyhow!("no {name}"))?;
    Ok(snap[i + tag.len()..]
        .split(']')
        .next()
        .unwrap_or("")
        .to_owned())
}

fn print(what: &str, v: &mut [f64]) {
    let (p50, p99) = (pct(v, 0.5), pct(v, 0.99));
    println!(
        "{what:<34} p50 {p50:>8.1} ms   p99 {p99:>8.1} ms   (n={})",
        v.len()
    );
}

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    // The tools reach the browser at the sandbox's address: networking on,
    // in a namespace of the bench's own.
    common::in_netns(run)
}

async fn run() -> anyhow::Result<()> {
    let n = env_n("HYPE_BENCH_CALLS", 30);
    let data = tempfile::tempdir()?;
    let s = Server::networked(data.path(), "10.87.0.0/24", &[])?;
    s.create_running_as(
        json!({"name": "mcpb", "image": "browser", "cpu_cores": 2, "memory_mb": 1536}),
        Duration::from_secs(400),
    )
    .await?;

    let mut mcp = Mcp::open(format!("{}/mcp", s.base)).await?;
    mcp.call("sandbox_use", json!({"name": "mcpb"})).await?;
    // Warm-up, not measured: under TCG a browser just ready can take a
    // while over its first page.
    let until = Instant::now() + Duration::from_secs(300);
    while let Err(e) = mcp
        .call("browser_navigate", json!({"url": "about:blank"}))
        .await
    {
        anyhow::ensure!(Instant::now() < until, "the browser never answered: {e}");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let built = mcp
        .call("browser_evaluate", json!({"function": BUILD}))
        .await?;
    anyhow::ensure!(built.trim() == "1000", "page: {built}");
    let snap = mcp.call("browser_snapshot", json!({})).await?;
    let target = ref_of(&snap, "b500")?;

    let (mut m_snap, mut m_click) = (vec![], vec![]);
    for _ in 0..n {
        let t = Instant::now();
        let out = mcp.call("browser_snapshot", json!({})).await?;
        m_snap.push(t.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(out.contains("b999") || out.contains("[cut:"), "snapshot");
        let t = Instant::now();
        mcp.call("browser_click", json!({"target": target})).await?;
        m_click.push(t.elapsed().as_secs_f64() * 1e3);
    }

    // The same page, directly: hyped's CDP proxy, one connection.
    let cdp = s.client.get_vm("mcpb").await?.cdp_url.unwrap_or_default();
    let list: Value = reqwest::get(format!("{cdp}/json/list"))
        .await?
        .json()
        .await?;
    let ws = list
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["type"] == "page")
        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        .ok_or_else(|| anyhow::anyhow!("no page"))?
        .to_owned();
    let mut page = hype_cdp::Page::connect(&ws, None).await?;
    let node = hype_cdp::axtree::parse_ref(&target).unwrap_or(0);
    let (mut d_snap, mut d_click) = (vec![], vec![]);
    for _ in 0..n {
        let t = Instant::now();
        let text = page.snapshot().await?;
        d_snap.push(t.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(text.contains("b999"), "direct snapshot");
        let t = Instant::now();
        page.click(node, hype_cdp::Button::Left, false).await?;
        d_click.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let title = page.evaluate("() => document.title", None).await?;
    anyhow::ensure!(title == "c500", "the clicks landed: {title}");

    println!(
        "MCP vs direct CDP, a page of 1,000 buttons, {n} calls each (accel: {})",
        s.client.version().await?.accel.mode
    );
    print("browser_snapshot via /mcp", &mut m_snap);
    print("snapshot direct (AX tree + render)", &mut d_snap);
    print("browser_click via /mcp", &mut m_click);
    print("click direct (box model + mouse)", &mut d_click);
    println!("(browser_click includes the settle pause of 200 ms and the new snapshot it returns)");
    s.client.delete_vm("mcpb").await?;
    Ok(())
}
