//! What a browser sandbox's pages did, as hyped records it from the
//! sandbox's start: console messages and network requests, each list
//! bounded (the oldest go first).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One console message of a page (`console.log`, an uncaught exception, a
/// browser log entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsoleMessage {
    /// Grows with each message of the sandbox; pass the last one seen as
    /// `after` to get only newer ones.
    pub seq: u64,
    /// `log`, `debug`, `info`, `error`, `warning`, `dir`, `table`, `trace`,
    /// `assert`, ... as the page's console API named it; `exception` for an
    /// uncaught exception.
    pub level: String,
    pub text: String,
    /// The page (tab) it came from.
    pub target_id: String,
    /// Where it was logged from, `URL:LINE:COLUMN`, when known.
    pub location: Option<String>,
    /// RFC 3339.
    pub at: String,
}

/// One network request of a page, with its response once there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NetworkRequest {
    /// Grows with each request of the sandbox.
    pub seq: u64,
    /// The browser's own id for it (for fetching its response body).
    pub request_id: String,
    pub target_id: String,
    pub method: String,
    pub url: String,
    /// `Document`, `XHR`, `Fetch`, `Script`, `Image`, ...
    pub resource_type: Option<String>,
    pub request_headers: Vec<(String, String)>,
    /// The body the page sent (at most 64 KiB of it).
    pub post_data: Option<String>,
    pub status: Option<u16>,
    pub status_text: Option<String>,
    pub mime_type: Option<String>,
    pub response_headers: Vec<(String, String)>,
    /// Why it failed (`net::ERR_...`), if it did.
    pub failure: Option<String>,
    /// Bytes received, once finished.
    pub encoded_length: Option<u64>,
    /// RFC 3339, when the page sent it.
    pub at: String,
    pub finished: bool,
}
