//! The Chrome DevTools Protocol as hyped needs it: rewriting the browser's
//! discovery documents so their URLs point at hyped's proxy, and a small
//! CDP client (one WebSocket, request/response by id) for what hyped does
//! itself: screenshots, and the page actions of the MCP browser tools
//! ([`Page`], with the accessibility tree as text in [`axtree`]).
//!
//! It talks to one browser endpoint it is given and must not decide which:
//! the caller resolves a VM to its address, so nothing here can be pointed
//! elsewhere by a request.

pub mod axtree;
mod client;
mod conn;
mod discovery;
mod page;

pub use client::{
    connect_devtools, discover, open_socket, screenshot, CdpError, CdpSession, DevtoolsSocket,
    Discovery,
};
pub use conn::{CdpEvent, Connection, Pending};
pub use discovery::{rewrite_discovery, DevtoolsTarget};
pub use page::{modifiers, virtual_key, Button, ImageFormat, Page};

/// The port hype-agent's CDP relay listens on in the guest.
pub const GUEST_CDP_PORT: u16 = 9222;
