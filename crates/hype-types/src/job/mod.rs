//! Import jobs: the submission body (one job or `jobs: [...]`), its
//! validation (`validate`), and the job and job-event shapes the API
//! answers with (`answer`).

mod answer;
mod validate;

pub use answer::{Job, JobEvent, JobEventType, JobProgress, JobResume, JobSource, ResumedFile};

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
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<Vec<JobSpec>, InvalidJob> {
        parse_submission(v)
    }

    #[test]
    fn one_job_and_a_batch_parse() {
        let one = parse(
            json!({"kind":"xcpng_export","url":"https://h","username":"root",
            "vm":"Web 01","insecure":true}),
        )
        .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].image_name().as_deref(), Some("web-01"));
        let two = parse(json!({"jobs":[
            {"kind":"xcpng_export","xva":"/tmp/a.xva","name":"a"},
            {"kind":"vsphere_export","url":"https://vc/sdk","username":"u","vm":"/dc/vm/web01"}]}))
        .unwrap();
        assert_eq!(two[1].image_name().as_deref(), Some("web01"));
    }

    #[test]
    fn a_stored_job_comes_back_as_submitted_less_its_password() {
        let jobs = parse(json!({"jobs":[
            {"kind":"vsphere_export","url":"https://vc/sdk","username":"u","password":"pw",
             "vm":"/dc/vm/web01","insecure":true,"parallel_downloads":2,"export_only":true,
             "output":"/srv/x"},
            {"kind":"xcpng_export","url":"https://h","username":"root","vm":"w","transport":"xva"},
            {"kind":"ovf","path":"/srv/x","boot":"kernel"}]}))
        .unwrap();
        for j in jobs {
            let image = j.image_name().unwrap();
            let back = JobSpec::from_stored(j.kind(), &image, &j.source()).unwrap();
            assert_eq!(back.source(), j.source());
            assert_eq!(back.image_name(), Some(image));
            assert_eq!(back.password(), None);
        }
        let mut broken = parse(json!({"kind":"ovf","path":"/srv/x"})).unwrap()[0].source();
        broken.path = None;
        assert!(JobSpec::from_stored(JobKind::Ovf, "x", &broken).is_none());
    }

    #[test]
    fn bad_jobs_are_refused_with_their_index() {
        let e = parse(json!({"jobs":[
            {"kind":"xcpng_export","xva":"/tmp/a.xva"},
            {"kind":"xcpng_export","xva":"/tmp/b.xva","colour":"red"}]}))
        .unwrap_err();
        assert_eq!(e.index, Some(1));
        assert!(e.to_string().contains("unknown field `colour`"), "{e}");
        let e = parse(json!({"kind":"xcpng_export","url":"ftp://h","username":"u","vm":"v"}))
            .unwrap_err();
        assert_eq!(e.code, "invalid_url");
        let e = parse(json!({"kind":"xcpng_export","url":"https://h","vm":"v"})).unwrap_err();
        assert!(e.message.contains("username"), "{e}");
        // Each source takes only its own options.
        let e = parse(
            json!({"kind":"xcpng_export","url":"https://h","username":"u","vm":"v",
            "shutdown":true}),
        )
        .unwrap_err();
        assert!(e.message.contains("unknown field `shutdown`"), "{e}");
        let e = parse(
            json!({"kind":"vsphere_export","url":"https://vc/sdk","username":"u",
            "vm":"v","xva":"/a.xva"}),
        )
        .unwrap_err();
        assert!(e.message.contains("unknown field `xva`"), "{e}");
        let e = parse(json!({"kind":"vsphere_export","url":"https://vc/sdk","username":"u"}))
            .unwrap_err();
        assert!(e.message.contains("missing field `vm`"), "{e}");
        let e = parse(json!({"kind":"docker_export"})).unwrap_err();
        assert!(e.message.contains("unknown variant"), "{e}");
        let e = parse(json!({"kind":"xcpng_export","xva":"rel.xva"})).unwrap_err();
        assert!(e.message.contains("absolute"), "{e}");
        let e = parse(json!({"kind":"xcpng_export","xva":"/a.xva","name":"Bad_Name"})).unwrap_err();
        assert_eq!(e.code, "invalid_name");
        assert!(parse(json!({"jobs":[]})).is_err());
        assert!(parse(json!([1])).is_err());
    }

    #[test]
    fn the_password_is_never_shown() {
        let s = parse(
            json!({"kind":"xcpng_export","url":"https://h","username":"root",
            "password":"hunter2","vm":"v"}),
        )
        .unwrap()
        .remove(0);
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!serde_json::to_string(&s.source())
            .unwrap()
            .contains("hunter2"));
    }

    #[test]
    fn firmware_defaults_to_the_source_and_may_be_forced() {
        let job = |extra: serde_json::Value| {
            let mut v = json!({"kind":"xcpng_export","xva":"/tmp/a.xva"});
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            parse(v).map(|mut s| s.remove(0))
        };
        let plain = job(json!({})).unwrap();
        assert_eq!(plain.source().firmware, None);
        assert!(!serde_json::to_value(plain.source())
            .unwrap()
            .as_object()
            .unwrap()
            .contains_key("firmware"));
        let uefi = job(json!({"firmware":"uefi"})).unwrap();
        assert_eq!(uefi.source().firmware, Some(Firmware::Uefi));
        assert_eq!(
            serde_json::to_value(uefi.source()).unwrap()["firmware"],
            "uefi"
        );
        let bios = job(json!({"firmware":"bios","boot":"firmware"})).unwrap();
        assert_eq!(bios.source().firmware, Some(Firmware::Bios));
        let e = job(json!({"firmware":"efi"})).unwrap_err();
        assert!(e.message.contains("unknown variant `efi`"), "{e}");
        let e = job(json!({"firmware":"uefi","boot":"kernel"})).unwrap_err();
        assert!(e.message.contains("`firmware`"), "{e}");
        // Stored sources from before the field read back as "the source's".
        let old: JobSource = serde_json::from_value(json!({"url":null,"username":null,
            "vm":null,"insecure":false}))
        .unwrap();
        assert_eq!(old.firmware, None);
    }

    #[test]
    fn disk_bus_and_nic_model_are_checked_and_shown() {
        let job = |extra: serde_json::Value| {
            let mut v = json!({"kind":"ovf","path":"/srv/x"});
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            parse(v).map(|mut s| s.remove(0))
        };
        let plain = job(json!({})).unwrap();
        assert_eq!(
            (plain.source().disk_bus, plain.source().nic_model),
            (None, None)
        );
        let sata = job(json!({"disk_bus":"sata","nic_model":"e1000"})).unwrap();
        let shown = serde_json::to_value(sata.source()).unwrap();
        assert_eq!(
            (shown["disk_bus"].as_str(), shown["nic_model"].as_str()),
            (Some("sata"), Some("e1000"))
        );
        let e = job(json!({"disk_bus":"nvme"})).unwrap_err();
        assert!(e.message.contains("unknown variant `nvme`"), "{e}");
        let e = job(json!({"nic_model":"vmxnet3"})).unwrap_err();
        assert!(e.message.contains("unknown variant `vmxnet3`"), "{e}");
        // hype's kernel boots a microvm, which has virtio only.
        let e = job(json!({"disk_bus":"ide","boot":"kernel"})).unwrap_err();
        assert!(e.message.contains("`disk_bus`"), "{e}");
        let e = job(json!({"nic_model":"e1000","boot":"kernel"})).unwrap_err();
        assert!(e.message.contains("`nic_model`"), "{e}");
        let e = parse(
            json!({"kind":"vsphere_export","url":"https://vc/sdk","username":"u",
            "password":"p","vm":"v","export_only":true,"output":"/srv/e/x","disk_bus":"sata"}),
        )
        .unwrap_err();
        assert!(e.message.contains("export_only"), "{e}");
    }

    #[test]
    fn names_are_sanitised() {
        assert_eq!(
            sanitize_image_name("/dc/vm/My VM").as_deref(),
            Some("my-vm")
        );
        assert_eq!(sanitize_image_name("debian.xva").as_deref(), Some("debian"));
        assert_eq!(sanitize_image_name("___"), None);
    }
}
