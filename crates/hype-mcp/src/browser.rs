//! The browser tools' common ground: resolve the sandbox, its monitor
//! ([`crate::monitor`]) and selected tab, run page actions so that a dialog
//! the page opens ends the action instead of hanging it, and report the
//! page's state as playwright-mcp does. Then the page tools themselves:
//! navigate, snapshot, click, type, press a key, screenshot, evaluate and
//! wait. Refs are backend DOM node ids, so no snapshot has to be remembered.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use futures::future::BoxFuture;
use hype_cdp::{axtree, modifiers, Button, CdpError, ImageFormat, Page};
use rmcp::model::ContentBlock;
use serde_json::json;

use crate::args::*;
use crate::backend::Backend;
use crate::error::ToolError;
use crate::monitor::Monitor;
use crate::server::{HypeMcp, Output};
pub(crate) use crate::snapshot::cut;
use crate::snapshot::{limit_depth, subtree};

const LOAD_TIMEOUT: Duration = Duration::from_secs(30);
const WAIT_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest any one page action may take, whatever the page does.
pub(crate) const ACTION_TIMEOUT: Duration = Duration::from_secs(60);
/// How long reaching a sandbox's browser may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Lets the page react to an input before the snapshot that follows it.
pub(crate) const SETTLE: Duration = Duration::from_millis(200);
/// How long a click on a file input waits for the chooser it opens: the
/// browser reports it apart from the click's own answer, later when the
/// host is busy.
const CHOOSER_WAIT: Duration = Duration::from_secs(5);

/// What a guarded action came to.
pub(crate) enum Acted<T> {
    Done(T),
    /// The page opened a dialog (described) before the action finished.
    Modal(String),
}

/// A dialog open in `target`, described for the model.
pub(crate) fn dialog_of(mon: &Monitor, target: &str) -> Option<String> {
    let s = mon.state.lock().expect("monitor");
    let d = s.tab(target)?.dialog.clone()?;
    Some(format!(
        "[\"{}\" dialog with message \"{}\"{}]: answer it with browser_handle_dialog",
        d.kind,
        d.message,
        if d.kind == "prompt" {
            format!(" and default \"{}\"", d.default_prompt)
        } else {
            String::new()
        }
    ))
}

/// Runs `fut` unless or until a dialog opens in `target`, within `timeout`.
pub(crate) async fn guarded<T>(
    mon: &Monitor,
    target: &str,
    timeout: Duration,
    fut: impl Future<Output = Result<T, CdpError>>,
) -> Result<Acted<T>, CdpError> {
    let mut rx = mon.modal.subscribe();
    if let Some(m) = dialog_of(mon, target) {
        return Ok(Acted::Modal(m));
    }
    let modal = async {
        loop {
            if rx.changed().await.is_err() {
                futures::future::pending::<()>().await;
            }
            if let Some(m) = dialog_of(mon, target) {
                return m;
            }
        }
    };
    tokio::select! {
        r = tokio::time::timeout(timeout, fut) => match r {
            Ok(r) => r.map(Acted::Done),
            Err(_) => Err(CdpError::Timeout { method: "the page action".into() }),
        },
        m = modal => Ok(Acted::Modal(m)),
    }
}

/// One tab of one sandbox, for the length of a tool call.
pub(crate) struct Tab<L> {
    pub sandbox: String,
    pub page: Page,
    pub target: String,
    pub mon: Arc<Monitor>,
    pub budget: usize,
    _lease: L,
}

impl<L> Tab<L> {
    pub fn err(&self, e: CdpError) -> ToolError {
        ToolError::browser(&self.sandbox, e)
    }

    /// Runs a page action; a dialog it causes ends it (see [`guarded`]).
    pub async fn act<T>(
        &mut self,
        f: impl for<'a> FnOnce(&'a mut Page) -> BoxFuture<'a, Result<T, CdpError>>,
    ) -> Result<Acted<T>, ToolError> {
        let mon = self.mon.clone();
        let target = self.target.clone();
        let r = guarded(&mon, &target, ACTION_TIMEOUT, f(&mut self.page)).await;
        r.map_err(|e| self.err(e))
    }

    /// [`Self::act`] for actions whose result the tool needs: a dialog
    /// becomes a tool error saying to answer it.
    pub async fn run<T>(
        &mut self,
        f: impl for<'a> FnOnce(&'a mut Page) -> BoxFuture<'a, Result<T, CdpError>>,
    ) -> Result<T, ToolError> {
        match self.act(f).await? {
            Acted::Done(v) => Ok(v),
            Acted::Modal(m) => Err(ToolError::Modal(m)),
        }
    }

    /// The backend node id of `target`: a ref, or a CSS selector that
    /// matches one element.
    pub async fn resolve(&mut self, target: &str) -> Result<u64, ToolError> {
        if let Some(n) = axtree::parse_ref(target) {
            return Ok(n);
        }
        let sel = target.to_owned();
        self.run(move |p| Box::pin(async move { p.query_one(&sel).await }))
            .await
    }

    /// The page's URL, title and snapshot (cut to the budget), or the
    /// dialog that is open, as playwright-mcp reports them.
    pub async fn state(&mut self) -> Result<String, ToolError> {
        let mut out = format!("### Page state\n- Sandbox: {}\n", self.sandbox);
        let chooser = {
            let s = self.mon.state.lock().expect("monitor");
            s.tab(&self.target).and_then(|t| t.chooser).is_some()
        };
        // The URL and title before and after the tree: a navigation that
        // commits in between would pair one page's URL with another's tree.
        let got = self
            .act(|p| {
                Box::pin(async move {
                    let mut loc = p.location().await?;
                    for _ in 0..3 {
                        let snap = p.snapshot().await?;
                        let after = p.location().await?;
                        if after == loc {
                            return Ok((loc, snap));
                        }
                        loc = after;
                        tokio::time::sleep(SETTLE).await;
                    }
                    let snap = p.snapshot().await?;
                    Ok((loc, snap))
                })
            })
            .await?;
        match got {
            Acted::Modal(m) => out.push_str(&format!("- Modal state:\n  - {m}\n")),
            Acted::Done(((url, title), snap)) => {
                if chooser {
                    out.push_str(
                        "- Modal state:\n  - [File chooser]: answer it with browser_file_upload\n",
                    );
                }
                out.push_str(&format!(
                    "- Page URL: {url}\n- Page Title: {title}\n- Page Snapshot:\n```yaml\n{}```\n",
                    cut(&snap, self.budget)
                ));
            }
        }
        Ok(out)
    }

    /// Waits up to `wait` for the tab to have a file chooser open.
    fn chooser_opened(
        &self,
        wait: Duration,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.until(wait, |t| t.is_some_and(|t| t.chooser.is_some()))
    }

    /// Waits (up to [`LOAD_TIMEOUT`]) for a navigation the action started
    /// to finish loading, unless a dialog opens first.
    fn settled(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.until(LOAD_TIMEOUT, |t| {
            !t.is_some_and(|t| t.loading && t.dialog.is_none())
        })
    }

    /// Polls the monitor's view of this tab until `done` holds of it (or of
    /// its absence), or `wait` passes.
    fn until(
        &self,
        wait: Duration,
        done: impl Fn(Option<&crate::monitor::Tab>) -> bool + Send + 'static,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let (mon, target) = (self.mon.clone(), self.target.clone());
        async move {
            let until = tokio::time::Instant::now() + wait;
            loop {
                let now_done = {
                    let s = mon.state.lock().expect("monitor");
                    done(s.tab(&target))
                };
                if now_done || tokio::time::Instant::now() >= until {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// "{what}" followed by the page's state, or by the dialog the action opened.
    pub async fn report<T>(&mut self, what: String, acted: Acted<T>) -> Output {
        let state = match acted {
            Acted::Done(_) => {
                tokio::time::sleep(SETTLE).await;
                self.settled().await;
                self.state().await?
            }
            Acted::Modal(m) => format!(
                "### Page state\n- Sandbox: {}\n- Modal state:\n  - {m}\n",
                self.sandbox
            ),
        };
        Ok(vec![ContentBlock::text(format!("{what}\n{state}"))])
    }
}

impl<B: Backend> HypeMcp<B> {
    /// The sandbox's monitor, started on first use (or again when its
    /// browser went away).
    pub(crate) async fn monitor(&self, sandbox: &str) -> Result<Arc<Monitor>, ToolError> {
        let mut map = self.shared.monitors.lock().await;
        if let Some(m) = map.get(sandbox).filter(|m| m.alive()) {
            return Ok(m.clone());
        }
        let access = self.backend.cdp(sandbox, "json/version").await?;
        let ws = access.doc["webSocketDebuggerUrl"].as_str().unwrap_or("");
        let stop = self.shared.shutdown.child_token();
        let m = tokio::time::timeout(
            CONNECT_TIMEOUT,
            Monitor::start(ws, access.bearer.as_deref(), stop.clone()),
        )
        .await
        .map_err(|_| {
            stop.cancel();
            ToolError::browser(
                sandbox,
                CdpError::Connect {
                    url: ws.into(),
                    detail: "no answer".into(),
                },
            )
        })?
        .map_err(|e| {
            stop.cancel();
            ToolError::browser(sandbox, e)
        })?;
        if let Some(old) = map.insert(sandbox.into(), m.clone()) {
            old.closed.cancel();
        }
        Ok(m)
    }

    /// Forgets a sandbox's monitor (the sandbox stopped or went away).
    pub(crate) async fn drop_monitor(&self, sandbox: &str) {
        if let Some(m) = self.shared.monitors.lock().await.remove(sandbox) {
            m.closed.cancel();
        }
    }

    /// Opens a tab at `url`, waits until the monitor has it, selects it.
    pub(crate) async fn open_tab(
        &self,
        mon: &Monitor,
        sandbox: &str,
        url: &str,
    ) -> Result<String, ToolError> {
        let r = mon
            .conn
            .call(None, "Target.createTarget", json!({"url": url}))
            .await
            .map_err(|e| ToolError::browser(sandbox, e))?;
        let id = r["targetId"].as_str().unwrap_or_default().to_owned();
        let until = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            {
                let mut s = mon.state.lock().expect("monitor");
                if s.tab(&id).is_some() {
                    s.selected = Some(id.clone());
                    return Ok(id);
                }
            }
            if tokio::time::Instant::now() >= until {
                return Err(ToolError::browser(sandbox, CdpError::NoPage));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The selected tab of the sandbox (the first one when none is, or the
    /// selected one has gone; a new one when the browser has none). With a
    /// dialog open, only `allow_modal` tools get it.
    pub(crate) async fn tab_with(
        &self,
        named: Option<String>,
        allow_modal: bool,
    ) -> Result<Tab<B::Lease>, ToolError> {
        let sandbox = self.sandbox(named)?;
        let lease = self.backend.lease(&sandbox);
        let mon = self.monitor(&sandbox).await?;
        let pick = || {
            let mut s = mon.state.lock().expect("monitor");
            let sel = s.selected.clone();
            let t = s
                .tabs
                .iter()
                .find(|t| Some(&t.target) == sel.as_ref())
                .or(s.tabs.first())?;
            let r = (t.target.clone(), t.session.clone());
            s.selected = Some(r.0.clone());
            Some(r)
        };
        let (target, session) = match pick() {
            Some(t) => t,
            None => {
                self.open_tab(&mon, &sandbox, "about:blank").await?;
                pick().ok_or_else(|| ToolError::browser(&sandbox, CdpError::NoPage))?
            }
        };
        // A tab just attached is still being set up (and may be paused).
        let until = tokio::time::Instant::now() + Duration::from_secs(15);
        while !mon
            .state
            .lock()
            .expect("monitor")
            .tab(&target)
            .is_none_or(|t| t.ready)
            && tokio::time::Instant::now() < until
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if !allow_modal {
            if let Some(m) = dialog_of(&mon, &target) {
                return Err(ToolError::Modal(m));
            }
        }
        // A sandbox used successfully becomes the session's current one.
        self.set_current(Some(sandbox.clone()));
        Ok(Tab {
            sandbox,
            page: Page::attached(mon.conn.clone(), session),
            target,
            mon,
            budget: self.shared.config.snapshot_budget,
            _lease: lease,
        })
    }

    pub(crate) async fn tab(&self, named: Option<String>) -> Result<Tab<B::Lease>, ToolError> {
        self.tab_with(named, false).await
    }

    pub(crate) async fn navigate(&self, a: Navigate) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        let url = a.url.clone();
        let acted = t
            .act(move |p| Box::pin(async move { p.navigate(&url, LOAD_TIMEOUT).await }))
            .await?;
        t.report(format!("Navigated to {}.", a.url), acted).await
    }

    pub(crate) async fn snapshot(&self, a: Snapshot) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        if a.target.is_none() && a.depth.is_none() && !a.boxes.unwrap_or(false) {
            return Ok(vec![ContentBlock::text(t.state().await?)]);
        }
        let mut snap = t.run(|p| Box::pin(p.snapshot())).await?;
        if let Some(target) = &a.target {
            let n = t.resolve(target).await?;
            snap = subtree(&snap, n).ok_or_else(|| {
                ToolError::Invalid(format!(
                    "{target} is not in the page's accessibility tree; call browser_snapshot without `target`"
                ))
            })?;
        }
        if let Some(d) = a.depth {
            snap = limit_depth(&snap, d.max(0.0) as usize);
        }
        if a.boxes.unwrap_or(false) {
            snap = self.with_boxes(&mut t, &snap).await?;
        }
        Ok(vec![ContentBlock::text(format!(
            "### Page snapshot (sandbox {})\n```yaml\n{}```\n",
            t.sandbox,
            cut(&snap, t.budget)
        ))])
    }

    /// Appends `[box=x,y,width,height]` to each line with a ref.
    async fn with_boxes(&self, t: &mut Tab<B::Lease>, snap: &str) -> Result<String, ToolError> {
        let mut out = String::with_capacity(snap.len() * 2);
        for line in snap.lines() {
            out.push_str(line);
            let n = line
                .rsplit_once("[ref=")
                .and_then(|(_, r)| axtree::parse_ref(r.split(']').next().unwrap_or("")));
            if let Some(n) = n {
                let q = t
                    .run(move |p| {
                        Box::pin(async move {
                            Ok(p.node_call("DOM.getBoxModel", n, json!({})).await.ok())
                        })
                    })
                    .await?;
                let b = q.as_ref().map(|b| &b["model"]["border"]);
                if let Some(b) = b.and_then(|b| b.as_array()).filter(|b| b.len() == 8) {
                    let f = |i: usize| b[i].as_f64().unwrap_or(0.0);
                    out.push_str(&format!(
                        " [box={:.0},{:.0},{:.0},{:.0}]",
                        f(0),
                        f(1),
                        f(2) - f(0),
                        f(5) - f(1)
                    ));
                }
            }
            out.push('\n');
        }
        Ok(out)
    }

    pub(crate) async fn click(&self, a: Click) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        let n = t.resolve(&a.target).await?;
        let button = button(a.button);
        let mods = a.modifiers.iter().fold(0, |m, k| {
            m | match k {
                Modifier::Alt => modifiers::ALT,
                Modifier::Control | Modifier::ControlOrMeta => modifiers::CONTROL,
                Modifier::Meta => modifiers::META,
                Modifier::Shift => modifiers::SHIFT,
            }
        });
        let double = a.double_click;
        let file_input = t.run(move |p| Box::pin(p.is_file_input(n))).await?;
        let acted = t
            .act(move |p| Box::pin(p.click_with(n, button, double, mods)))
            .await?;
        if file_input && matches!(acted, Acted::Done(_)) {
            t.chooser_opened(CHOOSER_WAIT).await;
        }
        let what = a.element.unwrap_or(a.target);
        t.report(format!("Clicked {what}."), acted).await
    }

    pub(crate) async fn type_text(&self, a: Type) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        let n = t.resolve(&a.target).await?;
        let (text, slowly, submit) = (a.text.clone(), a.slowly, a.submit);
        let acted = t
            .act(move |p| {
                Box::pin(async move {
                    p.type_text(n, &text, slowly).await?;
                    if submit {
                        p.press_key("Enter").await?;
                    }
                    Ok(())
                })
            })
            .await?;
        let what = a.element.unwrap_or(a.target);
        t.report(format!("Typed into {what}."), acted).await
    }

    pub(crate) async fn press_key(&self, a: PressKey) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        let key = a.key.clone();
        let acted = t
            .act(move |p| Box::pin(async move { p.press_key(&key).await }))
            .await?;
        t.report(format!("Pressed {}.", a.key), acted).await
    }

    pub(crate) async fn screenshot(&self, a: Screenshot) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        let n = match &a.target {
            Some(r) => Some(t.resolve(r).await?),
            None => None,
        };
        let (format, mime) = match a.format.unwrap_or_default() {
            ImageType::Png => (ImageFormat::Png, "image/png"),
            ImageType::Jpeg => (ImageFormat::Jpeg, "image/jpeg"),
            ImageType::Webp => (ImageFormat::Webp, "image/webp"),
        };
        let full = a.full_page;
        let bytes = t
            .run(move |p| Box::pin(p.screenshot(format, full, n)))
            .await?;
        let what = match (&a.element, &a.target) {
            (Some(e), _) => e.clone(),
            (None, Some(r)) => format!("element {r}"),
            (None, None) if a.full_page => "the full page".into(),
            (None, None) => "the viewport".into(),
        };
        let note = match &a.filename {
            Some(f) => format!(" It is returned here, not saved as {f}."),
            None => String::new(),
        };
        Ok(vec![
            ContentBlock::text(format!(
                "Screenshot of {what} in sandbox '{}' ({mime}, {} bytes).{note}",
                t.sandbox,
                bytes.len()
            )),
            ContentBlock::image(
                base64::engine::general_purpose::STANDARD.encode(&bytes),
                mime,
            ),
        ])
    }

    pub(crate) async fn evaluate(&self, a: Evaluate) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        let n = match &a.target {
            Some(r) => Some(t.resolve(r).await?),
            None => None,
        };
        let function = a.function.clone();
        let acted = t
            .act(move |p| Box::pin(async move { p.evaluate(&function, n).await }))
            .await
            .map_err(|e| match (&a.element, e) {
                (
                    Some(el),
                    ToolError::Browser {
                        source: CdpError::StaleNode { node },
                        ..
                    },
                ) => ToolError::Invalid(format!(
                    "{el} (e{node}) is not on the page any more; call browser_snapshot again"
                )),
                (_, e) => e,
            })?;
        match acted {
            Acted::Done(v) => Ok(vec![ContentBlock::text(
                serde_json::to_string_pretty(&v).unwrap_or_default(),
            )]),
            Acted::Modal(m) => {
                t.report("The script opened a dialog.".into(), Acted::<()>::Modal(m))
                    .await
            }
        }
    }

    pub(crate) async fn wait_for(&self, a: WaitFor) -> Output {
        if a.time.is_none() && a.text.is_none() && a.text_gone.is_none() {
            return Err(ToolError::Invalid(
                "give `time` (seconds), `text` or `textGone`".into(),
            ));
        }
        if let Some(s) = a.time {
            if !(0.0..=300.0).contains(&s) {
                return Err(ToolError::Invalid(
                    "`time` is in seconds, from 0 to 300".into(),
                ));
            }
        }
        let mut t = self.tab(a.sandbox).await?;
        if let Some(s) = a.time {
            tokio::time::sleep(Duration::from_secs_f64(s)).await;
        }
        for (text, gone) in [(&a.text, false), (&a.text_gone, true)] {
            let Some(text) = text.clone() else { continue };
            let ok = t
                .run(move |p| {
                    Box::pin(async move { p.wait_for_text(&text, gone, WAIT_TIMEOUT).await })
                })
                .await?;
            if !ok {
                return Err(ToolError::Invalid(format!(
                    "timed out after {} s waiting for \"{}\" to {}; take a browser_snapshot to see the page",
                    WAIT_TIMEOUT.as_secs(),
                    if gone { a.text_gone.as_deref() } else { a.text.as_deref() }.unwrap_or(""),
                    if gone { "disappear" } else { "appear" }
                )));
            }
        }
        Ok(vec![ContentBlock::text(format!(
            "Waited.\n{}",
            t.state().await?
        ))])
    }
}

pub(crate) fn button(b: Option<MouseButton>) -> Button {
    match b.unwrap_or(MouseButton::Left) {
        MouseButton::Left => Button::Left,
        MouseButton::Right => Button::Right,
        MouseButton::Middle => Button::Middle,
    }
}
