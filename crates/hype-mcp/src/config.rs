//! What an operator switches on for MCP (hyped's `--mcp-*` flags), and what
//! one MCP session adds to it (`/mcp?caps=pdf,vision`).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// Tool groups beyond the core, as playwright-mcp's `--caps` names them,
/// plus `cdp` (raw CDP commands), which is hype's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cap {
    Vision,
    Pdf,
    Network,
    Storage,
    Devtools,
    Testing,
    Cdp,
}

impl Cap {
    pub const ALL: [Cap; 7] = [
        Cap::Vision,
        Cap::Pdf,
        Cap::Network,
        Cap::Storage,
        Cap::Devtools,
        Cap::Testing,
        Cap::Cdp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Cap::Vision => "vision",
            Cap::Pdf => "pdf",
            Cap::Network => "network",
            Cap::Storage => "storage",
            Cap::Devtools => "devtools",
            Cap::Testing => "testing",
            Cap::Cdp => "cdp",
        }
    }

    /// The groups a session may ask for unless the operator says otherwise:
    /// all of playwright-mcp's. Raw CDP reaches past every other tool's
    /// limits, so only an operator turns it on (`--mcp-caps cdp`) or lets
    /// sessions ask for it (`--mcp-session-caps`).
    pub fn session_default() -> BTreeSet<Cap> {
        Cap::ALL.into_iter().filter(|c| *c != Cap::Cdp).collect()
    }
}

impl fmt::Display for Cap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `vision, pdf, ...`, or `none`.
fn names(caps: impl IntoIterator<Item = Cap>) -> String {
    let v: Vec<&str> = caps.into_iter().map(Cap::as_str).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown MCP capability '{0}': the capabilities are {all}", all = names(Cap::ALL))]
pub struct UnknownCap(String);

impl FromStr for Cap {
    type Err = UnknownCap;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cap::ALL
            .into_iter()
            .find(|c| c.as_str() == s.trim())
            .ok_or_else(|| UnknownCap(s.trim().into()))
    }
}

/// A comma-separated list of capabilities; empty or `none` is no group.
pub fn parse_caps(list: &str) -> Result<BTreeSet<Cap>, UnknownCap> {
    if list.trim() == "none" {
        return Ok(BTreeSet::new());
    }
    list.split(',')
        .filter(|c| !c.trim().is_empty())
        .map(str::parse)
        .collect()
}

/// Why a session's `caps` cannot be granted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionCapsError {
    #[error("{0}")]
    Unknown(#[from] UnknownCap),
    #[error("MCP capability '{cap}' is not allowed for sessions by this hyped: a session may ask for {allowed}")]
    NotAllowed { cap: Cap, allowed: String },
}

#[derive(Debug, Clone)]
pub struct McpConfig {
    /// Groups whose tools every session lists and may call.
    pub caps: BTreeSet<Cap>,
    /// Groups a session may add for itself with the `caps` query parameter
    /// of the MCP endpoint's URL.
    pub session_caps: BTreeSet<Cap>,
    /// Whether browser_run_code_unsafe runs code (it is listed either way,
    /// so agents see playwright-mcp's vocabulary, and refuses when off).
    pub allow_unsafe_code: bool,
    /// The most characters of snapshot a tool returns; the rest is cut
    /// with a note saying how to see it.
    pub snapshot_budget: usize,
}

/// About 10,000 tokens.
pub const DEFAULT_SNAPSHOT_BUDGET: usize = 40_000;

impl Default for McpConfig {
    fn default() -> Self {
        Self {
            caps: BTreeSet::new(),
            session_caps: Cap::session_default(),
            allow_unsafe_code: false,
            snapshot_budget: DEFAULT_SNAPSHOT_BUDGET,
        }
    }
}

impl McpConfig {
    /// A session's groups from the query string of the URL it connected
    /// with: hyped's own plus those its `caps` parameters (comma-separated,
    /// may repeat) ask for, each of which the operator must allow. Other
    /// parameters are not MCP's and are left alone.
    pub fn caps_for_query(&self, query: Option<&str>) -> Result<BTreeSet<Cap>, SessionCapsError> {
        let mut caps = self.caps.clone();
        for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            if k != "caps" {
                continue;
            }
            for cap in parse_caps(&v)? {
                if !self.caps.contains(&cap) && !self.session_caps.contains(&cap) {
                    let allowed = names(self.session_caps.union(&self.caps).copied());
                    return Err(SessionCapsError::NotAllowed { cap, allowed });
                }
                caps.insert(cap);
            }
        }
        Ok(caps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(caps: &[Cap]) -> BTreeSet<Cap> {
        caps.iter().copied().collect()
    }

    #[test]
    fn a_list_of_caps_parses_and_a_bad_name_lists_the_good_ones() {
        assert_eq!(
            parse_caps(" pdf,vision ,,pdf").unwrap(),
            set(&[Cap::Pdf, Cap::Vision])
        );
        assert_eq!(parse_caps("").unwrap(), set(&[]));
        assert_eq!(parse_caps("none").unwrap(), set(&[]));
        assert_eq!(
            parse_caps("pdf,pfd").unwrap_err().to_string(),
            "unknown MCP capability 'pfd': the capabilities are vision, pdf, network, storage, devtools, testing, cdp"
        );
        for c in Cap::ALL {
            assert_eq!(c.as_str().parse::<Cap>().unwrap(), c);
        }
    }

    #[test]
    fn a_session_adds_allowed_caps_to_hypeds() {
        let cfg = McpConfig {
            caps: set(&[Cap::Storage]),
            ..McpConfig::default()
        };
        assert_eq!(cfg.caps_for_query(None).unwrap(), set(&[Cap::Storage]));
        assert_eq!(
            cfg.caps_for_query(Some("x=1&caps=pdf%2Cvision&caps=testing"))
                .unwrap(),
            set(&[Cap::Storage, Cap::Pdf, Cap::Vision, Cap::Testing])
        );
        // An empty list asks for nothing more.
        assert_eq!(
            cfg.caps_for_query(Some("caps=")).unwrap(),
            set(&[Cap::Storage])
        );
    }

    #[test]
    fn a_session_cannot_ask_for_what_the_operator_forbids() {
        let cfg = McpConfig {
            caps: set(&[Cap::Storage]),
            session_caps: set(&[Cap::Pdf]),
            ..McpConfig::default()
        };
        assert_eq!(
            cfg.caps_for_query(Some("caps=pdf,cdp")).unwrap_err().to_string(),
            "MCP capability 'cdp' is not allowed for sessions by this hyped: a session may ask for pdf, storage"
        );
        // What hyped has on for everyone may be named again.
        assert!(cfg.caps_for_query(Some("caps=storage")).is_ok());
        assert_eq!(
            cfg.caps_for_query(Some("caps=vision,bogus")).unwrap_err(),
            SessionCapsError::Unknown(UnknownCap("bogus".into()))
        );
        // cdp is never a session's unless the operator says so.
        assert!(!McpConfig::default().session_caps.contains(&Cap::Cdp));
    }
}
