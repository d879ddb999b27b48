//! Names and numbers derived from a VM and the subnet, so they are stable
//! across restarts without being stored twice.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use sha2::{Digest, Sha256};

/// The host's side of the subnet: its first address.
pub fn gateway(subnet: Ipv4Net) -> Option<Ipv4Addr> {
    subnet.hosts().next()
}

/// Guest addresses, lowest first: every host address but the gateway.
pub fn usable_hosts(subnet: Ipv4Net) -> impl Iterator<Item = Ipv4Addr> {
    subnet.hosts().skip(1)
}

/// A locally administered unicast MAC derived from the VM's id.
pub fn mac_for(vm_id: &str) -> String {
    let h = Sha256::digest(vm_id.as_bytes());
    // 0x02: locally administered, unicast.
    format!(
        "02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        h[0], h[1], h[2], h[3], h[4]
    )
}

/// The VM's tap: `hype` plus a hash of its id, within IFNAMSIZ (15 chars).
pub fn tap_name(vm_id: &str) -> String {
    let h = Sha256::digest(vm_id.as_bytes());
    format!(
        "hype{:02x}{:02x}{:02x}{:02x}{:02x}",
        h[0], h[1], h[2], h[3], h[4]
    )
    .chars()
    .take(14)
    .collect()
}

/// The resolver guests get: the host's first non-loopback nameserver.
pub fn dns_for_guests() -> Option<Ipv4Addr> {
    let conf = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    conf.lines()
        .filter_map(|l| l.strip_prefix("nameserver"))
        .filter_map(|a| a.trim().parse::<Ipv4Addr>().ok())
        .find(|a| !a.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_and_hosts() {
        let net: Ipv4Net = "192.168.127.0/24".parse().unwrap();
        assert_eq!(gateway(net), Some("192.168.127.1".parse().unwrap()));
        let hosts: Vec<_> = usable_hosts(net).collect();
        assert_eq!(hosts.first(), Some(&"192.168.127.2".parse().unwrap()));
        assert_eq!(hosts.last(), Some(&"192.168.127.254".parse().unwrap()));
        assert_eq!(hosts.len(), 253);
        let tiny: Ipv4Net = "10.0.0.0/30".parse().unwrap();
        assert_eq!(
            usable_hosts(tiny).collect::<Vec<_>>(),
            ["10.0.0.2".parse::<Ipv4Addr>().unwrap()]
        );
    }

    #[test]
    fn macs_are_local_unicast_and_stable() {
        let m = mac_for("01a2010c-8b1a");
        assert_eq!(m, mac_for("01a2010c-8b1a"));
        assert_ne!(m, mac_for("01a2010c-8b1b"));
        let first = u8::from_str_radix(&m[..2], 16).unwrap();
        assert_eq!(first & 0b11, 0b10, "locally administered, unicast");
        assert_eq!(m.len(), 17);
    }

    #[test]
    fn tap_names_fit_ifnamsiz() {
        let t = tap_name("01a2010c-8b1a-72d8-85d8-19f1e5b5551e");
        assert!(t.len() <= 15 && t.starts_with("hype"), "{t}");
        assert_ne!(t, tap_name("other"));
    }
}
