//! Serial and virtio-console configuration (`ConsoleConfig`, `SerialConfig`).

use serde::{Deserialize, Serialize};

/// Where CH connects a guest console. Spelled exactly as CH's enum, hence the
/// capitalised variants on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConsoleMode {
    #[default]
    Off,
    Pty,
    Tty,
    File,
    Socket,
    Null,
}

/// The virtio-console device (`VmConfig.console`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleConfig {
    pub mode: ConsoleMode,
    /// Output file when `mode` is `File`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Unix socket path when `mode` is `Socket`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iommu: Option<bool>,
}

/// The legacy serial port (`VmConfig.serial`).
///
/// A separate type from [`ConsoleConfig`] because CH v53 gave the serial port
/// its own schema without `iommu`: sending that field for the serial port
/// would be rejected by a strict v53 schema.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SerialConfig {
    pub mode: ConsoleMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<String>,
}
