//! `/json/version` and `/json/list` carry absolute WebSocket URLs built
//! from the Host the browser saw (inside the guest, a loopback address).
//! Clients must get URLs that lead back through hyped instead.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

static FRONTEND_WS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(wss?)=[^/&]+/devtools/").expect("valid regex"));

/// Rewrites every `webSocketDebuggerUrl` and `devtoolsFrontendUrl` in a
/// discovery document (an object or a list of them).
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
            if let Some(Value::String(url)) = map.get_mut("webSocketDebuggerUrl") {
                if let Some(i) = url.find("/devtools/") {
                    let mut new = format!("ws://{proxy}{}", &url[i..]);
                    if let Some(t) = token {
                        new.push_str(if new.contains('?') { "&" } else { "?" });
                        new.push_str("token=");
                        new.push_str(t);
                    }
                    *url = new;
                }
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
