//! Persistent tap devices through /dev/net/tun. rtnetlink cannot create
//! taps (the tun driver refuses), so TUNSETIFF and TUNSETPERSIST it is; the
//! VMM later opens the tap by name.

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;

use crate::{NetError, Result};

const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;

/// `struct ifreq` with the flags member of its union; 40 bytes on Linux.
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
nix::ioctl_write_int_bad!(
    tunsetpersist,
    nix::request_code_write!(b'T', 203, std::mem::size_of::<libc::c_int>())
);

/// Creates (or reuses) the persistent tap `name`.
pub(crate) fn create_persistent(name: &str) -> Result<()> {
    let err = |op: &'static str| {
        let tap = name.to_owned();
        move |source| NetError::Tap { tap, op, source }
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map_err(err("open /dev/net/tun"))?;
    let mut req = IfReq {
        name: [0; 16],
        flags: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
        _pad: [0; 22],
    };
    if name.len() > 15 {
        return Err(NetError::Tap {
            tap: name.into(),
            op: "name longer than 15 bytes",
            source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
        });
    }
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: `req` is a valid ifreq for the duration of the call.
    unsafe { tunsetiff(file.as_raw_fd(), &req) }
        .map_err(|e| err("TUNSETIFF")(std::io::Error::from(e)))?;
    // SAFETY: TUNSETPERSIST takes an int by value.
    unsafe { tunsetpersist(file.as_raw_fd(), 1) }
        .map_err(|e| err("TUNSETPERSIST")(std::io::Error::from(e)))?;
    Ok(())
}
