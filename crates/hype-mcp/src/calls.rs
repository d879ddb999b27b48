//! Tool calls as they happen, for observers in the same process (hyped's
//! AG-UI stream shows what an agent does). A record is published when a
//! call starts and when it ends; nobody listening costs a failed send.
//!
//! Records never carry credentials or file bytes: arguments that may hold
//! them are replaced by [`REDACTED`] (by field name, whatever the tool),
//! passwords in URLs are cut out, long strings are cut short, and an
//! argument object still too big is replaced whole. A failed call's text is
//! capped; an argument error says only which tool, since the parser's
//! words may quote the value.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};
use tokio::sync::broadcast;

use crate::error::ToolError;

/// What stands in for a redacted argument.
pub const REDACTED: &str = "[redacted]";
/// Arguments whose values are replaced, in any tool: file and stdin bytes,
/// environment values, typed text and form values (passwords), cookie and
/// storage values, mocked bodies and headers, storage states, CDP
/// parameters, drop data and code.
pub const REDACTED_FIELDS: &[&str] = &[
    "content", "stdin", "env", "text", "value", "values", "body", "headers", "state", "params",
    "data", "code", "function",
];
/// The longest string argument kept whole (in characters).
pub const MAX_STRING: usize = 256;
/// The largest argument object kept (as JSON, in bytes).
pub const MAX_ARGS: usize = 4096;
/// The longest error text of a failed call (in characters).
pub const MAX_RESULT: usize = 300;

/// One tool call's start or end.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolCallRecord {
    Started {
        /// Unique among this server's calls.
        id: String,
        tool: String,
        /// The arguments, redacted and capped as this module says.
        args: Value,
    },
    Ended {
        id: String,
        /// `None` when the call succeeded, else why it failed (capped), or
        /// `cancelled` when it was dropped unfinished.
        error: Option<String>,
    },
}

/// The publishing side, shared by every session of one server.
pub(crate) struct CallFeed {
    tx: broadcast::Sender<ToolCallRecord>,
    next: AtomicU64,
}

impl Default for CallFeed {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(256).0,
            next: AtomicU64::new(1),
        }
    }
}

impl CallFeed {
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<ToolCallRecord> {
        self.tx.subscribe()
    }

    /// Publishes a call's start; the call's end is published through the
    /// guard, or as `cancelled` if the call is dropped unfinished (its
    /// client went away).
    pub(crate) fn started(&self, tool: &str, args: &Value) -> CallGuard<'_> {
        let id = format!("call-{}", self.next.fetch_add(1, Ordering::Relaxed));
        // No receiver is not an error: nobody is watching.
        let _ = self.tx.send(ToolCallRecord::Started {
            id: id.clone(),
            tool: tool.to_owned(),
            args: redact(args),
        });
        CallGuard {
            feed: self,
            id: Some(id),
        }
    }

    fn ended(&self, id: String, error: Option<String>) {
        let _ = self.tx.send(ToolCallRecord::Ended { id, error });
    }
}

/// One started call whose end is still to be published.
pub(crate) struct CallGuard<'a> {
    feed: &'a CallFeed,
    id: Option<String>,
}

impl CallGuard<'_> {
    pub(crate) fn finish(mut self, outcome: Result<(), &ToolError>) {
        let error = outcome.err().map(|e| match e {
            ToolError::Arguments { tool, .. } => format!("invalid arguments for {tool}"),
            e => cap(&e.to_string(), MAX_RESULT),
        });
        if let Some(id) = self.id.take() {
            self.feed.ended(id, error);
        }
    }
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.feed.ended(id, Some("cancelled".into()));
        }
    }
}

/// `args` as observers may see them.
pub fn redact(args: &Value) -> Value {
    let out = walk(args, None);
    match serde_json::to_string(&out) {
        Ok(s) if s.len() <= MAX_ARGS => out,
        _ => serde_json::json!({ "truncated": true }),
    }
}

fn walk(v: &Value, key: Option<&str>) -> Value {
    if key.is_some_and(|k| REDACTED_FIELDS.contains(&k)) && !v.is_null() {
        return Value::String(REDACTED.into());
    }
    match v {
        Value::String(s) if key == Some("url") => {
            Value::String(cap(&strip_userinfo(s), MAX_STRING))
        }
        Value::String(s) => Value::String(cap(s, MAX_STRING)),
        Value::Array(items) => Value::Array(items.iter().map(|i| walk(i, key)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), walk(v, Some(k))))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}

/// `https://user:pass@host/` without its `user:pass@`.
fn strip_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}{REDACTED}@{}", &url[..scheme_end + 3], &rest[at + 1..]),
        None => url.to_owned(),
    }
}

fn cap(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_and_bytes_are_redacted_by_field_wherever_they_are() {
        let args = json!({
            "path": "/etc/app.conf",
            "content": "password=hunter2",
            "env": {"TOKEN": "abc"},
            "fields": [{"name": "pw", "type": "textbox", "target": "e3", "value": "hunter2"}],
            "stdin": null,
        });
        let r = redact(&args);
        assert_eq!(
            r,
            json!({
                "path": "/etc/app.conf",
                "content": REDACTED,
                "env": REDACTED,
                "fields": [{"name": "pw", "type": "textbox", "target": "e3", "value": REDACTED}],
                "stdin": null,
            })
        );
        assert!(!r.to_string().contains("hunter2"));
    }

    #[test]
    fn names_and_plain_arguments_pass_unchanged() {
        let args = json!({"name": "vm-1", "cpu": 2, "url": "https://example.com/a?b=c"});
        assert_eq!(redact(&args), args);
        assert_eq!(redact(&json!({})), json!({}));
    }

    #[test]
    fn passwords_in_urls_are_cut_out() {
        let r = redact(&json!({"url": "https://me:s3cret@example.com/x@y"}));
        assert_eq!(r["url"], format!("https://{REDACTED}@example.com/x@y"));
        assert_eq!(strip_userinfo("about:blank"), "about:blank");
    }

    #[test]
    fn long_strings_and_big_objects_are_capped() {
        let long = "é".repeat(MAX_STRING + 10);
        let r = redact(&json!({ "element": long }));
        let s = r["element"].as_str().unwrap();
        assert_eq!(s.chars().count(), MAX_STRING + 1);
        assert!(s.ends_with('…'));
        let many: Vec<String> = (0..100).map(|i| format!("{i:0>100}")).collect();
        assert_eq!(
            redact(&json!({ "paths": many })),
            json!({"truncated": true})
        );
    }

    #[test]
    fn an_argument_error_does_not_echo_the_value() {
        let feed = CallFeed::default();
        let mut rx = feed.subscribe();
        let call = feed.started("sandbox_get", &json!({"name": "a"}));
        let e = ToolError::Arguments {
            tool: "sandbox_get".into(),
            why: "invalid type: string \"hunter2\"".into(),
        };
        call.finish(Err(&e));
        let ToolCallRecord::Started { id, tool, args } = rx.try_recv().unwrap() else {
            panic!("a start first")
        };
        assert_eq!((tool.as_str(), args), ("sandbox_get", json!({"name": "a"})));
        assert_eq!(
            rx.try_recv().unwrap(),
            ToolCallRecord::Ended {
                id,
                error: Some("invalid arguments for sandbox_get".into())
            }
        );
        assert!(rx.try_recv().is_err(), "one end only");
    }

    #[test]
    fn a_call_dropped_unfinished_ends_as_cancelled() {
        let feed = CallFeed::default();
        let mut rx = feed.subscribe();
        drop(feed.started("sandbox_list", &json!({})));
        let ToolCallRecord::Started { id, .. } = rx.try_recv().unwrap() else {
            panic!("a start first")
        };
        assert_eq!(
            rx.try_recv().unwrap(),
            ToolCallRecord::Ended {
                id,
                error: Some("cancelled".into())
            }
        );
        let ok = feed.started("sandbox_list", &json!({}));
        ok.finish(Ok(()));
        let _ = rx.try_recv();
        assert!(matches!(
            rx.try_recv().unwrap(),
            ToolCallRecord::Ended { error: None, .. }
        ));
    }
}
