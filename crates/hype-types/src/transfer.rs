//! What a disk exporter (vSphere, XCP-ng) reports while it copies a VM's
//! disks out, and what it hands back: one shape for every source, so the
//! job runner follows any of them the same way.

use std::path::PathBuf;

/// Where an export stands, sent on a watch channel as it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportProgress {
    /// `connecting`, `exporting`, `downloading`, `verifying` or `done`.
    pub phase: &'static str,
    pub bytes_done: u64,
    pub bytes_total: Option<u64>,
    pub files_done: u64,
    pub files_total: Option<u64>,
}

impl Default for ExportProgress {
    fn default() -> Self {
        Self {
            phase: "connecting",
            bytes_done: 0,
            bytes_total: None,
            files_done: 0,
            files_total: None,
        }
    }
}

/// One disk an exporter wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedDisk {
    /// The file, under the destination directory the exporter was given.
    pub path: PathBuf,
    /// The size the source declared for the disk.
    pub capacity_bytes: u64,
}
