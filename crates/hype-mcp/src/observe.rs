//! Tools that read what the page did and is: console messages, network
//! requests (kept by the sandbox's monitor from the moment it was first
//! seen), a search of the snapshot, and the gated run-code tool.

use rmcp::model::ContentBlock;
use serde_json::{json, Value};

use crate::args::*;
use crate::backend::Backend;
use crate::browser::Acted;
use crate::error::ToolError;
use crate::monitor::Level;
use crate::server::{HypeMcp, Output};

/// The most of a body or header list a tool answer carries.
const MAX_PART: usize = 100_000;
/// Resource types left out of browser_network_requests unless `static`.
const STATIC: &[&str] = &["Image", "Font", "Script", "Stylesheet", "Media", "Manifest"];

/// A minimal `page` for browser_run_code_unsafe, run inside the page (the
/// code never runs in hyped): what Playwright's page offers that makes
/// sense from there.
const PAGE_SHIM: &str = r#"(() => {
  const one = (sel) => { const all = document.querySelectorAll(sel);
    if (all.length !== 1) throw new Error(`selector ${sel} matches ${all.length} elements`); return all[0]; };
  const locator = (sel) => ({
    click: async () => one(sel).click(),
    fill: async (v) => { const e = one(sel); e.focus(); e.value = v;
      e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true})); },
    textContent: async () => one(sel).textContent,
    inputValue: async () => one(sel).value,
    count: async () => document.querySelectorAll(sel).length,
  });
  return {
    title: async () => document.title,
    url: () => location.href,
    content: async () => document.documentElement.outerHTML,
    evaluate: async (fn, arg) => (typeof fn === 'function' ? fn(arg) : eval(fn)),
    goto: async (url) => { location.href = url; },
    locator,
    waitForTimeout: (ms) => new Promise(r => setTimeout(r, ms)),
  };
})()"#;

fn bounded(s: &str) -> String {
    if s.len() <= MAX_PART {
        return s.to_owned();
    }
    let mut end = MAX_PART;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[... {} more bytes cut]", &s[..end], s.len() - end)
}

fn headers(h: &Value) -> String {
    h.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}: {}\n", v.as_str().unwrap_or(&v.to_string())))
        .collect()
}

impl<B: Backend> HypeMcp<B> {
    pub(crate) async fn console_messages(&self, a: ConsoleMessages) -> Output {
        let t = self.tab_with(a.sandbox, true).await?;
        let most = match a.level.unwrap_or_default() {
            ConsoleLevel::Error => Level::Error,
            ConsoleLevel::Warning => Level::Warning,
            ConsoleLevel::Info => Level::Info,
            ConsoleLevel::Debug => Level::Debug,
        };
        let all = a.all.unwrap_or(false);
        let s = t.mon.state.lock().expect("monitor");
        let nav = s.tab(&t.target).map(|x| x.nav).unwrap_or(0);
        let mut out = String::new();
        let mut n = 0;
        for m in s
            .console
            .iter()
            .filter(|m| m.level <= most && (all || (m.target == t.target && m.nav >= nav)))
        {
            n += 1;
            let level = match m.level {
                Level::Error => "error",
                Level::Warning => "warning",
                Level::Info => "info",
                Level::Debug => "debug",
            };
            out.push_str(&format!("- [{level}] {}", m.text));
            if !m.source.is_empty() {
                out.push_str(&format!(" @ {}", m.source));
            }
            out.push('\n');
        }
        let scope = if all {
            "kept for this sandbox"
        } else {
            "of the current tab since its last navigation (`all: true` for all kept)"
        };
        Ok(vec![ContentBlock::text(format!(
            "### Console messages ({n}, {scope})\n{}",
            if out.is_empty() {
                "None.\n".into()
            } else {
                bounded(&out)
            }
        ))])
    }

    pub(crate) async fn network_requests(&self, a: NetworkRequests) -> Output {
        let filter = a
            .filter
            .as_deref()
            .map(regex::Regex::new)
            .transpose()
            .map_err(|e| {
                ToolError::Invalid(format!("`filter` is not a regular expression: {e}"))
            })?;
        let t = self.tab_with(a.sandbox, true).await?;
        let with_static = a.include_static.unwrap_or(false);
        let s = t.mon.state.lock().expect("monitor");
        let mut out = String::new();
        for q in &s.requests {
            let ok = q.failed.is_none() && q.status.is_some_and(|c| c < 400);
            if !with_static && ok && STATIC.contains(&q.kind.as_str()) {
                continue;
            }
            if filter.as_ref().is_some_and(|f| !f.is_match(&q.url)) {
                continue;
            }
            let outcome = match (&q.failed, q.status) {
                (Some(e), _) => format!("failed: {e}"),
                (None, Some(c)) => format!("{c} {}", q.status_text).trim_end().to_owned(),
                (None, None) => "pending".into(),
            };
            out.push_str(&format!(
                "{}. [{}] {} => [{outcome}]\n",
                q.no, q.method, q.url
            ));
        }
        Ok(vec![ContentBlock::text(format!(
            "### Network requests of sandbox '{}' (number, method, URL, outcome; browser_network_request with the number shows one)\n{}",
            t.sandbox,
            if out.is_empty() { "None.\n".into() } else { bounded(&out) }
        ))])
    }

    pub(crate) async fn network_request(&self, a: NetworkRequest) -> Output {
        let mut t = self.tab_with(a.sandbox, true).await?;
        let q = {
            let s = t.mon.state.lock().expect("monitor");
            s.requests.iter().find(|q| q.no == a.index).cloned()
        };
        let Some(q) = q else {
            return Err(ToolError::Invalid(format!(
                "no request {} is kept; browser_network_requests lists them by number",
                a.index
            )));
        };
        let want = |p: RequestPart| a.part.is_none_or(|x| x == p);
        let mut out = format!("### Request {}\n{} {}\n", q.no, q.method, q.url);
        if want(RequestPart::RequestHeaders) {
            out.push_str(&format!(
                "#### Request headers\n{}",
                headers(&q.request_headers)
            ));
        }
        if want(RequestPart::RequestBody) {
            out.push_str(&format!(
                "#### Request body\n{}\n",
                q.post_data
                    .as_deref()
                    .map(bounded)
                    .unwrap_or_else(|| "(none)".into())
            ));
        }
        if want(RequestPart::ResponseHeaders) {
            out.push_str(&format!(
                "#### Response: {}\n{}",
                q.status
                    .map_or("none yet".into(), |c| format!("{c} {}", q.status_text)),
                headers(&q.response_headers)
            ));
        }
        if want(RequestPart::ResponseBody) {
            let (id, session) = (q.id.clone(), q.session.clone());
            let conn = t.mon.conn.clone();
            // The browser keeps bodies only while the page that loaded them lives.
            let body = t
                .act(move |_| {
                    Box::pin(async move {
                        Ok(conn
                            .call(
                                Some(&session),
                                "Network.getResponseBody",
                                json!({"requestId": id}),
                            )
                            .await)
                    })
                })
                .await?;
            let text = match body {
                Acted::Done(Ok(b)) if b["base64Encoded"] == true => format!(
                    "({} bytes of binary data, base64)",
                    b["body"].as_str().map_or(0, |s| s.len() * 3 / 4)
                ),
                Acted::Done(Ok(b)) => bounded(b["body"].as_str().unwrap_or_default()),
                Acted::Done(Err(e)) => format!("(not available: {e}; bodies are kept only while the page that loaded them is open)"),
                Acted::Modal(m) => format!("(not available while a dialog is open: {m})"),
            };
            out.push_str(&format!("#### Response body\n{text}\n"));
        }
        Ok(vec![ContentBlock::text(out)])
    }

    pub(crate) async fn find(&self, a: Find) -> Output {
        let re = match (&a.text, &a.regex) {
            (Some(t), None) => regex::RegexBuilder::new(&regex::escape(t))
                .case_insensitive(true)
                .build(),
            (None, Some(r)) => match r.strip_prefix('/').and_then(|x| x.rsplit_once('/')) {
                Some((body, flags)) => regex::RegexBuilder::new(body)
                    .case_insensitive(flags.contains('i'))
                    .build(),
                None => regex::Regex::new(r),
            },
            _ => {
                return Err(ToolError::Invalid(
                    "give either `text` or `regex`, not both or neither".into(),
                ))
            }
        }
        .map_err(|e| ToolError::Invalid(format!("not a regular expression: {e}")))?;
        let mut t = self.tab(a.sandbox).await?;
        let snap = t.run(|p| Box::pin(p.snapshot())).await?;
        let lines: Vec<&str> = snap.lines().collect();
        let indent = |l: &str| l.len() - l.trim_start().len();
        let mut out = String::new();
        let mut hits = 0;
        for (i, l) in lines.iter().enumerate() {
            if !re.is_match(l) {
                continue;
            }
            hits += 1;
            if hits > 50 {
                out.push_str("[more matches left out; narrow the search]\n");
                break;
            }
            // The path from the root: each nearest line above with less indent.
            let mut path = vec![];
            let mut want = indent(l);
            for p in lines[..i].iter().rev() {
                if indent(p) < want {
                    path.push(
                        p.trim_start()
                            .trim_start_matches("- ")
                            .trim_end_matches(':'),
                    );
                    want = indent(p);
                }
            }
            path.reverse();
            out.push_str(&format!(
                "#### Match {hits}: {}\n```yaml\n",
                path.join(" > ")
            ));
            for c in &lines[i.saturating_sub(2)..(i + 3).min(lines.len())] {
                out.push_str(c);
                out.push('\n');
            }
            out.push_str("```\n");
        }
        if hits == 0 {
            out.push_str("No match in the page's snapshot.\n");
        }
        Ok(vec![ContentBlock::text(format!(
            "### Find in sandbox '{}'\n{}",
            t.sandbox,
            bounded(&out)
        ))])
    }

    pub(crate) async fn run_code(&self, a: RunCode) -> Output {
        if !self.shared.config.allow_unsafe_code {
            return Err(ToolError::Invalid(
                "browser_run_code_unsafe is off: hyped runs it only when started with --mcp-allow-unsafe-code; use browser_evaluate, or the other browser tools".into(),
            ));
        }
        let Some(code) = a.code else {
            return Err(ToolError::Invalid(
                "give `code`: hype has no workspace files to load code from".into(),
            ));
        };
        let mut t = self.tab(a.sandbox).await?;
        let function =
            format!("async () => {{ const page = {PAGE_SHIM}; return await ({code})(page); }}");
        let acted = t
            .act(move |p| Box::pin(async move { p.evaluate(&function, None).await }))
            .await?;
        match acted {
            Acted::Done(v) => Ok(vec![ContentBlock::text(format!(
                "### Result\n{}",
                serde_json::to_string_pretty(&v).unwrap_or_default()
            ))]),
            Acted::Modal(m) => {
                t.report("The code opened a dialog.".into(), Acted::<()>::Modal(m))
                    .await
            }
        }
    }
}
