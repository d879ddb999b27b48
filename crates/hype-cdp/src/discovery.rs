//! `/json/version` and `/json/list` carry absolute WebSocket URLs built
//! from the Host the browser saw (inside the guest, a loopback address).
//! Clients must get URLs that lead back through hyped instead.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

static FRONTEND_WS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(wss?)=[^/&]+/devtools/").expect("valid regex"));
static TARGET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(browser|page|worker|shared_worker|service_worker|iframe|other)/([A-Za-z0-9-]{1,128})$",
    )
    .expect("valid regex")
});

/// A DevTools WebSocket target, `KIND/ID` (`browser/…`, `page/…`), checked
/// to be nothing else: a path built from it cannot climb out of
/// `/devtools/` nor carry a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevtoolsTarget(String);

impl DevtoolsTarget {
    pub fn parse(s: &str) -> Option<Self> {
        TARGET.is_match(s).then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for DevtoolsTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The target a browser-given WebSocket URL names, if it names a valid one.
fn target_of(url: &str) -> Option<DevtoolsTarget> {
    let rest = &url[url.find("/devtools/")? + "/devtools/".len()..];
    DevtoolsTarget::parse(rest)
}

/// Rewrites every `webSocketDebuggerUrl` and `devtoolsFrontendUrl` in a
/// discovery document (an object or a list of them). The URLs are rebuilt
/// from `proxy` and the target they name; a URL that names no valid target
/// (the document comes from the guest, which may lie) is removed.
///
/// `proxy` is hyped's CDP base without scheme, e.g.
/// `127.0.0.1:7777/api/v1/vms/s1/cdp`; `token` is appended to WebSocket URLs
/// for clients that cannot send an Authorization header.
pub fn rewrite_discovery(doc: &mut Value, proxy: &str, token: Option<&str>) {
    match doc {
        Value::Array(items) => {
            for item in items {
                rewrite_discovery(item, proxy, token);
            }
        }
        Value::Object(map) => {
            let ws = match map.get("webSocketDebuggerUrl") {
                Some(Value::String(url)) => Some(target_of(url)),
                _ => None,
            };
            match ws {
                Some(Some(target)) => {
                    let mut new = format!("ws://{proxy}/devtools/{target}");
                    if let Some(t) = token {
                        new.push_str("?token=");
                        new.push_str(t);
                    }
                    map.insert("webSocketDebuggerUrl".into(), Value::String(new));
                }
                Some(None) => {
                    map.remove("webSocketDebuggerUrl");
                }
                None => {}
            }
            if let Some(Value::String(url)) = map.get_mut("devtoolsFrontendUrl") {
                *url = FRONTEND_WS
                    .replace_all(url, format!("$1={proxy}/devtools/").as_str())
                    .into_owned();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_plain_targets_survive() {
        assert!(DevtoolsTarget::parse("page/ABC-123").is_some());
        assert!(DevtoolsTarget::parse("browser/7f1c").is_some());
        for bad in [
            "page/../x",
            "page/a?b",
            "page/",
            "evil/a",
            "page/a/b",
            "page/a#b",
        ] {
            assert!(DevtoolsTarget::parse(bad).is_none(), "{bad}");
        }
        let mut v = json!([
            {"webSocketDebuggerUrl": "ws://1.2.3.4:1/devtools/page/../../x?y"},
            {"webSocketDebuggerUrl": "ws://attacker.example/devtools/page/P2"}
        ]);
        rewrite_discovery(&mut v, "h/api/v1/vms/s/cdp", None);
        assert!(v[0].get("webSocketDebuggerUrl").is_none());
        assert_eq!(
            v[1]["webSocketDebuggerUrl"],
            "ws://h/api/v1/vms/s/cdp/devtools/page/P2"
        );
    }

    #[test]
    fn version_and_list_point_at_the_proxy() {
        let mut v = json!({
            "Browser": "Chrome/156.0",
            "webSocketDebuggerUrl": "ws://127.0.0.1:9223/devtools/browser/abc"
        });
        rewrite_discovery(&mut v, "h:7777/api/v1/vms/s1/cdp", None);
        assert_eq!(
            v["webSocketDebuggerUrl"],
            "ws://h:7777/api/v1/vms/s1/cdp/devtools/browser/abc"
        );
        let mut l = json!([{
            "id": "P1",
            "devtoolsFrontendUrl": "/devtools/inspector.html?ws=127.0.0.1:9223/devtools/page/P1",
            "webSocketDebuggerUrl": "ws://127.0.0.1:9223/devtools/page/P1"
        }]);
        rewrite_discovery(&mut l, "h:7777/api/v1/vms/s1/cdp", Some("k"));
        assert_eq!(
            l[0]["webSocketDebuggerUrl"],
            "ws://h:7777/api/v1/vms/s1/cdp/devtools/page/P1?token=k"
        );
        assert_eq!(
            l[0]["devtoolsFrontendUrl"],
            "/devtools/inspector.html?ws=h:7777/api/v1/vms/s1/cdp/devtools/page/P1"
        );
    }
}
