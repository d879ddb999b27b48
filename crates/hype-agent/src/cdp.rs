//! The guest's public DevTools port: a TCP relay from 0.0.0.0:9222 to
//! Chromium's loopback-only 127.0.0.1:9223. Chromium binds loopback because
//! it serves anyone who connects; the VM's network is the access boundary,
//! and the relay is the one door through it.
//!
//! Chromium checks two headers. It answers HTTP only when `Host` is an IP
//! address or `localhost` (against DNS rebinding), and it refuses WebSocket
//! upgrades that carry an `Origin` unless told which origins to allow. So the
//! relay edits the first request of each connection: `Origin` is dropped,
//! and a `Host` that is a name is replaced by the address the client reached
//! (`<guest IP>:9222`). A `Host` that already is an IP address or localhost
//! is kept as it is: Chromium builds `webSocketDebuggerUrl` from it, so the
//! client gets back a URL that leads to where it came from (through a port
//! forward too), not Chromium's private 127.0.0.1:9223. After that first
//! request's headers, bytes are copied both ways untouched (a CDP client
//! upgrades to a WebSocket on that first request, or uses a new connection).
//!
//! Because it drops `Origin`, the relay serves only hyped: connections from
//! any address but the gateway (the host's bridge address, where hyped and
//! its CDP proxy connect from) are closed unread. A page inside the sandbox
//! reaching for its own port 9222 (through DNS rebinding, say) comes from
//! the guest's own address and gets nothing; Chromium's port on loopback
//! keeps its own Host and Origin checks (no `--remote-allow-origins`).

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::browser::DEVTOOLS_PORT;
use crate::error::Error;
use crate::log;

/// The port clients connect to, on every guest address.
pub const PUBLIC_PORT: u16 = 9222;
/// Request heads are a few hundred bytes; anything this big is not a client.
const MAX_HEAD: usize = 16 * 1024;
/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// The connections the relay carries, by number: both sockets of each, so
/// that a fork can close the ones it inherited ([`close_inherited`]).
static OPEN: Mutex<BTreeMap<u64, Vec<TcpStream>>> = Mutex::new(BTreeMap::new());
static NEXT: AtomicU64 = AtomicU64::new(0);

/// Notes `socket` as part of connection `id` (a clone: shutting it down
/// ends the relay's copies).
fn track(id: u64, socket: &TcpStream) -> io::Result<()> {
    let clone = socket.try_clone()?;
    let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
    open.entry(id).or_default().push(clone);
    Ok(())
}

fn untrack(id: u64) {
    let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
    open.remove(&id);
}

/// Closes every connection the relay carries now; returns how many. A fork
/// calls it as it takes its identity: those connections are the source
/// VM's clients' (hyped's watchers of it, say), none of which can reach the
/// fork, and while they stay open Chromium keeps their sessions attached. A
/// session that auto-attaches with `waitForDebuggerOnStart` then holds every
/// new page of the fork paused until its TCP connection times out, minutes
/// later.
pub fn close_inherited() -> usize {
    let taken = {
        let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *open)
    };
    for socket in taken.values().flatten() {
        let _ = socket.shutdown(Shutdown::Both);
    }
    taken.len()
}

/// Binds the public port and serves it, to `gateway` only, from a thread
/// of its own. Without a gateway (no network) nothing can be served.
pub fn spawn_relay(gateway: Option<Ipv4Addr>) -> Result<(), Error> {
    let Some(gateway) = gateway else {
        log!("cdp relay: no gateway on the command line; not listening");
        return Ok(());
    };
    let listen = SocketAddr::from((Ipv4Addr::UNSPECIFIED, PUBLIC_PORT));
    let listener = TcpListener::bind(listen).map_err(|source| Error::Relay {
        what: "bind 0.0.0.0:9222",
        source,
    })?;
    std::thread::Builder::new()
        .name("cdp-relay".into())
        .spawn(move || {
            let mut refused: u64 = 0;
            for conn in listener.incoming() {
                match conn {
                    Ok(client) if from_gateway(&client, gateway) => spawn_connection(client),
                    Ok(client) => {
                        // A hostile page can retry in a loop: say it once
                        // and then every thousandth time.
                        if refused.is_multiple_of(1000) {
                            let peer = client.peer_addr().map(|a| a.to_string());
                            log!(
                                "cdp relay: refused a connection from {} (only {gateway} is served; {} refused so far)",
                                peer.unwrap_or_else(|e| e.to_string()),
                                refused + 1
                            );
                        }
                        refused += 1;
                        drop(client);
                    }
                    Err(e) => {
                        log!("cdp relay: accept: {e}");
                        // EMFILE and friends: let things settle.
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        })
        .map_err(|source| Error::Thread {
            what: "the CDP relay",
            source,
        })?;
    log!("cdp relay: 0.0.0.0:{PUBLIC_PORT} -> 127.0.0.1:{DEVTOOLS_PORT}, for {gateway} only");
    Ok(())
}

fn from_gateway(client: &TcpStream, gateway: Ipv4Addr) -> bool {
    matches!(client.peer_addr(), Ok(peer) if peer.ip() == IpAddr::V4(gateway))
}

fn spawn_connection(client: TcpStream) {
    let spawned = std::thread::Builder::new()
        .name("cdp-conn".into())
        .spawn(move || {
            let upstream = SocketAddrV4::new(Ipv4Addr::LOCALHOST, DEVTOOLS_PORT);
            if let Err(e) = relay(client, upstream) {
                log!("cdp relay: {e}");
            }
        });
    if let Err(e) = spawned {
        log!("cdp relay: no thread for a connection: {e}");
    }
}

fn relay(client: TcpStream, upstream: SocketAddrV4) -> io::Result<()> {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let relayed = track(id, &client).and_then(|()| relay_tracked(id, client, upstream));
    untrack(id);
    relayed
}

fn relay_tracked(id: u64, mut client: TcpStream, upstream: SocketAddrV4) -> io::Result<()> {
    client.set_read_timeout(Some(HEAD_TIMEOUT))?;
    let (head, rest) = read_head(&mut client)?;
    client.set_read_timeout(None)?;
    let reached = client.local_addr()?;
    let head = rewrite_head(&head, &format!("{}:{}", reached.ip(), reached.port()));

    let mut upstream = TcpStream::connect(upstream)?;
    track(id, &upstream)?;
    upstream.write_all(head.as_bytes())?;
    upstream.write_all(&rest)?;

    // One direction on a helper thread, the other here; each end's write
    // side is shut when its source reaches EOF, so half-closes pass through.
    let mut client_w = client.try_clone()?;
    let mut upstream_r = upstream.try_clone()?;
    let back = std::thread::Builder::new()
        .name("cdp-back".into())
        .spawn(move || {
            let _ = io::copy(&mut upstream_r, &mut client_w);
            let _ = client_w.shutdown(Shutdown::Write);
        })?;
    let _ = io::copy(&mut client, &mut upstream);
    let _ = upstream.shutdown(Shutdown::Write);
    let _ = back.join();
    Ok(())
}

/// Reads until the end of the request head (`\r\n\r\n`). Returns the head
/// (as text, without the blank line) and whatever came after it.
fn read_head(stream: &mut impl Read) -> io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            buf.truncate(end);
            let head = String::from_utf8(buf).map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidData, "request head is not UTF-8")
            })?;
            return Ok((head, rest));
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head over 16 KiB",
            ));
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "client closed before a full request head",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The head as Chromium accepts it (see the module comment), with its
/// terminating blank line.
fn rewrite_head(head: &str, reached: &str) -> String {
    let mut out = String::with_capacity(head.len() + 32);
    for (i, line) in head.split("\r\n").enumerate() {
        if i > 0 {
            if let Some((name, value)) = line.split_once(':') {
                let name = name.trim();
                if name.eq_ignore_ascii_case("origin") {
                    continue;
                }
                if name.eq_ignore_ascii_case("host") && !host_is_accepted(value.trim()) {
                    out.push_str("Host: ");
                    out.push_str(reached);
                    out.push_str("\r\n");
                    continue;
                }
            }
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out
}

/// Chromium's own test: an IP literal (IPv6 in brackets) or localhost, with
/// or without a port.
fn host_is_accepted(host: &str) -> bool {
    let name = if let Some(bracketed) = host.strip_prefix('[') {
        return bracketed
            .split_once(']')
            .is_some_and(|(ip, _)| ip.parse::<IpAddr>().is_ok());
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.parse::<IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || name.to_ascii_lowercase().ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fork_closes_the_connections_it_inherited() {
        // Chromium's side, and a client connected through the relay.
        let chromium = TcpListener::bind("127.0.0.1:0").unwrap();
        let SocketAddr::V4(upstream) = chromium.local_addr().unwrap() else {
            unreachable!()
        };
        let public = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(public.local_addr().unwrap()).unwrap();
        let (accepted, _) = public.accept().unwrap();
        let relaying = std::thread::spawn(move || relay(accepted, upstream));
        client
            .write_all(b"GET /devtools/browser/x HTTP/1.1\r\nHost: localhost\r\n\r\nhi")
            .unwrap();
        let (mut session, _) = chromium.accept().unwrap();
        let mut got = vec![0u8; 128];
        let n = session.read(&mut got).unwrap();
        assert!(got[..n].starts_with(b"GET /devtools/browser/x"));
        session.write_all(b"yo").unwrap();
        let mut two = [0u8; 2];
        client.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"yo");

        assert!(close_inherited() >= 1);
        // Both ends see the connection end: Chromium drops the session.
        session
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut rest = Vec::new();
        session.read_to_end(&mut rest).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert_eq!(client.read(&mut two).unwrap(), 0);
        relaying.join().unwrap().unwrap();
        // A connection made after it is relayed as before.
        assert_eq!(close_inherited(), 0);
    }

    #[test]
    fn head_ends_at_the_blank_line() {
        let mut input: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\x81\x00";
        let (head, rest) = read_head(&mut input).unwrap();
        assert_eq!(head, "GET / HTTP/1.1\r\nHost: a");
        assert_eq!(rest, b"\x81\x00");
        let mut short: &[u8] = b"GET / HTTP/1.1\r\n";
        assert!(read_head(&mut short).is_err());
    }

    #[test]
    fn origin_goes_and_names_are_replaced() {
        let head = "GET /devtools/browser/x HTTP/1.1\r\nHost: vm1.example:9222\r\n\
                    Upgrade: websocket\r\nOrigin: http://evil\r\nsec-websocket-key: k";
        assert_eq!(
            rewrite_head(head, "10.0.0.5:9222"),
            "GET /devtools/browser/x HTTP/1.1\r\nHost: 10.0.0.5:9222\r\n\
             Upgrade: websocket\r\nsec-websocket-key: k\r\n\r\n"
        );
    }

    #[test]
    fn addresses_are_kept() {
        let head = "GET /json/version HTTP/1.1\r\nhost: 127.0.0.1:40123\r\norigin: x";
        assert_eq!(
            rewrite_head(head, "10.0.0.5:9222"),
            "GET /json/version HTTP/1.1\r\nhost: 127.0.0.1:40123\r\n\r\n"
        );
        for ok in [
            "127.0.0.1",
            "10.0.0.5:9222",
            "[::1]:9222",
            "localhost:1",
            "a.localhost",
        ] {
            assert!(host_is_accepted(ok), "{ok}");
        }
        for bad in ["vm1:9222", "example.com", "[vm]:1", ""] {
            assert!(!host_is_accepted(bad), "{bad}");
        }
    }
}
