//! Import jobs: the submission body (one job or `jobs: [...]`), its
//! validation (`validate`), and the job and job-event shapes the API
//! answers with (`answer`).

mod answer;
mod validate;

pub use answer::{
    Job, JobEvent, JobEventType, JobFile, JobProgress, JobResult, JobResume, JobSource,
    ResumedFile, AWAITING_PASSWORD,
};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::image::{Firmware, NicModel, StorageBus};
use crate::vm::validate_name;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    VsphereExport,
    XcpngExport,
    /// An OVF folder on hyped's host (an export-only job's output).
    Ovf,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::VsphereExport => "vsphere_export",
            JobKind::XcpngExport => "xcpng_export",
            JobKind::Ovf => "ovf",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [JobKind::VsphereExport, JobKind::XcpngExport, JobKind::Ovf]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    /// The variable of hyped's environment a missing password comes from.
    pub fn password_env(self) -> &'static str {
        match self {
            JobKind::VsphereExport => "HYPE_VSPHERE_PASSWORD",
            JobKind::XcpngExport => "HYPE_XCPNG_PASSWORD",
            // A local folder needs none; `needs_password` keeps it from asking.
            JobKind::Ovf => "",
        }
    }

    /// The image `source` recorded for what this kind imports.
    pub fn image_source(self) -> &'static str {
        match self {
            JobKind::VsphereExport => "vsphere",
            JobKind::XcpngExport => "xcpng",
            JobKind::Ovf => "ovf",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 5] = [
        JobState::Pending,
        JobState::Running,
        JobState::Completed,
        JobState::Failed,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Completed | JobState::Failed | JobState::Cancelled
        )
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an imported full-disk image boots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BootMode {
    /// QEMU's own firmware (SeaBIOS or OVMF) boots the disk's boot loader.
    #[default]
    Firmware,
    /// hype's kernel with `root=` on the disk.
    Kernel,
}

impl BootMode {
    pub fn as_str(self) -> &'static str {
        match self {
            BootMode::Firmware => "firmware",
            BootMode::Kernel => "kernel",
        }
    }
}

/// How an XCP-ng disk travels: XAPI's raw VDI export, or a whole-VM XVA.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum XcpngTransport {
    #[default]
    Raw,
    Xva,
}

/// One job as submitted (JSON or YAML), by its source: `kind` says which,
/// and each source takes only its own options (an option of another source
/// is an unknown field). `password` is optional: without it hyped uses
/// `HYPE_VSPHERE_PASSWORD` / `HYPE_XCPNG_PASSWORD` from its own
/// environment. Never echoed back.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobSpec {
    /// A VM exported from vCenter or ESXi as OVF.
    VsphereExport(VsphereJob),
    /// A VM's disk exported from XCP-ng (raw VDI or XVA), or a local XVA.
    XcpngExport(XcpngJob),
    /// An OVF folder on hyped's host, as an export-only job leaves it.
    Ovf(OvfJob),
}

/// Each variant's schema is its source's own object with `kind` added to
/// its properties. (Derived, it would be `allOf` the source's schema and a
/// `kind` object, which the source's `additionalProperties: false` makes
/// unsatisfiable: no body could match it.)
impl utoipa::PartialSchema for JobSpec {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
        use utoipa::openapi::RefOr;
        fn tagged<T: utoipa::PartialSchema>(kind: JobKind, doc: &str) -> Schema {
            let RefOr::T(Schema::Object(mut obj)) = T::schema() else {
                unreachable!("a source's options derive an object schema")
            };
            let tag = ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([kind.as_str()]));
            obj.properties.insert("kind".into(), tag.into());
            obj.required.insert(0, "kind".into());
            obj.description = Some(doc.into());
            Schema::Object(obj)
        }
        OneOfBuilder::new()
            .description(Some(
                "One job as submitted (JSON or YAML), by its source: `kind` says which, and \
                 each source takes only its own options. `password` is optional: without it \
                 hyped uses `HYPE_VSPHERE_PASSWORD` / `HYPE_XCPNG_PASSWORD` from its own \
                 environment. Never echoed back.",
            ))
            .item(tagged::<VsphereJob>(
                JobKind::VsphereExport,
                "A VM exported from vCenter or ESXi as OVF.",
            ))
            .item(tagged::<XcpngJob>(
                JobKind::XcpngExport,
                "A VM's disk exported from XCP-ng (raw VDI or XVA), or a local XVA.",
            ))
            .item(tagged::<OvfJob>(
                JobKind::Ovf,
                "An OVF folder on hyped's host (`.ovf`, disks, `.mf`), as an export-only job leaves it.",
            ))
            .into()
    }
}

impl ToSchema for JobSpec {
    fn name() -> std::borrow::Cow<'static, str> {
        "JobSpec".into()
    }
}

/// A vSphere export.
#[derive(Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VsphereJob {
    /// The image to register; defaults to the source VM's name, sanitised.
    pub name: Option<String>,
    /// The SDK endpoint, `https://HOST/sdk`.
    pub url: String,
    pub username: String,
    pub password: Option<String>,
    /// The VM's inventory path or name.
    pub vm: String,
    /// Accept the server's certificate without checking it.
    #[serde(default)]
    pub insecure: bool,
    /// Shut the VM down (guest first) before exporting it.
    #[serde(default)]
    pub shutdown: bool,
    /// Remove its CD-ROM drives before exporting.
    #[serde(default)]
    pub remove_cdrom: bool,
    /// Disks downloaded at once, 1 to 16.
    pub parallel_downloads: Option<u32>,
    #[serde(default)]
    pub boot: BootMode,
    /// The firmware the image boots with (`bios` or `uefi`); by default
    /// what the source VM declares.
    pub firmware: Option<Firmware>,
    /// The bus of every disk on QEMU (`virtio`, `scsi`, `sata`, `ide`); by
    /// default each disk's own on the source.
    pub disk_bus: Option<StorageBus>,
    /// The NIC on QEMU (`virtio`, `e1000`); by default what the source had.
    pub nic_model: Option<NicModel>,
    /// Keep what vSphere gave (`.ovf`, every disk, `.mf`, digests checked)
    /// in `output` instead of making an image.
    #[serde(default)]
    pub export_only: bool,
    /// With `export_only`: a directory to create under hyped's `--export-dir`.
    pub output: Option<String>,
}

/// An XCP-ng export: `url`, `username` and `vm` of a live host, or `xva`,
/// a local file.
#[derive(Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct XcpngJob {
    /// The image to register; defaults to the source VM's name, sanitised.
    pub name: Option<String>,
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The VM's name label or uuid.
    pub vm: Option<String>,
    /// A local `.xva` file on hyped's host instead of url/vm.
    pub xva: Option<String>,
    /// `raw` (per-VDI export, default) or `xva`.
    pub transport: Option<XcpngTransport>,
    /// Accept the server's certificate without checking it.
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub boot: BootMode,
    /// The firmware the image boots with (`bios` or `uefi`); by default
    /// what the source VM declares.
    pub firmware: Option<Firmware>,
    /// The bus of every disk on QEMU (`virtio`, `scsi`, `sata`, `ide`); by
    /// default each disk's own on the source.
    pub disk_bus: Option<StorageBus>,
    /// The NIC on QEMU (`virtio`, `e1000`); by default what the source had.
    pub nic_model: Option<NicModel>,
    /// Keep the VM's raw disks (also when `transport` is `xva`: the disks
    /// it holds), an OVF descriptor hype writes and a `.mf` in `output`
    /// instead of making an image.
    #[serde(default)]
    pub export_only: bool,
    /// With `export_only`: a directory to create under hyped's `--export-dir`.
    pub output: Option<String>,
}

/// An OVF folder on hyped's host: the `.ovf`, its disks and the `.mf`
/// whose digests are checked. It must lie inside `--export-dir` or
/// `--import-dir`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OvfJob {
    /// The image to register; defaults to the folder's name, sanitised.
    pub name: Option<String>,
    /// The folder holding one `.ovf` and one `.mf`.
    pub path: String,
    #[serde(default)]
    pub boot: BootMode,
    /// The firmware the image boots with; by default what the OVF says
    /// (`vmw:Config firmware`), else BIOS.
    pub firmware: Option<Firmware>,
    /// The bus of every disk on QEMU (`virtio`, `scsi`, `sata`, `ide`); by
    /// default each disk's own on the source.
    pub disk_bus: Option<StorageBus>,
    /// The NIC on QEMU (`virtio`, `e1000`); by default what the source had.
    pub nic_model: Option<NicModel>,
}

/// `POST /api/v1/jobs/{id}/resume`: the password of a job a restart left
/// waiting for it ([`AWAITING_PASSWORD`]). Held in memory for the run, as a
/// submitted job's; never stored, never printed.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumeJob {
    pub password: String,
}

impl std::fmt::Debug for ResumeJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResumeJob")
            .field("password", &"<redacted>")
            .finish()
    }
}

impl std::fmt::Debug for JobSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let src = self.source();
        f.debug_struct("JobSpec")
            .field("kind", &self.kind())
            .field("name", &self.name())
            .field("url", &src.url)
            .field("username", &src.username)
            .field("password", &self.password().map(|_| "<redacted>"))
            .field("vm", &src.vm)
            .field("xva", &src.xva)
            .finish_non_exhaustive()
    }
}

/// `jobs: [...]`: several jobs, all stored or none.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobBatch {
    pub jobs: Vec<JobSpec>,
}

/// Why a submission was refused; `index` is the job's place in a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", index.map(|i| format!("jobs[{i}]: ")).unwrap_or_default())]
pub struct InvalidJob {
    pub index: Option<usize>,
    pub code: &'static str,
    pub message: String,
    /// The job was read (it is a job of a known kind with known fields of
    /// the right types) but its values cannot be done: 422, not 400.
    pub unprocessable: bool,
}

impl InvalidJob {
    /// A body that does not read as a job.
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            index: None,
            code,
            message: message.into(),
            unprocessable: false,
        }
    }

    /// A job that reads but whose values cannot be done.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            unprocessable: true,
            ..Self::new(code, message)
        }
    }

    pub fn at(mut self, i: usize) -> Self {
        self.index = Some(i);
        self
    }
}

/// Most jobs a batch may hold.
pub const MAX_BATCH: usize = 64;

/// Parses a submission body: one job or `{"jobs": [...]}`. Errors name the
/// job's index and serde's own reason (unknown field, wrong type).
pub fn parse_submission(value: serde_json::Value) -> Result<Vec<JobSpec>, InvalidJob> {
    let bad = |e: serde_json::Error| InvalidJob::new("invalid_job", e.to_string());
    let specs = match &value {
        serde_json::Value::Object(m) if m.contains_key("jobs") => {
            let items = match m.get("jobs") {
                Some(serde_json::Value::Array(items)) if m.len() == 1 => items.clone(),
                Some(serde_json::Value::Array(_)) => {
                    return Err(InvalidJob::new(
                        "invalid_job",
                        "a batch has only the field `jobs`",
                    ))
                }
                _ => return Err(InvalidJob::new("invalid_job", "`jobs` must be a list")),
            };
            if items.is_empty() {
                return Err(InvalidJob::new("invalid_job", "`jobs` is empty"));
            }
            if items.len() > MAX_BATCH {
                return Err(InvalidJob::new(
                    "invalid_job",
                    format!("at most {MAX_BATCH} jobs per batch"),
                ));
            }
            let mut out: Vec<JobSpec> = vec![];
            for (i, item) in items.into_iter().enumerate() {
                out.push(serde_json::from_value(item).map_err(|e| bad(e).at(i))?);
            }
            out
        }
        serde_json::Value::Object(_) => vec![serde_json::from_value(value).map_err(bad)?],
        _ => {
            return Err(InvalidJob::new(
                "invalid_job",
                "the body must be a job (a mapping) or {jobs: [...]}",
            ))
        }
    };
    for (i, s) in specs.iter().enumerate() {
        s.validate()
            .map_err(|e| if specs.len() > 1 { e.at(i) } else { e })?;
    }
    Ok(specs)
}

/// Turns a VM name into an image name: lower case, `[a-z0-9-]`, at most 63.
pub fn sanitize_image_name(raw: &str) -> Option<String> {
    let last = raw.rsplit('/').next().unwrap_or(raw);
    let last = last.strip_suffix(".xva").unwrap_or(last);
    let mut out = String::new();
    for c in last.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out: String = out.chars().take(63).collect();
    let out = out.trim_end_matches('-').to_owned();
    validate_name(&out).is_ok().then_some(out)
}

#[cfg(test)]
mod tests;
