//! The CDP client against a real headless Chromium on loopback (Debian's
//! `chromium`, installed by scripts/install-deps.sh).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The browser process and its profile directory, both gone on drop.
struct Browser(std::process::Child, #[allow(dead_code)] tempfile::TempDir);

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start() -> anyhow::Result<(Browser, String)> {
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
            &format!("--remote-debugging-port={port}"),
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("data:text/html,<title>hi</title><h1 style='font-size:80px'>hello</h1>")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok((Browser(child, profile), format!("http://127.0.0.1:{port}")))
}

#[tokio::test]
async fn screenshot_of_the_first_page_is_a_png() -> anyhow::Result<()> {
    let (_b, endpoint) = start()?;
    let until = Instant::now() + Duration::from_secs(60);
    let png = loop {
        match hype_cdp::screenshot(&endpoint).await {
            Ok(png) => break png,
            Err(e) if Instant::now() < until => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => anyhow::bail!("no screenshot: {e}"),
        }
    };
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(png.len() > 1000, "{} bytes", png.len());
    Ok(())
}

#[tokio::test]
async fn discovery_rewritten_to_a_proxy_keeps_the_ids() -> anyhow::Result<()> {
    let (_b, endpoint) = start()?;
    let until = Instant::now() + Duration::from_secs(60);
    let mut v: serde_json::Value = loop {
        match reqwest::get(format!("{endpoint}/json/version")).await {
            Ok(r) => break r.json().await?,
            Err(_) if Instant::now() < until => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => return Err(e.into()),
        }
    };
    let original = v["webSocketDebuggerUrl"].as_str().unwrap().to_owned();
    hype_cdp::rewrite_discovery(&mut v, "proxy:1/api/v1/vms/x/cdp", None);
    let id = original.rsplit('/').next().unwrap();
    assert_eq!(
        v["webSocketDebuggerUrl"],
        format!("ws://proxy:1/api/v1/vms/x/cdp/devtools/browser/{id}")
    );
    Ok(())
}
