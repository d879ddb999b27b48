//! What the Chromium tests share: a headless Chromium on loopback, a
//! backend whose one sandbox ("local") is that browser, and helpers that
//! call tools on it and assert the outcome.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use hype_mcp::{
    Backend, BackendError, BackendResult, Cap, CdpAccess, ErrorKind, HypeMcp, McpConfig,
};
use hype_types::files::UploadSpec;
use hype_types::{
    CreateVm, Download, Event, ExecRequest, ExecResult, ForkResult, ForkVm, Uploaded, Vm,
};
use rmcp::model::CallToolResult;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

pub struct Browser(std::process::Child, #[allow(dead_code)] tempfile::TempDir);

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn start() -> anyhow::Result<(Browser, SocketAddrV4)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let profile = tempfile::tempdir()?;
    let child = Command::new("/usr/lib/chromium/chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-address=127.0.0.1",
        ])
        .arg(format!("--remote-debugging-port={port}"))
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok((
        Browser(child, profile),
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, port),
    ))
}

/// One sandbox, "local": the Chromium at `endpoint`.
pub struct Local {
    endpoint: SocketAddrV4,
}

fn none<T>() -> BackendResult<T> {
    Err(BackendError::new(
        ErrorKind::Unsupported,
        "not in this test",
    ))
}

impl Backend for Local {
    type Lease = ();
    async fn create(&self, _: CreateVm) -> BackendResult<Vm> {
        none()
    }
    async fn fork(&self, _: &str, _: ForkVm) -> BackendResult<ForkResult> {
        none()
    }
    async fn list(&self) -> BackendResult<Vec<Vm>> {
        none()
    }
    async fn get(&self, _: &str) -> BackendResult<Vm> {
        none()
    }
    async fn delete(&self, _: &str) -> BackendResult<()> {
        none()
    }
    async fn logs(&self, _: &str) -> BackendResult<String> {
        none()
    }
    async fn cdp(&self, name: &str, doc: &str) -> BackendResult<CdpAccess> {
        if name != "local" {
            return Err(BackendError::new(
                ErrorKind::NotFound,
                format!("no sandbox '{name}'"),
            ));
        }
        let d = if doc == "json/version" {
            hype_cdp::Discovery::Version
        } else {
            hype_cdp::Discovery::List
        };
        let doc = hype_cdp::discover(self.endpoint, d)
            .await
            .map_err(|e| BackendError::new(ErrorKind::Unavailable, e.to_string()))?;
        Ok(CdpAccess { doc, bearer: None })
    }
    async fn events(&self) -> BackendResult<BoxStream<'static, Event>> {
        Ok(Box::pin(futures::stream::pending()))
    }
    async fn recent_events(&self, _: usize) -> BackendResult<Vec<Event>> {
        Ok(vec![])
    }
    async fn exec(&self, _: &str, _: ExecRequest) -> BackendResult<ExecResult> {
        none()
    }
    async fn read_file(&self, _: &str, _: &str, _: u64) -> BackendResult<Vec<u8>> {
        none()
    }
    async fn write_file(&self, _: &str, _: UploadSpec, _: Vec<u8>) -> BackendResult<Uploaded> {
        none()
    }
    async fn downloads(&self, _: &str) -> BackendResult<Vec<Download>> {
        none()
    }
    async fn download(&self, _: &str, _: &str, _: u64) -> BackendResult<Vec<u8>> {
        none()
    }
    fn lease(&self, _: &str) -> Self::Lease {}
}

pub fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text())
        .map(|t| t.text.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

pub struct T {
    pub mcp: HypeMcp<Local>,
}

impl T {
    pub async fn ok(&self, tool: &str, mut args: Value) -> String {
        args["sandbox"] = json!("local");
        let r = self.mcp.call(tool, args.clone()).await;
        assert_ne!(r.is_error, Some(true), "{tool} {args}: {}", text(&r));
        text(&r)
    }
    pub async fn err(&self, tool: &str, mut args: Value) -> String {
        args["sandbox"] = json!("local");
        let r = self.mcp.call(tool, args.clone()).await;
        assert_eq!(
            r.is_error,
            Some(true),
            "{tool} {args} should fail: {}",
            text(&r)
        );
        text(&r)
    }
    pub async fn eval(&self, f: &str) -> Value {
        serde_json::from_str(&self.ok("browser_evaluate", json!({"function": f})).await).unwrap()
    }
}

pub fn find_ref(snap: &str, line: &str) -> String {
    let l = snap
        .lines()
        .find(|l| l.contains(line))
        .unwrap_or_else(|| panic!("no {line} in\n{snap}"));
    let i = l.find("[ref=").unwrap();
    l[i + 5..].split(']').next().unwrap().to_owned()
}

/// A Chromium that answers CDP, and an MCP server with every group on
/// whose one sandbox it is.
pub async fn serve() -> anyhow::Result<(Browser, T)> {
    let (b, endpoint) = start()?;
    let until = Instant::now() + Duration::from_secs(60);
    while hype_cdp::discover(endpoint, hype_cdp::Discovery::Version)
        .await
        .is_err()
    {
        assert!(Instant::now() < until, "chromium did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cfg = McpConfig {
        caps: Cap::ALL.into_iter().collect(),
        snapshot_budget: 2000,
        ..McpConfig::default()
    };
    let t = T {
        mcp: HypeMcp::with_config(Local { endpoint }, CancellationToken::new(), cfg),
    };
    Ok((b, t))
}
