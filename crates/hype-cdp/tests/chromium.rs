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

fn start() -> anyhow::Result<(Browser, std::net::SocketAddrV4)> {
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
    Ok((
        Browser(child, profile),
        std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, port),
    ))
}

#[tokio::test]
async fn screenshot_of_the_first_page_is_a_png() -> anyhow::Result<()> {
    let (_b, endpoint) = start()?;
    let until = Instant::now() + Duration::from_secs(60);
    let png = loop {
        match hype_cdp::screenshot(endpoint).await {
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
        match reqwest::get(format!("http://{endpoint}/json/version")).await {
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

#[tokio::test]
async fn a_page_is_read_clicked_typed_into_and_shot() -> anyhow::Result<()> {
    let (_b, endpoint) = start()?;
    let until = Instant::now() + Duration::from_secs(60);
    let targets = loop {
        match hype_cdp::discover(endpoint, hype_cdp::Discovery::List).await {
            Ok(t)
                if t.as_array()
                    .is_some_and(|a| a.iter().any(|t| t["type"] == "page")) =>
            {
                break t
            }
            _ if Instant::now() < until => tokio::time::sleep(Duration::from_millis(200)).await,
            Ok(t) => anyhow::bail!("no page: {t}"),
            Err(e) => return Err(e.into()),
        }
    };
    let ws = targets
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "page")
        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        .unwrap()
        .to_owned();
    let mut page = hype_cdp::Page::connect(&ws, None).await?;
    page.navigate(
        "data:text/html,<title>before</title><h1>Form</h1>\
         <input aria-label='Who' id=who><button onclick=\"document.title='clicked '+who.value\">Go</button>",
        Duration::from_secs(30),
    )
    .await?;
    let snap = page.snapshot().await?;
    assert!(
        snap.contains("- heading \"Form\" [level=1] [ref=e"),
        "{snap}"
    );
    let find_ref = |snap: &str, prefix: &str| -> u64 {
        let line = snap
            .lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .unwrap();
        let r = &line[line.find("[ref=").unwrap() + 5..];
        hype_cdp::axtree::parse_ref(&r[..r.find(']').unwrap()]).unwrap()
    };
    let input = find_ref(&snap, "- textbox \"Who\"");
    let button = find_ref(&snap, "- button \"Go\"");
    page.type_text(input, "ann", false).await?;
    page.click(button, hype_cdp::Button::Left, false).await?;
    assert_eq!(
        page.evaluate("() => document.title", None).await?,
        "clicked ann"
    );
    assert_eq!(page.evaluate("(el) => el.value", Some(input)).await?, "ann");
    assert!(page.snapshot().await?.contains(": \"ann\""));
    let png = page
        .screenshot(hype_cdp::ImageFormat::Png, false, None)
        .await?;
    assert!(png.starts_with(b"\x89PNG"));
    let jpeg = page
        .screenshot(hype_cdp::ImageFormat::Jpeg, false, Some(button))
        .await?;
    assert!(jpeg.starts_with(b"\xff\xd8"));
    // A ref that names nothing is an error that says so.
    let stale = page.click(999_999, hype_cdp::Button::Left, false).await;
    assert!(
        matches!(stale, Err(hype_cdp::CdpError::StaleNode { .. })),
        "{stale:?}"
    );
    assert!(
        page.wait_for_text("Form", false, Duration::from_secs(5))
            .await?
    );
    assert!(
        !page
            .wait_for_text("Form", true, Duration::from_millis(300))
            .await?
    );
    Ok(())
}

#[tokio::test]
async fn a_created_target_is_listed_under_its_id() -> anyhow::Result<()> {
    let (_b, endpoint) = start()?;
    let until = Instant::now() + Duration::from_secs(60);
    let version = loop {
        match hype_cdp::discover(endpoint, hype_cdp::Discovery::Version).await {
            Ok(v) => break v,
            Err(_) if Instant::now() < until => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => return Err(e.into()),
        }
    };
    let mut b =
        hype_cdp::CdpSession::connect(version["webSocketDebuggerUrl"].as_str().unwrap()).await?;
    let r = b
        .call(
            "Target.createTarget",
            serde_json::json!({"url": "about:blank"}),
        )
        .await?;
    let id = r["targetId"].as_str().unwrap().to_owned();
    let list = hype_cdp::discover(endpoint, hype_cdp::Discovery::List).await?;
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["id"] == id.as_str()));
    Ok(())
}
