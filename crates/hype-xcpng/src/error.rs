use std::path::PathBuf;

/// Everything an XCP-ng export can fail with. Messages never carry a
/// password or a session id (URLs are stripped from HTTP errors).
#[derive(Debug, thiserror::Error)]
pub enum XcpngError {
    /// `why` is the whole cause chain (a certificate problem is several
    /// levels down), without any URL (it would carry the session id).
    #[error("cannot reach {url}: {why}")]
    Connect { url: String, why: String },
    #[error("XAPI refused the credentials of user '{user}' (SESSION_AUTHENTICATION_FAILED)")]
    Auth { user: String },
    #[error("XAPI {method} failed: {code} {params:?}")]
    Api {
        method: String,
        code: String,
        params: Vec<String>,
    },
    #[error("XAPI {method}: unexpected answer: {why}")]
    Protocol { method: String, why: String },
    #[error("no VM named or with uuid '{vm}' on this pool")]
    VmNotFound { vm: String },
    #[error("'{vm}' is a template on this pool, not a VM; make a VM from it and export that")]
    IsTemplate { vm: String },
    #[error("{count} VMs are named '{vm}'; give its uuid instead")]
    VmAmbiguous { vm: String, count: usize },
    #[error("VM '{vm}' has no disk to export")]
    NoDisks { vm: String },
    #[error("{what}: the server answered HTTP {status}")]
    Http { what: String, status: u16 },
    #[error("{what}: the transfer ended after {got} bytes, {expected} expected")]
    Truncated {
        what: String,
        got: u64,
        expected: u64,
    },
    #[error("{what}: size {size} bytes is beyond the limit of {limit} bytes")]
    TooLarge { what: String, size: u64, limit: u64 },
    #[error("XVA entry {entry}: checksum mismatch (expected {expected}, got {got})")]
    Checksum {
        entry: String,
        expected: String,
        got: String,
    },
    #[error("XVA entry {entry:?} has an unsafe path (absolute or climbing out with ..)")]
    UnsafePath { entry: String },
    #[error("not a valid XVA: {why}")]
    BadXva { why: String },
    #[error("XAPI task for {what} failed: {why}")]
    TaskFailed { what: String, why: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cancelled")]
    Cancelled,
}

impl XcpngError {
    pub(crate) fn connect(url: &str, e: reqwest::Error) -> Self {
        let e = e.without_url();
        let mut why = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            let part = s.to_string();
            if !why.contains(&part) {
                why.push_str(": ");
                why.push_str(&part);
            }
            src = s.source();
        }
        let url = url.split('?').next().unwrap_or(url).to_owned();
        XcpngError::Connect { url, why }
    }

    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| XcpngError::Io {
            path: path.to_owned(),
            source,
        }
    }
}
