//! Static IPv4 on eth0 from `hype.ip=`/`hype.gw=`/`hype.dns=`, configured
//! through rtnetlink directly: the guest has no `ip`, no DHCP client and no
//! network manager, and a handful of fixed-layout messages is all it takes.

use std::fs::File;
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::libc;
use nix::net::if_::if_nametoindex;
use nix::sys::socket::{
    setsockopt, socket, sockopt, AddressFamily, SockFlag, SockProtocol, SockType,
};
use nix::sys::time::{TimeVal, TimeValLike};

use crate::cmdline::NetConfig;
use crate::error::Error;

const IFACE: &str = "eth0";
/// virtio_net registers eth0 while its module loads, so this is a margin.
const IFACE_WAIT: Duration = Duration::from_secs(2);

/// Brings the loopback up: every guest has one working, networked or not
/// (Chromium's remote debugging listens there).
pub fn loopback_up() -> Result<(), Error> {
    let lo = wait_for_link("lo", Duration::ZERO)?;
    Netlink::open()?.request("bring lo up", &link_up(1, lo))
}

pub fn configure(cfg: &NetConfig) -> Result<(), Error> {
    let eth0 = wait_for_link(IFACE, IFACE_WAIT)?;
    let mut nl = Netlink::open()?;
    nl.request("bring eth0 up", &link_up(2, eth0))?;
    nl.request("add address", &add_addr(3, eth0, cfg.addr, cfg.prefix))?;
    if let Some(gw) = cfg.gateway {
        nl.request("add default route", &add_default_route(4, eth0, gw))?;
    }
    if let Some(dns) = cfg.dns {
        let path = Path::new("/etc/resolv.conf");
        std::fs::write(path, format!("nameserver {dns}\n")).map_err(|source| Error::Io {
            what: "write",
            path: path.to_path_buf(),
            source,
        })?;
    }
    Ok(())
}

fn wait_for_link(name: &'static str, wait: Duration) -> Result<u32, Error> {
    let started = Instant::now();
    loop {
        if let Ok(index) = if_nametoindex(name) {
            return Ok(index);
        }
        if started.elapsed() >= wait {
            return Err(Error::NoInterface { name, waited: wait });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Netlink messages start with a 16-byte `nlmsghdr`.
const NLMSG_HDRLEN: usize = 16;

pub(crate) struct Netlink(File);

impl Netlink {
    pub(crate) fn open() -> Result<Self, Error> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )
        .map_err(|e| Error::Netlink {
            what: "socket",
            source: e.into(),
        })?;
        // The kernel binds an unbound netlink socket on first send, and a
        // plain write() to it goes to the kernel.
        Ok(Self(File::from(fd)))
    }

    /// Bounds every later read: the channel answers `net_info` on its reader
    /// thread, which must not hang on a reply that never comes.
    pub(crate) fn set_timeout(&self, timeout: Duration) -> Result<(), Error> {
        let micros = i64::try_from(timeout.as_micros()).unwrap_or(i64::MAX);
        setsockopt(
            &self.0,
            sockopt::ReceiveTimeout,
            &TimeVal::microseconds(micros),
        )
        .map_err(|e| Error::Netlink {
            what: "set timeout",
            source: e.into(),
        })
    }

    /// Sends a dump request and collects the bodies (header stripped) of the
    /// replies of type `ty` up to NLMSG_DONE.
    pub(crate) fn dump(
        &mut self,
        what: &'static str,
        msg: &[u8],
        ty: u16,
    ) -> Result<Vec<Vec<u8>>, Error> {
        let err = |source| Error::Netlink { what, source };
        self.0.write_all(msg).map_err(err)?;
        // A dump datagram can exceed a page; a short buffer would truncate it.
        let mut buf = vec![0u8; 64 * 1024];
        let mut bodies = Vec::new();
        loop {
            let n = self.0.read(&mut buf).map_err(err)?;
            if n == 0 {
                return Err(err(std::io::ErrorKind::UnexpectedEof.into()));
            }
            for (msg_ty, body) in split_messages(&buf[..n]) {
                match msg_ty {
                    t if t == libc::NLMSG_DONE as u16 => return Ok(bodies),
                    t if t == libc::NLMSG_ERROR as u16 => {
                        let errno = body
                            .get(..4)
                            .and_then(|b| b.try_into().ok())
                            .map_or(libc::EIO, |b| -i32::from_ne_bytes(b));
                        if errno != 0 {
                            return Err(err(std::io::Error::from_raw_os_error(errno)));
                        }
                    }
                    t if t == ty => bodies.push(body.to_vec()),
                    _ => {}
                }
            }
        }
    }

    /// Sends one request flagged NLM_F_ACK and waits for its ack.
    pub(crate) fn request(&mut self, what: &'static str, msg: &[u8]) -> Result<(), Error> {
        let err = |source| Error::Netlink { what, source };
        self.0.write_all(msg).map_err(err)?;
        let mut buf = [0u8; 4096];
        let n = self.0.read(&mut buf).map_err(err)?;
        match ack_errno(&buf[..n]) {
            Some(0) => Ok(()),
            Some(errno) => Err(err(std::io::Error::from_raw_os_error(errno))),
            None => Err(err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "no netlink ack",
            ))),
        }
    }
}

/// The errno of an NLMSG_ERROR reply (0 for an ack), if `buf` starts with one.
fn ack_errno(buf: &[u8]) -> Option<i32> {
    let ty = u16::from_ne_bytes(buf.get(4..6)?.try_into().ok()?);
    if ty != libc::NLMSG_ERROR as u16 {
        return None;
    }
    let error = i32::from_ne_bytes(buf.get(16..20)?.try_into().ok()?);
    Some(-error)
}

/// The (type, body) of each netlink message packed in one datagram; stops at
/// the first header that does not fit, as the kernel never sends one.
pub(crate) fn split_messages(mut buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while let Some(header) = buf.get(..NLMSG_HDRLEN) {
        let len = u32::from_ne_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let ty = u16::from_ne_bytes([header[4], header[5]]);
        let Some(body) = buf.get(NLMSG_HDRLEN..len) else {
            break;
        };
        out.push((ty, body));
        buf = buf.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    out
}

/// An rtnetlink message under construction: header, fixed body, attributes.
pub(crate) struct Msg(Vec<u8>);

impl Msg {
    /// A request the kernel acknowledges.
    fn new(ty: u16, flags: u16, seq: u32) -> Self {
        Self::with_flags(ty, flags | libc::NLM_F_ACK as u16, seq)
    }

    /// A dump request: the kernel ends it with NLMSG_DONE rather than an ack.
    pub(crate) fn dump(ty: u16, seq: u32) -> Self {
        Self::with_flags(ty, libc::NLM_F_DUMP as u16, seq)
    }

    fn with_flags(ty: u16, flags: u16, seq: u32) -> Self {
        let mut b = Vec::with_capacity(64);
        b.extend_from_slice(&0u32.to_ne_bytes()); // length, patched in finish()
        b.extend_from_slice(&ty.to_ne_bytes());
        let flags = flags | libc::NLM_F_REQUEST as u16;
        b.extend_from_slice(&flags.to_ne_bytes());
        b.extend_from_slice(&seq.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
        Self(b)
    }

    pub(crate) fn bytes(mut self, data: &[u8]) -> Self {
        self.0.extend_from_slice(data);
        self
    }

    pub(crate) fn attr(mut self, ty: u16, data: &[u8]) -> Self {
        let len = 4 + data.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&ty.to_ne_bytes());
        self.0.extend_from_slice(data);
        self.0.resize(self.0.len().next_multiple_of(4), 0);
        self
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        let len = self.0.len() as u32;
        self.0[..4].copy_from_slice(&len.to_ne_bytes());
        self.0
    }
}

/// RTM_NEWLINK setting IFF_UP.
fn link_up(seq: u32, index: u32) -> Vec<u8> {
    let up = libc::IFF_UP as u32;
    let mut ifinfo = Vec::with_capacity(16);
    ifinfo.extend_from_slice(&[libc::AF_UNSPEC as u8, 0]);
    ifinfo.extend_from_slice(&0u16.to_ne_bytes()); // device type
    ifinfo.extend_from_slice(&index.to_ne_bytes());
    ifinfo.extend_from_slice(&up.to_ne_bytes()); // flags
    ifinfo.extend_from_slice(&up.to_ne_bytes()); // change mask
    Msg::new(libc::RTM_NEWLINK, 0, seq).bytes(&ifinfo).finish()
}

/// RTM_NEWADDR; REPLACE makes it idempotent.
pub(crate) fn add_addr(seq: u32, index: u32, addr: Ipv4Addr, prefix: u8) -> Vec<u8> {
    let flags = (libc::NLM_F_CREATE | libc::NLM_F_REPLACE) as u16;
    let mut ifaddr = vec![libc::AF_INET as u8, prefix, 0, libc::RT_SCOPE_UNIVERSE];
    ifaddr.extend_from_slice(&index.to_ne_bytes());
    let mut msg = Msg::new(libc::RTM_NEWADDR, flags, seq)
        .bytes(&ifaddr)
        .attr(libc::IFA_LOCAL, &addr.octets())
        .attr(libc::IFA_ADDRESS, &addr.octets());
    if prefix < 31 {
        let mask = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
        let broadcast = Ipv4Addr::from(u32::from(addr) | mask);
        msg = msg.attr(libc::IFA_BROADCAST, &broadcast.octets());
    }
    msg.finish()
}

/// RTM_DELADDR of `addr/prefix` on `index`.
pub(crate) fn del_addr(seq: u32, index: u32, addr: Ipv4Addr, prefix: u8) -> Vec<u8> {
    let mut ifaddr = vec![libc::AF_INET as u8, prefix, 0, libc::RT_SCOPE_UNIVERSE];
    ifaddr.extend_from_slice(&index.to_ne_bytes());
    Msg::new(libc::RTM_DELADDR, 0, seq)
        .bytes(&ifaddr)
        .attr(libc::IFA_LOCAL, &addr.octets())
        .finish()
}

/// `linux/if_link.h`; the libc crate has it only for Android.
const IFLA_ADDRESS: u16 = 1;

/// RTM_NEWLINK setting the link-layer address (virtio-net takes it live).
pub(crate) fn set_mac(seq: u32, index: u32, mac: [u8; 6]) -> Vec<u8> {
    let mut ifinfo = Vec::with_capacity(16);
    ifinfo.extend_from_slice(&[libc::AF_UNSPEC as u8, 0]);
    ifinfo.extend_from_slice(&0u16.to_ne_bytes()); // device type
    ifinfo.extend_from_slice(&index.to_ne_bytes());
    ifinfo.extend_from_slice(&0u32.to_ne_bytes()); // flags
    ifinfo.extend_from_slice(&0u32.to_ne_bytes()); // change mask: none
    Msg::new(libc::RTM_NEWLINK, 0, seq)
        .bytes(&ifinfo)
        .attr(IFLA_ADDRESS, &mac)
        .finish()
}

/// RTM_NEWROUTE for 0.0.0.0/0 via `gw` out of `index`.
pub(crate) fn add_default_route(seq: u32, index: u32, gw: Ipv4Addr) -> Vec<u8> {
    let flags = (libc::NLM_F_CREATE | libc::NLM_F_REPLACE) as u16;
    let rtmsg = [
        libc::AF_INET as u8,
        0, // dst_len: the default route
        0, // src_len
        0, // tos
        libc::RT_TABLE_MAIN,
        libc::RTPROT_BOOT,
        libc::RT_SCOPE_UNIVERSE,
        libc::RTN_UNICAST,
        0,
        0,
        0,
        0, // flags
    ];
    Msg::new(libc::RTM_NEWROUTE, flags, seq)
        .bytes(&rtmsg)
        .attr(libc::RTA_GATEWAY, &gw.octets())
        .attr(libc::RTA_OIF, &index.to_ne_bytes())
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_ne_bytes(b[at..at + 2].try_into().unwrap())
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_ne_bytes(b[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn link_up_layout() {
        let m = link_up(7, 2);
        assert_eq!(m.len(), 32);
        assert_eq!(u32_at(&m, 0), 32);
        assert_eq!(u16_at(&m, 4), libc::RTM_NEWLINK);
        assert_eq!(u32_at(&m, 8), 7);
        assert_eq!(u32_at(&m, 20), 2);
        assert_eq!(u32_at(&m, 24), libc::IFF_UP as u32);
    }

    #[test]
    fn addr_layout() {
        let m = add_addr(1, 2, Ipv4Addr::new(10, 0, 0, 2), 24);
        // header 16 + ifaddrmsg 8 + three 8-byte attributes
        assert_eq!(m.len(), 48);
        assert_eq!(u32_at(&m, 0), 48);
        assert_eq!(&m[16..20], &[libc::AF_INET as u8, 24, 0, 0]);
        assert_eq!(u16_at(&m, 26), libc::IFA_LOCAL);
        assert_eq!(&m[28..32], &[10, 0, 0, 2]);
        assert_eq!(u16_at(&m, 42), libc::IFA_BROADCAST);
        assert_eq!(&m[44..48], &[10, 0, 0, 255]);
        // No broadcast on a /32.
        assert_eq!(add_addr(1, 2, Ipv4Addr::new(10, 0, 0, 2), 32).len(), 40);
    }

    #[test]
    fn route_layout() {
        let m = add_default_route(1, 3, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(m.len(), 16 + 12 + 8 + 8);
        assert_eq!(m[16 + 4], libc::RT_TABLE_MAIN);
        assert_eq!(&m[32..36], &[10, 0, 0, 1]);
        assert_eq!(u32_at(&m, 40), 3);
    }

    #[test]
    fn identity_layouts() {
        let m = set_mac(1, 2, [0x52, 0x54, 0, 1, 2, 3]);
        assert_eq!(u16_at(&m, 4), libc::RTM_NEWLINK);
        assert_eq!(u16_at(&m, 34), IFLA_ADDRESS);
        assert_eq!(&m[36..42], &[0x52, 0x54, 0, 1, 2, 3]);
        let m = del_addr(1, 2, Ipv4Addr::new(10, 0, 0, 2), 24);
        assert_eq!(u16_at(&m, 4), libc::RTM_DELADDR);
        assert_eq!(&m[28..32], &[10, 0, 0, 2]);
    }

    #[test]
    fn acks() {
        let mut ack = vec![0u8; 36];
        ack[4..6].copy_from_slice(&(libc::NLMSG_ERROR as u16).to_ne_bytes());
        assert_eq!(ack_errno(&ack), Some(0));
        ack[16..20].copy_from_slice(&(-libc::EEXIST).to_ne_bytes());
        assert_eq!(ack_errno(&ack), Some(libc::EEXIST));
        assert_eq!(ack_errno(&[0u8; 8]), None);
    }

    #[test]
    fn datagrams_split_into_messages() {
        let first = Msg::dump(libc::RTM_GETLINK, 1).bytes(&[1, 2, 3]).finish();
        let second = Msg::new(libc::RTM_NEWLINK, 0, 2).bytes(&[9; 4]).finish();
        let mut datagram = first.clone();
        datagram.resize(first.len().next_multiple_of(4), 0);
        datagram.extend_from_slice(&second);
        let msgs = split_messages(&datagram);
        assert_eq!(
            msgs,
            vec![
                (libc::RTM_GETLINK, &[1u8, 2, 3][..]),
                (libc::RTM_NEWLINK, &[9u8; 4][..])
            ]
        );
        // A dump asks for no ack: NLMSG_DONE ends it.
        let flags = u16_at(&first, 6);
        assert_eq!(flags & libc::NLM_F_ACK as u16, 0);
        assert_ne!(flags & libc::NLM_F_DUMP as u16, 0);
        // A header claiming more than the datagram holds ends the walk.
        assert_eq!(split_messages(&datagram[..first.len() + 20]).len(), 1);
        assert!(split_messages(&[0u8; 15]).is_empty());
    }
}
