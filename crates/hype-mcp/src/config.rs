//! What an operator switches on for MCP (hyped's `--mcp-*` flags).

use std::collections::BTreeSet;
use std::str::FromStr;

/// Tool groups beyond the core, as playwright-mcp's `--caps` names them,
/// plus `cdp` (raw CDP commands), which is hype's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cap {
    Vision,
    Pdf,
    Network,
    Storage,
    Cdp,
}

impl Cap {
    pub const ALL: [Cap; 5] = [Cap::Vision, Cap::Pdf, Cap::Network, Cap::Storage, Cap::Cdp];

    pub fn as_str(self) -> &'static str {
        match self {
            Cap::Vision => "vision",
            Cap::Pdf => "pdf",
            Cap::Network => "network",
            Cap::Storage => "storage",
            Cap::Cdp => "cdp",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown MCP capability '{0}': use vision, pdf, network, storage or cdp")]
pub struct UnknownCap(String);

impl FromStr for Cap {
    type Err = UnknownCap;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cap::ALL
            .into_iter()
            .find(|c| c.as_str() == s.trim())
            .ok_or_else(|| UnknownCap(s.into()))
    }
}

#[derive(Debug, Clone)]
pub struct McpConfig {
    /// Groups whose tools are listed and callable.
    pub caps: BTreeSet<Cap>,
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
            allow_unsafe_code: false,
            snapshot_budget: DEFAULT_SNAPSHOT_BUDGET,
        }
    }
}
