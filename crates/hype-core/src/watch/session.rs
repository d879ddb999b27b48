//! One watch connection to one sandbox's browser: attach to every page,
//! run the page hooks, record what the pages say. Reconnects while the VM
//! runs (a Chromium restarted by the agent, a relay hiccup); ends when its
//! token is cancelled. A recorded sandbox's recorder lives as long as the
//! watch, across reconnections: one recording per run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hype_cdp::{CdpEvent, Connection, Discovery, Pending};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::record::{self, Recorder};
use super::PageLog;
use crate::Hype;

const RETRY: Duration = Duration::from_secs(1);

pub(super) async fn run(
    hype: Hype,
    name: String,
    log: Arc<Mutex<PageLog>>,
    cancel: CancellationToken,
    mut recorder: Option<Recorder>,
) {
    loop {
        let ended = tokio::select! {
            _ = cancel.cancelled() => break,
            r = connect_and_watch(&hype, &name, &log, &cancel, &mut recorder) => r,
        };
        if let Err(why) = ended {
            tracing::debug!(vm = %name, why, "browser watch interrupted");
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(RETRY) => {}
        }
    }
    if let Some(r) = recorder {
        r.finish().await;
    }
}

/// The browser target's id from `/json/version`'s WebSocket URL.
pub(crate) fn browser_target(version: &Value) -> Option<String> {
    let url = version["webSocketDebuggerUrl"].as_str()?;
    let rest = &url[url.find("/devtools/")? + "/devtools/".len()..];
    Some(rest.to_owned())
}

async fn connect_and_watch(
    hype: &Hype,
    name: &str,
    log: &Arc<Mutex<PageLog>>,
    cancel: &CancellationToken,
    recorder: &mut Option<Recorder>,
) -> Result<(), String> {
    let version = hype
        .cdp_discovery(name, Discovery::Version)
        .await
        .map_err(|e| e.to_string())?;
    let target = browser_target(&version).ok_or("the browser names no target")?;
    let socket = hype
        .cdp_socket(name, &target)
        .await
        .map_err(|e| e.to_string())?;
    let (conn, mut events) = Connection::open(socket);
    conn.call(
        None,
        "Target.setAutoAttach",
        json!({"autoAttach": true, "waitForDebuggerOnStart": true, "flatten": true}),
    )
    .await
    .map_err(|e| e.to_string())?;
    // sessionId → targetId of the pages attached.
    let mut sessions: HashMap<String, String> = HashMap::new();
    loop {
        let ev = tokio::select! {
            _ = cancel.cancelled() => {
                conn.close().await;
                return Ok(());
            }
            ev = events.recv() => ev.ok_or("the browser closed the connection")?,
        };
        match ev.method.as_str() {
            "Target.attachedToTarget" => {
                let session = ev.params["sessionId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let info = &ev.params["targetInfo"];
                let target = info["targetId"].as_str().unwrap_or_default().to_owned();
                let page = info["type"] == "page";
                let waiting = ev.params["waitingForDebugger"].as_bool().unwrap_or(false);
                if page {
                    sessions.insert(session.clone(), target.clone());
                }
                // Off the event loop: the hooks wait for answers.
                let conn = conn.clone();
                let script = recorder
                    .as_ref()
                    .map(|_| hype.inner.cfg.record_script)
                    .filter(|s| !s.is_empty());
                tokio::spawn(async move {
                    // The hooks are sent, then the go-ahead, and only then
                    // are their answers awaited: a page waiting for its
                    // debugger may not answer them until it runs (Chromium's
                    // headless shell holds Runtime.enable), and the target
                    // takes them in the order sent, hooks first.
                    let mut sent = vec![];
                    if page {
                        sent.extend(page_hooks(&conn, &session).await);
                        if let Some(script) = script {
                            sent.extend(record::page_hooks(&conn, &session, script).await);
                        }
                    }
                    if waiting {
                        conn.send(Some(&session), "Runtime.runIfWaitingForDebugger", json!({}))
                            .await;
                    }
                    for hook in sent {
                        if let Err(e) = hook.answer().await {
                            tracing::debug!(error = %e, "page hook failed");
                        }
                    }
                });
            }
            "Target.detachedFromTarget" => {
                if let Some(s) = ev.params["sessionId"].as_str() {
                    sessions.remove(s);
                }
            }
            "Runtime.bindingCalled" => {
                let target = ev.session.as_ref().and_then(|s| sessions.get(s));
                if let (Some(r), Some(target)) = (recorder.as_mut(), target) {
                    r.take(target, &ev.params).await;
                }
            }
            _ => record(log, &sessions, &ev),
        }
    }
}

/// What hyped does on every page of a sandbox before it runs: the domains
/// whose events it records. Returns the commands sent, their answers to
/// come.
async fn page_hooks(conn: &Connection, session: &str) -> Vec<Pending> {
    send_all(
        conn,
        session,
        [
            ("Runtime.enable", json!({})),
            ("Log.enable", json!({})),
            // Bodies are not kept by hyped; the browser's own buffers suffice.
            ("Network.enable", json!({"maxPostDataSize": 65536})),
        ],
    )
    .await
}

/// Sends `calls` to `session` in order without waiting for their answers.
pub(crate) async fn send_all(
    conn: &Connection,
    session: &str,
    calls: impl IntoIterator<Item = (&'static str, serde_json::Value)>,
) -> Vec<Pending> {
    let mut sent = vec![];
    for (method, params) in calls {
        match conn.start(Some(session), method, params).await {
            Ok(p) => sent.push(p),
            Err(e) => tracing::debug!(method, error = %e, "page hook not sent"),
        }
    }
    sent
}

fn record(log: &Arc<Mutex<PageLog>>, sessions: &HashMap<String, String>, ev: &CdpEvent) {
    let Some(target) = ev.session.as_ref().and_then(|s| sessions.get(s)) else {
        return;
    };
    log.lock()
        .expect("page log lock")
        .record(target, &ev.method, &ev.params);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_target_comes_from_the_version_document() {
        let v = json!({"webSocketDebuggerUrl": "ws://10.0.0.2:9222/devtools/browser/abc-1"});
        assert_eq!(browser_target(&v).as_deref(), Some("browser/abc-1"));
        assert_eq!(browser_target(&json!({})), None);
    }
}
