//! The core of hyped: every action a user can take on VMs and images, as
//! plain async methods on [`Hype`] with typed results and one error type.
//!
//! It owns the orchestration: validating a create, choosing backend and
//! accelerator, launching, supervising each VMM (exit and guest readiness),
//! stopping gracefully, and reconciling with what survived a restart. It
//! decides lifecycle transitions and leaves their persistence and events to
//! `hype-store`. It must not know about HTTP, SSE or the CLI: the REST API,
//! the MCP tools and tests call the same methods, and nothing above the core
//! reaches the store (events, counts and consoles are read through [`Hype`]).
//! Import jobs (`jobs`) run here too: a bounded worker pool, cancellation,
//! registration of the image.

mod accel;
mod agent;
mod backends;
mod browser;
mod ch;
mod config;
mod console;
mod disk;
#[cfg(test)]
mod double;
mod error;
mod events;
mod exec;
mod files;
mod firmware;
mod fork;
mod guest;
mod images;
mod jobs;
mod lifetime;
mod live;
mod locks;
mod manager;
mod network;
mod paths;
mod plan;
mod pools;
mod ram;
mod reconcile;
mod recordings;
mod runtimes;
mod snapshots;
mod sources;
mod standby;
mod status;
mod streams;
mod supervisor;
#[cfg(test)]
mod tests;
mod view;
mod watch;

pub use config::{AccelChoice, CoreConfig, JailSettings, NetworkConfig};
pub use console::{ConsoleCursor, ConsoleTail};
pub use disk::DiskError;
pub use error::CoreError;
pub use exec::{ExecEvent, ExecInput, ExecOutput, ExecSession};
pub use files::FileDownload;
/// OVMF's default paths (Debian package `ovmf`), for front ends' defaults.
pub use hype_vmm::qemu::{OVMF_CODE, OVMF_VARS};
pub use lifetime::{CdpLease, CloseReason, CLOSE_EXPIRED};
pub use live::{LiveEvent, LiveFigures, LiveView};
pub use manager::Hype;
pub use sources::SourceError;

pub type Result<T, E = CoreError> = std::result::Result<T, E>;
