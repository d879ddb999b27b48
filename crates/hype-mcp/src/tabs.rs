//! Tools about tabs and the page's surroundings: tabs, close, back,
//! viewport size, media emulation, dialogs and file choosers.

use std::time::Duration;

use rmcp::model::ContentBlock;
use serde_json::json;

use crate::args::*;
use crate::backend::Backend;
use crate::browser::Acted;
use crate::error::ToolError;
use crate::server::{HypeMcp, Output};

impl<B: Backend> HypeMcp<B> {
    pub(crate) async fn tabs(&self, a: Tabs) -> Output {
        let sandbox = self.sandbox(a.sandbox)?;
        let _lease = self.backend.lease(&sandbox);
        let mon = self.monitor(&sandbox).await?;
        self.set_current(Some(sandbox.clone()));
        let ids: Vec<String> = {
            let s = mon.state.lock().expect("monitor");
            s.tabs.iter().map(|t| t.target.clone()).collect()
        };
        let pick = |i: Option<f64>| -> Result<String, ToolError> {
            let i = i.ok_or_else(|| {
                ToolError::Invalid("this action needs `index` (from browser_tabs list)".into())
            })?;
            ids.get(i.max(0.0) as usize).cloned().ok_or_else(|| {
                ToolError::Invalid(format!(
                    "no tab {i}: there are {} (indexes from 0); browser_tabs list shows them",
                    ids.len()
                ))
            })
        };
        let browser = |e| ToolError::browser(&sandbox, e);
        match a.action {
            TabAction::List => {}
            TabAction::New => {
                let url = a.url.as_deref().unwrap_or("about:blank");
                self.open_tab(&mon, &sandbox, url).await?;
                if a.url.is_some() {
                    // Let the new page load before it is listed.
                    let mut t = self.tab(Some(sandbox.clone())).await?;
                    let _ = t
                        .act(|p| {
                            Box::pin(async move { p.wait_loaded(Duration::from_secs(30)).await })
                        })
                        .await;
                }
            }
            TabAction::Select => {
                let id = pick(a.index)?;
                mon.state.lock().expect("monitor").selected = Some(id.clone());
                mon.conn
                    .call(None, "Target.activateTarget", json!({"targetId": id}))
                    .await
                    .map_err(browser)?;
            }
            TabAction::Close => {
                let id = match a.index {
                    Some(_) => pick(a.index)?,
                    None => {
                        let s = mon.state.lock().expect("monitor");
                        s.selected
                            .clone()
                            .or_else(|| ids.first().cloned())
                            .ok_or_else(|| ToolError::Invalid("there is no tab to close".into()))?
                    }
                };
                mon.conn
                    .call(None, "Target.closeTarget", json!({"targetId": id}))
                    .await
                    .map_err(browser)?;
                let mut s = mon.state.lock().expect("monitor");
                s.tabs.retain(|t| t.target != id);
                if s.selected.as_deref() == Some(id.as_str()) {
                    s.selected = None;
                }
            }
        }
        // Titles and URLs as they are now, not as the last event left them.
        if let Ok(r) = mon.conn.call(None, "Target.getTargets", json!({})).await {
            let mut s = mon.state.lock().expect("monitor");
            for info in r["targetInfos"].as_array().into_iter().flatten() {
                if let Some(t) = s
                    .tabs
                    .iter_mut()
                    .find(|t| info["targetId"] == t.target.as_str())
                {
                    t.title = info["title"].as_str().unwrap_or_default().into();
                    t.url = info["url"].as_str().unwrap_or_default().into();
                }
            }
        }
        let s = mon.state.lock().expect("monitor");
        let selected = s
            .selected
            .clone()
            .or_else(|| s.tabs.first().map(|t| t.target.clone()));
        let mut text = format!("### Tabs of sandbox '{sandbox}'\n");
        for (i, t) in s.tabs.iter().enumerate() {
            let mark = if Some(&t.target) == selected.as_ref() {
                " (current)"
            } else {
                ""
            };
            text.push_str(&format!("- {i}:{mark} [{}] ({})\n", t.title, t.url));
        }
        if s.tabs.is_empty() {
            text.push_str("No tabs; browser_tabs new opens one.\n");
        }
        Ok(vec![ContentBlock::text(text)])
    }

    /// Closes every tab and opens a blank one: the browser as new, with the
    /// sandbox (and its cookies) kept.
    pub(crate) async fn close(&self, a: OnSandbox) -> Output {
        let sandbox = self.sandbox(a.sandbox)?;
        let _lease = self.backend.lease(&sandbox);
        let mon = self.monitor(&sandbox).await?;
        let ids: Vec<String> = {
            let s = mon.state.lock().expect("monitor");
            s.tabs.iter().map(|t| t.target.clone()).collect()
        };
        self.open_tab(&mon, &sandbox, "about:blank").await?;
        for id in &ids {
            let _ = mon
                .conn
                .call(None, "Target.closeTarget", json!({"targetId": id}))
                .await;
        }
        mon.state
            .lock()
            .expect("monitor")
            .tabs
            .retain(|t| !ids.contains(&t.target));
        Ok(vec![ContentBlock::text(format!(
            "Closed {} tab(s) of sandbox '{sandbox}'; a blank one is open. The sandbox keeps running (sandbox_delete removes it).",
            ids.len()
        ))])
    }

    pub(crate) async fn navigate_back(&self, a: OnSandbox) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        let went = t
            .act(|p| {
                Box::pin(async move {
                    let h = p.call("Page.getNavigationHistory", json!({})).await?;
                    let i = h["currentIndex"].as_u64().unwrap_or(0) as usize;
                    if i == 0 {
                        return Ok(false);
                    }
                    let id = h["entries"][i - 1]["id"].clone();
                    p.call("Page.navigateToHistoryEntry", json!({"entryId": id}))
                        .await?;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    p.wait_loaded(Duration::from_secs(30)).await?;
                    Ok(true)
                })
            })
            .await?;
        if let Acted::Done(false) = went {
            return Err(ToolError::Invalid(
                "this tab has no earlier page to go back to".into(),
            ));
        }
        t.report("Went back.".into(), went).await
    }

    pub(crate) async fn resize(&self, a: Resize) -> Output {
        if !(a.width >= 1.0 && a.height >= 1.0 && a.width <= 10_000.0 && a.height <= 10_000.0) {
            return Err(ToolError::Invalid(
                "width and height are CSS pixels, from 1 to 10000".into(),
            ));
        }
        let mut t = self.tab(a.sandbox).await?;
        let (w, h) = (a.width.round(), a.height.round());
        // The override lasts as long as the monitor's session to the tab.
        t.run(move |p| {
            Box::pin(p.call(
                "Emulation.setDeviceMetricsOverride",
                json!({"width": w, "height": h, "deviceScaleFactor": 0, "mobile": false}),
            ))
        })
        .await?;
        Ok(vec![ContentBlock::text(format!(
            "Resized the viewport to {w}x{h}."
        ))])
    }

    pub(crate) async fn emulate_media(&self, a: EmulateMedia) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        let features: Vec<(&str, &str)> = vec![
            (
                "prefers-color-scheme",
                match a.color_scheme {
                    Some(ColorScheme::Light) => "light",
                    Some(ColorScheme::Dark) => "dark",
                    None => "",
                },
            ),
            (
                "prefers-reduced-motion",
                match a.reduced_motion {
                    Some(ReducedMotion::Reduce) => "reduce",
                    Some(ReducedMotion::NoPreference) => "no-preference",
                    None => "",
                },
            ),
            (
                "forced-colors",
                match a.forced_colors {
                    Some(ForcedColors::Active) => "active",
                    Some(ForcedColors::None) => "none",
                    None => "",
                },
            ),
            (
                "prefers-contrast",
                match a.contrast {
                    Some(Contrast::More) => "more",
                    Some(Contrast::NoPreference) => "no-preference",
                    None => "",
                },
            ),
        ];
        let media = match a.media {
            Some(MediaType::Print) => "print",
            Some(MediaType::Screen) => "screen",
            None => "",
        };
        let described: Vec<String> = features
            .iter()
            .chain([("media", media)].iter())
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| format!("{n}: {v}"))
            .collect();
        // An empty value resets the feature, as null does in playwright-mcp.
        let features: Vec<_> = features
            .iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect();
        t.run(move |p| {
            Box::pin(p.call(
                "Emulation.setEmulatedMedia",
                json!({"media": media, "features": features}),
            ))
        })
        .await?;
        Ok(vec![ContentBlock::text(if described.is_empty() {
            "Media emulation reset.".into()
        } else {
            format!("Emulating {}.", described.join(", "))
        })])
    }

    pub(crate) async fn handle_dialog(&self, a: HandleDialog) -> Output {
        let mut t = self.tab_with(a.sandbox, true).await?;
        let dialog = {
            let s = t.mon.state.lock().expect("monitor");
            s.tab(&t.target).and_then(|x| x.dialog.clone())
        };
        let Some(d) = dialog else {
            return Err(ToolError::Invalid(
                "no dialog is open in the current tab; browser_snapshot shows the page".into(),
            ));
        };
        let mut p = json!({"accept": a.accept});
        if let Some(text) = &a.prompt_text {
            p["promptText"] = json!(text);
        }
        // Not guarded: the dialog is what this call is about.
        let answered = tokio::time::timeout(
            crate::browser::ACTION_TIMEOUT,
            t.page.call("Page.handleJavaScriptDialog", p),
        )
        .await;
        match answered {
            // Gone in between (the page closed it): nothing left to answer.
            Ok(Ok(_)) | Ok(Err(hype_cdp::CdpError::Command { .. })) => {}
            Ok(Err(e)) => return Err(t.err(e)),
            Err(_) => {
                return Err(t.err(hype_cdp::CdpError::Timeout {
                    method: "Page.handleJavaScriptDialog".into(),
                }))
            }
        }
        {
            let mut s = t.mon.state.lock().expect("monitor");
            if let Some(x) = s.tabs.iter_mut().find(|x| x.target == t.target) {
                x.dialog = None;
            }
        }
        let what = format!(
            "{} the \"{}\" dialog \"{}\".",
            if a.accept { "Accepted" } else { "Dismissed" },
            d.kind,
            d.message
        );
        t.report(what, Acted::Done(())).await
    }

    pub(crate) async fn file_upload(&self, a: FileUpload) -> Output {
        let mut paths = a.paths.unwrap_or_default();
        if let Some(p) = paths.iter().find(|p| !p.starts_with('/')) {
            return Err(ToolError::Invalid(format!(
                "'{p}' is not an absolute path: give paths of files in the sandbox, such as /tmp/upload.txt"
            )));
        }
        let mut t = self.tab(a.sandbox).await?;
        let chooser = {
            let mut s = t.mon.state.lock().expect("monitor");
            s.tabs
                .iter_mut()
                .find(|x| x.target == t.target)
                .and_then(|x| x.chooser.take())
        };
        let Some(node) = chooser else {
            return Err(ToolError::Invalid(
                "no file chooser is open: click the page's file input first (browser_click), then call browser_file_upload".into(),
            ));
        };
        // Inline files go into the sandbox first; the chooser stays open
        // (taken back) if that fails, so the agent can try again.
        if let Some(files) = a.files.filter(|f| !f.is_empty()) {
            match self.stage_files(&t.sandbox, files).await {
                Ok(staged) => paths.extend(staged),
                Err(e) => {
                    let mut s = t.mon.state.lock().expect("monitor");
                    if let Some(x) = s.tabs.iter_mut().find(|x| x.target == t.target) {
                        x.chooser = Some(node);
                    }
                    return Err(e);
                }
            }
        }
        let files = paths.clone();
        t.run(move |p| {
            Box::pin(p.node_call("DOM.setFileInputFiles", node, json!({"files": files})))
        })
        .await?;
        // The browser accepts any path; a file that is not there reads as
        // empty. Checked here so the agent learns it now, not after submitting.
        let sizes = t
            .run(move |p| {
                Box::pin(p.call_on(
                    node,
                    "function() { return Array.from(this.files || [], f => f.size); }",
                    &[],
                ))
            })
            .await?;
        let sizes = sizes.as_array().cloned().unwrap_or_default();
        let missing: Vec<&String> = paths
            .iter()
            .enumerate()
            .filter(|(i, _)| sizes.get(*i).and_then(|s| s.as_u64()).unwrap_or(0) == 0)
            .map(|(_, p)| p)
            .collect();
        if !missing.is_empty() {
            t.run(move |p| {
                Box::pin(p.node_call("DOM.setFileInputFiles", node, json!({"files": []})))
            })
            .await?;
            return Err(ToolError::Invalid(format!(
                "{} not in the sandbox (or empty); put the file there first, then click the file input again",
                missing.iter().map(|p| format!("'{p}' is")).collect::<Vec<_>>().join(", ")
            )));
        }
        let what = if paths.is_empty() {
            "Cancelled the file chooser.".into()
        } else {
            format!("Chose {} for upload.", paths.join(", "))
        };
        t.report(what, Acted::Done(())).await
    }
}
