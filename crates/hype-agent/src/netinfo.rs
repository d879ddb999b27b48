//! `net_info`: the guest's interfaces and IPv4 addresses as the kernel sees
//! them, so the host can check what `hype.ip=` actually produced. They are
//! read over rtnetlink like `net.rs` writes them (the guest has no `ip`), and
//! the default gateway comes from `/proc/net/route`, whose fixed text format
//! is simpler to read than a route dump.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use hype_agent_proto::{GuestIface, GuestMessage};
use nix::libc;

use crate::error::Error;
use crate::net::{Msg, Netlink};

/// The kernel answers a dump at once; this only guards the reader thread.
const NETLINK_TIMEOUT: Duration = Duration::from_secs(1);
const ROUTE_TABLE: &str = "/proc/net/route";
/// Sizes of `struct ifinfomsg` and `struct ifaddrmsg`.
const IFINFOMSG_LEN: usize = 16;
const IFADDRMSG_LEN: usize = 8;
/// From `linux/route.h`; /proc/net/route prints these flags in hex.
const RTF_UP: u32 = 0x1;
const RTF_GATEWAY: u32 = 0x2;

/// The answer to `net_info`, plus whatever failed while collecting it. A
/// failed part is left empty so that the host still gets its answer.
pub fn report(id: u64) -> (GuestMessage, Vec<Error>) {
    let mut errors = Vec::new();
    let interfaces = interfaces().unwrap_or_else(|e| {
        errors.push(e);
        Vec::new()
    });
    let gateway = match read_gateway() {
        Ok(gateway) => gateway.map(|gw| gw.to_string()),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let msg = GuestMessage::NetInfo {
        id,
        interfaces,
        gateway,
    };
    (msg, errors)
}

/// Every interface, in kernel index order (so `lo` first).
fn interfaces() -> Result<Vec<GuestIface>, Error> {
    let mut nl = Netlink::open()?;
    nl.set_timeout(NETLINK_TIMEOUT)?;
    let links = nl.dump("list links", &get_links(1), libc::RTM_NEWLINK)?;
    let addrs = nl.dump("list addresses", &get_addrs(2), libc::RTM_NEWADDR)?;
    let mut by_index: BTreeMap<u32, GuestIface> =
        links.iter().filter_map(|body| parse_link(body)).collect();
    for (index, addr, prefix) in addrs.iter().filter_map(|body| parse_addr(body)) {
        if let Some(iface) = by_index.get_mut(&index) {
            iface.addresses.push(format!("{addr}/{prefix}"));
        }
    }
    Ok(by_index.into_values().collect())
}

/// The IPv4 addresses on interface `index`.
pub(crate) fn ipv4_addresses(nl: &mut Netlink, index: u32) -> Result<Vec<(Ipv4Addr, u8)>, Error> {
    nl.set_timeout(NETLINK_TIMEOUT)?;
    let addrs = nl.dump("list addresses", &get_addrs(9), libc::RTM_NEWADDR)?;
    Ok(addrs
        .iter()
        .filter_map(|body| parse_addr(body))
        .filter(|(i, _, _)| *i == index)
        .map(|(_, a, p)| (a, p))
        .collect())
}

/// RTM_GETLINK dump of every family.
fn get_links(seq: u32) -> Vec<u8> {
    Msg::dump(libc::RTM_GETLINK, seq)
        .bytes(&[0u8; IFINFOMSG_LEN])
        .finish()
}

/// RTM_GETADDR dump; the family in the header makes the kernel skip IPv6.
fn get_addrs(seq: u32) -> Vec<u8> {
    let mut ifaddr = [0u8; IFADDRMSG_LEN];
    ifaddr[0] = libc::AF_INET as u8;
    Msg::dump(libc::RTM_GETADDR, seq).bytes(&ifaddr).finish()
}

/// An RTM_NEWLINK body: its index and the interface, addresses still empty.
fn parse_link(body: &[u8]) -> Option<(u32, GuestIface)> {
    let index = u32::from_ne_bytes(body.get(4..8)?.try_into().ok()?);
    let flags = u32::from_ne_bytes(body.get(8..12)?.try_into().ok()?);
    let mut name = None;
    let mut mac = None;
    for (ty, data) in attrs(body.get(IFINFOMSG_LEN..)?) {
        if ty == libc::IFLA_IFNAME {
            name = Some(c_string(data));
        } else if ty == libc::IFLA_ADDRESS {
            mac = format_mac(data);
        }
    }
    let iface = GuestIface {
        name: name?,
        mac,
        up: flags & libc::IFF_UP as u32 != 0,
        addresses: Vec::new(),
    };
    Some((index, iface))
}

/// An RTM_NEWADDR body: interface index, IPv4 address and prefix length.
fn parse_addr(body: &[u8]) -> Option<(u32, Ipv4Addr, u8)> {
    let (&family, &prefix) = (body.first()?, body.get(1)?);
    if family != libc::AF_INET as u8 {
        return None;
    }
    let index = u32::from_ne_bytes(body.get(4..8)?.try_into().ok()?);
    let mut local = None;
    let mut address = None;
    for (ty, data) in attrs(body.get(IFADDRMSG_LEN..)?) {
        let Ok(octets) = <[u8; 4]>::try_from(data) else {
            continue;
        };
        if ty == libc::IFA_LOCAL {
            local = Some(Ipv4Addr::from(octets));
        } else if ty == libc::IFA_ADDRESS {
            address = Some(Ipv4Addr::from(octets));
        }
    }
    // On a point-to-point link IFA_ADDRESS is the peer's; IFA_LOCAL is ours.
    Some((index, local.or(address)?, prefix))
}

/// The (type, payload) of each route attribute; stops at a malformed one.
fn attrs(mut buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while let Some(header) = buf.get(..4) {
        let len = usize::from(u16::from_ne_bytes([header[0], header[1]]));
        let ty = u16::from_ne_bytes([header[2], header[3]]) & libc::NLA_TYPE_MASK as u16;
        let Some(data) = buf.get(4..len) else {
            break;
        };
        out.push((ty, data));
        buf = buf.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    out
}

fn c_string(data: &[u8]) -> String {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    String::from_utf8_lossy(&data[..end]).into_owned()
}

/// `aa:bb:...`; None for the all-zero address `lo` and tunnels report.
fn format_mac(data: &[u8]) -> Option<String> {
    if data.iter().all(|&b| b == 0) {
        return None;
    }
    let hex: Vec<String> = data.iter().map(|b| format!("{b:02x}")).collect();
    Some(hex.join(":"))
}

fn read_gateway() -> Result<Option<Ipv4Addr>, Error> {
    let path = Path::new(ROUTE_TABLE);
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        what: "read",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(default_gateway(&text))
}

/// The gateway of the lowest-metric default route in a `/proc/net/route`
/// table. The kernel prints addresses as the in-memory `__be32` read as a
/// native u32, so its native bytes are the address's octets.
fn default_gateway(table: &str) -> Option<Ipv4Addr> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let hex = |i: usize| u32::from_str_radix(fields.get(i)?, 16).ok();
            let (dest, gateway, flags, mask) = (hex(1)?, hex(2)?, hex(3)?, hex(7)?);
            let metric: u32 = fields.get(6)?.parse().ok()?;
            let wanted = RTF_UP | RTF_GATEWAY;
            let default = dest == 0 && mask == 0 && flags & wanted == wanted;
            default.then(|| (metric, Ipv4Addr::from(gateway.to_ne_bytes())))
        })
        .min_by_key(|&(metric, _)| metric)
        .map(|(_, gateway)| gateway)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body of a netlink message built with `Msg`, header stripped.
    fn body(msg: Msg) -> Vec<u8> {
        msg.finish()[16..].to_vec()
    }

    #[test]
    fn links_are_parsed() {
        let mut ifinfo = [0u8; IFINFOMSG_LEN];
        ifinfo[4..8].copy_from_slice(&2u32.to_ne_bytes());
        ifinfo[8..12].copy_from_slice(&((libc::IFF_UP | libc::IFF_BROADCAST) as u32).to_ne_bytes());
        let mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
        let b = body(
            Msg::dump(libc::RTM_NEWLINK, 0)
                .bytes(&ifinfo)
                .attr(libc::IFLA_MTU, &1500u32.to_ne_bytes())
                .attr(libc::IFLA_IFNAME, b"eth0\0")
                .attr(libc::IFLA_ADDRESS, &mac),
        );
        let (index, iface) = parse_link(&b).unwrap();
        assert_eq!(index, 2);
        assert_eq!(
            iface,
            GuestIface {
                name: "eth0".into(),
                mac: Some("52:54:00:12:34:56".into()),
                up: true,
                addresses: vec![],
            }
        );

        ifinfo[8..12].copy_from_slice(&0u32.to_ne_bytes());
        let b = body(
            Msg::dump(libc::RTM_NEWLINK, 0)
                .bytes(&ifinfo)
                .attr(libc::IFLA_IFNAME, b"lo\0")
                .attr(libc::IFLA_ADDRESS, &[0; 6]),
        );
        let (_, lo) = parse_link(&b).unwrap();
        assert_eq!((lo.name.as_str(), lo.mac, lo.up), ("lo", None, false));
        // No name, no interface; a truncated body is ignored, not a panic.
        assert!(parse_link(&body(Msg::dump(libc::RTM_NEWLINK, 0).bytes(&ifinfo))).is_none());
        assert!(parse_link(&[0u8; 6]).is_none());
    }

    #[test]
    fn addresses_are_parsed() {
        let ifaddr = |family: i32| {
            let mut b = vec![family as u8, 24, 0, 0];
            b.extend_from_slice(&3u32.to_ne_bytes());
            b
        };
        let b = body(
            Msg::dump(libc::RTM_NEWADDR, 0)
                .bytes(&ifaddr(libc::AF_INET))
                .attr(libc::IFA_ADDRESS, &[10, 0, 0, 9])
                .attr(libc::IFA_LOCAL, &[10, 0, 0, 2])
                .attr(libc::IFA_LABEL, b"eth0\0"),
        );
        assert_eq!(parse_addr(&b), Some((3, Ipv4Addr::new(10, 0, 0, 2), 24)));
        let b = body(
            Msg::dump(libc::RTM_NEWADDR, 0)
                .bytes(&ifaddr(libc::AF_INET))
                .attr(libc::IFA_ADDRESS, &[127, 0, 0, 1]),
        );
        assert_eq!(parse_addr(&b), Some((3, Ipv4Addr::LOCALHOST, 24)));
        let b = body(
            Msg::dump(libc::RTM_NEWADDR, 0)
                .bytes(&ifaddr(libc::AF_INET6))
                .attr(libc::IFA_ADDRESS, &[0; 16]),
        );
        assert_eq!(parse_addr(&b), None);
    }

    #[test]
    fn malformed_attributes_end_the_walk() {
        // A length below the header's own 4 bytes would otherwise loop.
        assert!(attrs(&[2, 0, 1, 0, 0, 0, 0, 0]).is_empty());
        assert!(attrs(&[8, 0, 1, 0, 1]).is_empty());
        assert_eq!(attrs(&[5, 0, 1, 0, 7, 0, 0, 0]), vec![(1, &[7u8][..])]);
    }

    #[test]
    fn default_gateway_is_the_lowest_metric_default_route() {
        let hex = |octets: [u8; 4]| format!("{:08X}", u32::from_ne_bytes(octets));
        let table = format!(
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
             eth0\t{}\t00000000\t0001\t0\t0\t0\t{}\t0\t0\t0\n\
             eth1\t00000000\t{}\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
             eth0\t00000000\t{}\t0003\t0\t0\t0\t00000000\t0\t0\t0\n",
            hex([10, 0, 0, 0]),
            hex([255, 255, 255, 0]),
            hex([192, 168, 1, 1]),
            hex([10, 0, 0, 1]),
        );
        assert_eq!(default_gateway(&table), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(
            default_gateway(
                table
                    .lines()
                    .take(2)
                    .collect::<Vec<_>>()
                    .join("\n")
                    .as_str()
            ),
            None
        );
        assert_eq!(default_gateway(""), None);
    }
}
