//! What the host needs for VM networking, checked at start. Each failed
//! check says how to fix it; none stops hyped (VMs then boot unnetworked).

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub check: &'static str,
    pub ok: bool,
    pub detail: String,
    /// What to do about it, when not ok.
    pub fix: Option<String>,
}

fn finding(check: &'static str, ok: bool, detail: String, fix: Option<String>) -> Finding {
    Finding {
        check,
        ok,
        detail,
        fix: if ok { None } else { fix },
    }
}

/// Runs every check for `subnet` on `bridge`.
pub fn run(bridge: &str, subnet: Ipv4Net) -> Vec<Finding> {
    let mut out = vec![];
    let tun = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun");
    out.push(finding(
        "tun",
        tun.is_ok(),
        match &tun {
            Ok(_) => "/dev/net/tun opens".into(),
            Err(e) => format!("/dev/net/tun: {e}"),
        },
        Some("load the tun module (modprobe tun) and run hyped as root".into()),
    ));
    let root = nix::unistd::geteuid().is_root();
    out.push(finding(
        "privileges",
        root,
        format!("effective uid {}", nix::unistd::geteuid()),
        Some("run hyped as root (it creates taps and nftables rules)".into()),
    ));
    let fwd = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
        .map(|s| s.trim() == "1")
        .unwrap_or(false);
    out.push(finding(
        "forwarding",
        fwd,
        format!("net.ipv4.ip_forward is {}", if fwd { 1 } else { 0 }),
        Some("sysctl -w net.ipv4.ip_forward=1 (hype setup does it for good)".into()),
    ));
    let nft = std::process::Command::new("nft")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    out.push(finding(
        "nftables",
        nft,
        if nft {
            "nft found".into()
        } else {
            "nft not found".into()
        },
        Some("apt-get install nftables".into()),
    ));
    let clash = overlapping_route(bridge, subnet);
    out.push(finding(
        "subnet",
        clash.is_none(),
        match &clash {
            None => format!("{subnet} overlaps no existing route"),
            Some(r) => format!("{subnet} overlaps the route {r}"),
        },
        Some("pick another --subnet / HYPE_SUBNET".into()),
    ));
    out
}

/// An IPv4 route (from /proc/net/route) that overlaps `subnet` on a device
/// other than our bridge. The default route overlaps everything and is
/// ignored.
fn overlapping_route(bridge: &str, subnet: Ipv4Net) -> Option<String> {
    let table = std::fs::read_to_string("/proc/thread-self/net/route").ok()?;
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let (dev, dest, mask) = (f.first()?, f.get(1)?, f.get(7)?);
        let dest = Ipv4Addr::from(u32::from_str_radix(dest, 16).ok()?.swap_bytes());
        let mask = u32::from_str_radix(mask, 16).ok()?.swap_bytes();
        let net = Ipv4Net::new(dest, mask.count_ones() as u8).ok()?;
        let overlaps = net.contains(&subnet.network()) || subnet.contains(&net.network());
        (*dev != bridge && net.prefix_len() > 0 && overlaps).then(|| format!("{net} dev {dev}"))
    })
}
