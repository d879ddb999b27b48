//! `probe`: ICMP echo from inside the guest, so the host can check what a
//! guest reaches (its gateway, another VM) without a shell in the guest.
//!
//! A raw ICMP socket sees every ICMP packet the guest receives, including
//! other probes' replies and, on `lo`, our own requests; each probe therefore
//! uses its own identifier and accepts only an echo reply from the target
//! with that identifier and a sequence number it sent.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use hype_agent_proto::GuestMessage;
use nix::errno::Errno;
use nix::sys::socket::{
    recv, sendto, setsockopt, socket, sockopt, AddressFamily, MsgFlags, SockFlag, SockProtocol,
    SockType, SockaddrIn,
};
use nix::sys::time::{TimeVal, TimeValLike};

use crate::error::Error;

const TRIES: u16 = 3;
/// A host may ask for any u32 of milliseconds; each probe holds a thread, so
/// the wait is capped.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// Makes the requests recognisable in a packet capture.
const PAYLOAD: &[u8] = b"hype-agent probe";
const ICMP_ECHO_REPLY: u8 = 0;
const ICMP_ECHO_REQUEST: u8 = 8;

/// Starts away from 0 and 1, the identifiers a PID 1 `ping` would pick.
static NEXT_IDENT: AtomicU16 = AtomicU16::new(0x6879);

/// Runs one probe and builds its answer; blocks for up to the timeout.
pub fn run(id: u64, target: String, timeout_ms: u32) -> GuestMessage {
    match probe(&target, timeout_ms) {
        Ok(rtt) => GuestMessage::ProbeResult {
            id,
            target,
            reachable: rtt.is_some(),
            rtt_ms: rtt.map(|rtt| u64::try_from(rtt.as_millis()).unwrap_or(u64::MAX)),
            error: None,
        },
        Err(e) => failed(id, target, &e),
    }
}

/// The answer for a probe that could not be sent at all.
pub fn failed(id: u64, target: String, error: &Error) -> GuestMessage {
    GuestMessage::ProbeResult {
        id,
        target,
        reachable: false,
        rtt_ms: None,
        error: Some(error.to_string()),
    }
}

/// The round-trip time of the first echo reply, or None if none came back
/// in time. Tries are spread evenly over the timeout, and a reply to any of
/// them counts, timed from the request it answers.
fn probe(target: &str, timeout_ms: u32) -> Result<Option<Duration>, Error> {
    let addr: Ipv4Addr = target
        .parse()
        .map_err(|_| Error::ProbeTarget(target.to_string()))?;
    if timeout_ms == 0 {
        return Err(Error::ProbeTimeout);
    }
    let fail = |what| {
        move |source| Error::Probe {
            what,
            target: addr,
            source,
        }
    };
    let sock = socket(
        AddressFamily::Inet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::Icmp,
    )
    .map_err(fail("open an ICMP socket for"))?;
    let dest = SockaddrIn::from(SocketAddrV4::new(addr, 0));
    let ident = NEXT_IDENT.fetch_add(1, Ordering::Relaxed);
    let budget = Duration::from_millis(u64::from(timeout_ms)).min(MAX_WAIT);
    let started = Instant::now();
    let mut sent_at = Vec::with_capacity(usize::from(TRIES));
    let mut buf = [0u8; 1500];
    for seq in 1..=TRIES {
        let request = echo_request(ident, seq, PAYLOAD);
        sendto(sock.as_raw_fd(), &request, &dest, MsgFlags::empty())
            .map_err(fail("send an echo request to"))?;
        sent_at.push(Instant::now());
        let until = started + budget * u32::from(seq) / u32::from(TRIES);
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            // A zero receive timeout would mean "wait forever".
            let micros = i64::try_from(left.as_micros()).unwrap_or(i64::MAX).max(1);
            setsockopt(
                &sock,
                sockopt::ReceiveTimeout,
                &TimeVal::microseconds(micros),
            )
            .map_err(fail("set a receive timeout for"))?;
            let n = match recv(sock.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Ok(n) => n,
                Err(Errno::EAGAIN | Errno::EINTR) => continue,
                Err(source) => return Err(fail("receive replies from")(source)),
            };
            let answered = echo_reply_seq(&buf[..n], addr, ident)
                .and_then(|seq| sent_at.get(usize::from(seq).checked_sub(1)?));
            if let Some(sent) = answered {
                return Ok(Some(sent.elapsed()));
            }
        }
    }
    Ok(None)
}

/// An ICMP echo request, checksum filled in.
fn echo_request(ident: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![ICMP_ECHO_REQUEST, 0, 0, 0];
    packet.extend_from_slice(&ident.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(payload);
    let sum = checksum(&packet);
    packet[2..4].copy_from_slice(&sum.to_be_bytes());
    packet
}

/// The sequence number of `packet`, an IPv4 datagram as a raw socket hands
/// it over, if it is an echo reply from `from` carrying `ident`.
fn echo_reply_seq(packet: &[u8], from: Ipv4Addr, ident: u16) -> Option<u16> {
    let first = *packet.first()?;
    let header_len = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || header_len < 20 {
        return None;
    }
    let source: [u8; 4] = packet.get(12..16)?.try_into().ok()?;
    let icmp = packet.get(header_len..)?;
    let (ty, code) = (*icmp.first()?, *icmp.get(1)?);
    let reply_ident = u16::from_be_bytes(icmp.get(4..6)?.try_into().ok()?);
    let seq = u16::from_be_bytes(icmp.get(6..8)?.try_into().ok()?);
    let ours = Ipv4Addr::from(source) == from && reply_ident == ident;
    (ty == ICMP_ECHO_REPLY && code == 0 && ours).then_some(seq)
}

/// The Internet checksum (RFC 1071): the one's complement of the one's
/// complement sum of the big-endian 16-bit words, an odd last byte padded
/// with zero. The kernel does not fill it in for raw ICMP sockets.
fn checksum(data: &[u8]) -> u16 {
    let mut words = data.chunks_exact(2);
    let mut sum: u64 = words
        .by_ref()
        .map(|w| u64::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    if let [last] = words.remainder() {
        sum += u64::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // The fold above leaves at most 16 bits.
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_known_vectors() {
        // RFC 1071 section 3: the sum of these words is 0xddf2.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            !0xddf2
        );
        // A real IPv4 header (checksum field zeroed), checksum 0xb861.
        let header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&header), 0xb861);
        // An odd length pads with a zero byte.
        assert_eq!(
            checksum(&[0x12, 0x34, 0x56]),
            checksum(&[0x12, 0x34, 0x56, 0])
        );
        assert_eq!(checksum(&[]), 0xffff);
    }

    #[test]
    fn echo_requests_carry_a_valid_checksum() {
        // Type 8, id 0x1234, seq 1, no payload:
        // 0x0800 + 0x1234 + 0x0001 = 0x1a35, complemented 0xe5ca.
        let packet = echo_request(0x1234, 1, &[]);
        assert_eq!(packet, [8, 0, 0xe5, 0xca, 0x12, 0x34, 0x00, 0x01]);
        // A packet with a correct checksum sums to zero.
        assert_eq!(checksum(&echo_request(7, 3, PAYLOAD)), 0);
        assert_eq!(checksum(&echo_request(7, 3, b"odd")), 0);
    }

    fn reply(ty: u8, source: [u8; 4], ident: u16, seq: u16) -> Vec<u8> {
        let mut packet = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0];
        packet.extend_from_slice(&source);
        packet.extend_from_slice(&[10, 0, 0, 2]);
        let mut icmp = echo_request(ident, seq, PAYLOAD);
        icmp[0] = ty;
        packet.extend_from_slice(&icmp);
        packet
    }

    #[test]
    fn only_our_echo_replies_match() {
        let target = Ipv4Addr::new(10, 0, 0, 1);
        let ok = reply(ICMP_ECHO_REPLY, [10, 0, 0, 1], 0x6879, 2);
        assert_eq!(echo_reply_seq(&ok, target, 0x6879), Some(2));
        // Another probe's reply, a reply from elsewhere, our own request
        // looping back on lo: none of them.
        assert_eq!(echo_reply_seq(&ok, target, 0x687a), None);
        assert_eq!(
            echo_reply_seq(&ok, Ipv4Addr::new(10, 0, 0, 3), 0x6879),
            None
        );
        let request = reply(ICMP_ECHO_REQUEST, [10, 0, 0, 1], 0x6879, 2);
        assert_eq!(echo_reply_seq(&request, target, 0x6879), None);
        // IP options move the ICMP header.
        let mut with_options = ok.clone();
        with_options[0] = 0x46;
        with_options.splice(20..20, [1, 1, 1, 1]);
        assert_eq!(echo_reply_seq(&with_options, target, 0x6879), Some(2));
        // Truncated or not IPv4: no match, no panic.
        assert_eq!(echo_reply_seq(&ok[..25], target, 0x6879), None);
        assert_eq!(echo_reply_seq(&[], target, 0x6879), None);
        assert_eq!(echo_reply_seq(&[0x65; 40], target, 0x6879), None);
    }

    #[test]
    fn bad_requests_are_errors_not_probes() {
        let answer = run(4, "example.com".into(), 100);
        assert_eq!(
            answer,
            GuestMessage::ProbeResult {
                id: 4,
                target: "example.com".into(),
                reachable: false,
                rtt_ms: None,
                error: Some("probe target \"example.com\" is not an IPv4 address".into()),
            }
        );
        assert!(matches!(probe("10.0.0.1", 0), Err(Error::ProbeTimeout)));
    }
}
