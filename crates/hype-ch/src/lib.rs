//! `hype-ch` owns everything hype knows about cloud-hypervisor (CH) as an
//! external program: the typed client for its HTTP API on a unix socket, the
//! serde mirrors of its OpenAPI schema, the CH binaries embedded in hype and
//! their on-disk extraction, and parsing of `cloud-hypervisor --version`.
//! It must not know about hype's own model (VM records, the store, the
//! server's HTTP API) and must not decide policy such as which version to run
//! or where sockets live: callers pass paths and versions in. Nothing here
//! spawns long-lived processes; supervising a CH process belongs to the server.

pub mod api;
pub mod binaries;
pub mod client;
pub mod error;
pub mod version;

pub use binaries::{available_versions, extract, EmbeddedBinary, HOST_ARCH};
pub use client::{wait_for_socket, ChClient, DEFAULT_TIMEOUT};
pub use error::{BinaryError, ChError, VersionError};
pub use version::{external_binary, parse_version, ChVersion, ExternalBinary, KNOWN_VERSIONS};
