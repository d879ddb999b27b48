//! `GET /api/v1/agui` read by the official AG-UI client: tests/agui's
//! `agui-check.mjs` (`@ag-ui/client`, as locked) follows a real hyped while
//! it creates and deletes a VM and calls MCP tools, and checks after each
//! change that the state its client applied equals `GET /api/v1/vms`. This
//! test checks its report, then stops hyped and sees the run finish.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Server;
use serde_json::{json, Value};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/agui")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_official_ag_ui_client_follows_vms_and_tool_calls() -> anyhow::Result<()> {
    anyhow::ensure!(
        dir().join("node_modules/@ag-ui/client").is_dir(),
        "run `npm ci` in tests/agui first (scripts/test.sh does)"
    );
    let mut s = Server::start()?;
    let mut node = Command::new("node")
        .arg(dir().join("agui-check.mjs"))
        .env("HYPE_BASE", &s.base)
        .env("HYPE_VM", "ag1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut lines = BufReader::new(node.stdout.take().expect("piped")).lines();
    let first = tokio::task::spawn_blocking(move || {
        let l = lines.next();
        (l, lines)
    });
    let (report, mut lines) = tokio::time::timeout(Duration::from_secs(300), first).await??;
    let report: Value = serde_json::from_str(&report.expect("a report line")?)?;
    assert!(report.get("error").is_none(), "agui-check: {report:#}");

    // The snapshot held no VM; the stream's events came in protocol order.
    assert_eq!(report["snapshot"], json!({"vms": {}}));
    let types: Vec<&str> = report["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(types[..2], ["RUN_STARTED", "STATE_SNAPSHOT"], "{types:?}");
    assert_eq!(
        types.iter().filter(|t| **t == "STATE_SNAPSHOT").count(),
        1,
        "deltas, not new snapshots, carried the changes: {types:?}"
    );
    assert!(!types.contains(&"RUN_FINISHED"), "{types:?}");

    // The VM came in whole with one `add`, then changed by `replace` at
    // its own paths, and left by one `remove`.
    let ops: Vec<&Value> = report["deltas"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d.as_array().unwrap())
        .collect();
    assert_eq!(ops[0]["op"], "add", "{ops:?}");
    assert_eq!(ops[0]["path"], "/vms/ag1");
    assert_eq!(ops[0]["value"]["name"], "ag1");
    assert!(
        ops.iter().any(|o| o["op"] == "replace"
            && o["path"] == "/vms/ag1/state"
            && o["value"] == "running"),
        "{ops:?}"
    );
    assert_eq!(
        *ops.last().unwrap(),
        &json!({"op": "remove", "path": "/vms/ag1"})
    );
    assert!(ops
        .iter()
        .all(|o| o["path"].as_str().unwrap().starts_with("/vms/ag1")));
    assert_eq!(report["running"]["state"], "running");
    assert_eq!(report["state"], json!({"vms": {}}));

    // Both tool calls, each START, ARGS, END, then RESULT; the secret
    // stdin redacted.
    let calls = report["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2, "{calls:?}");
    let seq = json!([
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "TOOL_CALL_RESULT"
    ]);
    assert_eq!(calls[0]["name"], "sandbox_get");
    assert_eq!(
        serde_json::from_str::<Value>(calls[0]["args"].as_str().unwrap())?,
        json!({"name": "ag1"})
    );
    assert_eq!(calls[0]["seq"], seq);
    assert_eq!(calls[0]["result"], "ok");
    assert_eq!(calls[1]["name"], "sandbox_exec");
    assert_eq!(
        serde_json::from_str::<Value>(calls[1]["args"].as_str().unwrap())?,
        json!({"sandbox": "no-such-vm", "cmd": "cat", "stdin": "[redacted]"})
    );
    assert_eq!(calls[1]["seq"], seq);
    let result = calls[1]["result"].as_str().unwrap();
    assert!(
        result.starts_with("error: ") && result.contains("no-such-vm"),
        "{result}"
    );
    // The client turned the calls into an assistant message and results.
    assert!(report["messages"].as_u64().unwrap() >= 2, "{report}");

    // Shutdown ends the run with RUN_FINISHED and closes the stream.
    s.stop();
    let end = tokio::task::spawn_blocking(move || lines.next());
    let end: Value = serde_json::from_str(
        &tokio::time::timeout(Duration::from_secs(90), end)
            .await??
            .expect("a second line")?,
    )?;
    assert_eq!(
        end,
        json!({"finished": true, "error": null, "last": "RUN_FINISHED"})
    );
    assert!(node.wait()?.success());
    Ok(())
}

#[tokio::test]
async fn bad_run_ids_get_a_precise_error() -> anyhow::Result<()> {
    let s = Server::start()?;
    for (q, code, status) in [
        ("runId=a%20b", "invalid_agui_id", 422),
        ("threadId=", "invalid_agui_id", 422),
        ("thread=x", "invalid_query", 400),
    ] {
        let r = reqwest::get(format!("{}/api/v1/agui?{q}", s.base)).await?;
        assert_eq!(r.status().as_u16(), status, "{q}");
        let body: Value = r.json().await?;
        assert_eq!(body["error"]["code"], code, "{q}: {body}");
    }
    Ok(())
}
