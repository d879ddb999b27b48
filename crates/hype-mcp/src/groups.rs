//! The tools of the capability groups (`--mcp-caps`): vision (the mouse by
//! coordinates), pdf, network (routes and offline), storage (cookies, web
//! storage, storage state) and cdp (one raw CDP command).

use std::time::Duration;

use base64::Engine;
use rmcp::model::{ContentBlock, ResourceContents};
use serde_json::{json, Value};

use crate::args::*;
use crate::backend::Backend;
use crate::browser::{button, Acted};
use crate::error::ToolError;
use crate::monitor::{glob, Route};
use crate::server::{HypeMcp, Output};

/// Web storage of the page's origin as `[[key, value], ...]`, or one action on it.
const STORAGE: &str = r#"(kind, op, key, value) => {
  const s = kind === 'local' ? localStorage : sessionStorage;
  switch (op) {
    case 'list': return Object.keys(s).map(k => [k, s.getItem(k)]);
    case 'get': return s.getItem(key);
    case 'set': s.setItem(key, value); return null;
    case 'delete': s.removeItem(key); return null;
    case 'clear': s.clear(); return null;
  }
}"#;

impl<B: Backend> HypeMcp<B> {
    async fn mouse(&self, sandbox: Option<String>, what: String, f: MouseOp) -> Output {
        let mut t = self.tab(sandbox).await?;
        let mon = t.mon.clone();
        let (x0, y0) = mon.state.lock().expect("monitor").mouse;
        let acted = t
            .act(move |p| {
                Box::pin(async move {
                    let end = match f {
                        MouseOp::Move(x, y) => {
                            p.mouse_move(x, y).await?;
                            (x, y)
                        }
                        MouseOp::Click {
                            x,
                            y,
                            button,
                            count,
                            delay,
                        } => {
                            p.mouse_move(x, y).await?;
                            for c in 1..=count {
                                p.mouse_button(x, y, button, true, c, 0).await?;
                                if delay > 0.0 {
                                    tokio::time::sleep(Duration::from_secs_f64(delay / 1000.0))
                                        .await;
                                }
                                p.mouse_button(x, y, button, false, c, 0).await?;
                            }
                            (x, y)
                        }
                        MouseOp::Drag(sx, sy, ex, ey) => {
                            p.mouse_move(sx, sy).await?;
                            p.mouse_button(sx, sy, hype_cdp::Button::Left, true, 1, 0)
                                .await?;
                            for i in 1..=5 {
                                let f = f64::from(i) / 5.0;
                                p.mouse_move(sx + (ex - sx) * f, sy + (ey - sy) * f).await?;
                            }
                            p.mouse_button(ex, ey, hype_cdp::Button::Left, false, 1, 0)
                                .await?;
                            (ex, ey)
                        }
                        MouseOp::Button(b, down) => {
                            p.mouse_button(x0, y0, b, down, 1, 0).await?;
                            (x0, y0)
                        }
                        MouseOp::Wheel(dx, dy) => {
                            p.wheel(x0, y0, dx, dy).await?;
                            (x0, y0)
                        }
                    };
                    Ok(end)
                })
            })
            .await?;
        if let Acted::Done(end) = &acted {
            mon.state.lock().expect("monitor").mouse = *end;
        }
        t.report(what, acted).await
    }

    pub(crate) async fn mouse_move(&self, a: MouseMove) -> Output {
        let what = format!("Moved the mouse to {},{}.", a.x, a.y);
        self.mouse(a.sandbox, what, MouseOp::Move(a.x, a.y)).await
    }

    pub(crate) async fn mouse_click(&self, a: MouseClick) -> Output {
        let count = a.click_count.unwrap_or(1.0).clamp(1.0, 3.0) as u32;
        let delay = a.delay.unwrap_or(0.0).clamp(0.0, 10_000.0);
        let what = format!("Clicked at {},{}.", a.x, a.y);
        let op = MouseOp::Click {
            x: a.x,
            y: a.y,
            button: button(a.button),
            count,
            delay,
        };
        self.mouse(a.sandbox, what, op).await
    }

    pub(crate) async fn mouse_drag(&self, a: MouseDrag) -> Output {
        let what = format!(
            "Dragged from {},{} to {},{}.",
            a.start_x, a.start_y, a.end_x, a.end_y
        );
        let op = MouseOp::Drag(a.start_x, a.start_y, a.end_x, a.end_y);
        self.mouse(a.sandbox, what, op).await
    }

    pub(crate) async fn mouse_down(&self, a: MouseButtonArgs, down: bool) -> Output {
        let what = format!(
            "Mouse button {}.",
            if down { "pressed" } else { "released" }
        );
        self.mouse(a.sandbox, what, MouseOp::Button(button(a.button), down))
            .await
    }

    pub(crate) async fn mouse_wheel(&self, a: MouseWheel) -> Output {
        let what = format!("Scrolled by {},{}.", a.delta_x, a.delta_y);
        self.mouse(a.sandbox, what, MouseOp::Wheel(a.delta_x, a.delta_y))
            .await
    }

    pub(crate) async fn pdf_save(&self, a: PdfSave) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        let r = t
            .run(|p| Box::pin(p.call("Page.printToPDF", json!({"printBackground": true}))))
            .await?;
        let data = r["data"].as_str().unwrap_or_default().to_owned();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&data)
            .map_err(|e| t.err(hype_cdp::CdpError::Protocol(e.to_string())))?;
        let name = a.filename.unwrap_or_else(|| "page.pdf".into());
        let uri = format!("hype://sandboxes/{}/pdf/{name}", t.sandbox);
        let blob = blob_of(data, uri.clone(), "application/pdf");
        Ok(vec![
            ContentBlock::text(format!(
                "Saved the page as PDF ({} bytes), returned as the resource {uri}.",
                bytes.len()
            )),
            ContentBlock::resource(blob),
        ])
    }

    pub(crate) async fn route(&self, a: RouteArgs) -> Output {
        let matcher = glob(&a.pattern)
            .map_err(|e| ToolError::Invalid(format!("`pattern` is not a URL glob: {e}")))?;
        let mut headers = vec![];
        for h in a.headers.iter().flatten() {
            let (n, v) = h.split_once(':').ok_or_else(|| {
                ToolError::Invalid(format!("header '{h}' is not \"Name: Value\""))
            })?;
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
        let status = a
            .status
            .map(|s| {
                if (100.0..=599.0).contains(&s) {
                    Ok(s as u16)
                } else {
                    Err(ToolError::Invalid(
                        "`status` is an HTTP status, 100 to 599".into(),
                    ))
                }
            })
            .transpose()?;
        let sandbox = self.sandbox(a.sandbox)?;
        let _lease = self.backend.lease(&sandbox);
        let mon = self.monitor(&sandbox).await?;
        {
            let mut s = mon.state.lock().expect("monitor");
            s.routes.retain(|r| r.pattern != a.pattern);
            s.routes.push(Route {
                pattern: a.pattern.clone(),
                matcher,
                status,
                body: a.body,
                content_type: a.content_type,
                headers,
                remove_headers: a
                    .remove_headers
                    .iter()
                    .flat_map(|h| h.split(','))
                    .map(|h| h.trim().to_owned())
                    .filter(|h| !h.is_empty())
                    .collect(),
            });
        }
        mon.apply_network_all()
            .await
            .map_err(|e| ToolError::browser(&sandbox, e))?;
        self.set_current(Some(sandbox.clone()));
        Ok(vec![ContentBlock::text(format!(
            "Requests matching {} in sandbox '{sandbox}' are routed.",
            a.pattern
        ))])
    }

    pub(crate) async fn unroute(&self, a: Unroute) -> Output {
        let sandbox = self.sandbox(a.sandbox)?;
        let mon = self.monitor(&sandbox).await?;
        let removed = {
            let mut s = mon.state.lock().expect("monitor");
            let before = s.routes.len();
            s.routes
                .retain(|r| a.pattern.as_ref().is_some_and(|p| p != &r.pattern));
            before - s.routes.len()
        };
        mon.apply_network_all()
            .await
            .map_err(|e| ToolError::browser(&sandbox, e))?;
        Ok(vec![ContentBlock::text(format!(
            "Removed {removed} route(s)."
        ))])
    }

    pub(crate) async fn route_list(&self, a: OnSandbox) -> Output {
        let sandbox = self.sandbox(a.sandbox)?;
        let mon = self.monitor(&sandbox).await?;
        let s = mon.state.lock().expect("monitor");
        let mut out = format!("### Routes of sandbox '{sandbox}'\n");
        for r in &s.routes {
            out.push_str(&format!(
                "- {}: {}\n",
                r.pattern,
                match (r.status, &r.body) {
                    (None, None) if r.content_type.is_none() =>
                        "let through, headers changed".into(),
                    (s, b) => format!(
                        "stub {} ({} bytes)",
                        s.unwrap_or(200),
                        b.as_deref().map_or(0, str::len)
                    ),
                }
            ));
        }
        if s.routes.is_empty() {
            out.push_str("None.\n");
        }
        Ok(vec![ContentBlock::text(out)])
    }

    pub(crate) async fn network_state_set(&self, a: NetworkStateSet) -> Output {
        let sandbox = self.sandbox(a.sandbox)?;
        let mon = self.monitor(&sandbox).await?;
        mon.state.lock().expect("monitor").offline = a.state == NetState::Offline;
        mon.apply_network_all()
            .await
            .map_err(|e| ToolError::browser(&sandbox, e))?;
        Ok(vec![ContentBlock::text(format!(
            "The browser of sandbox '{sandbox}' is {}.",
            if a.state == NetState::Offline {
                "offline"
            } else {
                "online"
            }
        ))])
    }

    /// Cookies of the browser, all of them (`Storage.getCookies`).
    async fn cookies(&self, sandbox: Option<String>) -> Result<(String, Vec<Value>), ToolError> {
        let sandbox = self.sandbox(sandbox)?;
        let mon = self.monitor(&sandbox).await?;
        let r = mon
            .conn
            .call(None, "Storage.getCookies", json!({}))
            .await
            .map_err(|e| ToolError::browser(&sandbox, e))?;
        self.set_current(Some(sandbox.clone()));
        Ok((
            sandbox,
            r["cookies"].as_array().cloned().unwrap_or_default(),
        ))
    }

    pub(crate) async fn cookie_list(&self, a: CookieList) -> Output {
        let (sandbox, all) = self.cookies(a.sandbox).await?;
        let list: Vec<Value> = all
            .into_iter()
            .filter(|c| {
                a.domain.as_ref().is_none_or(|d| {
                    c["domain"]
                        .as_str()
                        .is_some_and(|x| x.trim_start_matches('.') == d.trim_start_matches('.'))
                }) && a.path.as_ref().is_none_or(|p| c["path"] == p.as_str())
            })
            .collect();
        Ok(vec![ContentBlock::text(format!(
            "### Cookies of sandbox '{sandbox}' ({})\n{}",
            list.len(),
            serde_json::to_string_pretty(&list).unwrap_or_default()
        ))])
    }

    pub(crate) async fn cookie_get(&self, a: CookieName) -> Output {
        let (sandbox, all) = self.cookies(a.sandbox).await?;
        let hits: Vec<&Value> = all
            .iter()
            .filter(|c| c["name"] == a.name.as_str())
            .collect();
        if hits.is_empty() {
            return Err(ToolError::Invalid(format!(
                "no cookie '{}' in sandbox '{sandbox}'; browser_cookie_list shows them",
                a.name
            )));
        }
        Ok(vec![ContentBlock::text(
            serde_json::to_string_pretty(&hits).unwrap_or_default(),
        )])
    }

    pub(crate) async fn cookie_set(&self, a: CookieSet) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        let (url, _) = t.run(|p| Box::pin(p.location())).await?;
        let mut c =
            json!({"name": a.name, "value": a.value, "path": a.path.as_deref().unwrap_or("/")});
        match &a.domain {
            Some(d) => c["domain"] = json!(d),
            None if url.starts_with("http") => c["url"] = json!(url),
            None => {
                return Err(ToolError::Invalid(
                    "the page has no http(s) origin to set a cookie for: give `domain`, or browser_navigate to a site first".into(),
                ))
            }
        }
        if let Some(e) = a.expires {
            c["expires"] = json!(e);
        }
        if let Some(h) = a.http_only {
            c["httpOnly"] = json!(h);
        }
        if let Some(s) = a.secure {
            c["secure"] = json!(s);
        }
        if let Some(s) = a.same_site {
            c["sameSite"] = json!(match s {
                SameSite::Strict => "Strict",
                SameSite::Lax => "Lax",
                SameSite::None => "None",
            });
        }
        let r = t
            .run(move |p| Box::pin(p.call("Network.setCookie", c)))
            .await?;
        if r["success"] == false {
            return Err(ToolError::Invalid(format!(
                "the browser refused cookie '{}' (check domain, secure and sameSite)",
                a.name
            )));
        }
        Ok(vec![ContentBlock::text(format!(
            "Set cookie '{}'.",
            a.name
        ))])
    }

    pub(crate) async fn cookie_delete(&self, a: CookieName) -> Output {
        let (sandbox, all) = self.cookies(a.sandbox).await?;
        let mon = self.monitor(&sandbox).await?;
        let mut n = 0;
        for c in all.iter().filter(|c| c["name"] == a.name.as_str()) {
            mon.conn
                .call(
                    None,
                    "Network.deleteCookies",
                    json!({"name": a.name, "domain": c["domain"], "path": c["path"]}),
                )
                .await
                .map_err(|e| ToolError::browser(&sandbox, e))?;
            n += 1;
        }
        Ok(vec![ContentBlock::text(format!(
            "Deleted {n} cookie(s) named '{}'.",
            a.name
        ))])
    }

    pub(crate) async fn cookie_clear(&self, a: OnSandbox) -> Output {
        let sandbox = self.sandbox(a.sandbox)?;
        let mon = self.monitor(&sandbox).await?;
        mon.conn
            .call(None, "Storage.clearCookies", json!({}))
            .await
            .map_err(|e| ToolError::browser(&sandbox, e))?;
        Ok(vec![ContentBlock::text(format!(
            "Cleared the cookies of sandbox '{sandbox}'."
        ))])
    }

    /// One operation on the page's localStorage or sessionStorage.
    pub(crate) async fn web_storage(
        &self,
        sandbox: Option<String>,
        kind: &'static str,
        op: &'static str,
        key: Option<String>,
        value: Option<String>,
    ) -> Output {
        let mut t = self.tab(sandbox).await?;
        let f = format!(
            "() => ({STORAGE})({}, {}, {}, {})",
            json!(kind),
            json!(op),
            json!(key),
            json!(value)
        );
        let v = t
            .run(move |p| Box::pin(async move { p.evaluate(&f, None).await }))
            .await?;
        let store = if kind == "local" {
            "localStorage"
        } else {
            "sessionStorage"
        };
        let text = match op {
            "list" => format!(
                "### {store}\n{}",
                serde_json::to_string_pretty(&v).unwrap_or_default()
            ),
            "get" if v.is_null() => {
                return Err(ToolError::Invalid(format!(
                    "no {store} item '{}'; browser_{}storage_list shows them",
                    key.unwrap_or_default(),
                    kind
                )))
            }
            "get" => v.as_str().unwrap_or_default().to_owned(),
            _ => format!("{store}: {op} done."),
        };
        Ok(vec![ContentBlock::text(text)])
    }

    pub(crate) async fn storage_state(&self, a: StorageState) -> Output {
        let (sandbox, cookies) = self.cookies(a.sandbox.clone()).await?;
        let mut t = self.tab(Some(sandbox)).await?;
        let origin = t
            .run(|p| {
                Box::pin(p.evaluate(
                    "() => ({origin: location.origin, localStorage: Object.keys(localStorage).map(k => ({name: k, value: localStorage.getItem(k)}))})",
                    None,
                ))
            })
            .await
            .unwrap_or(Value::Null);
        let origins: Vec<Value> = origin
            .get("origin")
            .and_then(Value::as_str)
            .filter(|o| o.starts_with("http"))
            .map(|_| origin.clone())
            .into_iter()
            .collect();
        let state = json!({"cookies": cookies, "origins": origins});
        Ok(vec![ContentBlock::text(format!(
            "### Storage state (pass it as `state` to browser_set_storage_state)\n{}",
            serde_json::to_string_pretty(&state).unwrap_or_default()
        ))])
    }

    pub(crate) async fn set_storage_state(&self, a: SetStorageState) -> Output {
        let Some(state) = a.state else {
            return Err(ToolError::Invalid(
                "hype has no workspace files to read `filename` from: pass the JSON browser_storage_state returned as `state`".into(),
            ));
        };
        let mut t = self.tab(a.sandbox).await?;
        let cookies = state["cookies"].clone();
        if cookies.is_array() {
            t.run(move |p| Box::pin(p.call("Network.setCookies", json!({"cookies": cookies}))))
                .await?;
        }
        let (url, _) = t.run(|p| Box::pin(p.location())).await?;
        let mut skipped = vec![];
        for o in state["origins"].as_array().into_iter().flatten() {
            let origin = o["origin"].as_str().unwrap_or_default();
            if !url.starts_with(origin) || origin.is_empty() {
                skipped.push(origin.to_owned());
                continue;
            }
            let items = o["localStorage"].clone();
            let f = format!(
                "() => {{ for (const i of {items}) localStorage.setItem(i.name, i.value); }}"
            );
            t.run(move |p| Box::pin(async move { p.evaluate(&f, None).await }))
                .await?;
        }
        let note = if skipped.is_empty() {
            String::new()
        } else {
            format!(
                " localStorage of {} was not set: navigate there and call again.",
                skipped.join(", ")
            )
        };
        Ok(vec![ContentBlock::text(format!(
            "Storage state set.{note}"
        ))])
    }

    pub(crate) async fn cdp(&self, a: Cdp) -> Output {
        let params = Value::Object(a.params.unwrap_or_default());
        let r = if a.browser {
            let sandbox = self.sandbox(a.sandbox)?;
            let mon = self.monitor(&sandbox).await?;
            mon.conn
                .call(None, &a.method, params)
                .await
                .map_err(|e| ToolError::browser(&sandbox, e))?
        } else {
            let mut t = self.tab(a.sandbox).await?;
            let method = a.method.clone();
            t.run(move |p| Box::pin(async move { p.call(&method, params).await }))
                .await?
        };
        let text = serde_json::to_string_pretty(&r).unwrap_or_default();
        Ok(vec![ContentBlock::text(crate::browser::cut(
            &text, 200_000,
        ))])
    }
}

enum MouseOp {
    Move(f64, f64),
    Click {
        x: f64,
        y: f64,
        button: hype_cdp::Button,
        count: u32,
        delay: f64,
    },
    Drag(f64, f64, f64, f64),
    Button(hype_cdp::Button, bool),
    Wheel(f64, f64),
}

/// A base64 `blob` resource at `uri` of type `mime` (rmcp's constructor
/// sets no type).
pub(crate) fn blob_of(blob: String, uri: String, mime: &str) -> ResourceContents {
    match ResourceContents::blob(blob, uri) {
        ResourceContents::BlobResourceContents {
            uri, blob, meta, ..
        } => ResourceContents::BlobResourceContents {
            uri,
            blob,
            meta,
            mime_type: Some(mime.into()),
        },
        other => other,
    }
}
