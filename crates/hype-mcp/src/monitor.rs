//! One persistent CDP connection per sandbox's browser, kept by the server
//! from the moment it first sees the sandbox running, so that what a page
//! does between tool calls is not lost: console messages and network
//! requests (bounded rings), dialogs (which would otherwise block every
//! command until answered), file choosers, and the routes an agent set.
//! Tools send their commands over the same connection, on the tab's flat
//! session, so emulation settings they make last as long as the tab.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use hype_cdp::{CdpError, CdpEvent, Connection};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

pub(crate) use crate::glob::glob;

/// Console messages kept per sandbox.
pub(crate) const CONSOLE_RING: usize = 1000;
/// Network requests kept per sandbox.
pub(crate) const REQUEST_RING: usize = 1000;
/// The most of a request body kept with the request.
const MAX_POST_DATA: usize = 16 * 1024;

#[derive(Debug, Clone)]
pub(crate) struct ConsoleMessage {
    pub target: String,
    /// How many navigations the tab had made when it was logged.
    pub nav: u64,
    pub level: Level,
    pub text: String,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Error,
    Warning,
    Info,
    Debug,
}

#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// 1-based and never reused in this sandbox: what the tools call its index.
    pub no: u64,
    pub id: String,
    pub session: String,
    pub method: String,
    pub url: String,
    pub kind: String,
    pub request_headers: Value,
    pub post_data: Option<String>,
    pub status: Option<u64>,
    pub status_text: String,
    pub response_headers: Value,
    pub mime: String,
    pub failed: Option<String>,
    pub finished: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Dialog {
    pub kind: String,
    pub message: String,
    pub default_prompt: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub pattern: String,
    pub matcher: regex::Regex,
    pub status: Option<u16>,
    pub body: Option<String>,
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
    pub remove_headers: Vec<String>,
}

impl Route {
    /// Whether the route answers the request itself rather than letting it
    /// through with changed headers.
    fn fulfils(&self) -> bool {
        self.status.is_some() || self.body.is_some() || self.content_type.is_some()
    }
}

/// One page target of the browser.
#[derive(Debug, Clone)]
pub(crate) struct Tab {
    pub target: String,
    pub session: String,
    pub url: String,
    pub title: String,
    pub nav: u64,
    pub dialog: Option<Dialog>,
    /// The `<input type=file>` whose chooser the page opened.
    pub chooser: Option<u64>,
    /// Whether the main frame is loading (a navigation an action started).
    pub loading: bool,
    /// Set up (domains enabled, running): tools wait for it.
    pub ready: bool,
}

#[derive(Default)]
pub(crate) struct State {
    /// Page targets by id, in the order first seen (the browser's own
    /// list is reordered by activation, which would make indexes shift).
    pub tabs: Vec<Tab>,
    pub selected: Option<String>,
    pub console: VecDeque<ConsoleMessage>,
    pub requests: VecDeque<Request>,
    pub next_request: u64,
    pub routes: Vec<Route>,
    pub offline: bool,
    /// Where the mouse is, for the coordinate tools.
    pub mouse: (f64, f64),
}

impl State {
    pub fn tab(&self, target: &str) -> Option<&Tab> {
        self.tabs.iter().find(|t| t.target == target)
    }

    fn tab_by_session(&mut self, session: &str) -> Option<&mut Tab> {
        self.tabs.iter_mut().find(|t| t.session == session)
    }
}

/// A sandbox's browser as the tools see it.
pub(crate) struct Monitor {
    pub conn: Connection,
    pub state: Mutex<State>,
    /// Bumped on each dialog or file chooser, so a tool waiting on a command
    /// the page blocks learns why.
    pub modal: watch::Sender<u64>,
    /// The stream of the last trace the browser finished (browser_stop_tracing).
    pub trace: watch::Sender<Option<String>>,
    pub closed: CancellationToken,
}

impl Monitor {
    /// Connects to the browser at `ws` and starts following its pages.
    pub async fn start(
        ws: &str,
        bearer: Option<&str>,
        stop: CancellationToken,
    ) -> Result<Arc<Self>, CdpError> {
        let socket = hype_cdp::open_socket(ws, bearer).await?;
        let (conn, events) = Connection::open(socket);
        let m = Arc::new(Self {
            conn: conn.clone(),
            state: Mutex::default(),
            modal: watch::channel(0).0,
            trace: watch::channel(None).0,
            closed: stop,
        });
        tokio::spawn(follow(m.clone(), events));
        conn.call(None, "Target.setDiscoverTargets", json!({"discover": true}))
            .await?;
        // New tabs are attached paused, so their first requests are seen.
        conn.call(
            None,
            "Target.setAutoAttach",
            json!({"autoAttach": true, "waitForDebuggerOnStart": true, "flatten": true}),
        )
        .await?;
        // Tabs that were there before: attach those auto-attach left out.
        let targets = conn.call(None, "Target.getTargets", json!({})).await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        for t in targets["targetInfos"].as_array().into_iter().flatten() {
            let id = t["targetId"].as_str().unwrap_or_default();
            let attached = m.state.lock().expect("monitor").tab(id).is_some();
            if t["type"] == "page" && !attached && t["attached"] != true {
                let _ = conn
                    .call(
                        None,
                        "Target.attachToTarget",
                        json!({"targetId": id, "flatten": true}),
                    )
                    .await;
            }
        }
        Ok(m)
    }

    pub fn alive(&self) -> bool {
        !self.closed.is_cancelled()
    }

    /// Applies the routes (and offline state) to one tab's session.
    pub async fn apply_network(&self, session: &str) -> Result<(), CdpError> {
        let (routes, offline) = {
            let s = self.state.lock().expect("monitor");
            (!s.routes.is_empty(), s.offline)
        };
        if routes {
            self.conn
                .call(
                    Some(session),
                    "Fetch.enable",
                    json!({"patterns": [{"urlPattern": "*", "requestStage": "Request"}]}),
                )
                .await?;
        } else {
            self.conn
                .call(Some(session), "Fetch.disable", json!({}))
                .await?;
        }
        self.conn
            .call(
                Some(session),
                "Network.emulateNetworkConditions",
                json!({"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}),
            )
            .await?;
        Ok(())
    }

    /// Applies the routes and network state to every tab.
    pub async fn apply_network_all(&self) -> Result<(), CdpError> {
        let sessions: Vec<String> = {
            let s = self.state.lock().expect("monitor");
            s.tabs.iter().map(|t| t.session.clone()).collect()
        };
        for s in sessions {
            self.apply_network(&s).await?;
        }
        Ok(())
    }
}

/// Sets a freshly attached tab up: the domains whose events are kept, file
/// choosers reported instead of opened, the sandbox's routes, then lets it
/// run.
async fn prepare(m: Arc<Monitor>, session: String) {
    let c = &m.conn;
    let s = Some(session.as_str());
    // All at once, and the go-ahead with them: a target waiting for its
    // debugger may not answer some of these until it runs.
    let calls = [
        ("Page.enable", json!({})),
        ("Runtime.enable", json!({})),
        ("Network.enable", json!({"maxPostDataSize": MAX_POST_DATA})),
        (
            "Page.setInterceptFileChooserDialog",
            json!({"enabled": true}),
        ),
    ]
    .map(|(method, params)| async move {
        if let Err(e) = c.call(s, method, params).await {
            tracing::debug!(%method, error = %e, "preparing a tab");
        }
    });
    let network = m.apply_network(&session);
    let go = c.call(s, "Runtime.runIfWaitingForDebugger", json!({}));
    let (_, _, _) = tokio::join!(futures::future::join_all(calls), network, go);
    let mut st = m.state.lock().expect("monitor");
    if let Some(t) = st.tab_by_session(&session) {
        t.ready = true;
    }
}

fn str_of(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_owned()
}

/// Reads the browser's events until the connection ends.
async fn follow(m: Arc<Monitor>, mut events: mpsc::Receiver<CdpEvent>) {
    loop {
        let ev = tokio::select! {
            _ = m.closed.cancelled() => break,
            ev = events.recv() => match ev { Some(e) => e, None => break },
        };
        handle(&m, ev);
    }
    m.closed.cancel();
    m.conn.close().await;
}

fn handle(m: &Arc<Monitor>, ev: CdpEvent) {
    let p = &ev.params;
    let session = ev.session.clone().unwrap_or_default();
    match ev.method.as_str() {
        "Target.attachedToTarget" => {
            let info = &p["targetInfo"];
            let sid = str_of(p, "sessionId");
            if info["type"] != "page" {
                // Workers and frames of no interest: let them run, detach.
                let c = m.conn.clone();
                tokio::spawn(async move {
                    c.send(Some(&sid), "Runtime.runIfWaitingForDebugger", json!({}))
                        .await;
                    c.send(None, "Target.detachFromTarget", json!({"sessionId": sid}))
                        .await;
                });
                return;
            }
            let target = str_of(info, "targetId");
            {
                let mut s = m.state.lock().expect("monitor");
                if s.tab(&target).is_some() {
                    return;
                }
                s.tabs.push(Tab {
                    target,
                    session: sid.clone(),
                    url: str_of(info, "url"),
                    title: str_of(info, "title"),
                    nav: 0,
                    dialog: None,
                    chooser: None,
                    loading: false,
                    ready: false,
                });
            }
            tokio::spawn(prepare(m.clone(), sid));
        }
        "Target.targetInfoChanged" => {
            let info = &p["targetInfo"];
            let id = str_of(info, "targetId");
            let mut s = m.state.lock().expect("monitor");
            if let Some(t) = s.tabs.iter_mut().find(|t| t.target == id) {
                t.url = str_of(info, "url");
                t.title = str_of(info, "title");
            }
        }
        "Tracing.tracingComplete" => {
            drop(m.trace.send_replace(p["stream"].as_str().map(Into::into)))
        }
        "Target.targetDestroyed" | "Target.detachedFromTarget" => {
            let id = p["targetId"].as_str().map(str::to_owned);
            let sid = p["sessionId"].as_str().map(str::to_owned);
            let mut s = m.state.lock().expect("monitor");
            s.tabs
                .retain(|t| Some(&t.target) != id.as_ref() && Some(&t.session) != sid.as_ref());
            if s.selected
                .as_ref()
                .is_some_and(|sel| !s.tabs.iter().any(|t| &t.target == sel))
            {
                s.selected = None;
            }
        }
        "Page.frameNavigated" if p["frame"].get("parentId").is_none() => {
            let mut s = m.state.lock().expect("monitor");
            if let Some(t) = s.tab_by_session(&session) {
                t.nav += 1;
                t.url = str_of(&p["frame"], "url");
            }
        }
        // A page target's id is its main frame's id.
        // Requested comes first (a form submitted, a link followed), as the
        // action that caused it returns; stopped ends both.
        "Page.frameRequestedNavigation"
        | "Page.frameStartedLoading"
        | "Page.frameStoppedLoading" => {
            let loading = ev.method != "Page.frameStoppedLoading";
            let mut s = m.state.lock().expect("monitor");
            if let Some(t) = s.tab_by_session(&session) {
                if p["frameId"] == t.target.as_str() {
                    t.loading = loading;
                }
            }
        }
        "Page.javascriptDialogOpening" => {
            {
                let mut s = m.state.lock().expect("monitor");
                if let Some(t) = s.tab_by_session(&session) {
                    t.dialog = Some(Dialog {
                        kind: str_of(p, "type"),
                        message: str_of(p, "message"),
                        default_prompt: str_of(p, "defaultPrompt"),
                    });
                }
            }
            m.modal.send_modify(|g| *g += 1);
        }
        "Page.javascriptDialogClosed" => {
            let mut s = m.state.lock().expect("monitor");
            if let Some(t) = s.tab_by_session(&session) {
                t.dialog = None;
            }
        }
        "Page.fileChooserOpened" => {
            {
                let mut s = m.state.lock().expect("monitor");
                if let Some(t) = s.tab_by_session(&session) {
                    t.chooser = p["backendNodeId"].as_u64();
                }
            }
            m.modal.send_modify(|g| *g += 1);
        }
        "Runtime.consoleAPICalled" => {
            let level = match p["type"].as_str().unwrap_or("log") {
                "error" | "assert" => Level::Error,
                "warning" => Level::Warning,
                "debug" | "trace" => Level::Debug,
                _ => Level::Info,
            };
            let text = p["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(remote_text)
                .collect::<Vec<_>>()
                .join(" ");
            let frame = &p["stackTrace"]["callFrames"][0];
            let source = match frame["url"].as_str() {
                Some(u) if !u.is_empty() => {
                    format!("{u}:{}", frame["lineNumber"].as_u64().unwrap_or(0) + 1)
                }
                _ => String::new(),
            };
            log(m, &session, level, text, source);
        }
        "Runtime.exceptionThrown" => {
            let d = &p["exceptionDetails"];
            let text = d["exception"]["description"]
                .as_str()
                .or(d["text"].as_str())
                .unwrap_or("exception")
                .to_owned();
            log(m, &session, Level::Error, text, str_of(d, "url"));
        }
        "Network.requestWillBeSent" => {
            let r = &p["request"];
            // A redirect reuses the id: the answer ends the earlier hop.
            if let Some(rr) = p.get("redirectResponse") {
                update(m, &str_of(p, "requestId"), |q| {
                    q.status = rr["status"].as_u64();
                    q.status_text = str_of(rr, "statusText");
                    q.response_headers = rr["headers"].clone();
                    q.finished = true;
                });
            }
            let mut s = m.state.lock().expect("monitor");
            s.next_request += 1;
            let no = s.next_request;
            s.requests.push_back(Request {
                no,
                id: str_of(p, "requestId"),
                session: session.clone(),
                method: str_of(r, "method"),
                url: str_of(r, "url"),
                kind: str_of(p, "type"),
                request_headers: r["headers"].clone(),
                post_data: r["postData"].as_str().map(str::to_owned).or_else(|| {
                    r["postDataEntries"].as_array().map(|e| {
                        e.iter()
                            .filter_map(|x| x["bytes"].as_str())
                            .filter_map(|b| {
                                base64::engine::general_purpose::STANDARD.decode(b).ok()
                            })
                            .map(|b| String::from_utf8_lossy(&b).into_owned())
                            .collect()
                    })
                }),
                status: None,
                status_text: String::new(),
                response_headers: Value::Null,
                mime: String::new(),
                failed: None,
                finished: false,
            });
            while s.requests.len() > REQUEST_RING {
                s.requests.pop_front();
            }
        }
        "Network.responseReceived" => {
            let id = str_of(p, "requestId");
            let r = &p["response"];
            update(m, &id, |q| {
                q.status = r["status"].as_u64();
                q.status_text = str_of(r, "statusText");
                q.response_headers = r["headers"].clone();
                q.mime = str_of(r, "mimeType");
            });
        }
        "Network.loadingFinished" => update(m, &str_of(p, "requestId"), |q| q.finished = true),
        "Network.loadingFailed" => {
            let why = str_of(p, "errorText");
            update(m, &str_of(p, "requestId"), |q| q.failed = Some(why));
        }
        "Fetch.requestPaused" => {
            let m = m.clone();
            let p = p.clone();
            tokio::spawn(async move { route(&m, &session, &p).await });
        }
        _ => {}
    }
}

fn update(m: &Monitor, id: &str, f: impl FnOnce(&mut Request)) {
    let mut s = m.state.lock().expect("monitor");
    if let Some(q) = s.requests.iter_mut().rev().find(|q| q.id == id) {
        f(q);
    }
}

fn log(m: &Monitor, session: &str, level: Level, text: String, source: String) {
    let mut s = m.state.lock().expect("monitor");
    let Some((target, nav)) = s
        .tabs
        .iter()
        .find(|t| t.session == session)
        .map(|t| (t.target.clone(), t.nav))
    else {
        return;
    };
    s.console.push_back(ConsoleMessage {
        target,
        nav,
        level,
        text,
        source,
    });
    while s.console.len() > CONSOLE_RING {
        s.console.pop_front();
    }
}

/// A console argument as text, the way DevTools prints it.
fn remote_text(o: &Value) -> String {
    match &o["value"] {
        Value::String(s) => s.clone(),
        Value::Null => o["description"]
            .as_str()
            .or(o["unserializableValue"].as_str())
            .unwrap_or(o["type"].as_str().unwrap_or(""))
            .to_owned(),
        v => v.to_string(),
    }
}

/// Answers a paused request with the first route that matches it, or lets
/// it through.
async fn route(m: &Monitor, session: &str, p: &Value) {
    let url = p["request"]["url"].as_str().unwrap_or_default();
    let id = p["requestId"].clone();
    let hit = {
        let s = m.state.lock().expect("monitor");
        // The latest route wins, as in Playwright.
        s.routes
            .iter()
            .rev()
            .find(|r| r.matcher.is_match(url))
            .cloned()
    };
    let s = Some(session);
    let r = match hit {
        Some(r) if r.fulfils() => {
            let mut headers: Vec<Value> = r
                .headers
                .iter()
                .map(|(n, v)| json!({"name": n, "value": v}))
                .collect();
            if let Some(ct) = &r.content_type {
                headers.push(json!({"name": "Content-Type", "value": ct}));
            }
            let body = base64::engine::general_purpose::STANDARD
                .encode(r.body.as_deref().unwrap_or_default());
            m.conn
                .call(
                    s,
                    "Fetch.fulfillRequest",
                    json!({"requestId": id, "responseCode": r.status.unwrap_or(200),
                        "responseHeaders": headers, "body": body}),
                )
                .await
        }
        Some(r) => {
            let mut headers: Vec<Value> = p["request"]["headers"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(n, _)| !r.remove_headers.iter().any(|x| x.eq_ignore_ascii_case(n)))
                .map(|(n, v)| json!({"name": n, "value": v}))
                .collect();
            headers.extend(
                r.headers
                    .iter()
                    .map(|(n, v)| json!({"name": n, "value": v})),
            );
            m.conn
                .call(
                    s,
                    "Fetch.continueRequest",
                    json!({"requestId": id, "headers": headers}),
                )
                .await
        }
        None => {
            m.conn
                .call(s, "Fetch.continueRequest", json!({"requestId": id}))
                .await
        }
    };
    if let Err(e) = r {
        tracing::debug!(error = %e, %url, "answering a routed request");
    }
}
