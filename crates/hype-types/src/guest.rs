//! What a running guest reports about itself through its agent.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GuestInterface {
    pub name: String,
    pub mac: Option<String>,
    pub up: bool,
    /// `A.B.C.D/NN`
    pub addresses: Vec<String>,
}

/// The guest's network as seen from inside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GuestNetwork {
    pub interfaces: Vec<GuestInterface>,
    pub gateway: Option<String>,
}

/// Ask the guest to ping an address from inside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeRequest {
    /// An IPv4 address.
    #[schema(value_type = String, format = Ipv4, example = "192.168.127.1")]
    pub target: Ipv4Addr,
    /// How long the guest waits for an echo reply, 1 to 10000 ms.
    #[serde(
        default = "default_probe_timeout",
        deserialize_with = "crate::lenient::u32"
    )]
    #[schema(default = 1000, minimum = 1, maximum = 10000)]
    pub timeout_ms: u32,
}

pub const MAX_PROBE_TIMEOUT_MS: u32 = 10_000;

fn default_probe_timeout() -> u32 {
    1000
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProbeResult {
    pub target: String,
    pub reachable: bool,
    pub rtt_ms: Option<u64>,
    /// Why the probe could not be sent at all.
    pub error: Option<String>,
}
