//! SOAP to a vSphere `/sdk` endpoint: envelopes, faults, managed object
//! references, the session, and the PropertyCollector.

mod client;
mod envelope;
pub mod property;
mod xml;

pub use client::{returnval, Client};
pub use envelope::{Fault, MoRef, Request};
pub use xml::{escape, Element};
