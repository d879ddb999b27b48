//! The real thing, in a network namespace of the test's own: the test
//! thread unshares its network namespace, so the bridge, taps and nftables
//! table it makes vanish with it and nothing touches the host's network.

mod common;

use common::in_netns;

use hype_net::{FirewallPlan, Net};

#[test]
fn bridge_taps_isolation_and_firewall() -> anyhow::Result<()> {
    in_netns(|| async {
        let net = Net::connect("hypebr0", "10.77.0.0/24".parse()?)?;
        let idx = net.ensure_bridge().await?;
        assert_eq!(net.ensure_bridge().await?, idx, "idempotent");
        let routes = std::fs::read_to_string("/proc/thread-self/net/route")?;
        assert!(
            routes.contains("hypebr0"),
            "bridge has its subnet route:\n{routes}"
        );

        net.create_tap("hypetest0").await?;
        net.create_tap("hypetest1").await?;
        net.create_tap("hypetest1").await?; // again: reused
        let mut taps = net.taps().await?;
        taps.sort();
        assert_eq!(taps, ["hypetest0", "hypetest1"]);
        assert!(net.is_isolated_port("hypetest0").await?);

        let plan = FirewallPlan {
            bridge: "hypebr0".into(),
            subnet: "10.77.0.0/24".parse()?,
            egress_deny: vec!["10.77.0.3".parse()?],
            pins: vec![],
        };
        plan.apply()?;
        plan.apply()?; // replacing is atomic and idempotent
        let listed = std::process::Command::new("nft")
            .args(["list", "table", "inet", "hype"])
            .output()?;
        let text = String::from_utf8_lossy(&listed.stdout);
        assert!(text.contains("10.77.0.3"), "{text}");
        assert!(text.contains("masquerade"), "{text}");
        FirewallPlan::remove()?;
        let listed = std::process::Command::new("nft")
            .args(["list", "table", "inet", "hype"])
            .output()?;
        assert!(!listed.status.success(), "table removed");

        net.delete_tap("hypetest0").await?;
        net.delete_tap("hypetest0").await?; // already gone: fine
        assert_eq!(net.taps().await?, ["hypetest1"]);
        Ok(())
    })
}

#[test]
fn a_subnet_without_room_for_guests_is_refused() -> anyhow::Result<()> {
    in_netns(|| async {
        let err = Net::connect("hypebr0", "10.0.0.0/32".parse()?)
            .err()
            .unwrap();
        assert!(err.to_string().contains("too small"), "{err}");
        Ok(())
    })
}

/// A guest's side of a tap: raw Ethernet frames in and out, as a VMM
/// would move them.
struct GuestSide(std::fs::File);

impl GuestSide {
    fn open(tap: &str) -> anyhow::Result<Self> {
        use std::os::fd::AsRawFd;
        #[repr(C)]
        struct IfReq {
            name: [u8; 16],
            flags: libc::c_short,
            _pad: [u8; 22],
        }
        nix::ioctl_write_ptr_bad!(
            tunsetiff,
            nix::request_code_write!(b'T', 202, std::mem::size_of::<libc::c_int>()),
            IfReq
        );
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")?;
        let mut req = IfReq {
            name: [0; 16],
            flags: 0x0002 | 0x1000, // IFF_TAP | IFF_NO_PI
            _pad: [0; 22],
        };
        req.name[..tap.len()].copy_from_slice(tap.as_bytes());
        // SAFETY: a valid ifreq for the duration of the call.
        unsafe { tunsetiff(file.as_raw_fd(), &req) }?;
        let flags = nix::fcntl::fcntl(file.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL)?;
        nix::fcntl::fcntl(
            file.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(
                nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK,
            ),
        )?;
        Ok(Self(file))
    }

    fn send(&mut self, frame: &[u8]) -> anyhow::Result<()> {
        use std::io::Write;
        self.0.write_all(frame)?;
        Ok(())
    }

    /// Frames the host sent to this guest within `wait`.
    fn received(&mut self, wait: std::time::Duration) -> Vec<Vec<u8>> {
        use std::io::Read;
        let until = std::time::Instant::now() + wait;
        let mut out = vec![];
        while std::time::Instant::now() < until {
            let mut buf = [0u8; 2048];
            match self.0.read(&mut buf) {
                Ok(n) => out.push(buf[..n].to_vec()),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
        out
    }
}

fn mac(s: &str) -> [u8; 6] {
    let mut m = [0u8; 6];
    for (i, p) in s.split(':').enumerate() {
        m[i] = u8::from_str_radix(p, 16).unwrap();
    }
    m
}

/// An ARP request for `target` from (`src_mac`, `src_ip`), sent as
/// `frame_mac`.
fn arp_request(frame_mac: [u8; 6], src_mac: [u8; 6], src_ip: [u8; 4], target: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend(frame_mac);
    f.extend([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend(src_mac);
    f.extend(src_ip);
    f.extend([0; 6]);
    f.extend(target);
    f
}

fn checksum(b: &[u8]) -> [u8; 2] {
    let mut sum = 0u32;
    for c in b.chunks(2) {
        sum += u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    (!(sum as u16)).to_be_bytes()
}

/// An ICMP echo request from `src_ip` to `dst_ip`, framed for `dst_mac`.
fn ping(src_mac: [u8; 6], dst_mac: [u8; 6], src_ip: [u8; 4], dst_ip: [u8; 4]) -> Vec<u8> {
    let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1];
    icmp.extend(b"hype-spoof-test");
    let c = checksum(&icmp);
    icmp[2..4].copy_from_slice(&c);
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 1, 0, 0];
    ip.extend(src_ip);
    ip.extend(dst_ip);
    let len = (20 + icmp.len()) as u16;
    ip[2..4].copy_from_slice(&len.to_be_bytes());
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c);
    let mut f = dst_mac.to_vec();
    f.extend(src_mac);
    f.extend([0x08, 0x00]);
    f.extend(ip);
    f.extend(icmp);
    f
}

/// The MAC the host's neighbour table holds for `ip` on the bridge.
fn neighbour(ip: &str) -> Option<String> {
    let out = std::process::Command::new("ip")
        .args(["-j", "neigh", "show", "dev", "hypebr0", "to", ip])
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v.as_array()?
        .first()?
        .get("lladdr")?
        .as_str()
        .map(str::to_owned)
}

/// Issue 15, finding 5: a guest that changes its source address, sends
/// under another MAC, or forges ARP for another VM's address reaches
/// nothing; the same guest under its own lease is answered. IPv6 from a
/// guest goes nowhere, and neither does anything from a tap with no lease.
#[test]
fn a_guest_is_pinned_to_its_leased_mac_and_address() -> anyhow::Result<()> {
    in_netns(|| async {
        let net = Net::connect("hypebr0", "10.77.0.0/24".parse()?)?;
        net.ensure_bridge().await?;
        net.create_tap("hypetest0").await?;
        net.create_tap("hypetest9").await?;
        let own_mac = "02:00:00:00:00:02";
        let plan = FirewallPlan {
            bridge: "hypebr0".into(),
            subnet: "10.77.0.0/24".parse()?,
            egress_deny: vec![],
            pins: vec![hype_net::Pin {
                tap: "hypetest0".into(),
                mac: own_mac.into(),
                ip: "10.77.0.2".parse()?,
            }],
        };
        plan.apply()?;
        // (/sys shows the host's namespace; ip asks this one.)
        let link = std::process::Command::new("ip")
            .args(["-j", "link", "show", "hypebr0"])
            .output()?;
        let link: serde_json::Value = serde_json::from_slice(&link.stdout)?;
        let bridge_mac = mac(link[0]["address"].as_str().unwrap_or_default());
        let (own, other) = (mac(own_mac), mac("02:00:00:00:00:66"));
        let (gw, me, victim) = ([10, 77, 0, 1], [10, 77, 0, 2], [10, 77, 0, 3]);
        let mut guest = GuestSide::open("hypetest0")?;
        let wait = std::time::Duration::from_millis(600);
        let is_arp_reply = |f: &Vec<u8>| f.len() >= 42 && f[12..14] == [8, 6] && f[21] == 2;
        let is_echo_reply =
            |f: &Vec<u8>| f.len() >= 34 && f[12..14] == [8, 0] && f[23] == 1 && f[34] == 0;

        // Forged ARP: another VM's address, or another MAC. No answer, and
        // the host's table is not poisoned.
        guest.send(&arp_request(own, own, victim, gw))?;
        guest.send(&arp_request(other, other, me, gw))?;
        guest.send(&arp_request(own, other, me, gw))?;
        assert!(!guest.received(wait).iter().any(is_arp_reply));
        assert_eq!(neighbour("10.77.0.3"), None);
        // A changed source address, or another MAC.
        guest.send(&ping(own, bridge_mac, [10, 77, 0, 9], gw))?;
        guest.send(&ping(other, bridge_mac, me, gw))?;
        let got = guest.received(wait);
        assert!(
            !got.iter().any(is_echo_reply),
            "a spoofed ping was answered"
        );
        assert!(
            !got.iter()
                .any(|f| f.len() >= 42 && f[12..14] == [8, 6] && f[38..42] == [10, 77, 0, 9]),
            "the host looked for the spoofed address"
        );
        // IPv6 from the guest is dropped: no neighbour learns it.
        let mut v6 = vec![0x33, 0x33, 0, 0, 0, 1];
        v6.extend(own);
        v6.extend([0x86, 0xdd]);
        v6.extend([0x60, 0, 0, 0, 0, 8, 58, 255]);
        v6.extend([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        v6.extend([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        v6.extend([128, 0, 0, 0, 0, 0, 0, 0]);
        guest.send(&v6)?;
        // The same guest under its lease is answered: the rules are what
        // stopped the rest, not a broken setup.
        guest.send(&arp_request(own, own, me, gw))?;
        assert!(guest.received(wait).iter().any(is_arp_reply));
        assert_eq!(neighbour("10.77.0.2").as_deref(), Some(own_mac));
        guest.send(&ping(own, bridge_mac, me, gw))?;
        assert!(guest.received(wait).iter().any(is_echo_reply));
        // A hype tap without a lease sends nothing at all.
        let mut stray = GuestSide::open("hypetest9")?;
        stray.send(&arp_request(other, other, [10, 77, 0, 7], gw))?;
        assert!(!stray.received(wait).iter().any(is_arp_reply));
        FirewallPlan::remove()?;
        Ok(())
    })
}
