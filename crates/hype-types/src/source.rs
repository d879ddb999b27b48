//! What is on an import source: the inventory request (which source, whose
//! credentials) and the VMs it answers with, so an operator can see what
//! to import before writing a job.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::image::Firmware;
use crate::job::{InvalidJob, JobKind};

/// The kinds of source hype imports from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Vsphere,
    Xcpng,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Vsphere => "vsphere",
            SourceKind::Xcpng => "xcpng",
        }
    }

    /// The job kind that imports from this source; its password rules
    /// (`HYPE_*_PASSWORD`, `--import-allow-host`) apply to the inventory too.
    pub fn job_kind(self) -> JobKind {
        match self {
            SourceKind::Vsphere => JobKind::VsphereExport,
            SourceKind::Xcpng => JobKind::XcpngExport,
        }
    }
}

/// `POST /api/v1/sources/inventory`: the source to list.
#[derive(Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryRequest {
    pub kind: SourceKind,
    /// vSphere: `https://HOST/sdk`; XCP-ng: the pool master, `https://HOST`.
    pub url: String,
    pub username: String,
    /// Without it, hyped's own `HYPE_VSPHERE_PASSWORD` / `HYPE_XCPNG_PASSWORD`,
    /// under the same rules as jobs (https, `--import-allow-host`).
    pub password: Option<String>,
    /// Accept the server's certificate without checking it.
    #[serde(default)]
    pub insecure: bool,
}

impl std::fmt::Debug for InventoryRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InventoryRequest")
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("insecure", &self.insecure)
            .finish()
    }
}

impl InventoryRequest {
    /// Checks what can be checked without the network (the same codes as
    /// a job's: `invalid_url`, `invalid_job`).
    pub fn validate(&self) -> Result<(), InvalidJob> {
        if !(self.url.starts_with("https://") || self.url.starts_with("http://")) {
            return Err(InvalidJob::unprocessable(
                "invalid_url",
                format!("url {:?} must start with https:// or http://", self.url),
            ));
        }
        if self.username.is_empty() {
            return Err(InvalidJob::unprocessable(
                "invalid_job",
                "`username` is required",
            ));
        }
        Ok(())
    }
}

/// The bus a source VM's disk is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiskBus {
    Virtio,
    Scsi,
    Sata,
    Ide,
    Nvme,
    /// Xen's paravirtual block device (XCP-ng), which an HVM guest without
    /// PV drivers sees as emulated IDE.
    Xen,
    /// A controller hype does not know.
    Other,
}

/// Whether the VM runs, as the source says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PowerState {
    On,
    Off,
    Suspended,
    Paused,
    Unknown,
}

impl PowerState {
    pub fn as_str(self) -> &'static str {
        match self {
            PowerState::On => "on",
            PowerState::Off => "off",
            PowerState::Suspended => "suspended",
            PowerState::Paused => "paused",
            PowerState::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SourceDisk {
    /// The disk's virtual size.
    pub size_bytes: u64,
    pub bus: DiskBus,
    /// Where it sits on its bus: vSphere `ControllerTypeBus:Unit`, XCP-ng
    /// the VBD's `userdevice`.
    pub slot: String,
    /// The disk's name on the source, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SourceNic {
    /// vSphere's device type without its prefix (`vmxnet3`, `e1000`,
    /// `e1000e`, ...); XCP-ng's `xen` (netfront, emulated until PV drivers
    /// load).
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// The network (port group, XAPI network) it is connected to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}

/// One VM (or template) of a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SourceVm {
    pub name: String,
    /// vSphere: the inventory path a job's `vm` takes (`/dc/vm/folder/name`),
    /// when every ancestor could be named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// vSphere: the BIOS uuid; XCP-ng: the VM's uuid (a job's `vm` takes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    pub power_state: PowerState,
    /// The guest OS as the source names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_os: Option<String>,
    /// Absent when the source names a firmware hype does not know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<Firmware>,
    /// A template, which a job cannot export as a VM.
    pub template: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    /// In the source's order (the boot disk first on XCP-ng).
    pub disks: Vec<SourceDisk>,
    pub nics: Vec<SourceNic>,
}

/// The answer of `POST /api/v1/sources/inventory`: VMs sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Inventory {
    pub kind: SourceKind,
    pub url: String,
    pub vms: Vec<SourceVm>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_refuses_unknown_fields_and_bad_urls() {
        let bad: Result<InventoryRequest, _> = serde_json::from_value(serde_json::json!({
            "kind": "vsphere", "url": "https://vc/sdk", "username": "u", "vm": "x"
        }));
        assert!(bad.unwrap_err().to_string().contains("unknown field `vm`"));
        let r: InventoryRequest = serde_json::from_value(serde_json::json!({
            "kind": "xcpng", "url": "ftp://x", "username": "u", "password": "pw-123"
        }))
        .unwrap();
        assert_eq!(r.validate().unwrap_err().code, "invalid_url");
        assert!(!format!("{r:?}").contains("pw-123"));
        let r = InventoryRequest {
            url: "https://x".into(),
            username: String::new(),
            ..r
        };
        assert_eq!(r.validate().unwrap_err().code, "invalid_job");
    }
}
