//! `/api/v1/session`: the web console's login. A key given once becomes a
//! session (an HttpOnly cookie hyped maps to an expiry); the key itself is
//! never echoed, logged or printed by `Debug`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/v1/session`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// hyped's API key (`--api-key`).
    #[schema(format = Password, min_length = 1)]
    pub key: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login").field("key", &"<redacted>").finish()
    }
}

/// Whether the caller may use the API, and until when its session lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionInfo {
    /// Whether hyped has an API key (without one, loopback callers need
    /// no login).
    pub key_required: bool,
    /// Whether this request's credentials (a session cookie or the key)
    /// are good.
    pub authenticated: bool,
    /// When the session of this request's cookie ends (RFC 3339, UTC).
    pub expires_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_never_shows_its_key_and_takes_nothing_else() {
        let l: Login = serde_json::from_str(r#"{"key":"hunter2-hunter2-hunter2"}"#).unwrap();
        assert!(!format!("{l:?}").contains("hunter2"));
        assert!(serde_json::from_str::<Login>(r#"{"key":"k","user":"x"}"#).is_err());
        assert!(serde_json::from_str::<Login>(r#"{}"#).is_err());
    }
}
