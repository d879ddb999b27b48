//! Console sessions: what a login with the API key turns into. A session
//! id is 32 random bytes, sent once in an `HttpOnly; SameSite=Strict`
//! cookie; hyped keeps only its SHA-256 and an expiry, in memory (a
//! restarted hyped asks for the key again). The key is never in a cookie.
//!
//! Sessions end at their expiry, at logout, or when the table is full and
//! they are the oldest. Whether a request may use one is `auth`'s call;
//! this module only keeps the table and speaks the cookie.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use axum::http::{header, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

/// The cookie's name.
pub const COOKIE: &str = "hype_session";

/// How long a login lasts unless hyped is told otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(12 * 3600);

/// Sessions kept at most; the oldest go first. Only key holders make
/// sessions, but none of them may grow hyped's memory without bound.
const MAX_SESSIONS: usize = 1024;

#[derive(Debug, Clone, Copy)]
struct Entry {
    ends: Instant,
    ends_at: SystemTime,
}

#[derive(Debug)]
pub struct Sessions {
    ttl: Duration,
    table: Mutex<HashMap<[u8; 32], Entry>>,
}

/// A new session: the id for the cookie, and when it ends.
#[derive(Debug)]
pub struct Opened {
    pub id: String,
    pub ends_at: SystemTime,
    pub max_age: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("the system's random source failed: {0}")]
pub struct NoRandom(pub(crate) getrandom::Error);

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            table: Mutex::new(HashMap::new()),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        // A panic elsewhere leaves the map whole: every change is one insert
        // or remove.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn open(&self) -> Result<Opened, NoRandom> {
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).map_err(NoRandom)?;
        let id = hex::encode(raw);
        let now = Instant::now();
        let entry = Entry {
            ends: now + self.ttl,
            ends_at: SystemTime::now() + self.ttl,
        };
        let mut t = self.table();
        t.retain(|_, e| e.ends > now);
        while t.len() >= MAX_SESSIONS {
            let Some(oldest) = t.iter().min_by_key(|(_, e)| e.ends).map(|(k, _)| *k) else {
                break;
            };
            t.remove(&oldest);
        }
        t.insert(digest(&id), entry);
        Ok(Opened {
            id,
            ends_at: entry.ends_at,
            max_age: self.ttl,
        })
    }

    /// When session `id` ends, if it is live. Looked up by digest, so the
    /// lookup's timing says nothing about the ids hyped holds.
    pub fn ends_at(&self, id: &str) -> Option<SystemTime> {
        let key = digest(id);
        let mut t = self.table();
        let e = *t.get(&key)?;
        if e.ends <= Instant::now() {
            t.remove(&key);
            return None;
        }
        Some(e.ends_at)
    }

    pub fn close(&self, id: &str) {
        self.table().remove(&digest(id));
    }
}

/// The session cookie's value in a request, if it sent one.
pub fn from_request(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// Whether the browser reached hyped over TLS (through a proxy that
/// terminates it): then the cookie is `Secure`. A client lying about it
/// only keeps its own cookie from being sent over plain HTTP.
pub fn over_tls(headers: &HeaderMap) -> bool {
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    h("x-forwarded-proto").is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
        || h("forwarded").is_some_and(|f| f.to_ascii_lowercase().contains("proto=https"))
        || h("origin").is_some_and(|o| o.starts_with("https://"))
}

fn cookie(value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .expect("hex ids and fixed attributes make a valid header")
}

pub fn set_cookie(opened: &Opened, secure: bool) -> HeaderValue {
    cookie(&opened.id, opened.max_age.as_secs(), secure)
}

pub fn clear_cookie(secure: bool) -> HeaderValue {
    cookie("", 0, secure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_open_check_and_close() {
        let s = Sessions::new(Duration::from_secs(60));
        let a = s.open().unwrap();
        let b = s.open().unwrap();
        assert_ne!(a.id, b.id);
        assert_eq!(a.id.len(), 64);
        assert!(s.ends_at(&a.id).is_some());
        s.close(&a.id);
        assert!(s.ends_at(&a.id).is_none());
        assert!(s.ends_at(&b.id).is_some());
        assert!(s.ends_at("").is_none());
        assert!(s.ends_at(&"0".repeat(64)).is_none());
    }

    #[test]
    fn sessions_expire() {
        let s = Sessions::new(Duration::from_millis(30));
        let a = s.open().unwrap();
        assert!(s.ends_at(&a.id).is_some());
        std::thread::sleep(Duration::from_millis(50));
        assert!(s.ends_at(&a.id).is_none());
    }

    #[test]
    fn the_table_is_bounded() {
        let s = Sessions::new(Duration::from_secs(60));
        let first = s.open().unwrap();
        for _ in 0..MAX_SESSIONS {
            s.open().unwrap();
        }
        assert_eq!(s.table().len(), MAX_SESSIONS);
        assert!(s.ends_at(&first.id).is_none(), "the oldest went");
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_over_tls() {
        let s = Sessions::new(Duration::from_secs(90));
        let o = s.open().unwrap();
        let plain = set_cookie(&o, false);
        let plain = plain.to_str().unwrap();
        assert!(plain.starts_with(&format!("hype_session={}", o.id)));
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(plain.contains("Max-Age=90") && !plain.contains("Secure"));
        assert!(set_cookie(&o, true).to_str().unwrap().ends_with("; Secure"));
        let mut h = HeaderMap::new();
        assert!(!over_tls(&h));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(over_tls(&h));
        let mut h = HeaderMap::new();
        h.insert(
            "origin",
            HeaderValue::from_static("https://hype.example.net"),
        );
        assert!(over_tls(&h));
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; hype_session=abc; b=2"),
        );
        assert_eq!(from_request(&h).as_deref(), Some("abc"));
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("xhype_session=abc"),
        );
        assert_eq!(from_request(&h), None);
    }
}
