//! Why a tool call failed, written for the model that made it: each
//! message says what to do next. These become tool results with
//! `isError: true`, never JSON-RPC errors.

use hype_cdp::CdpError;

use crate::backend::{BackendError, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error(
        "invalid arguments for {tool}: {why}; see the tool's input schema for the accepted fields"
    )]
    Arguments { tool: String, why: String },
    #[error("no sandbox selected in this session: call sandbox_create first, or pass `sandbox` with a name from sandbox_list")]
    NoSandbox,
    #[error("{message}{hint}")]
    Backend { message: String, hint: &'static str },
    #[error("sandbox '{sandbox}': {source}{hint}")]
    Browser {
        sandbox: String,
        #[source]
        source: CdpError,
        hint: &'static str,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("a dialog is open in the current tab: {0} first")]
    Modal(String),
}

impl From<BackendError> for ToolError {
    fn from(e: BackendError) -> Self {
        let hint = hint(e.kind);
        ToolError::Backend {
            message: e.message,
            hint,
        }
    }
}

/// What a model can do about a failure of this kind.
fn hint(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotFound => "; sandbox_list shows the sandboxes there are",
        ErrorKind::Conflict => "; sandbox_get shows the sandbox's state",
        ErrorKind::Invalid | ErrorKind::BadRequest => {
            "; fix the arguments (see the tool's input schema) and call again"
        }
        ErrorKind::TooMany => "; delete a sandbox you no longer need, or wait and try again",
        ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::Upstream => {
            "; try again in a moment"
        }
        ErrorKind::Insufficient => "; ask for less memory or delete a sandbox",
        ErrorKind::Unauthorized | ErrorKind::Forbidden => {
            "; the MCP client's credentials for hyped are wrong (HYPE_API_KEY)"
        }
        ErrorKind::Unsupported | ErrorKind::UnsupportedMediaType | ErrorKind::Internal => "",
    }
}

impl ToolError {
    pub fn browser(sandbox: &str, source: CdpError) -> Self {
        let hint = match source {
            CdpError::StaleNode { .. } => {
                "; refs come from the latest browser_snapshot of the current tab: call browser_snapshot again"
            }
            CdpError::NotVisible { .. } => "; scroll or pick another element from browser_snapshot",
            CdpError::Connect { .. } | CdpError::Closed | CdpError::Timeout { .. } => {
                "; check the sandbox with sandbox_get (is it running?)"
            }
            _ => "",
        };
        ToolError::Browser {
            sandbox: sandbox.into(),
            source,
            hint,
        }
    }
}
