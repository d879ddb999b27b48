//! Who may call the API: a bearer key (compared in constant time) and a CIDR
//! allow-list on the peer address. Without a key only loopback peers are
//! allowed, whatever the list says, so a key-less hyped is never open.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use subtle::ConstantTimeEq;

use hype_types::ErrorKind;

use crate::error::ApiError;
use crate::AppState;

#[derive(Debug)]
pub struct AuthConfig {
    key: Option<String>,
    allow: Vec<IpNet>,
}

impl AuthConfig {
    pub fn new(key: Option<String>, allow: Vec<IpNet>) -> Self {
        Self { key, allow }
    }

    /// Whether callers must present a key.
    pub fn keyed(&self) -> bool {
        self.key.is_some()
    }

    fn peer_allowed(&self, ip: IpAddr) -> bool {
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

    fn key_ok(&self, presented: Option<&str>) -> bool {
        match (&self.key, presented) {
            (None, _) => true,
            (Some(k), Some(p)) => bool::from(k.as_bytes().ct_eq(p.as_bytes())),
            (Some(_), None) => false,
        }
    }
}

pub(crate) async fn require(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    if !state.auth.peer_allowed(peer.ip()) {
        return ApiError::new(
            ErrorKind::Forbidden,
            "forbidden",
            format!("{} is not in the allowed networks", peer.ip()),
        )
        .into_response();
    }
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    // CDP clients cannot always set headers; they may pass ?token=.
    let token = bearer.or_else(|| {
        req.uri().query().and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("token="))
                .map(str::to_owned)
        })
    });
    if !state.auth.key_ok(token.as_deref()) {
        let mut resp = ApiError::new(
            ErrorKind::Unauthorized,
            "unauthorized",
            "missing or wrong API key: send Authorization: Bearer <key>",
        )
        .into_response();
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            "Bearer".parse().expect("static header"),
        );
        return resp;
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyless_is_loopback_only() {
        let a = AuthConfig::new(None, vec!["0.0.0.0/0".parse().unwrap()]);
        assert!(a.peer_allowed("127.0.0.1".parse().unwrap()));
        assert!(a.peer_allowed("::1".parse().unwrap()));
        assert!(!a.peer_allowed("10.1.2.3".parse().unwrap()));
        assert!(a.key_ok(None));
    }

    #[test]
    fn keyed_with_allow_list() {
        let a = AuthConfig::new(Some("s3cret".into()), vec!["10.0.0.0/8".parse().unwrap()]);
        assert!(a.peer_allowed("10.1.2.3".parse().unwrap()));
        assert!(a.peer_allowed("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!a.peer_allowed("127.0.0.1".parse().unwrap()));
        assert!(a.key_ok(Some("s3cret")));
        assert!(!a.key_ok(Some("s3cre")));
        assert!(!a.key_ok(None));
        let open = AuthConfig::new(Some("k".into()), vec![]);
        assert!(open.peer_allowed("192.0.2.1".parse().unwrap()));
    }
}
