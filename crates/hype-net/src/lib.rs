//! Host networking for VMs: the bridge and its address, one tap per VM
//! attached with port isolation, addresses and MACs derived for guests, the
//! nftables table that forwards, masquerades and enforces egress, and the
//! host preflight checks. It owns runtime networking only; preparing a host
//! for good (sysctl files, the systemd unit) is `hype-setup`'s.
//!
//! Links and addresses go through rtnetlink, taps through TUNSETIFF, the
//! firewall through nft's JSON interface; no `ip`/`iptables` strings. This
//! crate knows nothing of the store: which address a VM holds is decided by
//! the lease table, and the core passes it in.

mod addr;
mod error;
mod firewall;
mod links;
pub mod preflight;
mod tap;

pub use addr::{dns_for_guests, gateway, mac_for, tap_name, usable_hosts};
pub use error::NetError;
pub use firewall::{FirewallPlan, Pin, TABLE};
pub use links::Net;

pub type Result<T, E = NetError> = std::result::Result<T, E>;
