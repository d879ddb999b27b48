//! A fork's new identity. A fork resumes from its snapshot's memory, so its
//! kernel still has the source VM's address, MAC, hostname, random pool and
//! clock, and its CDP relay the source's clients' connections; the host
//! sends the new VM's identity before the fork counts as running.
//! Each step is tried even when an earlier one failed, and the answer names
//! every failure, so a half-moved guest is never reported as moved.

use std::fs::OpenOptions;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;

use hype_agent_proto::GuestMessage;
use nix::libc;
use nix::net::if_::if_nametoindex;
use nix::sys::time::TimeSpec;
use nix::time::{clock_settime, ClockId};

use crate::log;
use crate::net::{self, Netlink};
use crate::netinfo;

/// What `Reconfigure` asks for.
#[derive(Debug, PartialEq, Eq)]
pub struct Identity {
    pub hostname: String,
    pub address: Option<String>,
    pub gateway: Option<String>,
    pub mac: Option<String>,
    pub entropy: String,
    pub unix_time_ms: u64,
}

/// Applies `id`'s identity and answers with what failed, if anything.
pub fn apply(req_id: u64, id: Identity) -> GuestMessage {
    let mut failed: Vec<String> = Vec::new();
    // Randomness first: whatever runs next (Chromium's new processes too)
    // must draw from a pool no other fork shares.
    if let Err(e) = reseed(&id.entropy) {
        failed.push(format!("reseed the random pool: {e}"));
    }
    let ms = id.unix_time_ms;
    let now = TimeSpec::new((ms / 1000) as i64, ((ms % 1000) * 1_000_000) as i64);
    if let Err(e) = clock_settime(ClockId::CLOCK_REALTIME, now) {
        failed.push(format!("set the clock: {e}"));
    }
    if let Err(e) = nix::unistd::sethostname(&id.hostname) {
        failed.push(format!("set the hostname: {e}"));
    }
    if let Err(e) = move_network(&id) {
        failed.push(e);
    }
    let closed = crate::cdp::close_inherited();
    if closed > 0 {
        log!("reconfigure: closed {closed} CDP connection(s) of the source VM's clients");
    }
    GuestMessage::Reconfigured {
        id: req_id,
        error: (!failed.is_empty()).then(|| failed.join("; ")),
    }
}

nix::ioctl_write_ptr_bad!(
    rnd_add_entropy,
    nix::request_code_write!(b'R', 0x03, std::mem::size_of::<[libc::c_int; 2]>()),
    u8
);
nix::ioctl_none_bad!(rnd_reseed_crng, nix::request_code_none!(b'R', 0x07));

/// Mixes `hex` into the kernel's pool, credited, and reseeds the CRNG at
/// once (RNDADDENTROPY, RNDRESEEDCRNG) rather than at its next interval.
fn reseed(hex: &str) -> Result<(), String> {
    let bytes = decode_hex(hex).ok_or("entropy is not hex")?;
    if bytes.len() < 32 {
        return Err(format!("{} bytes of entropy; 32 at least", bytes.len()));
    }
    // struct rand_pool_info { int entropy_count; int buf_size; u32 buf[]; }
    let mut info = Vec::with_capacity(8 + bytes.len());
    info.extend_from_slice(&((bytes.len() * 8) as libc::c_int).to_ne_bytes());
    info.extend_from_slice(&(bytes.len() as libc::c_int).to_ne_bytes());
    info.extend_from_slice(&bytes);
    let random = OpenOptions::new()
        .write(true)
        .open("/dev/urandom")
        .map_err(|e| format!("open /dev/urandom: {e}"))?;
    // SAFETY: `info` is a complete rand_pool_info of `buf_size` bytes, alive
    // for the call; the kernel only reads it.
    unsafe { rnd_add_entropy(random.as_raw_fd(), info.as_ptr()) }
        .map_err(|e| format!("RNDADDENTROPY: {e}"))?;
    // SAFETY: takes no argument.
    unsafe { rnd_reseed_crng(random.as_raw_fd()) }.map_err(|e| format!("RNDRESEEDCRNG: {e}"))?;
    Ok(())
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// eth0 takes the new MAC and address (the old ones go) and the default
/// route. The guest announces nothing: the host pins each lease's address
/// to its MAC (hype-net's neighbour entries), and guests never talk to
/// each other.
fn move_network(id: &Identity) -> Result<(), String> {
    let Some(address) = &id.address else {
        return Ok(());
    };
    let (addr, prefix) = parse_cidr(address).ok_or(format!("bad address {address:?}"))?;
    let gateway = match &id.gateway {
        Some(g) => Some(
            g.parse::<Ipv4Addr>()
                .map_err(|_| format!("bad gateway {g:?}"))?,
        ),
        None => None,
    };
    let index = if_nametoindex("eth0").map_err(|e| format!("eth0: {e}"))?;
    let mut nl = Netlink::open().map_err(|e| e.to_string())?;
    if let Some(mac) = &id.mac {
        let mac = parse_mac(mac).ok_or(format!("bad MAC {mac:?}"))?;
        nl.request("set MAC", &net::set_mac(1, index, mac))
            .map_err(|e| e.to_string())?;
    }
    // The old address goes first: added after it, the new one would be
    // its secondary in the same subnet, and go with it.
    let old = netinfo::ipv4_addresses(&mut nl, index).map_err(|e| e.to_string())?;
    for (a, p) in old.into_iter().filter(|(a, _)| *a != addr) {
        nl.request("remove old address", &net::del_addr(3, index, a, p))
            .map_err(|e| e.to_string())?;
    }
    nl.request("add address", &net::add_addr(2, index, addr, prefix))
        .map_err(|e| e.to_string())?;
    if let Some(gw) = gateway {
        nl.request("add default route", &net::add_default_route(4, index, gw))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn parse_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (a, p) = s.split_once('/')?;
    let p: u8 = p.parse().ok()?;
    (p <= 32).then_some(())?;
    Some((a.parse().ok()?, p))
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = s
        .split(':')
        .map(|p| {
            (p.len() == 2)
                .then(|| u8::from_str_radix(p, 16).ok())
                .flatten()
        })
        .collect::<Option<_>>()?;
    parts.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_host_sends() {
        assert_eq!(decode_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("0"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(
            parse_cidr("10.0.0.7/24"),
            Some((Ipv4Addr::new(10, 0, 0, 7), 24))
        );
        assert_eq!(parse_cidr("10.0.0.7/33"), None);
        assert_eq!(parse_cidr("10.0.0.7"), None);
        assert_eq!(
            parse_mac("52:54:00:0a:0b:ff"),
            Some([0x52, 0x54, 0, 0x0a, 0x0b, 0xff])
        );
        assert_eq!(parse_mac("52:54:00:0a:0b"), None);
        assert_eq!(parse_mac("52:54:00:0a:0b:f"), None);
    }
}
