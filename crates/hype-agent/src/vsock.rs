//! The channel over vsock, for VMMs without virtio-serial (cloud-hypervisor).
//!
//! The guest listens and the host connects through CH's hybrid vsock socket
//! whenever it likes, as often as it likes. Unlike the virtio-serial port a
//! socket's EOF ends the connection for good, so every accepted connection
//! is its own session and starts with `ready`. Only one host is expected: a
//! new connection shuts the previous one down, so a host that restarted
//! never competes with its own stale connection.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use hype_agent_proto::VSOCK_PORT;
use nix::errno::Errno;
use nix::sys::socket::{
    accept4, bind, listen, shutdown, socket, AddressFamily, Backlog, Shutdown, SockFlag, SockType,
    VsockAddr,
};

use crate::channel::Session;
use crate::error::Error;
use crate::log;

/// Serves connections until the listener itself fails, and returns why.
pub fn serve(ready_line: &[u8]) -> Error {
    let listener = match open_listener(VSOCK_PORT) {
        Ok(fd) => fd,
        Err(e) => return e,
    };
    log!("listening on vsock port {VSOCK_PORT}");
    let mut previous: Option<OwnedFd> = None;
    loop {
        let conn = match accept4(listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC) {
            // SAFETY: accept4 just returned this descriptor and nothing else owns it.
            Ok(raw) => unsafe { OwnedFd::from_raw_fd(raw) },
            // The peer gave up between SYN and accept, or a signal: not the
            // listener's fault.
            Err(Errno::EINTR | Errno::ECONNABORTED) => continue,
            Err(source) => {
                return Error::Vsock {
                    what: "accept",
                    port: VSOCK_PORT,
                    source,
                }
            }
        };
        if let Some(old) = previous.take() {
            // Wakes the old session's reader with EOF, which ends it.
            let _ = shutdown(old.as_raw_fd(), Shutdown::Both);
        }
        previous = conn.try_clone().ok();
        let line = ready_line.to_vec();
        let spawned = std::thread::Builder::new()
            .name("agent-vsock".into())
            .spawn(move || serve_connection(conn, &line));
        if let Err(e) = spawned {
            log!("cannot start a vsock session: {e}");
        }
    }
}

fn open_listener(port: u32) -> Result<OwnedFd, Error> {
    let fail = |what| move |source| Error::Vsock { what, port, source };
    let fd = socket(
        AddressFamily::Vsock,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(fail("socket"))?;
    // Any CID: the guest's own is whatever the VMM assigned.
    let addr = VsockAddr::new(nix::libc::VMADDR_CID_ANY, port);
    bind(fd.as_raw_fd(), &addr).map_err(fail("bind"))?;
    listen(&fd, Backlog::new(4).map_err(fail("listen"))?).map_err(fail("listen"))?;
    Ok(fd)
}

fn serve_connection(conn: OwnedFd, ready_line: &[u8]) {
    let mut session = match Session::new(File::from(conn)) {
        Ok(session) => session,
        Err(e) => {
            log!("vsock session: {e}");
            return;
        }
    };
    log!("host connected over vsock");
    session.send(ready_line.to_vec());
    session.attach_notices();
    match session.run_until_eof(ready_line) {
        Ok(()) => log!("host disconnected from vsock"),
        Err(e) => log!("vsock session: {e}"),
    }
}
