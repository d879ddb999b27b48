//! The browser tools: resolve the sandbox and its selected tab, open a CDP
//! connection to that page through the backend, and call [`hype_cdp::Page`].
//! Refs are backend DOM node ids, so no snapshot has to be remembered.

use std::time::Duration;

use base64::Engine;
use hype_cdp::{axtree, Button, CdpSession, ImageFormat, Page};
use rmcp::model::ContentBlock;
use serde_json::{json, Value};

use crate::args::*;
use crate::backend::Backend;
use crate::error::ToolError;
use crate::server::{HypeMcp, Output};

const LOAD_TIMEOUT: Duration = Duration::from_secs(30);
const WAIT_TIMEOUT: Duration = Duration::from_secs(30);
/// Lets the page react to an input before the snapshot that follows it.
const SETTLE: Duration = Duration::from_millis(200);

struct Target {
    id: String,
    title: String,
    url: String,
    ws: String,
}

fn pages(doc: &Value) -> Vec<Target> {
    doc.as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["type"] == "page")
        .map(|t| Target {
            id: t["id"].as_str().unwrap_or("").into(),
            title: t["title"].as_str().unwrap_or("").into(),
            url: t["url"].as_str().unwrap_or("").into(),
            ws: t["webSocketDebuggerUrl"].as_str().unwrap_or("").into(),
        })
        .collect()
}

fn node(r: &str) -> Result<u64, ToolError> {
    axtree::parse_ref(r).ok_or_else(|| {
        ToolError::Invalid(format!(
            "'{r}' is not a ref: refs look like e12 and come from browser_snapshot"
        ))
    })
}

/// One page of one sandbox, held open for the length of a tool call.
struct Tab<L> {
    sandbox: String,
    page: Page,
    _lease: L,
}

impl<L> Tab<L> {
    fn err(&self, e: hype_cdp::CdpError) -> ToolError {
        ToolError::browser(&self.sandbox, e)
    }

    /// The page's URL, title and snapshot, as playwright-mcp reports them.
    async fn state(&mut self) -> Result<String, ToolError> {
        let (url, title) = self.page.location().await.map_err(|e| self.err(e))?;
        let snap = self.page.snapshot().await.map_err(|e| self.err(e))?;
        Ok(format!(
            "### Page state\n- Sandbox: {}\n- Page URL: {url}\n- Page Title: {title}\n- Page Snapshot:\n```yaml\n{snap}```\n",
            self.sandbox
        ))
    }
}

impl<B: Backend> HypeMcp<B> {
    /// The sandbox's pages, in a stable order: first seen, first.
    async fn targets(&self, sandbox: &str) -> Result<(Vec<Target>, Option<String>), ToolError> {
        let access = self.backend.cdp(sandbox, "json/list").await?;
        let mut list = pages(&access.doc);
        let mut tabs = self.shared.tabs.lock().expect("tabs lock");
        let st = tabs.entry(sandbox.to_owned()).or_default();
        st.order.retain(|id| list.iter().any(|t| &t.id == id));
        // The browser lists the newest first; new ones go at the end.
        for t in list.iter().rev() {
            if !st.order.contains(&t.id) {
                st.order.push(t.id.clone());
            }
        }
        list.sort_by_key(|t| st.order.iter().position(|id| id == &t.id));
        Ok((list, access.bearer))
    }

    /// A CDP connection to the browser itself (tabs are opened and closed there).
    async fn browser_session(&self, sandbox: &str) -> Result<CdpSession, ToolError> {
        let access = self.backend.cdp(sandbox, "json/version").await?;
        let ws = access.doc["webSocketDebuggerUrl"].as_str().unwrap_or("");
        CdpSession::connect_authorized(ws, access.bearer.as_deref())
            .await
            .map_err(|e| ToolError::browser(sandbox, e))
    }

    fn selected(&self, sandbox: &str) -> Option<String> {
        self.shared
            .tabs
            .lock()
            .expect("tabs lock")
            .get(sandbox)
            .and_then(|t| t.selected.clone())
    }

    fn select(&self, sandbox: &str, target: Option<&str>) {
        self.shared
            .tabs
            .lock()
            .expect("tabs lock")
            .entry(sandbox.into())
            .or_default()
            .selected = target.map(Into::into);
    }

    async fn new_tab(&self, sandbox: &str) -> Result<String, ToolError> {
        let mut b = self.browser_session(sandbox).await?;
        let r = b
            .call("Target.createTarget", json!({"url": "about:blank"}))
            .await
            .map_err(|e| ToolError::browser(sandbox, e))?;
        let id = r["targetId"].as_str().unwrap_or("").to_owned();
        self.select(sandbox, Some(&id));
        Ok(id)
    }

    /// The selected tab of the sandbox (the first one when none is, or the
    /// selected one has gone; a new one when the browser has none).
    async fn tab(&self, named: Option<String>) -> Result<Tab<B::Lease>, ToolError> {
        let sandbox = self.sandbox(named)?;
        let lease = self.backend.lease(&sandbox);
        let (mut list, mut bearer) = self.targets(&sandbox).await?;
        if list.is_empty() {
            self.new_tab(&sandbox).await?;
            (list, bearer) = self.targets(&sandbox).await?;
        }
        let chosen = self.selected(&sandbox);
        let t = list
            .iter()
            .find(|t| Some(&t.id) == chosen.as_ref())
            .or(list.first())
            .ok_or_else(|| ToolError::browser(&sandbox, hype_cdp::CdpError::NoPage))?;
        self.select(&sandbox, Some(&t.id));
        let page = Page::connect(&t.ws, bearer.as_deref())
            .await
            .map_err(|e| ToolError::browser(&sandbox, e))?;
        // A sandbox used successfully becomes the session's current one.
        self.set_current(Some(sandbox.clone()));
        Ok(Tab {
            sandbox,
            page,
            _lease: lease,
        })
    }

    pub(crate) async fn navigate(&self, a: Navigate) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        t.page
            .navigate(&a.url, LOAD_TIMEOUT)
            .await
            .map_err(|e| t.err(e))?;
        Ok(vec![ContentBlock::text(t.state().await?)])
    }

    pub(crate) async fn snapshot(&self, a: Snapshot) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        Ok(vec![ContentBlock::text(t.state().await?)])
    }

    pub(crate) async fn click(&self, a: Click) -> Output {
        let n = node(&a.target)?;
        let mut t = self.tab(a.sandbox).await?;
        let button = match a.button.unwrap_or(MouseButton::Left) {
            MouseButton::Left => Button::Left,
            MouseButton::Right => Button::Right,
            MouseButton::Middle => Button::Middle,
        };
        t.page
            .click(n, button, a.double_click)
            .await
            .map_err(|e| t.err(e))?;
        tokio::time::sleep(SETTLE).await;
        Ok(vec![ContentBlock::text(format!(
            "Clicked {}.\n{}",
            a.element.unwrap_or(a.target),
            t.state().await?
        ))])
    }

    pub(crate) async fn type_text(&self, a: Type) -> Output {
        let n = node(&a.target)?;
        let mut t = self.tab(a.sandbox).await?;
        t.page
            .type_text(n, &a.text, a.slowly)
            .await
            .map_err(|e| t.err(e))?;
        if a.submit {
            t.page.press_key("Enter").await.map_err(|e| t.err(e))?;
        }
        tokio::time::sleep(SETTLE).await;
        Ok(vec![ContentBlock::text(format!(
            "Typed into {}.\n{}",
            a.element.unwrap_or(a.target),
            t.state().await?
        ))])
    }

    pub(crate) async fn press_key(&self, a: PressKey) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        t.page.press_key(&a.key).await.map_err(|e| t.err(e))?;
        tokio::time::sleep(SETTLE).await;
        Ok(vec![ContentBlock::text(format!(
            "Pressed {}.\n{}",
            a.key,
            t.state().await?
        ))])
    }

    pub(crate) async fn screenshot(&self, a: Screenshot) -> Output {
        let n = a.target.as_deref().map(node).transpose()?;
        let mut t = self.tab(a.sandbox).await?;
        let (format, mime) = match a.format.unwrap_or_default() {
            ImageType::Png => (ImageFormat::Png, "image/png"),
            ImageType::Jpeg => (ImageFormat::Jpeg, "image/jpeg"),
        };
        let bytes = t
            .page
            .screenshot(format, a.full_page, n)
            .await
            .map_err(|e| t.err(e))?;
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
        let n = a.target.as_deref().map(node).transpose()?;
        let mut t = self.tab(a.sandbox).await?;
        let v = t
            .page
            .evaluate(&a.function, n)
            .await
            .map_err(|e| match (&a.element, e) {
                (Some(el), hype_cdp::CdpError::StaleNode { node }) => ToolError::Invalid(format!(
                    "{el} (e{node}) is not on the page any more; call browser_snapshot again"
                )),
                (_, e) => t.err(e),
            })?;
        Ok(vec![ContentBlock::text(
            serde_json::to_string_pretty(&v).unwrap_or_default(),
        )])
    }

    pub(crate) async fn tabs(&self, a: Tabs) -> Output {
        let sandbox = self.sandbox(a.sandbox)?;
        let _lease = self.backend.lease(&sandbox);
        let (list, _) = self.targets(&sandbox).await?;
        self.set_current(Some(sandbox.clone()));
        let pick = |i: Option<usize>| -> Result<&Target, ToolError> {
            let i = i.ok_or_else(|| {
                ToolError::Invalid("this action needs `index` (from browser_tabs list)".into())
            })?;
            list.get(i).ok_or_else(|| {
                ToolError::Invalid(format!(
                    "no tab {i}: there are {} (indexes from 0); browser_tabs list shows them",
                    list.len()
                ))
            })
        };
        match a.action {
            TabAction::List => {}
            TabAction::New => {
                self.new_tab(&sandbox).await?;
            }
            TabAction::Select => {
                let t = pick(a.index)?;
                self.select(&sandbox, Some(&t.id));
                let mut b = self.browser_session(&sandbox).await?;
                b.call("Target.activateTarget", json!({"targetId": t.id}))
                    .await
                    .map_err(|e| ToolError::browser(&sandbox, e))?;
            }
            TabAction::Close => {
                let id = match a.index {
                    Some(_) => pick(a.index)?.id.clone(),
                    None => self
                        .selected(&sandbox)
                        .or_else(|| list.first().map(|t| t.id.clone()))
                        .ok_or_else(|| ToolError::Invalid("there is no tab to close".into()))?,
                };
                let mut b = self.browser_session(&sandbox).await?;
                b.call("Target.closeTarget", json!({"targetId": id}))
                    .await
                    .map_err(|e| ToolError::browser(&sandbox, e))?;
                if self.selected(&sandbox).as_deref() == Some(id.as_str()) {
                    self.select(&sandbox, None);
                }
            }
        }
        let (list, _) = self.targets(&sandbox).await?;
        let selected = self
            .selected(&sandbox)
            .or_else(|| list.first().map(|t| t.id.clone()));
        let mut text = format!("### Tabs of sandbox '{sandbox}'\n");
        for (i, t) in list.iter().enumerate() {
            let mark = if Some(&t.id) == selected.as_ref() {
                " (current)"
            } else {
                ""
            };
            text.push_str(&format!("- {i}:{mark} [{}] ({})\n", t.title, t.url));
        }
        if list.is_empty() {
            text.push_str("No tabs; browser_tabs new opens one.\n");
        }
        Ok(vec![ContentBlock::text(text)])
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
            let Some(text) = text else { continue };
            let ok = t
                .page
                .wait_for_text(text, gone, WAIT_TIMEOUT)
                .await
                .map_err(|e| t.err(e))?;
            if !ok {
                return Err(ToolError::Invalid(format!(
                    "timed out after {} s waiting for \"{text}\" to {}",
                    WAIT_TIMEOUT.as_secs(),
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
