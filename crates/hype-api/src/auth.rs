//! Who may call the API: a bearer key (compared in constant time), or a
//! console session made from it (`session`), and a CIDR allow-list on the
//! peer address. Without a key only loopback peers are allowed, whatever
//! the list says, so a key-less hyped is never open.
//!
//! A session cookie rides along with whatever a browser sends, so a
//! request it authenticates must also prove it came from a page: a
//! state-changing one must carry an `Origin`, which `guard` has already
//! checked is hyped's own.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use subtle::ConstantTimeEq;

use hype_types::ErrorKind;

use crate::error::ApiError;
use crate::session::{self, Sessions};
use crate::AppState;

#[derive(Debug)]
pub struct AuthConfig {
    key: Option<String>,
    allow: Vec<IpNet>,
    pub(crate) sessions: Sessions,
}

/// What let a request in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Credential {
    /// No key is needed (a key-less hyped, loopback peers only).
    Open,
    /// The key, as a bearer header or `?token=`.
    Key,
    /// A console session's cookie.
    Session,
}

impl AuthConfig {
    pub fn new(key: Option<String>, allow: Vec<IpNet>, session_ttl: Duration) -> Self {
        Self {
            key,
            allow,
            sessions: Sessions::new(session_ttl),
        }
    }

    /// Whether callers must present a key.
    pub fn keyed(&self) -> bool {
        self.key.is_some()
    }

    pub(crate) fn peer_allowed(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        };
        if self.key.is_none() || self.allow.is_empty() {
            return ip.is_loopback() || (self.key.is_some() && self.allow.is_empty());
        }
        self.allow.iter().any(|net| net.contains(&ip))
    }

    pub(crate) fn key_ok(&self, presented: Option<&str>) -> bool {
        match (&self.key, presented) {
            (None, _) => true,
            (Some(k), Some(p)) => bool::from(k.as_bytes().ct_eq(p.as_bytes())),
            (Some(_), None) => false,
        }
    }
}

/// The key a request presents: `Authorization: Bearer`, or `?token=` for
/// CDP clients that cannot set headers.
fn presented_key(req: &Request) -> Option<String> {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    bearer.or_else(|| {
        req.uri().query().and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("token="))
                .map(str::to_owned)
        })
    })
}

/// Why a request is not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    WrongKey,
    /// A session cookie hyped does not hold (expired, logged out, forged,
    /// or from before a restart).
    SessionEnded,
    Missing,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (code, message) = match self {
            Refusal::WrongKey => ("unauthorized", "wrong API key: send Authorization: Bearer <key>"),
            Refusal::SessionEnded => (
                "session_expired",
                "the console session has ended (expired, logged out, or hyped restarted): log in again",
            ),
            Refusal::Missing => (
                "unauthorized",
                "missing API key: send Authorization: Bearer <key>, or log in to the console",
            ),
        };
        let mut resp = ApiError::new(ErrorKind::Unauthorized, code, message).into_response();
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            "Bearer".parse().expect("static header"),
        );
        resp
    }
}

impl AuthConfig {
    /// What lets `req` in, or why not. A key, when one is presented,
    /// decides alone: a wrong key is refused even beside a good cookie.
    pub(crate) fn credential(&self, req: &Request) -> Result<Credential, Refusal> {
        if self.key.is_none() {
            return Ok(Credential::Open);
        }
        if let Some(key) = presented_key(req) {
            return if self.key_ok(Some(&key)) {
                Ok(Credential::Key)
            } else {
                Err(Refusal::WrongKey)
            };
        }
        match session::from_request(req.headers()) {
            Some(id) if self.sessions.ends_at(&id).is_some() => Ok(Credential::Session),
            Some(_) => Err(Refusal::SessionEnded),
            None => Err(Refusal::Missing),
        }
    }
}

/// The peer allow-list alone, for the routes that must answer before a
/// key is known (the console's login).
pub(crate) async fn peer(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    if !state.auth.peer_allowed(peer.ip()) {
        return peer_refused(peer.ip());
    }
    next.run(req).await
}

fn peer_refused(ip: IpAddr) -> Response {
    ApiError::new(
        ErrorKind::Forbidden,
        "forbidden",
        format!("{ip} is not in the allowed networks"),
    )
    .into_response()
}

fn is_upgrade(req: &Request) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

pub(crate) async fn require(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    if !state.auth.peer_allowed(peer.ip()) {
        return peer_refused(peer.ip());
    }
    // A live link is judged alone, whatever else the request carries: it
    // opens its VM's live view, and nothing else.
    if let Some(token) = crate::live_links::token_of(&req) {
        let used = crate::live_links::Use::Socket;
        return match crate::live_links::admit(&state, token, req.method(), req.uri().path(), used)
            .await
        {
            Ok(grant) => {
                let mut req = req;
                req.extensions_mut().insert(grant);
                next.run(req).await
            }
            Err(r) => r.api(),
        };
    }
    match state.auth.credential(&req) {
        Err(refusal) => return refusal.into_response(),
        // A cookie is sent by whatever page makes the browser ask; only a
        // request that names its page (which `guard` checked) may change
        // anything with it. Browsers always send Origin on these methods,
        // and on WebSocket upgrades (exec, the live view's input).
        Ok(Credential::Session)
            if (!matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
                || is_upgrade(&req))
                && !req.headers().contains_key(header::ORIGIN) =>
        {
            return ApiError::new(
                ErrorKind::Forbidden,
                "origin_required",
                "a request authenticated by the console's session cookie must come from a page (with an Origin header); other clients send the key",
            )
            .into_response();
        }
        Ok(_) => {}
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    const TTL: Duration = Duration::from_secs(60);

    fn req(headers: &[(&str, &str)], uri: &str) -> Request {
        let mut b = axum::http::Request::get(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).unwrap()
    }

    #[test]
    fn a_session_cookie_stands_in_for_the_key_but_not_beside_a_wrong_one() {
        let a = AuthConfig::new(Some("the-key-0123456789".into()), vec![], TTL);
        let s = a.sessions.open().unwrap();
        let cookie = format!("hype_session={}", s.id);
        let ok = |h: &[(&str, &str)], uri| a.credential(&req(h, uri)).ok();
        assert_eq!(ok(&[("cookie", &cookie)], "/"), Some(Credential::Session));
        assert_eq!(
            ok(&[("authorization", "Bearer the-key-0123456789")], "/"),
            Some(Credential::Key)
        );
        assert_eq!(
            ok(&[], "/x?token=the-key-0123456789"),
            Some(Credential::Key)
        );
        assert_eq!(
            ok(
                &[("cookie", &cookie), ("authorization", "Bearer wrong")],
                "/"
            ),
            None
        );
        assert_eq!(ok(&[("cookie", "hype_session=forged")], "/"), None);
        assert_eq!(ok(&[], "/"), None);
        a.sessions.close(&s.id);
        assert_eq!(ok(&[("cookie", &cookie)], "/"), None);
        let open = AuthConfig::new(None, vec![], TTL);
        assert_eq!(open.credential(&req(&[], "/")).ok(), Some(Credential::Open));
    }

    #[test]
    fn keyless_is_loopback_only() {
        let a = AuthConfig::new(None, vec!["0.0.0.0/0".parse().unwrap()], TTL);
        assert!(a.peer_allowed("127.0.0.1".parse().unwrap()));
        assert!(a.peer_allowed("::1".parse().unwrap()));
        assert!(!a.peer_allowed("10.1.2.3".parse().unwrap()));
        assert!(a.key_ok(None));
    }

    #[test]
    fn keyed_with_allow_list() {
        let a = AuthConfig::new(
            Some("s3cret".into()),
            vec!["10.0.0.0/8".parse().unwrap()],
            TTL,
        );
        assert!(a.peer_allowed("10.1.2.3".parse().unwrap()));
        assert!(a.peer_allowed("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!a.peer_allowed("127.0.0.1".parse().unwrap()));
        assert!(a.key_ok(Some("s3cret")));
        assert!(!a.key_ok(Some("s3cre")));
        assert!(!a.key_ok(None));
        let open = AuthConfig::new(Some("k".into()), vec![], TTL);
        assert!(open.peer_allowed("192.0.2.1".parse().unwrap()));
    }
}
