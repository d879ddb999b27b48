//! MCP end to end with real third-party clients: the official Python SDK
//! (`tests/mcp/e2e.py`, `mcp` from PyPI in the venv scripts/install-deps.sh makes)
//! over streamable HTTP (`/mcp`, both the current protocol version and the
//! previous one) and over stdio (`hype mcp` against the REST API), and
//! `@modelcontextprotocol/inspector --cli` listing the tools. A real hyped
//! with an API key, networking in a namespace of the test's own, and real
//! browser microVMs (one per transport).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::peer::Peer;
use common::{in_netns, Server};
use serde_json::Value;

const KEY: &str = "mcp-test-key-0123456789";

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/mcp")
}

/// The venv with the pinned `mcp` package (scripts/install-deps.sh makes it).
fn python() -> PathBuf {
    let venv = std::env::var("HYPE_VENV").unwrap_or_else(|_| "/var/cache/hype/venv".into());
    let py = Path::new(&venv).join("bin/python");
    assert!(
        py.is_file(),
        "no Python venv at {venv}: run scripts/install-deps.sh first"
    );
    py
}

fn e2e(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Value> {
    let out = Command::new(python())
        .arg(tests_dir().join("e2e.py"))
        .args(args)
        .envs(env.iter().copied())
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "e2e.py {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

#[test]
fn python_sdk_and_inspector_drive_sandboxes_over_http_and_stdio() -> anyhow::Result<()> {
    let _turn = common::browser_turn();
    assert!(
        common::images_dir().join("browser/manifest.json").is_file(),
        "no browser image: run scripts/build-images.sh"
    );
    let hype = common::hype_binary()?;
    in_netns(move || async move {
        let tmp = tempfile::tempdir()?;
        let s = Server::networked(tmp.path(), "10.85.0.0/24", &["--api-key", KEY])?;
        let url = format!("{}/mcp", s.base);

        // Auth as for the REST API.
        let anon = reqwest::Client::new()
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#)
            .send()
            .await?;
        assert_eq!(anon.status(), 401);

        // The inspector's CLI lists the tools.
        let catalog = tmp.path().join("inspector-catalog.json");
        let out = Command::new("npx")
            .current_dir(tests_dir())
            .args([
                "--no-install",
                "@modelcontextprotocol/inspector",
                "--cli",
                &url,
            ])
            .args(["--transport", "http", "--method", "tools/list", "--header"])
            .arg(format!("Authorization: Bearer {KEY}"))
            .env("MCP_CATALOG_PATH", &catalog)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "inspector: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listed: Value = serde_json::from_slice(&out.stdout)?;
        let names: Vec<&str> = listed["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["name"].as_str())
            .collect();
        let expected = hype_mcp::catalogue(&Default::default()).len();
        assert_eq!(names.len(), expected, "{names:?}");
        assert!(names.contains(&"browser_fill_form") && names.contains(&"sandbox_use"));
        assert!(names.contains(&"browser_snapshot") && names.contains(&"sandbox_create"));
        assert!(names.contains(&"sandbox_fork"));

        // The Python SDK over streamable HTTP, both protocol versions.
        let seen = e2e(&["http", &url, KEY], &[])?;
        eprintln!("http: {seen}");
        assert_eq!(seen["legacy_version"], "2025-11-25");
        assert_eq!(seen["current_version"], "2026-07-28");

        // And over stdio, `hype mcp` calling the REST API with the key.
        let seen = e2e(
            &["stdio", &hype.display().to_string()],
            &[("HYPE_API_BASE", s.base.as_str()), ("HYPE_API_KEY", KEY)],
        )?;
        eprintln!("stdio: {seen}");
        assert!(seen["ref"].as_str().unwrap_or("").starts_with('e'));

        // Nothing left behind.
        assert!(s.client.list_vms(None).await?.is_empty());
        Ok(())
    })
}

/// tests/mcp/site.py in a peer namespace (10.251.0.2).
const SITE: &str = "http://10.251.0.2:8000";

fn site() -> anyhow::Result<Peer> {
    let script = tests_dir().join("site.py");
    Peer::new("mcpsite", 251)?.serve(
        python(),
        &[script.as_os_str(), "10.251.0.2".as_ref(), "8000".as_ref()],
        8000,
    )
}

#[test]
fn python_sdk_completes_a_multi_page_flow_over_both_protocol_versions() -> anyhow::Result<()> {
    let _turn = common::browser_turn();
    assert!(
        common::images_dir().join("browser/manifest.json").is_file(),
        "no browser image: run scripts/build-images.sh"
    );
    in_netns(move || async move {
        let _site = site()?;
        let tmp = tempfile::tempdir()?;
        let s = Server::networked(
            tmp.path(),
            "10.86.0.0/24",
            &["--api-key", KEY, "--mcp-caps", "network,storage"],
        )?;
        let url = format!("{}/mcp", s.base);
        let seen = e2e(&["flow", &url, KEY, SITE], &[])?;
        eprintln!("flow: {seen}");
        for version in ["legacy", "current"] {
            assert!(
                seen[version]["pdf_bytes"].as_u64().unwrap_or(0) > 1000,
                "{seen}"
            );
        }
        // Per-session groups: pdf came from the URL, not from hyped.
        assert_eq!(
            seen["caps"]["locator"],
            "getByRole('button', { name: 'Log in' })"
        );
        assert!(
            seen["caps"]["bad_caps"]
                .as_str()
                .is_some_and(|m| m.contains("a session may ask for")),
            "{seen}"
        );
        assert!(s.client.list_vms(None).await?.is_empty());
        Ok(())
    })
}
