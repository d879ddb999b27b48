//! What an agent does to a page, in CDP: navigate, read the accessibility
//! tree, click, type, press keys, evaluate, take screenshots, wait for
//! text. Elements are addressed by backend node id (the refs of
//! [`crate::axtree`]); one [`Page`] is one WebSocket to one page target.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{CdpError, CdpSession, Connection};

const POLL: Duration = Duration::from_millis(100);

/// Mouse buttons as CDP names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Left,
    Right,
    Middle,
}

impl Button {
    fn as_str(self) -> &'static str {
        match self {
            Button::Left => "left",
            Button::Right => "right",
            Button::Middle => "middle",
        }
    }
}

/// Image formats of `Page.captureScreenshot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
    Webp,
}

/// How a [`Page`] reaches its target: a WebSocket of its own, or a flat
/// session on a shared browser [`Connection`] (whose events someone else
/// reads, so dialogs, console and network are seen while no tool runs).
enum Transport {
    Own(Box<CdpSession>),
    Attached { conn: Connection, session: String },
}

pub struct Page {
    s: Transport,
}

/// Modifier keys as `Input.dispatchMouseEvent` sums them.
pub mod modifiers {
    pub const ALT: u32 = 1;
    pub const CONTROL: u32 = 2;
    pub const META: u32 = 4;
    pub const SHIFT: u32 = 8;
}

impl Page {
    /// Attaches to the page target at `ws` (its `webSocketDebuggerUrl`).
    pub async fn connect(ws: &str, bearer: Option<&str>) -> Result<Self, CdpError> {
        Ok(Self {
            s: Transport::Own(Box::new(CdpSession::connect_authorized(ws, bearer).await?)),
        })
    }

    /// The page behind `session`, a flat session of `conn`.
    pub fn attached(conn: Connection, session: String) -> Self {
        Self {
            s: Transport::Attached { conn, session },
        }
    }

    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, CdpError> {
        match &mut self.s {
            Transport::Own(s) => s.call(method, params).await,
            Transport::Attached { conn, session } => {
                conn.call(Some(session.as_str()), method, params).await
            }
        }
    }

    /// Loads `url` and waits (up to `timeout`) for the document to finish
    /// loading.
    pub async fn navigate(&mut self, url: &str, timeout: Duration) -> Result<(), CdpError> {
        let r = self.call("Page.navigate", json!({"url": url})).await?;
        if let Some(e) = r["errorText"].as_str().filter(|e| !e.is_empty()) {
            return Err(CdpError::Navigation {
                url: url.into(),
                why: e.into(),
            });
        }
        self.wait_loaded(timeout).await
    }

    /// Waits (up to `timeout`, then returns anyway) for the document to
    /// finish loading.
    pub async fn wait_loaded(&mut self, timeout: Duration) -> Result<(), CdpError> {
        let until = Instant::now() + timeout;
        loop {
            let state = self.eval_expr("document.readyState").await?;
            if state == "complete" || Instant::now() >= until {
                return Ok(());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The page's URL and title.
    pub async fn location(&mut self) -> Result<(String, String), CdpError> {
        let v = self
            .eval_expr("({url: location.href, title: document.title})")
            .await?;
        Ok((
            v["url"].as_str().unwrap_or("").into(),
            v["title"].as_str().unwrap_or("").into(),
        ))
    }

    /// The accessibility tree as text (see [`crate::axtree`]).
    pub async fn snapshot(&mut self) -> Result<String, CdpError> {
        let tree = self.call("Accessibility.getFullAXTree", json!({})).await?;
        let nodes = tree["nodes"].as_array().cloned().unwrap_or_default();
        Ok(crate::axtree::render(&nodes))
    }

    /// One of the element's box-model quads (`content`, `border`, ...) in
    /// viewport coordinates, after scrolling it into view.
    pub async fn quad(&mut self, node: u64, which: &str) -> Result<[f64; 8], CdpError> {
        self.node_call("DOM.scrollIntoViewIfNeeded", node, json!({}))
            .await?;
        let b = self.node_call("DOM.getBoxModel", node, json!({})).await?;
        let q: Vec<f64> = b["model"][which]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_f64)
            .collect();
        q.try_into().map_err(|_| CdpError::NotVisible { node })
    }

    /// The centre of the element, scrolled into view.
    pub async fn centre(&mut self, node: u64) -> Result<(f64, f64), CdpError> {
        let q = self.quad(node, "content").await?;
        Ok((
            (q[0] + q[2] + q[4] + q[6]) / 4.0,
            (q[1] + q[3] + q[5] + q[7]) / 4.0,
        ))
    }

    /// A command about one element; a node that is gone is [`CdpError::StaleNode`].
    pub async fn node_call(
        &mut self,
        method: &str,
        node: u64,
        mut params: Value,
    ) -> Result<Value, CdpError> {
        params["backendNodeId"] = json!(node);
        self.call(method, params).await.map_err(|e| match e {
            CdpError::Command { message, .. }
                if message.contains("No node") || message.contains("Could not find node") =>
            {
                CdpError::StaleNode { node }
            }
            CdpError::Command { message, .. }
                if message.contains("layout object") || message.contains("box model") =>
            {
                CdpError::NotVisible { node }
            }
            other => other,
        })
    }

    pub async fn click(&mut self, node: u64, button: Button, double: bool) -> Result<(), CdpError> {
        self.click_with(node, button, double, 0).await
    }

    /// A click with modifier keys held (a sum of [`modifiers`]).
    pub async fn click_with(
        &mut self,
        node: u64,
        button: Button,
        double: bool,
        mods: u32,
    ) -> Result<(), CdpError> {
        let (x, y) = self.centre(node).await?;
        self.click_at(x, y, button, if double { 2 } else { 1 }, mods)
            .await
    }

    /// Moves the mouse to `x`,`y` (viewport CSS pixels).
    pub async fn mouse_move(&mut self, x: f64, y: f64) -> Result<(), CdpError> {
        self.call(
            "Input.dispatchMouseEvent",
            json!({"type": "mouseMoved", "x": x, "y": y}),
        )
        .await
        .map(drop)
    }

    /// One press or release (`down`) of `button` at `x`,`y`.
    pub async fn mouse_button(
        &mut self,
        x: f64,
        y: f64,
        button: Button,
        down: bool,
        count: u32,
        mods: u32,
    ) -> Result<(), CdpError> {
        let kind = if down {
            "mousePressed"
        } else {
            "mouseReleased"
        };
        self.call(
            "Input.dispatchMouseEvent",
            json!({"type": kind, "x": x, "y": y, "button": button.as_str(),
                "clickCount": count, "modifiers": mods}),
        )
        .await
        .map(drop)
    }

    /// `clicks` clicks (2 is a double click) at `x`,`y`.
    pub async fn click_at(
        &mut self,
        x: f64,
        y: f64,
        button: Button,
        clicks: u32,
        mods: u32,
    ) -> Result<(), CdpError> {
        self.mouse_move(x, y).await?;
        for count in 1..=clicks.max(1) {
            self.mouse_button(x, y, button, true, count, mods).await?;
            self.mouse_button(x, y, button, false, count, mods).await?;
        }
        Ok(())
    }

    /// A wheel turn at `x`,`y`.
    pub async fn wheel(&mut self, x: f64, y: f64, dx: f64, dy: f64) -> Result<(), CdpError> {
        self.call(
            "Input.dispatchMouseEvent",
            json!({"type": "mouseWheel", "x": x, "y": y, "deltaX": dx, "deltaY": dy}),
        )
        .await
        .map(drop)
    }

    /// The backend node id of the one element `selector` (CSS) matches.
    pub async fn query_one(&mut self, selector: &str) -> Result<u64, CdpError> {
        let doc = self.call("DOM.getDocument", json!({"depth": 0})).await?;
        let root = doc["root"]["nodeId"].clone();
        let r = self
            .call(
                "DOM.querySelectorAll",
                json!({"nodeId": root, "selector": selector}),
            )
            .await
            .map_err(|e| match e {
                CdpError::Command { message, .. } => CdpError::Selector {
                    selector: selector.into(),
                    why: message,
                },
                e => e,
            })?;
        let ids = r["nodeIds"].as_array().cloned().unwrap_or_default();
        if ids.len() != 1 {
            return Err(CdpError::Selector {
                selector: selector.into(),
                why: format!("it matches {} elements, not one", ids.len()),
            });
        }
        let d = self
            .call("DOM.describeNode", json!({"nodeId": ids[0]}))
            .await?;
        d["node"]["backendNodeId"]
            .as_u64()
            .ok_or_else(|| CdpError::Protocol("no backendNodeId".into()))
    }

    /// Whether the element is an `<input type=file>`, whose click opens a
    /// file chooser.
    pub async fn is_file_input(&mut self, node: u64) -> Result<bool, CdpError> {
        let d = self.node_call("DOM.describeNode", node, json!({})).await?;
        let n = &d["node"];
        let attrs: Vec<&str> = n["attributes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let file = attrs.chunks(2).any(|kv| {
            kv[0].eq_ignore_ascii_case("type")
                && kv.get(1).is_some_and(|v| v.eq_ignore_ascii_case("file"))
        });
        Ok(n["nodeName"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("input"))
            && file)
    }

    /// Calls `function` with the element as `this` and its first argument,
    /// and `args` after it; returns its result by value.
    pub async fn call_on(
        &mut self,
        node: u64,
        function: &str,
        args: &[Value],
    ) -> Result<Value, CdpError> {
        let obj = self.node_call("DOM.resolveNode", node, json!({})).await?;
        let id = obj["object"]["objectId"].clone();
        let mut arguments = vec![json!({"objectId": id})];
        arguments.extend(args.iter().map(|v| json!({"value": v})));
        let r = self
            .call(
                "Runtime.callFunctionOn",
                json!({"functionDeclaration": function, "objectId": id,
                    "arguments": arguments, "returnByValue": true, "awaitPromise": true}),
            )
            .await?;
        script_result(r)
    }

    /// Focuses the element and types `text` into it: at once, or key by key
    /// when `slowly` (for pages that react to each key).
    pub async fn type_text(&mut self, node: u64, text: &str, slowly: bool) -> Result<(), CdpError> {
        self.node_call("DOM.focus", node, json!({})).await?;
        if slowly {
            for c in text.chars() {
                self.press_key(&c.to_string()).await?;
            }
        } else {
            self.call("Input.insertText", json!({"text": text})).await?;
        }
        Ok(())
    }

    /// Presses and releases one key: a character (`a`, `%`) or a key name
    /// as in `KeyboardEvent.key` (`Enter`, `ArrowLeft`, `Escape`, ...).
    pub async fn press_key(&mut self, key: &str) -> Result<(), CdpError> {
        let Some(k) = key_info(key) else {
            return Err(CdpError::UnknownKey { key: key.into() });
        };
        let mut down = json!({"type": if k.text.is_some() { "keyDown" } else { "rawKeyDown" },
            "key": k.key, "code": k.code, "windowsVirtualKeyCode": k.vk});
        if let Some(t) = &k.text {
            down["text"] = json!(t);
            down["unmodifiedText"] = json!(t);
        }
        self.call("Input.dispatchKeyEvent", down).await?;
        self.call(
            "Input.dispatchKeyEvent",
            json!({"type": "keyUp", "key": k.key, "code": k.code, "windowsVirtualKeyCode": k.vk}),
        )
        .await?;
        Ok(())
    }

    /// The viewport, the whole page, or one element, as image bytes.
    pub async fn screenshot(
        &mut self,
        format: ImageFormat,
        full_page: bool,
        node: Option<u64>,
    ) -> Result<Vec<u8>, CdpError> {
        let mut p = json!({"format": match format { ImageFormat::Png => "png", ImageFormat::Jpeg => "jpeg", ImageFormat::Webp => "webp" }});
        if let Some(n) = node {
            let q = self.quad(n, "border").await?;
            let (xs, ys) = ([q[0], q[2], q[4], q[6]], [q[1], q[3], q[5], q[7]]);
            let min = |a: [f64; 4]| a.iter().copied().fold(f64::INFINITY, f64::min);
            let max = |a: [f64; 4]| a.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            // Box model quads are in viewport coordinates; the clip is in
            // page coordinates.
            let scroll = self.eval_expr("({x: scrollX, y: scrollY})").await?;
            p["clip"] = json!({"x": min(xs) + scroll["x"].as_f64().unwrap_or(0.0),
                "y": min(ys) + scroll["y"].as_f64().unwrap_or(0.0),
                "width": (max(xs) - min(xs)).max(1.0), "height": (max(ys) - min(ys)).max(1.0), "scale": 1});
            p["captureBeyondViewport"] = json!(true);
        } else if full_page {
            p["captureBeyondViewport"] = json!(true);
            let m = self.call("Page.getLayoutMetrics", json!({})).await?;
            let size = &m["cssContentSize"];
            p["clip"] = json!({"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1});
        }
        let shot = self.call("Page.captureScreenshot", p).await?;
        crate::client::screenshot_bytes(&shot)
    }

    /// Calls the JavaScript function source `function` (such as
    /// `() => document.title`, or `(el) => el.textContent` with `node`) and
    /// returns its result as JSON; promises are awaited.
    pub async fn evaluate(&mut self, function: &str, node: Option<u64>) -> Result<Value, CdpError> {
        let r = match node {
            None => {
                self.call(
                    "Runtime.evaluate",
                    json!({"expression": format!("({function})()"), "returnByValue": true, "awaitPromise": true}),
                )
                .await?
            }
            Some(n) => {
                let obj = self.node_call("DOM.resolveNode", n, json!({})).await?;
                let id = obj["object"]["objectId"].clone();
                self.call(
                    "Runtime.callFunctionOn",
                    json!({"functionDeclaration": function, "objectId": id,
                        "arguments": [{"objectId": id}], "returnByValue": true, "awaitPromise": true}),
                )
                .await?
            }
        };
        script_result(r)
    }

    pub async fn eval_expr(&mut self, expr: &str) -> Result<Value, CdpError> {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expr, "returnByValue": true}),
            )
            .await?;
        Ok(r["result"]["value"].clone())
    }

    /// Waits until `text` appears in the page's visible text (or, with
    /// `gone`, no longer does); false when `timeout` passed first.
    pub async fn wait_for_text(
        &mut self,
        text: &str,
        gone: bool,
        timeout: Duration,
    ) -> Result<bool, CdpError> {
        let expr = format!(
            "(document.body ? document.body.innerText : '').includes({})",
            serde_json::to_string(text).unwrap_or_default()
        );
        let until = Instant::now() + timeout;
        loop {
            let present = self.eval_expr(&expr).await? == true;
            if present != gone {
                return Ok(true);
            }
            if Instant::now() >= until {
                return Ok(false);
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// The value of a `Runtime.evaluate` / `callFunctionOn` answer, or the
/// exception it threw.
fn script_result(r: Value) -> Result<Value, CdpError> {
    if let Some(ex) = r.get("exceptionDetails") {
        let text = ex["exception"]["description"]
            .as_str()
            .or(ex["text"].as_str())
            .unwrap_or("exception")
            .to_owned();
        return Err(CdpError::Script { message: text });
    }
    Ok(r["result"]["value"].clone())
}

/// The Windows virtual key code Chromium wants with a key event for
/// `key` (a `KeyboardEvent.key`): without it, keys such as Backspace or
/// the arrows do nothing in a text field. 0 for keys it does not know.
pub fn virtual_key(key: &str) -> u32 {
    let key = if key == " " { "Space" } else { key };
    key_info(key).map_or(0, |k| k.vk)
}

struct KeyInfo {
    key: String,
    code: String,
    vk: u32,
    text: Option<String>,
}

/// The key names agents use (those of `KeyboardEvent.key`) and single
/// characters.
fn key_info(key: &str) -> Option<KeyInfo> {
    let named: &[(&str, u32, Option<&str>)] = &[
        ("Enter", 13, Some("\r")),
        ("Tab", 9, None),
        ("Escape", 27, None),
        ("Backspace", 8, None),
        ("Delete", 46, None),
        ("ArrowLeft", 37, None),
        ("ArrowUp", 38, None),
        ("ArrowRight", 39, None),
        ("ArrowDown", 40, None),
        ("Home", 36, None),
        ("End", 35, None),
        ("PageUp", 33, None),
        ("PageDown", 34, None),
        ("Space", 32, Some(" ")),
    ];
    if let Some((name, vk, text)) = named.iter().find(|(n, _, _)| *n == key) {
        let key = if *name == "Space" { " " } else { name };
        return Some(KeyInfo {
            key: key.into(),
            code: (*name).into(),
            vk: *vk,
            text: text.map(Into::into),
        });
    }
    let mut chars = key.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else {
        return None;
    };
    let upper = c.to_ascii_uppercase();
    let (code, vk) = if c.is_ascii_alphabetic() {
        (format!("Key{upper}"), upper as u32)
    } else if c.is_ascii_digit() {
        (format!("Digit{c}"), c as u32)
    } else {
        (String::new(), 0)
    };
    Some(KeyInfo {
        key: c.to_string(),
        code,
        vk,
        text: Some(c.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_by_name_and_character() {
        let e = key_info("Enter").unwrap();
        assert_eq!((e.vk, e.text.as_deref()), (13, Some("\r")));
        let a = key_info("a").unwrap();
        assert_eq!((a.code.as_str(), a.vk), ("KeyA", 65));
        assert!(key_info("NotAKey").is_none());
        assert_eq!(key_info("Space").unwrap().key, " ");
    }
}
