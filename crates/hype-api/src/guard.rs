//! Which web pages hyped answers. A page in the operator's own browser is
//! untrusted: without this, any site could make that browser pause, stop
//! or drive sandboxes on a key-less hyped (loopback is no boundary for a
//! browser), and a DNS name rebound to 127.0.0.1 could read every answer.
//!
//! - `Host` must be an IP address (a rebinding attack always uses a name),
//!   `localhost`, or a name given with `--public-host`.
//! - `Origin`, when a browser sends one (every cross-site POST, every
//!   WebSocket), must be the page's own origin on such a host: hyped's own
//!   console, or a page served under a `--public-host` name. Anything else,
//!   `null` included, is refused.
//!
//! Both apply to every route, WebSocket upgrades (CDP) and `/mcp` included,
//! before authentication. Clients that are not browsers send no `Origin`.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hype_types::ErrorKind;

use crate::error::ApiError;
use crate::AppState;

/// A `--public-host` entry: a name, with a port when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicHost {
    name: String,
    port: Option<u16>,
}

impl std::str::FromStr for PublicHost {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (name, port) = split_host(s).ok_or_else(|| format!("{s:?} is not a host[:port]"))?;
        if name.is_empty() || name.contains(['/', '@', ' ']) {
            return Err(format!("{s:?} is not a host name"));
        }
        Ok(Self { name, port })
    }
}

/// `HOST[:PORT]` (with `[v6]` brackets) into its lowercased name and port.
fn split_host(s: &str) -> Option<(String, Option<u16>)> {
    let s = s.trim();
    let (name, port) = if let Some(rest) = s.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        (format!("[{v6}]"), port)
    } else {
        match s.rsplit_once(':') {
            Some((n, p)) => (n.to_owned(), Some(p.parse().ok()?)),
            None => (s.to_owned(), None),
        }
    };
    Some((name.to_ascii_lowercase(), port))
}

fn is_ip(name: &str) -> bool {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>().is_ok()
}

#[derive(Debug, Clone, Default)]
pub struct SiteGuard {
    public: Vec<PublicHost>,
}

impl SiteGuard {
    pub fn new(public: Vec<PublicHost>) -> Self {
        Self { public }
    }

    /// Whether a request naming `host` (the Host header) may be answered.
    pub fn host_ok(&self, host: &str) -> bool {
        let Some((name, port)) = split_host(host) else {
            return false;
        };
        is_ip(&name)
            || name == "localhost"
            || self
                .public
                .iter()
                .any(|p| p.name == name && p.port.is_none_or(|pp| Some(pp) == port))
    }

    /// Whether a page of `origin` may use hyped through `host`.
    pub fn origin_ok(&self, origin: &str, host: Option<&str>) -> bool {
        let Some(rest) = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
        else {
            return false;
        };
        if !self.host_ok(rest) {
            return false;
        }
        let public = split_host(rest).is_some_and(|(name, port)| {
            self.public
                .iter()
                .any(|p| p.name == name && p.port.is_none_or(|pp| Some(pp) == port))
        });
        // hyped's own pages are served from the address the browser used.
        public || host.is_some_and(|h| h.eq_ignore_ascii_case(rest))
    }
}

fn refuse(code: &'static str, message: String) -> Response {
    ApiError::new(ErrorKind::Forbidden, code, message).into_response()
}

pub(crate) async fn check(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if let Some(h) = host {
        if !s.guard.host_ok(h) {
            return refuse(
                "host_not_allowed",
                format!(
                    "requests for host {h:?} are refused (DNS rebinding): use hyped's IP address or localhost, or name the host with --public-host (HYPE_PUBLIC_HOST)"
                ),
            );
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !s.guard.origin_ok(origin, host) {
            return refuse(
                "origin_not_allowed",
                format!(
                    "requests from web pages of {origin:?} are refused (cross-site): hyped answers only pages of its own address and of the names given with --public-host (HYPE_PUBLIC_HOST)"
                ),
            );
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> SiteGuard {
        SiteGuard::new(vec![
            "hype.example.net".parse().unwrap(),
            "console.example.net:8443".parse().unwrap(),
        ])
    }

    #[test]
    fn hosts_are_addresses_localhost_or_named() {
        let g = guard();
        for ok in [
            "127.0.0.1:7777",
            "10.1.2.3",
            "[::1]:7777",
            "localhost:7777",
            "LOCALHOST",
            "hype.example.net",
            "hype.example.net:7777",
            "console.example.net:8443",
        ] {
            assert!(g.host_ok(ok), "{ok}");
        }
        for bad in [
            "attacker.example:7777",
            "console.example.net:7777",
            "127.0.0.1.nip.io:7777",
            "localhost.attacker.example",
            "",
            "[::1",
            "a:b:c",
        ] {
            assert!(!g.host_ok(bad), "{bad}");
        }
    }

    #[test]
    fn origins_are_the_page_itself_or_a_public_host() {
        let g = guard();
        let host = Some("127.0.0.1:7777");
        assert!(g.origin_ok("http://127.0.0.1:7777", host));
        assert!(g.origin_ok("https://hype.example.net", host));
        assert!(g.origin_ok("https://console.example.net:8443", host));
        for bad in [
            "http://attacker.example",
            "http://127.0.0.1:8000",
            "http://10.0.0.9:7777",
            "null",
            "file://",
            "chrome-extension://abc",
            "https://console.example.net",
        ] {
            assert!(!g.origin_ok(bad, host), "{bad}");
        }
    }
}
