//! Live links: a bearer token, made by a key holder, that opens one VM's
//! live view (its page and its WebSocket) and nothing else, until it
//! expires or the VM is deleted. The token is `hlv_` and 32 random bytes
//! in hex; hyped keeps only its SHA-256, with the VM's id (not its name:
//! a VM deleted and made again under the same name is another VM), the
//! expiry and whether the viewer may send input. In memory: a restarted
//! hyped forgets every link.
//!
//! A request whose `?token=` has the prefix is judged by the link alone,
//! even beside a key or cookie and on a key-less hyped: a link never
//! widens into the API.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use hype_types::ErrorKind;

use crate::error::ApiError;
use crate::session::NoRandom;
use crate::AppState;

/// What every live link's token starts with, so a request carrying one is
/// told from one carrying the API key as `?token=`.
pub(crate) const PREFIX: &str = "hlv_";

/// Links kept at most; the ones ending first go first. Only key holders
/// make links, but they may not grow hyped's memory without bound.
const MAX_LINKS: usize = 4096;

#[derive(Debug, Clone)]
struct Link {
    vm: String,
    vm_id: String,
    ends: Instant,
    interactive: bool,
}

/// What a live link lets its request do, for the live view's handler.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grant {
    pub interactive: bool,
    /// When the link expires: an open view closes then.
    pub ends: Instant,
}

/// A link just made: its token, shown once.
#[derive(Debug)]
pub(crate) struct Made {
    pub token: String,
    pub ends_at: SystemTime,
}

#[derive(Debug, Default)]
pub(crate) struct LiveLinks {
    table: Mutex<HashMap<[u8; 32], Link>>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl LiveLinks {
    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Link>> {
        // Every change is one insert or remove: a panic leaves it whole.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn make(
        &self,
        vm: &str,
        vm_id: &str,
        lasts: Duration,
        interactive: bool,
    ) -> Result<Made, NoRandom> {
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).map_err(NoRandom)?;
        let token = format!("{PREFIX}{}", hex::encode(raw));
        let now = Instant::now();
        let mut t = self.table();
        t.retain(|_, l| l.ends > now);
        while t.len() >= MAX_LINKS {
            let Some(first) = t.iter().min_by_key(|(_, l)| l.ends).map(|(k, _)| *k) else {
                break;
            };
            t.remove(&first);
        }
        t.insert(
            digest(&token),
            Link {
                vm: vm.into(),
                vm_id: vm_id.into(),
                ends: now + lasts,
                interactive,
            },
        );
        Ok(Made {
            token,
            ends_at: SystemTime::now() + lasts,
        })
    }

    /// The live link `token` names, if it has not expired. Looked up by
    /// digest, so the lookup's timing says nothing about the tokens held.
    fn get(&self, token: &str) -> Option<Link> {
        let key = digest(token);
        let mut t = self.table();
        let l = t.get(&key)?.clone();
        if l.ends <= Instant::now() {
            t.remove(&key);
            return None;
        }
        Some(l)
    }
}

/// The live link token a request carries in `?token=`, if any.
pub(crate) fn token_of(req: &Request) -> Option<&str> {
    req.uri()
        .query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .filter(|t| t.starts_with(PREFIX))
}

/// Why a live link does not let a request in. Says nothing of the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Expired, never made, forgotten by a restart, or its VM is gone.
    Invalid,
    /// A good link used for something other than its VM's live view.
    Scope,
}

impl Refused {
    fn message(self) -> (&'static str, &'static str) {
        match self {
            Refused::Invalid => (
                "link_invalid",
                "this live link has expired, its VM was deleted, or it is not a link hyped made",
            ),
            Refused::Scope => (
                "link_scope",
                "a live link opens only the live view of the VM it was made for",
            ),
        }
    }

    /// The API's answer: 401 with the error shape.
    pub fn api(self) -> Response {
        let (code, message) = self.message();
        ApiError::new(ErrorKind::Unauthorized, code, message).into_response()
    }

    /// The live page's answer: 401 with a plain page saying why.
    fn page(self) -> Response {
        let (_, message) = self.message();
        let body = format!(
            "<!doctype html><meta charset=utf-8><title>Live link not valid</title>\
             <h1>Live link not valid</h1><p>{message}. Ask for a new link.</p>\n"
        );
        let mut resp = (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response();
        let h = resp.headers_mut();
        for (name, value) in [
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ] {
            h.insert(name, HeaderValue::from_static(value));
        }
        resp
    }
}

/// Which of its VM's routes a link is used on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// `/api/v1/vms/{name}/live/ws`
    Socket,
    /// `/vms/{name}/live`
    Page,
}

fn name_in(path: &str, used: Use) -> Option<&str> {
    let (head, tail) = match used {
        Use::Socket => ("/api/v1/vms/", "/live/ws"),
        Use::Page => ("/vms/", "/live"),
    };
    let name = path.strip_prefix(head)?.strip_suffix(tail)?;
    (!name.is_empty() && !name.contains('/')).then_some(name)
}

/// Whether link `token` lets `method path` in as `used`: the link is
/// held, its VM's route is the one asked, and the VM still exists with
/// the id it had when the link was made.
pub(crate) async fn admit(
    state: &AppState,
    token: &str,
    method: &Method,
    path: &str,
    used: Use,
) -> Result<Grant, Refused> {
    let link = state.links.get(token).ok_or(Refused::Invalid)?;
    if !matches!(*method, Method::GET | Method::HEAD) || name_in(path, used) != Some(&link.vm) {
        return Err(Refused::Scope);
    }
    match state.hype.vm_id(&link.vm).await {
        Ok(id) if id == link.vm_id => Ok(Grant {
            interactive: link.interactive,
            ends: link.ends,
        }),
        _ => Err(Refused::Invalid),
    }
}

/// For the console's live page: a `?token=` that is not a good link gets
/// a plain 401 page instead of the app (which could only fail later).
/// Without a token the page is the console's, as before.
pub(crate) async fn page(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(token) = token_of(&req) {
        if let Err(r) = admit(&state, token, req.method(), req.uri().path(), Use::Page).await {
            return r.page();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    #[test]
    fn a_link_is_random_prefixed_held_by_digest_and_expires() {
        let links = LiveLinks::default();
        let a = links
            .make("v", "id1", Duration::from_secs(60), false)
            .unwrap();
        let b = links
            .make("v", "id1", Duration::from_millis(1), true)
            .unwrap();
        assert!(a.token.starts_with(PREFIX) && a.token.len() == PREFIX.len() + 64);
        assert_ne!(a.token, b.token);
        // Only digests are held: the token is not among the keys.
        assert!(links.table().contains_key(&digest(&a.token)));
        let got = links.get(&a.token).unwrap();
        assert_eq!((got.vm.as_str(), got.interactive), ("v", false));
        assert!(links.get("hlv_0000").is_none());
        std::thread::sleep(Duration::from_millis(5));
        assert!(links.get(&b.token).is_none(), "an expired link is gone");
    }

    #[test]
    fn a_link_names_only_its_vm_live_routes() {
        assert_eq!(name_in("/api/v1/vms/lv/live/ws", Use::Socket), Some("lv"));
        assert_eq!(name_in("/vms/lv/live", Use::Page), Some("lv"));
        assert_eq!(name_in("/api/v1/vms/lv/live/ws", Use::Page), None);
        assert_eq!(name_in("/api/v1/vms", Use::Socket), None);
        assert_eq!(name_in("/api/v1/vms/a/b/live/ws", Use::Socket), None);
        assert_eq!(name_in("/api/v1/vms//live/ws", Use::Socket), None);
        assert_eq!(name_in("/api/v1/vms/lv/cdp", Use::Socket), None);
    }

    #[test]
    fn only_a_prefixed_token_is_a_link() {
        let req = |uri: &str| axum::http::Request::get(uri).body(Body::empty()).unwrap();
        assert_eq!(
            token_of(&req("/x?a=1&token=hlv_ab")).map(str::to_owned),
            Some("hlv_ab".into())
        );
        assert_eq!(token_of(&req("/x?token=the-api-key")), None);
        assert_eq!(token_of(&req("/x")), None);
    }
}
