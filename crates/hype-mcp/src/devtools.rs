//! playwright-mcp's `devtools` group. Highlights and chapter cards are
//! overlays drawn into the page, which a person watching the sandbox (the
//! console's live view) or a screenshot sees. Tracing is Chrome's own
//! (the CDP Tracing domain, the whole browser): a trace file for Chrome's
//! Performance panel or Perfetto rather than a Playwright trace. The rest of
//! the group drives parts of Playwright hype does not run (its debugger,
//! recorder, video encoder and dashboard): those tools are listed, so an
//! agent finds the vocabulary it knows, and answer with what to use on hype
//! instead.

use std::time::Duration;

use base64::Engine;
use rmcp::model::ContentBlock;
use serde_json::json;

use crate::args::*;
use crate::backend::Backend;
use crate::error::ToolError;
use crate::server::{HypeMcp, Output};

/// Overlays carry this attribute, so hide_highlight finds only its own.
const ATTR: &str = "data-hype-highlight";

/// Why a devtools tool hype lists cannot run here, and what can.
pub(crate) fn unsupported(name: &str) -> Option<&'static str> {
    Some(match name {
        "browser_resume" => "nothing is paused: hype does not stop page scripts at Playwright breakpoints; use browser_evaluate to inspect the page",
        "browser_annotate" => "hype has no Playwright Dashboard to draw annotations in; a person can watch and use the sandbox in hyped's console (live view), and browser_take_screenshot with browser_highlight marks elements",
        "browser_start_recording" | "browser_stop_recording" => "hype does not record user actions as Playwright code; a person can act in the sandbox from hyped's console (live view) while browser_network_requests and browser_console_messages keep what happened",
        "browser_start_video" | "browser_stop_video" | "browser_video_show_actions" | "browser_video_hide_actions" => "hype does not encode videos of a sandbox; hyped's console shows its screen live, and browser_take_screenshot captures frames",
        _ => return None,
    })
}

/// The largest trace returned (as the other tools' files).
const TRACE_LIMIT: usize = 10 << 20;

/// A string as a JavaScript literal.
fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

impl<B: Backend> HypeMcp<B> {
    pub(crate) async fn highlight(&self, a: Highlight) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        let n = t.resolve(&a.target).await?;
        // Keyed by target (and element), so the same call again moves the
        // overlay rather than stacking a second one.
        let f = format!(
            r#"(el) => {{
  const key = {key}, label = {label};
  for (const o of document.querySelectorAll('[{ATTR}]')) if (o.getAttribute('{ATTR}') === key) o.remove();
  const r = el.getBoundingClientRect();
  const o = document.createElement('div');
  o.setAttribute('{ATTR}', key);
  if (label !== null) o.setAttribute('data-hype-element', label);
  o.style.cssText = `position:absolute;left:${{r.left + scrollX}}px;top:${{r.top + scrollY}}px;width:${{r.width}}px;height:${{r.height}}px;outline:2px solid #e5199a;background:rgba(229,25,154,0.15);pointer-events:none;z-index:2147483647;box-sizing:border-box;` + {style};
  document.documentElement.appendChild(o);
  return [r.width, r.height];
}}"#,
            key = js(&a.target),
            label = a.element.as_deref().map(js).unwrap_or("null".into()),
            style = js(a.style.as_deref().unwrap_or_default()),
        );
        let size = t
            .run(move |p| Box::pin(async move { p.evaluate(&f, Some(n)).await }))
            .await?;
        Ok(vec![ContentBlock::text(format!(
            "Highlighted {} ({}x{} CSS pixels) until browser_hide_highlight.",
            a.element.as_deref().unwrap_or(&a.target),
            size[0].as_f64().unwrap_or(0.0).round(),
            size[1].as_f64().unwrap_or(0.0).round()
        ))])
    }

    pub(crate) async fn hide_highlight(&self, a: HideHighlight) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        let f = format!(
            r#"() => {{
  const key = {key}, label = {label};
  let n = 0;
  for (const o of document.querySelectorAll('[{ATTR}]')) {{
    if ((key === null || o.getAttribute('{ATTR}') === key) &&
        (label === null || o.getAttribute('data-hype-element') === label)) {{ o.remove(); n++; }}
  }}
  return n;
}}"#,
            key = a.target.as_deref().map(js).unwrap_or("null".into()),
            label = a.element.as_deref().map(js).unwrap_or("null".into()),
        );
        let removed = t
            .run(move |p| Box::pin(async move { p.evaluate(&f, None).await }))
            .await?
            .as_u64()
            .unwrap_or(0);
        let which = a.target.as_deref().or(a.element.as_deref());
        match (removed, which) {
            (0, Some(w)) => Err(ToolError::Invalid(format!(
                "no highlight of {w} on this page: give the `target` (and `element`) browser_highlight was given"
            ))),
            (n, _) => Ok(vec![ContentBlock::text(format!("Removed {n} highlight(s)."))]),
        }
    }

    pub(crate) async fn start_tracing(&self, a: OnSandbox) -> Output {
        let sandbox = self.sandbox(a.sandbox)?;
        let mon = self.monitor(&sandbox).await?;
        mon.trace.send_replace(None);
        let cfg = json!({"transferMode": "ReturnAsStream", "traceConfig": {"recordMode": "recordUntilFull"}});
        mon.conn
            .call(None, "Tracing.start", cfg)
            .await
            .map_err(|e| ToolError::browser(&sandbox, e))?;
        Ok(vec![ContentBlock::text(
            "Tracing the browser; browser_stop_tracing returns the trace.",
        )])
    }

    pub(crate) async fn stop_tracing(&self, a: OnSandbox) -> Output {
        let sandbox = self.sandbox(a.sandbox)?;
        let mon = self.monitor(&sandbox).await?;
        let err = |e| ToolError::browser(&sandbox, e);
        let mut done = mon.trace.subscribe();
        mon.conn
            .call(None, "Tracing.end", json!({}))
            .await
            .map_err(|e| match e {
                hype_cdp::CdpError::Command { .. } => ToolError::Invalid(format!(
                    "no trace is being recorded in sandbox '{sandbox}': call browser_start_tracing first"
                )),
                e => err(e),
            })?;
        let stream = tokio::time::timeout(Duration::from_secs(30), done.wait_for(Option::is_some))
            .await
            .map_err(|_| {
                err(hype_cdp::CdpError::Timeout {
                    method: "Tracing.end".into(),
                })
            })?
            .map_err(|_| err(hype_cdp::CdpError::Closed))?
            .clone()
            .unwrap_or_default();
        let mut bytes = Vec::new();
        let b64 = base64::engine::general_purpose::STANDARD;
        loop {
            let r = mon
                .conn
                .call(None, "IO.read", json!({"handle": stream, "size": 1 << 20}))
                .await
                .map_err(err)?;
            let chunk = r["data"].as_str().unwrap_or_default();
            if r["base64Encoded"] == true {
                bytes.extend(
                    b64.decode(chunk)
                        .map_err(|e| err(hype_cdp::CdpError::Protocol(e.to_string())))?,
                );
            } else {
                bytes.extend_from_slice(chunk.as_bytes());
            }
            if r["eof"] == true || bytes.len() > TRACE_LIMIT {
                break;
            }
        }
        let _ = mon
            .conn
            .call(None, "IO.close", json!({"handle": stream}))
            .await;
        if bytes.len() > TRACE_LIMIT {
            return Err(ToolError::Invalid(
                "the trace is over 10 MiB: trace a shorter stretch".into(),
            ));
        }
        let uri = format!("hype://sandboxes/{sandbox}/trace/trace.json");
        let blob = crate::groups::blob_of(b64.encode(&bytes), uri.clone(), "application/json");
        Ok(vec![
            ContentBlock::text(format!(
                "Trace of the browser ({} bytes, Chrome's trace event format: open it in Chrome DevTools' Performance panel or ui.perfetto.dev), returned as the resource {uri}.",
                bytes.len()
            )),
            ContentBlock::resource(blob),
        ])
    }

    pub(crate) async fn video_chapter(&self, a: VideoChapter) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        let ms = a.duration.unwrap_or(2000.0).clamp(0.0, 60_000.0);
        // The card is drawn and removed by the page itself, so the tool
        // returns at once, as a recording goes on while it shows.
        let f = format!(
            r#"() => {{
  const c = document.createElement('div');
  c.setAttribute('data-hype-chapter', '');
  c.style.cssText = 'position:fixed;inset:0;z-index:2147483647;display:flex;flex-direction:column;align-items:center;justify-content:center;gap:12px;backdrop-filter:blur(8px);background:rgba(0,0,0,0.55);color:#fff;font:600 40px system-ui,sans-serif;pointer-events:none;text-align:center';
  const h = document.createElement('div'); h.textContent = {title}; c.appendChild(h);
  const d = {desc};
  if (d !== null) {{ const p = document.createElement('div'); p.textContent = d; p.style.font = '400 22px system-ui,sans-serif'; c.appendChild(p); }}
  document.documentElement.appendChild(c);
  setTimeout(() => c.remove(), {ms});
}}"#,
            title = js(&a.title),
            desc = a.description.as_deref().map(js).unwrap_or("null".into()),
        );
        t.run(move |p| Box::pin(async move { p.evaluate(&f, None).await }))
            .await?;
        Ok(vec![ContentBlock::text(format!(
            "Chapter \"{}\" shown for {ms} ms.",
            a.title
        ))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_hype_cannot_run_says_what_to_use() {
        for name in [
            "browser_resume",
            "browser_annotate",
            "browser_start_recording",
            "browser_stop_recording",
            "browser_start_video",
            "browser_stop_video",
            "browser_video_show_actions",
            "browser_video_hide_actions",
        ] {
            assert!(
                unsupported(name).is_some_and(|w| w.contains("browser_")),
                "{name}"
            );
        }
        assert!(unsupported("browser_highlight").is_none());
        assert!(unsupported("browser_start_tracing").is_none());
        // Strings become literals the page cannot break out of.
        assert_eq!(js("a\"</script>\n"), "\"a\\\"</script>\\n\"");
    }
}
