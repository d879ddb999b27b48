use std::path::PathBuf;
use std::time::Duration;

use hype_types::{HostLimits, VmmChoice};

/// How to pick the accelerator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccelChoice {
    /// KVM if a probe guest boots under it, else TCG.
    Auto,
    Kvm,
    Tcg,
}

#[derive(Debug, Clone)]
pub struct CoreConfig {
    pub data_dir: PathBuf,
    /// Where built images live (`<dir>/<name>/manifest.json`).
    pub images_dir: PathBuf,
    pub default_image: String,
    pub default_vmm: VmmChoice,
    pub accel: AccelChoice,
    pub qemu_binary: Option<PathBuf>,
    /// An operator-supplied cloud-hypervisor; when unset, an embedded one.
    pub ch_binary: Option<PathBuf>,
    /// The UEFI firmware cloud-hypervisor boots imported disks with
    /// (`CLOUDHV.fd`); `None` means hype-vmm's default path.
    pub ch_firmware: Option<PathBuf>,
    /// OVMF's code and empty variable store, for imported disks whose
    /// source booted UEFI (QEMU).
    pub ovmf_code: PathBuf,
    pub ovmf_vars: PathBuf,
    /// How long a guest has to shut down before it is killed.
    pub stop_timeout: Duration,
    /// How long a guest has to report ready before it counts as crashed.
    pub boot_timeout: Duration,
    /// hyped's own base URL, for URLs handed to clients (`cdp_url`).
    pub public_url: String,
    pub host: HostLimits,
    /// The bridge and subnet VMs get addresses in; `None` boots VMs without
    /// a network.
    pub network: Option<NetworkConfig>,
    /// At most this many VMs exist at once; a create beyond is refused.
    pub max_vms: Option<u32>,
    /// Execs one VM may run at once; one more is refused (429).
    pub max_execs_per_vm: usize,
    /// Import jobs running at once; the rest wait their turn.
    pub import_workers: usize,
    /// Confinement of VMMs (`None`: they run as hyped's user, unconfined).
    pub jail: Option<JailSettings>,
    /// Hosts an import job may send the operator's environment password
    /// (`HYPE_XCPNG_PASSWORD`, `HYPE_VSPHERE_PASSWORD`) to, over https
    /// only. Empty: to none (a job must carry its own password).
    pub import_allow_hosts: Vec<String>,
    /// The directory file sources (`xva:`) must lie in, symlinks followed.
    /// `None`: no file source is accepted.
    pub import_dir: Option<PathBuf>,
    /// Warm pools that exist from start (`--pool`).
    pub pools: Vec<hype_types::CreatePool>,
    /// The directory export-only jobs write their `output` under.
    /// `None`: no export-only job is accepted.
    pub export_dir: Option<PathBuf>,
    /// Record every browser sandbox (`--record`), not only those created
    /// with `record: true`.
    pub record_all: bool,
    /// Recordings are deleted this long after they end.
    pub recordings_retention: Duration,
    /// A recording stops (with a note) once its events reach this size.
    pub recording_max_bytes: u64,
    /// The rrweb record script injected in recorded pages (the console's
    /// build makes it; empty: recordings hold no events).
    pub record_script: &'static str,
}

/// How VMMs are confined (see `hype_vmm::jail`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JailSettings {
    /// The `hype-jailer` binary.
    pub jailer: PathBuf,
    /// The first uid (and gid) of the range VMs' VMMs run as.
    pub uid_base: u32,
    /// How many uids the range holds (at most this many VMs exist).
    pub uid_count: u32,
}

impl JailSettings {
    pub const DEFAULT_UID_BASE: u32 = 2_000_000_000;
    pub const DEFAULT_UID_COUNT: u32 = 1 << 16;
}

#[derive(Debug, Clone)]
pub struct NetworkConfig {
    pub bridge: String,
    pub subnet: ipnet::Ipv4Net,
}

impl CoreConfig {
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("hype.db")
    }

    pub fn vms_dir(&self) -> PathBuf {
        self.data_dir.join("vms")
    }

    /// The run directory of the VM whose directory key is `dir` (its name
    /// when it was made; it would keep the key if it were handed out under
    /// another name).
    pub fn run_dir(&self, dir: &str) -> PathBuf {
        self.vms_dir().join(dir)
    }

    pub(crate) fn vm_dir(&self, rec: &hype_store::VmRecord) -> PathBuf {
        self.run_dir(&rec.dir)
    }

    /// Where recordings' events are kept, one file each.
    pub fn recordings_dir(&self) -> PathBuf {
        self.data_dir.join("recordings")
    }

    pub fn system_dir(&self) -> PathBuf {
        self.data_dir.join("system")
    }

    /// The host's CPUs and memory, as the bounds for a create.
    pub fn detect_host() -> HostLimits {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1);
        let memory_mb = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
            .map(|kb| (kb / 1024) as u32)
            .unwrap_or(1024);
        HostLimits { cpus, memory_mb }
    }
}

pub(crate) const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("/var/lib/hype"),
            images_dir: PathBuf::from("/var/lib/hype/images"),
            default_image: "base".into(),
            default_vmm: VmmChoice::Auto,
            accel: AccelChoice::Auto,
            qemu_binary: None,
            ch_binary: None,
            ch_firmware: None,
            ovmf_code: hype_vmm::qemu::OVMF_CODE.into(),
            ovmf_vars: hype_vmm::qemu::OVMF_VARS.into(),
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            boot_timeout: Duration::from_secs(120),
            public_url: "http://127.0.0.1:7777".into(),
            host: Self::detect_host(),
            network: None,
            max_vms: None,
            max_execs_per_vm: 8,
            import_workers: 2,
            jail: None,
            import_allow_hosts: vec![],
            import_dir: None,
            pools: vec![],
            export_dir: None,
            record_all: false,
            recordings_retention: Duration::from_secs(168 * 3600),
            recording_max_bytes: 256 << 20,
            record_script: "",
        }
    }
}
