//! What a browser sandbox's pages did, kept per VM in bounded lists: the
//! newest [`KEPT`] console messages and network requests. Sequence numbers
//! only grow, so a reader asks for what came after the last it saw.

use std::collections::{HashMap, VecDeque};

use hype_types::{ConsoleMessage, NetworkRequest};
use serde_json::Value;

/// Messages (and requests) kept per sandbox.
pub(crate) const KEPT: usize = 1000;
/// The most of a request body kept.
const MAX_POST_DATA: usize = 64 << 10;

#[derive(Default)]
pub(crate) struct PageLog {
    console: VecDeque<ConsoleMessage>,
    network: VecDeque<NetworkRequest>,
    /// The browser's request id → its sequence number, for updates.
    by_request: HashMap<String, u64>,
    next_console: u64,
    next_request: u64,
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("UTC timestamps always format")
}

fn headers(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect()
}

/// A console argument as text, the way DevTools prints it.
fn arg_text(a: &Value) -> String {
    match a.get("value") {
        Some(Value::String(s)) => s.clone(),
        Some(v) if !v.is_null() => v.to_string(),
        _ => a
            .get("unserializableValue")
            .or_else(|| a.get("description"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| a["type"].as_str().unwrap_or("undefined").to_owned()),
    }
}

impl PageLog {
    fn push_console(&mut self, level: &str, text: String, target: &str, location: Option<String>) {
        self.next_console += 1;
        self.console.push_back(ConsoleMessage {
            seq: self.next_console,
            level: level.to_owned(),
            text,
            target_id: target.to_owned(),
            location,
            at: now(),
        });
        while self.console.len() > KEPT {
            self.console.pop_front();
        }
    }

    /// Takes one CDP event of a page; others are ignored.
    pub fn record(&mut self, target: &str, method: &str, p: &Value) {
        match method {
            "Runtime.consoleAPICalled" => {
                let text = p["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(arg_text)
                    .collect::<Vec<_>>()
                    .join(" ");
                let frame = &p["stackTrace"]["callFrames"][0];
                let location = frame["url"].as_str().filter(|u| !u.is_empty()).map(|u| {
                    format!(
                        "{u}:{}:{}",
                        frame["lineNumber"].as_u64().unwrap_or(0) + 1,
                        frame["columnNumber"].as_u64().unwrap_or(0) + 1
                    )
                });
                self.push_console(p["type"].as_str().unwrap_or("log"), text, target, location);
            }
            "Runtime.exceptionThrown" => {
                let d = &p["exceptionDetails"];
                let text = d["exception"]["description"]
                    .as_str()
                    .or(d["text"].as_str())
                    .unwrap_or("exception")
                    .to_owned();
                let location = d["url"]
                    .as_str()
                    .map(|u| format!("{u}:{}", d["lineNumber"].as_u64().unwrap_or(0) + 1));
                self.push_console("exception", text, target, location);
            }
            "Log.entryAdded" => {
                let e = &p["entry"];
                let location = e["url"].as_str().map(str::to_owned);
                let text = e["text"].as_str().unwrap_or_default().to_owned();
                self.push_console(
                    e["level"].as_str().unwrap_or("info"),
                    text,
                    target,
                    location,
                );
            }
            "Network.requestWillBeSent" => {
                let id = p["requestId"].as_str().unwrap_or_default().to_owned();
                let r = &p["request"];
                let post_data = r["postData"].as_str().map(|d| {
                    let mut end = d.len().min(MAX_POST_DATA);
                    while !d.is_char_boundary(end) {
                        end -= 1;
                    }
                    d[..end].to_owned()
                });
                self.next_request += 1;
                let seq = self.next_request;
                self.by_request.insert(id.clone(), seq);
                self.network.push_back(NetworkRequest {
                    seq,
                    request_id: id,
                    target_id: target.to_owned(),
                    method: r["method"].as_str().unwrap_or("GET").to_owned(),
                    url: r["url"].as_str().unwrap_or_default().to_owned(),
                    resource_type: p["type"].as_str().map(str::to_owned),
                    request_headers: headers(&r["headers"]),
                    post_data,
                    status: None,
                    status_text: None,
                    mime_type: None,
                    response_headers: vec![],
                    failure: None,
                    encoded_length: None,
                    at: now(),
                    finished: false,
                });
                while self.network.len() > KEPT {
                    if let Some(old) = self.network.pop_front() {
                        self.by_request.remove(&old.request_id);
                    }
                }
            }
            "Network.responseReceived" => {
                let r = &p["response"];
                if let Some(req) = self.request_mut(p) {
                    req.status = r["status"].as_u64().map(|s| s as u16);
                    req.status_text = r["statusText"].as_str().map(str::to_owned);
                    req.mime_type = r["mimeType"].as_str().map(str::to_owned);
                    req.response_headers = headers(&r["headers"]);
                }
            }
            "Network.loadingFinished" => {
                if let Some(req) = self.request_mut(p) {
                    req.finished = true;
                    req.encoded_length = p["encodedDataLength"].as_f64().map(|n| n as u64);
                }
            }
            "Network.loadingFailed" => {
                if let Some(req) = self.request_mut(p) {
                    req.finished = true;
                    req.failure = p["errorText"].as_str().map(str::to_owned);
                }
            }
            _ => {}
        }
    }

    fn request_mut(&mut self, p: &Value) -> Option<&mut NetworkRequest> {
        let seq = *self.by_request.get(p["requestId"].as_str()?)?;
        let first = self.network.front()?.seq;
        self.network.get_mut((seq - first) as usize)
    }

    pub fn console_after(&self, after: u64) -> Vec<ConsoleMessage> {
        self.console
            .iter()
            .filter(|m| m.seq > after)
            .cloned()
            .collect()
    }

    pub fn network_after(&self, after: u64) -> Vec<NetworkRequest> {
        self.network
            .iter()
            .filter(|r| r.seq > after)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn console_and_network_are_recorded_bounded_and_in_order() {
        let mut log = PageLog::default();
        log.record(
            "T1",
            "Runtime.consoleAPICalled",
            &json!({"type":"warning","args":[{"type":"string","value":"hello"},
                {"type":"number","value":42},{"type":"object","description":"Object"}],
                "stackTrace":{"callFrames":[{"url":"http://x/a.js","lineNumber":9,"columnNumber":1}]}}),
        );
        let m = &log.console_after(0)[0];
        assert_eq!(
            (m.level.as_str(), m.text.as_str()),
            ("warning", "hello 42 Object")
        );
        assert_eq!(m.location.as_deref(), Some("http://x/a.js:10:2"));
        log.record(
            "T1",
            "Network.requestWillBeSent",
            &json!({"requestId":"r1","type":"XHR","request":{"url":"http://x/api","method":"POST",
                "headers":{"Content-Type":"application/json"},"postData":"{\"a\":1}"}}),
        );
        log.record(
            "T1",
            "Network.responseReceived",
            &json!({"requestId":"r1","response":{"status":201,"statusText":"Created",
                "mimeType":"application/json","headers":{}}}),
        );
        log.record(
            "T1",
            "Network.loadingFinished",
            &json!({"requestId":"r1","encodedDataLength":17.0}),
        );
        let r = &log.network_after(0)[0];
        assert_eq!(
            (r.method.as_str(), r.status, r.finished),
            ("POST", Some(201), true)
        );
        assert_eq!(r.post_data.as_deref(), Some("{\"a\":1}"));
        for i in 0..(KEPT + 10) {
            log.record(
                "T1",
                "Network.requestWillBeSent",
                &json!({"requestId":format!("n{i}"),"request":{"url":"http://x/","method":"GET"}}),
            );
        }
        assert_eq!(log.network_after(0).len(), KEPT);
        // An update of the newest still finds it after the oldest went.
        log.record(
            "T1",
            "Network.loadingFailed",
            &json!({"requestId":format!("n{}", KEPT + 9),"errorText":"net::ERR_FAILED"}),
        );
        let last = log.network_after(0).pop().unwrap();
        assert_eq!(last.failure.as_deref(), Some("net::ERR_FAILED"));
        assert!(log.by_request.len() <= KEPT);
        assert_eq!(log.console_after(1), vec![]);
    }
}
