//! Forks: new VMs started from a snapshot's device state, their RAM the
//! snapshot's memory file mapped privately, so pages a fork never writes
//! stay one copy in the page cache for all of them. Each fork is its own
//! machine: its own row, tap, MAC and leased address, which its agent moves
//! the guest to (with fresh entropy and the host's clock) before the fork
//! counts as running.

use std::io::Read;
use std::time::{Duration, Instant};

use hype_agent_proto::HostMessage;
use hype_store::{NewVm, SnapshotRecord, VmRecord};
use hype_types::{
    fork_names, CreateVm, EventType, ForkFailure, ForkResult, ForkVm, ShapeField, Vm, VmState,
    VmmKind, MAX_FORKS,
};
use hype_vmm::{Boot, Disk, DiskFormat, Memory, VmSpec, Vmm};

use crate::plan::BootPlan;
use crate::snapshots::{MEMORY_FILE, STATE_FILE};
use crate::{images, CoreError, Hype, Result};

/// What a fork asks beyond the snapshot: its lifetime.
#[derive(Clone, Copy, Default)]
pub(crate) struct Lifetime {
    pub ttl_seconds: Option<u32>,
    pub idle_timeout_seconds: Option<u32>,
}

/// Why a fork is made: for a caller (`VM_CREATED`'s detail says from
/// what), or to wait in a warm pool.
pub(crate) struct Origin {
    pub pool: Option<String>,
    pub detail: serde_json::Value,
}

impl Origin {
    fn snapshot(snap: &SnapshotRecord) -> Self {
        Origin {
            pool: None,
            detail: serde_json::json!({ "snapshot": snap.name }),
        }
    }
}

impl Hype {
    /// `POST /vms` with `snapshot`: the snapshot decides image, CPUs and
    /// memory; a body that names others is refused. With `count`, the
    /// answer lists each fork made and each that failed.
    pub async fn create_from_snapshot(&self, req: CreateVm) -> Result<ForkResult> {
        let (snap, names, life) = self.fork_request(&req).await?;
        Ok(self.fork_all(&snap, names, life).await)
    }

    /// One VM from a snapshot (`POST /vms` with `snapshot`, no `count`):
    /// its errors are the create's own (a name taken is a 409).
    pub(crate) async fn create_one_from_snapshot(&self, req: CreateVm) -> Result<Vm> {
        let (snap, names, life) = self.fork_request(&req).await?;
        let [name] = &names[..] else {
            return Err(CoreError::InvalidRequest(
                "count: a create of several VMs answers with each of them".into(),
            ));
        };
        self.fork_one(&snap, name, life, Origin::snapshot(&snap))
            .await
    }

    /// Checks a create from a snapshot against it: the snapshot, the names
    /// to make, their lifetime.
    async fn fork_request(
        &self,
        req: &CreateVm,
    ) -> Result<(SnapshotRecord, Vec<String>, Lifetime)> {
        let Some(name) = &req.snapshot else {
            return Err(CoreError::InvalidRequest(
                "count: only forks from a snapshot come in numbers".into(),
            ));
        };
        let snap = self.inner.store.get_snapshot(name).await?;
        if let Some(field) = req.contradicts(&snap.image, snap.cpu_cores, snap.memory_mb) {
            let (field, asked, has) = match field {
                ShapeField::CpuCores => (
                    "cpu_cores",
                    req.cpu_cores.to_string(),
                    snap.cpu_cores.to_string(),
                ),
                ShapeField::MemoryMb => (
                    "memory_mb",
                    format!("{} MiB", req.memory_mb),
                    format!("{} MiB", snap.memory_mb),
                ),
                ShapeField::Image => (
                    "image",
                    req.image.clone().unwrap_or_default(),
                    snap.image.clone(),
                ),
            };
            return Err(CoreError::InvalidRequest(format!(
                "{field}: snapshot '{}' has {has}; a fork cannot have {asked}",
                snap.name
            )));
        }
        if req.record && !self.inner.cfg.record_all {
            return Err(CoreError::InvalidRequest(
                "record: forks from a snapshot are recorded only when hyped runs with --record"
                    .into(),
            ));
        }
        if req.kernel_cmdline.is_some() || req.persist || req.network.is_some() {
            return Err(CoreError::InvalidRequest(
                "kernel_cmdline, persist and network come from the snapshot; a fork cannot set them".into(),
            ));
        }
        let life = Lifetime {
            ttl_seconds: req.ttl_seconds,
            idle_timeout_seconds: req.idle_timeout_seconds,
        };
        let mut checked = req.clone();
        checked.cpu_cores = snap.cpu_cores.min(self.inner.cfg.host.cpus);
        checked.memory_mb = snap.memory_mb;
        checked.validate(self.inner.cfg.host)?;
        let names = names(&req.name, req.count)?;
        Ok((snap, names, life))
    }

    /// `POST /vms/{vm}/fork`: snapshots `vm` (a snapshot that goes with its
    /// last fork) and forks it.
    pub async fn fork_vm(&self, vm: &str, req: ForkVm) -> Result<ForkResult> {
        let names = names(&req.name, req.count)?;
        for lifetime in [req.ttl_seconds, req.idle_timeout_seconds] {
            if lifetime.is_some_and(|v| v == 0 || v > hype_types::vm::MAX_LIFETIME_SECONDS) {
                return Err(CoreError::InvalidRequest(format!(
                    "ttl_seconds and idle_timeout_seconds are 1..={}",
                    hype_types::vm::MAX_LIFETIME_SECONDS
                )));
            }
        }
        let id = uuid::Uuid::now_v7().simple().to_string();
        let snapshot = format!("fork-{}", &id[id.len() - 12..]);
        self.take_snapshot(vm, &snapshot, true).await?;
        let snap = self.inner.store.get_snapshot(&snapshot).await?;
        let life = Lifetime {
            ttl_seconds: req.ttl_seconds,
            idle_timeout_seconds: req.idle_timeout_seconds,
        };
        let made = self.fork_all(&snap, names, life).await;
        self.drop_if_unused(&snapshot).await;
        Ok(made)
    }

    /// Forks `names` from `snap` at once; each succeeds or fails alone.
    async fn fork_all(
        &self,
        snap: &SnapshotRecord,
        names: Vec<String>,
        life: Lifetime,
    ) -> ForkResult {
        let forks = names.into_iter().map(|name| async move {
            let made = self
                .fork_one(snap, &name, life, Origin::snapshot(snap))
                .await;
            (name, made)
        });
        let mut out = ForkResult {
            vms: vec![],
            failed: vec![],
        };
        for (name, made) in futures::future::join_all(forks).await {
            match made {
                Ok(vm) => out.vms.push(vm),
                Err(e) => out.failed.push(ForkFailure {
                    name,
                    error: hype_types::ErrorDetail {
                        code: e.code().into(),
                        message: e.describe(),
                    },
                }),
            }
        }
        out
    }

    /// One fork, returned once its agent took its identity (`running`).
    /// Anything that fails on the way takes the fork away again.
    pub(crate) async fn fork_one(
        &self,
        snap: &SnapshotRecord,
        name: &str,
        life: Lifetime,
        origin: Origin,
    ) -> Result<Vm> {
        let vmm = self.fork_backend(snap).await?;
        let plan = self.plan(name, &snap.image, vmm).await?;
        let events = self.subscribe_events();
        let (rec, _) = self
            .inner
            .store
            .insert_vm(
                NewVm {
                    id: uuid::Uuid::now_v7().to_string(),
                    name: name.into(),
                    cpu_cores: snap.cpu_cores,
                    memory_mb: snap.memory_mb,
                    image: snap.image.clone(),
                    kernel_cmdline: snap.kernel_cmdline.clone(),
                    user_cmdline: None,
                    vmm_kind: snap.vmm_kind,
                    egress: snap.egress,
                    ttl_seconds: life.ttl_seconds,
                    idle_timeout_seconds: life.idle_timeout_seconds,
                    persist: false,
                    record: self.inner.cfg.record_all && self.inner.is_browser_image(&snap.image),
                    has_agent: true,
                    snapshot: Some(snap.name.clone()),
                    pool: origin.pool,
                    created_detail: Some(origin.detail.to_string()),
                },
                self.inner.cfg.max_vms,
            )
            .await?;
        let action = self.begin(name, None).await?;
        let _ = std::fs::remove_dir_all(&action.run_dir);
        let booted = self.fork_boot(&action.rec, &plan, snap).await;
        drop(action);
        if let Err(e) = booted {
            self.undo_create(&rec, &e).await;
            return Err(e);
        }
        match self.wait_running(name, events).await {
            Ok(vm) => Ok(vm),
            Err(e) => {
                let detail = Some(format!("fork failed: {e}"));
                if let Err(del) = self.delete_vm_because(name, detail).await {
                    tracing::error!(vm = name, error = %del, "cannot remove a failed fork");
                }
                Err(e)
            }
        }
    }

    /// The VMM a snapshot's forks run on: the very version that saved it
    /// (a device state is not portable across versions), or a 409.
    async fn fork_backend(&self, snap: &SnapshotRecord) -> Result<crate::backends::VmmBackend> {
        let refused = |available: String| CoreError::ForkVersion {
            snapshot: snap.name.clone(),
            version: snap.vmm_version.clone().unwrap_or_default(),
            available,
        };
        match snap.vmm_kind {
            VmmKind::Qemu => {
                let available = self.inner.backends.qemu_version();
                if snap.vmm_version.is_some() && available != snap.vmm_version {
                    return Err(refused(available.unwrap_or_else(|| "none".into())));
                }
                self.inner.backends.of_kind(VmmKind::Qemu)
            }
            VmmKind::CloudHypervisor => self
                .inner
                .backends
                .for_saved_state(
                    &self.inner.cfg,
                    &snap.name,
                    snap.vmm_kind,
                    snap.vmm_version.as_deref(),
                )
                .await
                .map_err(|e| match e {
                    CoreError::VersionUnavailable { available, .. } => refused(available),
                    e => e,
                }),
        }
    }

    async fn fork_boot(
        &self,
        rec: &VmRecord,
        plan: &BootPlan,
        snap: &SnapshotRecord,
    ) -> Result<()> {
        let images::ImageBoot::Kernel(files) = &plan.boot else {
            return Err(CoreError::Unsupported {
                name: rec.name.clone(),
                what: format!(
                    "forking from image '{}', which is not booted on hype's kernel",
                    snap.image
                ),
            });
        };
        let net = self.attach_network(rec).await?;
        let dir = self.snapshot_dir(&snap.name);
        let launched = async {
            let spec = VmSpec {
                name: rec.dir.clone(),
                id: rec.id.clone(),
                cpu_cores: rec.cpu_cores,
                memory_mb: rec.memory_mb,
                boot: Boot::Kernel {
                    kernel: files.kernel.clone(),
                    initramfs: files.initramfs.clone(),
                    cmdline: snap.kernel_cmdline.clone(),
                },
                // The snapshot's devices, in its order: only its root disk.
                disks: files
                    .rootfs
                    .iter()
                    .map(|p| Disk {
                        bus: hype_vmm::StorageBus::Virtio,
                        path: p.clone(),
                        format: DiskFormat::Raw,
                        read_only: true,
                        backing: None,
                    })
                    .collect(),
                run_dir: self.inner.cfg.vm_dir(rec),
                accel: plan.accel,
                tap: net.as_ref().map(|n| n.tap.clone()),
                mac: net.as_ref().map(|n| n.mac.clone()),
                nic: hype_vmm::NicModel::Virtio,
                jail: self.vm_jail(rec).await?,
                memory: Memory::Private(dir.join(MEMORY_FILE)),
            };
            let reconfigure = identity(rec, net.as_ref())?;
            let launched_at = Instant::now();
            let launched = plan
                .vmm
                .fork(&spec, &dir.join(STATE_FILE))
                .await
                .map_err(|source| CoreError::Boot {
                    name: rec.name.clone(),
                    source,
                })?;
            self.supervise_launched(
                rec,
                &plan.vmm,
                &spec,
                launched,
                launched_at,
                Some(reconfigure),
            )
            .await
        }
        .await;
        if launched.is_err() && net.is_some() {
            self.detach_network(rec).await;
        }
        launched.map(drop)
    }

    /// Waits until `name` runs (its agent took its identity), or ended.
    pub(crate) async fn wait_running(
        &self,
        name: &str,
        mut events: tokio::sync::broadcast::Receiver<hype_types::Event>,
    ) -> Result<Vm> {
        let deadline =
            tokio::time::Instant::now() + self.inner.cfg.boot_timeout + Duration::from_secs(5);
        let mut why = None;
        loop {
            let rec = self.inner.store.get_vm(name).await?;
            match rec.state {
                VmState::Running => return Ok(self.to_view(rec)),
                VmState::Crashed | VmState::Stopped | VmState::Stopping => {
                    return Err(CoreError::ForkFailed {
                        name: name.into(),
                        detail: why.unwrap_or_else(|| format!("it is {}", rec.state)),
                    })
                }
                _ => {}
            }
            tokio::select! {
                ev = events.recv() => {
                    if let Ok(ev) = ev {
                        if ev.vm == name && ev.event_type == EventType::VmCrashed {
                            why = ev.detail;
                        }
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                // Its supervisor lets go at shutdown: it will not run now.
                _ = self.inner.shutdown.cancelled() => return Err(CoreError::ShuttingDown),
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(CoreError::ForkFailed {
                        name: name.into(),
                        detail: "not running in time".into(),
                    })
                }
            }
        }
    }
}

/// The names a request makes, checked before anything is made.
fn names(name: &str, count: Option<u32>) -> Result<Vec<String>> {
    if count.is_some_and(|k| k == 0 || k > MAX_FORKS) {
        return Err(CoreError::InvalidRequest(format!("count: 1..={MAX_FORKS}")));
    }
    let names = fork_names(name, count);
    for n in &names {
        hype_types::validate_name(n)?;
    }
    Ok(names)
}

/// The identity a fork's agent takes: the new VM's name, address and MAC,
/// 64 bytes of host entropy, the host's clock.
fn identity(rec: &VmRecord, net: Option<&crate::network::Attachment>) -> Result<HostMessage> {
    let mut entropy = [0u8; 64];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut entropy))
        .map_err(|source| CoreError::Io {
            path: "/dev/urandom".into(),
            source,
        })?;
    let param = |key: &str| {
        net.and_then(|n| {
            n.cmdline
                .iter()
                .find_map(|w| w.strip_prefix(key).map(str::to_owned))
        })
    };
    let unix_time_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    Ok(HostMessage::Reconfigure {
        id: 0,
        hostname: rec.name.clone(),
        address: param("hype.ip="),
        gateway: param("hype.gw="),
        mac: net.map(|n| n.mac.clone()),
        entropy: hex::encode(entropy),
        unix_time_ms,
    })
}
