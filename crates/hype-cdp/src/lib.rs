//! The Chrome DevTools Protocol as hyped needs it: rewriting the browser's
//! discovery documents so their URLs point at hyped's proxy, and a small
//! CDP client (one WebSocket, request/response by id) for what hyped does
//! itself, such as screenshots.
//!
//! It talks to one browser endpoint it is given and must not decide which:
//! the caller resolves a VM to its address, so nothing here can be pointed
//! elsewhere by a request.

mod client;
mod discovery;

pub use client::{screenshot, CdpError, CdpSession};
pub use discovery::rewrite_discovery;

/// The port hype-agent's CDP relay listens on in the guest.
pub const GUEST_CDP_PORT: u16 = 9222;
