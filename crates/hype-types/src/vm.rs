//! A VM as the API shows it, and the create body with its validation.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::VmState;

static NAME_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$").expect("valid regex"));

pub const DEFAULT_CPU_CORES: u32 = 1;
pub const DEFAULT_MEMORY_MB: u32 = 512;
pub const MIN_MEMORY_MB: u32 = 128;
pub const MAX_CMDLINE_BYTES: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum VmmKind {
    CloudHypervisor,
    Qemu,
}

impl VmmKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VmmKind::CloudHypervisor => "cloud-hypervisor",
            VmmKind::Qemu => "qemu",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cloud-hypervisor" => Some(VmmKind::CloudHypervisor),
            "qemu" => Some(VmmKind::Qemu),
            _ => None,
        }
    }
}

/// What a create asks for; `auto` lets the server pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum VmmChoice {
    #[default]
    Auto,
    CloudHypervisor,
    Qemu,
}

/// The create body: `{name, cpu_cores, memory_mb, image?, kernel_cmdline?, vmm?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVm {
    /// `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`
    #[schema(
        example = "demo",
        pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
        min_length = 1,
        max_length = 63
    )]
    pub name: String,
    /// Virtual CPUs; at least 1, at most the host's.
    #[serde(default = "default_cpu", deserialize_with = "crate::lenient::u32")]
    #[schema(default = 1, minimum = 1)]
    pub cpu_cores: u32,
    /// Guest memory in MiB.
    #[serde(default = "default_memory", deserialize_with = "crate::lenient::u32")]
    #[schema(default = 512, minimum = 128)]
    pub memory_mb: u32,
    /// Boot image; the server's default when absent.
    #[serde(default)]
    pub image: Option<String>,
    /// Appended to the kernel command line hype builds: printable ASCII,
    /// without `hype.*` parameters (hype sets those itself).
    #[serde(default)]
    #[schema(pattern = "^[ -~]*$", max_length = 2048)]
    pub kernel_cmdline: Option<String>,
    #[serde(default)]
    pub vmm: VmmChoice,
    /// Network policy; egress allowed when absent.
    #[serde(default)]
    pub network: Option<NetworkSpec>,
    /// Stop and delete the VM this long after its creation.
    #[serde(default, deserialize_with = "crate::lenient::opt_u32")]
    #[schema(minimum = 1, maximum = 604800)]
    pub ttl_seconds: Option<u32>,
    /// Stop and delete the VM after this long without a CDP client.
    #[serde(default, deserialize_with = "crate::lenient::opt_u32")]
    #[schema(minimum = 1, maximum = 604800)]
    pub idle_timeout_seconds: Option<u32>,
    /// Browser images: keep the VM's writes (its Chromium profile included)
    /// on a disk of its own across stop and start, instead of a tmpfs.
    #[serde(default)]
    pub persist: bool,
    /// Fork the VM from this snapshot (its image, CPUs and memory come
    /// from the snapshot; a body that names others is refused).
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", max_length = 63)]
    pub snapshot: Option<String>,
    /// Make this many VMs, `NAME-1` .. `NAME-K`, each succeeding or failing
    /// on its own (the answer is then a `ForkResult`).
    #[serde(default, deserialize_with = "crate::lenient::opt_u32")]
    #[schema(minimum = 1, maximum = 64)]
    pub count: Option<u32>,
    /// Take a ready sandbox from this warm pool (`false`: boot cold even
    /// if a pool of this shape exists). Unset, a pool whose image, CPUs
    /// and memory match serves the create.
    #[serde(default)]
    pub pool: Option<crate::PoolChoice>,
    /// Browser images: record every page of the session (rrweb DOM
    /// events), replayable in the console; the recording outlives the VM.
    #[serde(default)]
    pub record: bool,
}

/// The longest lifetime a create may ask for: a week.
pub const MAX_LIFETIME_SECONDS: u32 = 7 * 24 * 3600;

/// `network` in the create body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Whether the guest may reach beyond the host (through NAT).
    #[serde(default = "default_egress")]
    #[schema(default = true)]
    pub egress: bool,
}

fn default_egress() -> bool {
    true
}

/// A field of a create that its source (a snapshot, a warm pool) decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShapeField {
    CpuCores,
    MemoryMb,
    Image,
}

impl CreateVm {
    /// The first of CPUs, memory and image this create asks for that
    /// differs from a source's; a field left at its default is not asked.
    pub fn contradicts(&self, image: &str, cpu_cores: u32, memory_mb: u32) -> Option<ShapeField> {
        if self.cpu_cores != DEFAULT_CPU_CORES && self.cpu_cores != cpu_cores {
            return Some(ShapeField::CpuCores);
        }
        if self.memory_mb != DEFAULT_MEMORY_MB && self.memory_mb != memory_mb {
            return Some(ShapeField::MemoryMb);
        }
        if self.image.as_ref().is_some_and(|i| i != image) {
            return Some(ShapeField::Image);
        }
        None
    }

    pub fn egress(&self) -> bool {
        self.network.is_none_or(|n| n.egress)
    }
}

/// A VM's network as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VmNetwork {
    pub egress: bool,
    /// The host tap device, when the VM is networked.
    pub tap: Option<String>,
}

fn default_cpu() -> u32 {
    DEFAULT_CPU_CORES
}

fn default_memory() -> u32 {
    DEFAULT_MEMORY_MB
}

/// The host's bounds a create is checked against.
#[derive(Debug, Clone, Copy)]
pub struct HostLimits {
    pub cpus: u32,
    pub memory_mb: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidVmSpec {
    #[error("invalid VM name {0:?}: use 1 to 63 lowercase letters, digits and '-', starting and ending with a letter or digit")]
    Name(String),
    #[error("cpu_cores must be at least 1")]
    CpuZero,
    #[error("cpu_cores {asked} is more than this host's {host} CPUs")]
    CpuTooMany { asked: u32, host: u32 },
    #[error("memory_mb {asked} is below the minimum of {min} MiB")]
    MemoryTooSmall { asked: u32, min: u32 },
    #[error("memory_mb {asked} is more than this host's {host} MiB")]
    MemoryTooLarge { asked: u32, host: u32 },
    #[error("kernel_cmdline is {len} bytes; at most {max} are allowed")]
    CmdlineTooLong { len: usize, max: usize },
    #[error("kernel_cmdline must be one line of printable ASCII")]
    CmdlineUnprintable,
    #[error("kernel_cmdline may not set hype.* parameters; hype sets those itself")]
    CmdlineReserved,
    #[error("{field} must be between 1 and {max} seconds")]
    Lifetime { field: &'static str, max: u32 },
}

impl InvalidVmSpec {
    pub fn code(&self) -> &'static str {
        match self {
            InvalidVmSpec::Name(_) => "invalid_name",
            InvalidVmSpec::CpuZero | InvalidVmSpec::CpuTooMany { .. } => "invalid_cpu_cores",
            InvalidVmSpec::MemoryTooSmall { .. } | InvalidVmSpec::MemoryTooLarge { .. } => {
                "invalid_memory_mb"
            }
            InvalidVmSpec::CmdlineTooLong { .. }
            | InvalidVmSpec::CmdlineUnprintable
            | InvalidVmSpec::CmdlineReserved => "invalid_kernel_cmdline",
            InvalidVmSpec::Lifetime { .. } => "invalid_lifetime",
        }
    }
}

pub fn validate_name(name: &str) -> Result<(), InvalidVmSpec> {
    if NAME_RE.is_match(name) {
        Ok(())
    } else {
        Err(InvalidVmSpec::Name(name.to_owned()))
    }
}

impl CreateVm {
    pub fn validate(&self, host: HostLimits) -> Result<(), InvalidVmSpec> {
        validate_name(&self.name)?;
        if self.cpu_cores == 0 {
            return Err(InvalidVmSpec::CpuZero);
        }
        if self.cpu_cores > host.cpus {
            return Err(InvalidVmSpec::CpuTooMany {
                asked: self.cpu_cores,
                host: host.cpus,
            });
        }
        if self.memory_mb < MIN_MEMORY_MB {
            return Err(InvalidVmSpec::MemoryTooSmall {
                asked: self.memory_mb,
                min: MIN_MEMORY_MB,
            });
        }
        if self.memory_mb > host.memory_mb {
            return Err(InvalidVmSpec::MemoryTooLarge {
                asked: self.memory_mb,
                host: host.memory_mb,
            });
        }
        for (field, v) in [
            ("ttl_seconds", self.ttl_seconds),
            ("idle_timeout_seconds", self.idle_timeout_seconds),
        ] {
            if v.is_some_and(|v| v == 0 || v > MAX_LIFETIME_SECONDS) {
                return Err(InvalidVmSpec::Lifetime {
                    field,
                    max: MAX_LIFETIME_SECONDS,
                });
            }
        }
        if let Some(cmdline) = &self.kernel_cmdline {
            if cmdline.len() > MAX_CMDLINE_BYTES {
                return Err(InvalidVmSpec::CmdlineTooLong {
                    len: cmdline.len(),
                    max: MAX_CMDLINE_BYTES,
                });
            }
            if !cmdline.bytes().all(|b| (b' '..=b'~').contains(&b)) {
                return Err(InvalidVmSpec::CmdlineUnprintable);
            }
            // Split as the agent splits, so quoting cannot sneak a
            // parameter past this check.
            if hype_agent_proto::split_cmdline(cmdline)
                .iter()
                .any(|w| w.trim_start().starts_with("hype."))
            {
                return Err(InvalidVmSpec::CmdlineReserved);
            }
        }
        Ok(())
    }
}

/// The VMM behind a VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VmmInfo {
    pub kind: VmmKind,
    /// The VMM's version, e.g. `v53.0` or `7.2.19`.
    pub version: Option<String>,
    /// Absent when no VMM runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// `kvm` or `tcg` (QEMU's software emulation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accel: Option<String>,
}

/// A VM as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Vm {
    pub name: String,
    pub id: String,
    pub state: VmState,
    pub cpu_cores: u32,
    pub memory_mb: u32,
    pub image: String,
    /// The full kernel command line the guest boots with.
    pub kernel_cmdline: String,
    pub ip: Option<String>,
    pub mac: Option<String>,
    pub network: VmNetwork,
    pub vmm: VmmInfo,
    /// The http URL a CDP client connects to (browser images).
    pub cdp_url: Option<String>,
    /// The console's live view of the browser, to watch it or take over
    /// (browser images).
    pub live_url: Option<String>,
    pub ttl_seconds: Option<u32>,
    pub idle_timeout_seconds: Option<u32>,
    pub persist: bool,
    /// Its pages are recorded (`record` at create, or hyped's `--record`).
    pub record: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_contradicts_a_source_only_where_it_asks() {
        let req: CreateVm = serde_json::from_value(serde_json::json!({"name": "f"})).unwrap();
        assert_eq!(req.contradicts("browser", 2, 1536), None);
        let asked: CreateVm = serde_json::from_value(
            serde_json::json!({"name": "f", "memory_mb": 1024, "image": "base"}),
        )
        .unwrap();
        assert_eq!(asked.contradicts("base", 2, 1024), None);
        assert_eq!(
            asked.contradicts("base", 2, 1536),
            Some(ShapeField::MemoryMb)
        );
        assert_eq!(
            asked.contradicts("browser", 2, 1024),
            Some(ShapeField::Image)
        );
    }

    const HOST: HostLimits = HostLimits {
        cpus: 2,
        memory_mb: 4096,
    };

    fn spec(name: &str) -> CreateVm {
        CreateVm {
            name: name.into(),
            cpu_cores: 1,
            memory_mb: 256,
            image: None,
            kernel_cmdline: None,
            vmm: VmmChoice::Auto,
            network: None,
            ttl_seconds: None,
            idle_timeout_seconds: None,
            persist: false,
            snapshot: None,
            count: None,
            pool: None,
            record: false,
        }
    }

    #[test]
    fn names() {
        for ok in ["a", "demo", "s1", "a-b", "0", &"a".repeat(63)] {
            assert_eq!(spec(ok).validate(HOST), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "A",
            "a_b",
            "a.b",
            "ä",
            &"a".repeat(64),
            "a b",
        ] {
            assert_eq!(
                spec(bad).validate(HOST),
                Err(InvalidVmSpec::Name(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn resources() {
        let mut s = spec("x");
        s.cpu_cores = 0;
        assert_eq!(s.validate(HOST), Err(InvalidVmSpec::CpuZero));
        s.cpu_cores = 3;
        assert_eq!(
            s.validate(HOST).unwrap_err().to_string(),
            "cpu_cores 3 is more than this host's 2 CPUs"
        );
        s.cpu_cores = 2;
        s.memory_mb = 64;
        assert_eq!(s.validate(HOST).unwrap_err().code(), "invalid_memory_mb");
        s.memory_mb = 4097;
        assert_eq!(
            s.validate(HOST),
            Err(InvalidVmSpec::MemoryTooLarge {
                asked: 4097,
                host: 4096
            })
        );
    }

    #[test]
    fn cmdline() {
        let mut s = spec("x");
        s.kernel_cmdline = Some("quiet loglevel=3".into());
        assert_eq!(s.validate(HOST), Ok(()));
        s.kernel_cmdline = Some("a\nb".into());
        assert_eq!(s.validate(HOST), Err(InvalidVmSpec::CmdlineUnprintable));
        for sneaky in [
            r#""hype.ip"=1.2.3.4/24"#,
            r#"quiet hy"pe.root"=/dev/vdb"#,
            r#"a="x" "hype.gw=1.1.1.1""#,
        ] {
            s.kernel_cmdline = Some(sneaky.into());
            assert_eq!(
                s.validate(HOST).unwrap_err(),
                InvalidVmSpec::CmdlineReserved,
                "{sneaky}"
            );
        }
        s.kernel_cmdline = Some("hype.ip=1.2.3.4/24".into());
        assert_eq!(s.validate(HOST), Err(InvalidVmSpec::CmdlineReserved));
        s.kernel_cmdline = Some("x".repeat(MAX_CMDLINE_BYTES + 1));
        assert_eq!(
            s.validate(HOST).unwrap_err().code(),
            "invalid_kernel_cmdline"
        );
    }

    #[test]
    fn body_defaults_and_unknown_fields() {
        let s: CreateVm = serde_json::from_str(r#"{"name":"x"}"#).unwrap();
        assert_eq!((s.cpu_cores, s.memory_mb, s.vmm), (1, 512, VmmChoice::Auto));
        let err = serde_json::from_str::<CreateVm>(r#"{"name":"x","cpus":2}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `cpus`"), "{err}");
        let s: CreateVm = serde_json::from_str(r#"{"name":"x","vmm":"cloud-hypervisor"}"#).unwrap();
        assert_eq!(s.vmm, VmmChoice::CloudHypervisor);
    }

    #[test]
    fn record_is_a_boolean_off_by_default() {
        let s: CreateVm = serde_json::from_str(r#"{"name":"x"}"#).unwrap();
        assert!(!s.record);
        let s: CreateVm = serde_json::from_str(r#"{"name":"x","record":true}"#).unwrap();
        assert!(s.record);
        let err = serde_json::from_str::<CreateVm>(r#"{"name":"x","record":"yes"}"#).unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
        let err = serde_json::from_str::<CreateVm>(r#"{"name":"x","recording":true}"#).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `recording`"),
            "{err}"
        );
    }
}
