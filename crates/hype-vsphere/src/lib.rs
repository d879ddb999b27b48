//! Exports a virtual machine from vCenter or ESXi as OVF: SOAP to `/sdk`
//! (login, finding the VM, optional guest shutdown and CD-ROM removal,
//! `ExportVm` and its `HttpNfcLease`), parallel resumable disk downloads,
//! then the OVF descriptor and its SHA256 manifest. It also reads OVF
//! descriptors back (`read_ovf`) and writes one for raw disks that have no
//! vSphere VM behind them (`write_raw_ovf`, for XCP-ng exports), so that
//! one format and one reader serve every exported folder.
//!
//! It owns only the files it creates under the destination it is given
//! (removed again on failure or cancel) and the lease it opens (completed
//! or aborted). It must not touch hype's store or images: registering the
//! result is the caller's job. The password never reaches a log or a
//! `Debug` output. An export stopped by its caller's shutdown can leave its
//! downloads behind (`keep_on_stop`) for a later run to take up (`resume`),
//! which checks the kept bytes before continuing after them.

mod browse;
mod download;
mod error;
mod export;
mod inventory;
mod lease;
mod ovf;
mod ovf_read;
mod ovf_write;
pub mod resume;
mod soap;

use std::fmt;
use std::path::PathBuf;

pub use browse::list_vms;
pub use download::{limit_for as download_limit, MAX_FILE_BYTES};
pub use error::VsphereError;
pub use export::export;
pub use ovf_read::{read_ovf, OvfDiskFile, OvfRead};
pub use ovf_write::{write_raw_ovf, RawOvf, RawOvfDisk, RAW_FORMAT};
pub use soap::Fault;

/// What to export and how.
#[derive(Clone)]
pub struct ExportSpec {
    /// `https://host/sdk` (a bare `https://host` gets `/sdk`).
    pub url: String,
    pub username: String,
    pub password: String,
    /// Inventory path (`/dc/vm/folder/name`) or plain VM name.
    pub vm: String,
    /// Accept any server certificate (self-signed vCenter); off by default.
    pub insecure: bool,
    /// Shut the guest down first when the VM is powered on.
    pub shutdown: bool,
    /// Remove the VM's CD-ROM drives before the export.
    pub remove_cdrom: bool,
    /// Disks downloaded at once; 0 means the default.
    pub parallel_downloads: usize,
    /// Take up the disk files an interrupted export left in the
    /// destination (verified against their checkpoints) instead of
    /// refusing files that exist.
    pub resume: bool,
    /// When this token is cancelled by the time a failed export is undone,
    /// the disk files and their checkpoints stay for a later `resume`
    /// (hyped stopping); otherwise everything created is removed.
    pub keep_on_stop: Option<tokio_util::sync::CancellationToken>,
    /// Leave each disk's checkpoint sidecar after a whole download, for a
    /// caller that still works on the files and may be stopped while it
    /// does (it removes them with [`resume::forget`]); off, the
    /// destination holds only the `.ovf`, the disks and the `.mf`.
    pub keep_checkpoints: bool,
}

impl ExportSpec {
    pub const DEFAULT_PARALLEL_DOWNLOADS: usize = 4;

    pub fn new(url: &str, username: &str, password: &str, vm: &str) -> Self {
        Self {
            url: url.to_string(),
            username: username.to_string(),
            password: password.to_string(),
            vm: vm.to_string(),
            insecure: false,
            shutdown: false,
            remove_cdrom: false,
            parallel_downloads: Self::DEFAULT_PARALLEL_DOWNLOADS,
            resume: false,
            keep_on_stop: None,
            keep_checkpoints: false,
        }
    }
}

impl fmt::Debug for ExportSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportSpec")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("vm", &self.vm)
            .field("insecure", &self.insecure)
            .field("shutdown", &self.shutdown)
            .field("remove_cdrom", &self.remove_cdrom)
            .field("parallel_downloads", &self.parallel_downloads)
            .field("resume", &self.resume)
            .finish_non_exhaustive()
    }
}

pub use hype_types::{ExportProgress as Progress, ExportedDisk, Firmware};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOutcome {
    pub ovf: PathBuf,
    pub manifest: PathBuf,
    pub disks: Vec<ExportedDisk>,
    /// Each disk's bus (its controller's kind), in `disks`' order.
    pub buses: Vec<hype_types::DiskBus>,
    /// The VM's first NIC's model (`vmxnet3`, `e1000`, ...), if it has one.
    pub nic: Option<String>,
    /// The VM's `config.firmware`, when vSphere names one hype knows.
    pub firmware: Option<Firmware>,
}

/// vSphere's `config.firmware` (`bios` or `efi`) as hype's firmware; None
/// for a value it does not know, so the caller decides (vSphere itself
/// defaults to BIOS).
pub fn firmware(config: &str) -> Option<Firmware> {
    match config {
        "bios" => Some(Firmware::Bios),
        "efi" => Some(Firmware::Uefi),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vsphere_firmware_names_map_to_hype_s() {
        assert_eq!(firmware("efi"), Some(Firmware::Uefi));
        assert_eq!(firmware("bios"), Some(Firmware::Bios));
        assert_eq!(firmware("uefi"), None);
    }

    #[test]
    fn debug_never_shows_the_password() {
        let spec = ExportSpec::new("https://vc/sdk", "admin", "s3cr3t-pw", "/dc/vm/a");
        let out = format!("{spec:?}");
        assert!(!out.contains("s3cr3t-pw"), "{out}");
        assert!(out.contains("admin") && out.contains("<redacted>"));
    }
}
