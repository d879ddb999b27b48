//! The JSON error shape every non-2xx answer carries.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `{"error":{"code":"snake_case","message":"human text"}}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable, snake_case.
    #[schema(example = "vm_not_found")]
    pub code: String,
    /// For people: says what was wrong and, where it can, what to do.
    #[schema(example = "no VM named 'demo'")]
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }
    }
}

/// What kind of failure an error is: the one classification every front
/// end maps from. The core gives each of its errors a kind; the REST API
/// turns a kind into a status code, the MCP tools into advice for the
/// model, and the REST client turns a status code back into a kind. Each
/// of those matches on it exhaustively, so a new kind cannot be forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request cannot be read (malformed JSON or YAML, a bad query or
    /// header, an invalid job).
    BadRequest,
    /// No API key, or the wrong one.
    Unauthorized,
    /// Not allowed from where it came (network, Host, Origin).
    Forbidden,
    /// No such thing (VM, image, job, snapshot, route, file).
    NotFound,
    /// Not possible in the current state of things (the VM's state, a name
    /// taken, something still in use).
    Conflict,
    /// A body in a format the route does not take.
    UnsupportedMediaType,
    /// Readable, but its values cannot be done (bad fields, out of bounds).
    Invalid,
    /// Too many at once (VMs, requests, concurrent operations).
    TooMany,
    /// hype failed on its own side.
    Internal,
    /// This hype or the VM cannot do it at all (a missing feature, a
    /// backend that lacks it, an old guest agent).
    Unsupported,
    /// Something hype relies on answered badly (a VMM, a browser).
    Upstream,
    /// hype cannot serve now (shutting down, addresses exhausted).
    Unavailable,
    /// Something hype relies on did not answer in time (a guest agent).
    Timeout,
    /// The host lacks the memory or disk it would take.
    Insufficient,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 14] = [
        ErrorKind::BadRequest,
        ErrorKind::Unauthorized,
        ErrorKind::Forbidden,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::UnsupportedMediaType,
        ErrorKind::Invalid,
        ErrorKind::TooMany,
        ErrorKind::Internal,
        ErrorKind::Unsupported,
        ErrorKind::Upstream,
        ErrorKind::Unavailable,
        ErrorKind::Timeout,
        ErrorKind::Insufficient,
    ];

    /// The HTTP status of this kind; one status per kind, so the mapping
    /// also runs backwards ([`ErrorKind::from_status`]).
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::UnsupportedMediaType => 415,
            ErrorKind::Invalid => 422,
            ErrorKind::TooMany => 429,
            ErrorKind::Internal => 500,
            ErrorKind::Unsupported => 501,
            ErrorKind::Upstream => 502,
            ErrorKind::Unavailable => 503,
            ErrorKind::Timeout => 504,
            ErrorKind::Insufficient => 507,
        }
    }

    /// The kind of an HTTP error status (unknown 4xx are `BadRequest`,
    /// unknown 5xx `Internal`).
    pub fn from_status(status: u16) -> Self {
        Self::ALL
            .into_iter()
            .find(|k| k.http_status() == status)
            .unwrap_or(if status < 500 {
                ErrorKind::BadRequest
            } else {
                ErrorKind::Internal
            })
    }

    /// Whether the caller can fix it by changing the request (as opposed
    /// to a failure on hype's side or beyond it).
    pub fn is_caller_error(self) -> bool {
        self.http_status() < 500
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_own_status_and_maps_back() {
        let mut seen = std::collections::HashSet::new();
        for k in ErrorKind::ALL {
            assert!(seen.insert(k.http_status()), "{k:?} shares a status");
            assert_eq!(ErrorKind::from_status(k.http_status()), k);
        }
        assert_eq!(ErrorKind::from_status(418), ErrorKind::BadRequest);
        assert_eq!(ErrorKind::from_status(599), ErrorKind::Internal);
    }
}
