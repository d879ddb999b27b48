//! [`Hype`]: the orchestrator and its VM actions. Each VM's actions are
//! serialised by a per-name lock; state changes go through the store's
//! transition function, so a supervisor recording an exit and a user's
//! request never disagree.
//!
//! hyped's state is a handful of named parts, each with its own narrow
//! surface: the [`Backends`] (which VMM, which accelerator), the
//! [`Runtimes`] (VMMs under supervision), the [`Lifetimes`] (CDP clients,
//! for idle timeouts), the browser watches, the [`VmLocks`], the network,
//! the import jobs.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hype_store::{NewVm, Store, VmRecord, VmmUpdate};
use hype_types::{CreateVm, Transition, VersionInfo, Vm, VmState};
use hype_vmm::process::{self, ExitWatch};
use hype_vmm::{AnyVmm, CloudHypervisor, Qemu, Vmm};
use nix::sys::signal::Signal;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::backends::{Backends, VmmBackend};
use crate::lifetime::Lifetimes;
use crate::locks::{VmGuard, VmLocks};
use crate::plan::BootPlan;
use crate::runtimes::Runtimes;
use crate::supervisor::{self, Watched};
use crate::{images, CoreConfig, CoreError, Result};

pub(crate) struct Inner {
    pub cfg: CoreConfig,
    pub store: Arc<Store>,
    pub backends: Backends,
    pub net: Option<hype_net::Net>,
    pub net_status: hype_types::NetworkStatus,
    /// One firewall refresh at a time (see `refresh_firewall`).
    pub firewall: tokio::sync::Mutex<()>,
    /// How VMMs are confined (`None` when confinement is off).
    pub jail: Option<hype_vmm::jail::JailConfig>,
    pub runtimes: Runtimes,
    pub lifetimes: Lifetimes,
    pub watches: crate::watch::Watches,
    /// Live views and their frames, counted.
    pub live: Arc<crate::live::LiveCounters>,
    pub locks: VmLocks,
    /// Images with a browser root filesystem (their VMs get a `cdp_url`).
    pub browser_images: Mutex<HashSet<String>>,
    pub jobs: crate::jobs::Jobs,
    pub pools: crate::pools::Pools,
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
}

impl Inner {
    /// What supervisors get to see.
    pub fn supervisor_deps(&self) -> supervisor::Deps {
        supervisor::Deps {
            store: self.store.clone(),
            runtimes: self.runtimes.clone(),
            vms_dir: self.cfg.vms_dir(),
            cgroups: self.jail.as_ref().map(|j| j.cgroups.clone()),
            boot_timeout: self.cfg.boot_timeout,
            ram_dir: crate::ram::dir(&self.cfg),
            shutdown: self.shutdown.clone(),
            tracker: self.tracker.clone(),
            max_execs_per_vm: self.cfg.max_execs_per_vm,
        }
    }

    pub fn is_browser_image(&self, image: &str) -> bool {
        self.browser_images
            .lock()
            .expect("images lock")
            .contains(image)
    }
}

/// The orchestrator. Cheap to clone; every clone is the same instance.
#[derive(Clone)]
pub struct Hype {
    pub(crate) inner: Arc<Inner>,
}

/// One VM action under way: the VM's lock held, its row as it was when the
/// lock was taken, checked against the transition asked for.
pub(crate) struct Action {
    _guard: VmGuard,
    pub rec: VmRecord,
    pub run_dir: PathBuf,
}

impl Hype {
    /// Opens the store, registers built images, decides the accelerator (in
    /// the background) and adopts or buries VMs left from a previous run.
    pub async fn start(cfg: CoreConfig, shutdown: CancellationToken) -> Result<Self> {
        let qemu = Qemu::detect(cfg.qemu_binary.clone());
        match &qemu {
            Some(q) => tracing::info!(version = ?q.version(), "qemu found"),
            None => tracing::warn!("qemu-system-x86_64 not found; VMs cannot boot"),
        }
        let qemu = qemu.map(|q| VmmBackend::Real(AnyVmm::Qemu(q)));
        let ch = crate::ch::detect(&cfg).await;
        Self::start_with(cfg, shutdown, qemu, ch).await
    }

    /// [`Hype::start`] with the backends given (unit tests pass a double).
    pub(crate) async fn start_with(
        cfg: CoreConfig,
        shutdown: CancellationToken,
        qemu: Option<VmmBackend>,
        ch: Option<CloudHypervisor>,
    ) -> Result<Self> {
        crate::paths::ensure_private_dirs(&cfg)?;
        let store = Store::open(&cfg.db_path()).await?;
        images::import_built(&store, &cfg.images_dir).await?;
        let browser_images = store
            .list_images()
            .await?
            .into_iter()
            .filter(|i| i.rootfs.is_some())
            .map(|i| i.name)
            .collect();
        let (net, net_status) = crate::network::setup(&cfg).await;
        let jail = crate::paths::jail_config(&cfg)?;
        let (accel_tx, accel_rx) = watch::channel(None);
        let workers = cfg.import_workers;
        let backends = Backends::new(cfg.default_vmm, qemu, ch, accel_rx, shutdown.clone());
        let inner = Arc::new(Inner {
            cfg,
            store: Arc::new(store),
            backends,
            net,
            net_status,
            firewall: tokio::sync::Mutex::new(()),
            jail,
            browser_images: Mutex::new(browser_images),
            runtimes: Runtimes::default(),
            lifetimes: Lifetimes::default(),
            watches: Default::default(),
            live: Default::default(),
            locks: VmLocks::default(),
            jobs: crate::jobs::Jobs::new(workers),
            pools: Default::default(),
            shutdown,
            tracker: TaskTracker::new(),
        });
        let hype = Hype { inner };
        let probe = hype.clone();
        hype.inner.tracker.spawn(async move {
            let decision = probe.decide_accel().await;
            tracing::info!(accel = decision.accel.as_str(), reason = %decision.info.reason, "accelerator chosen");
            let _ = accel_tx.send(Some(decision));
        });
        crate::reconcile::run(&hype).await?;
        // Before the watches start their own recordings.
        hype.start_recordings().await?;
        hype.start_watching();
        hype.reconcile_jobs().await?;
        hype.start_dispatcher();
        hype.start_pools().await?;
        let reaper = hype.clone();
        hype.inner
            .tracker
            .spawn(async move { reaper.reap_expired().await });
        Ok(hype)
    }

    /// Waits for every task the core started (after `shutdown` is cancelled).
    pub async fn closed(&self) {
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
        self.inner.store.close().await;
    }

    pub fn config(&self) -> &CoreConfig {
        &self.inner.cfg
    }

    pub async fn version(&self) -> VersionInfo {
        let b = &self.inner.backends;
        VersionInfo {
            server: env!("CARGO_PKG_VERSION").into(),
            api: "v1".into(),
            qemu: b.qemu_version(),
            cloud_hypervisor: b.ch_versions(),
            accel: b.accel_info(),
            default_vmm: b.default_kind().as_str().into(),
            network: self.inner.net_status.clone(),
        }
    }

    /// Takes `name`'s lock and reads its row; with `t`, refuses early
    /// (before any side effect) if the VM's state does not allow it.
    pub(crate) async fn begin(&self, name: &str, t: Option<Transition>) -> Result<Action> {
        let guard = self.inner.locks.lock(name).await;
        let rec = self.inner.store.get_vm(name).await?;
        if let Some(t) = t {
            check(&rec, t)?;
        }
        Ok(Action {
            _guard: guard,
            run_dir: self.inner.cfg.vm_dir(&rec),
            rec,
        })
    }

    /// Validates, records and boots a new VM. Returns it in `starting`;
    /// `VM_RUNNING` follows once its agent reports ready.
    pub async fn create_vm(&self, req: CreateVm) -> Result<Vm> {
        if req.snapshot.is_some() {
            if req.pool.is_some() {
                return Err(CoreError::InvalidRequest(
                    "pool: a VM comes from a snapshot or from a pool, not both".into(),
                ));
            }
            return self.create_one_from_snapshot(req).await;
        }
        if req.count.is_some() {
            return Err(CoreError::InvalidRequest(
                "count: only forks from a snapshot come in numbers".into(),
            ));
        }
        if let Some(pool) = self.pool_for(&req).await? {
            return self.create_from_pool(pool, req).await;
        }
        self.create_cold(req, None, None).await
    }

    /// A VM booted from its image; `pool` and `detail` when it is made
    /// for a warm pool or for a pool that had none ready.
    pub(crate) async fn create_cold(
        &self,
        req: CreateVm,
        pool: Option<String>,
        detail: Option<serde_json::Value>,
    ) -> Result<Vm> {
        req.validate(self.inner.cfg.host)?;
        let vmm = self.inner.backends.resolve(req.vmm).await?;
        let image = req
            .image
            .clone()
            .unwrap_or_else(|| self.inner.cfg.default_image.clone());
        // Everything about the boot is decided and checked here, before the
        // VM is recorded: a create that cannot boot leaves nothing behind.
        let plan = self.plan(&req.name, &image, vmm).await?;
        if !plan.has_agent() && req.kernel_cmdline.is_some() {
            return Err(CoreError::InvalidRequest(format!(
                "kernel_cmdline: image '{image}' boots its own kernel through firmware; hype passes it no command line"
            )));
        }
        if req.persist && plan.image.rootfs.is_none() {
            return Err(CoreError::InvalidRequest(format!(
                "persist needs an image with a root filesystem (such as 'browser'); '{image}' has none"
            )));
        }
        // `--record` covers every browser sandbox; asked for on an image
        // without a browser, it is refused.
        let browser = plan.image.rootfs.is_some();
        if req.record && !browser {
            return Err(CoreError::InvalidRequest(format!(
                "record needs a browser image (such as 'browser'); '{image}' has no browser to record"
            )));
        }
        let record = browser && (req.record || self.inner.cfg.record_all);
        let (rec, _) = self
            .inner
            .store
            .insert_vm(
                NewVm {
                    id: uuid::Uuid::now_v7().to_string(),
                    name: req.name.clone(),
                    cpu_cores: req.cpu_cores,
                    memory_mb: req.memory_mb,
                    image,
                    kernel_cmdline: String::new(),
                    user_cmdline: req.kernel_cmdline.clone(),
                    vmm_kind: plan.vmm.kind(),
                    egress: req.egress(),
                    ttl_seconds: req.ttl_seconds,
                    idle_timeout_seconds: req.idle_timeout_seconds,
                    persist: req.persist,
                    record,
                    has_agent: plan.has_agent(),
                    snapshot: None,
                    pool,
                    created_detail: detail.map(|d| d.to_string()),
                },
                self.inner.cfg.max_vms,
            )
            .await?;
        let action = self.begin(&rec.name, None).await?;
        // A directory left by an earlier VM of the same name is stale.
        let _ = std::fs::remove_dir_all(&action.run_dir);
        match self.boot(&action.rec, &plan).await {
            Ok(vm) => Ok(vm),
            Err(e) => {
                self.undo_create(&action.rec, &e).await;
                Err(e)
            }
        }
    }

    /// Takes away a VM whose creation failed before its VMM ran: its
    /// files, its row and lease, and the firewall's rules for it.
    pub(crate) async fn undo_create(&self, rec: &VmRecord, e: &CoreError) {
        let _ = std::fs::remove_dir_all(self.inner.cfg.vm_dir(rec));
        crate::ram::remove(&self.inner.cfg, &rec.dir);
        let detail = format!("create failed: {e}");
        if let Err(del) = self.inner.store.delete_vm(&rec.name, Some(detail)).await {
            tracing::error!(vm = %rec.name, error = %del, "cannot remove a VM whose boot failed");
        }
        // Its lease is gone with its row: the firewall follows.
        if let Err(fw) = self.refresh_firewall().await {
            tracing::warn!(vm = %rec.name, error = %fw, "firewall refresh after a failed create");
        }
    }

    /// Attaches the network and launches the plan's VMM for `rec`.
    async fn boot(&self, rec: &VmRecord, plan: &BootPlan) -> Result<Vm> {
        let net = self.attach_network(rec).await?;
        let booted = self.launch(rec, plan, net.as_ref()).await;
        if booted.is_err() && net.is_some() {
            self.detach_network(rec).await;
        }
        booted
    }

    async fn launch(
        &self,
        rec: &VmRecord,
        plan: &BootPlan,
        net: Option<&crate::network::Attachment>,
    ) -> Result<Vm> {
        let spec = self.vm_spec(rec, plan, net).await?;
        let launched_at = Instant::now();
        let launched = plan
            .vmm
            .launch(&spec)
            .await
            .map_err(|source| CoreError::Boot {
                name: rec.name.clone(),
                source,
            })?;
        self.supervise_launched(rec, &plan.vmm, &spec, launched, launched_at, None)
            .await
    }

    /// Records a VMM just launched for `rec` (`starting`) and hands it to a
    /// supervisor; `reconfigure` goes to its agent before it may run (a
    /// fork's new identity). Kills the VMM if it cannot be recorded.
    pub(crate) async fn supervise_launched(
        &self,
        rec: &VmRecord,
        vmm: &VmmBackend,
        spec: &hype_vmm::VmSpec,
        launched: hype_vmm::Launched,
        launched_at: Instant,
        reconfigure: Option<hype_agent_proto::HostMessage>,
    ) -> Result<Vm> {
        let watch = match ExitWatch::new(launched.pid) {
            Ok(w) => w,
            Err(e) => {
                process::signal_group(launched.pid, Signal::SIGKILL);
                return Err(CoreError::Io {
                    path: PathBuf::from(format!("/proc/{}", launched.pid)),
                    source: e,
                });
            }
        };
        let update = VmmUpdate {
            pid: Some(Some(launched.pid)),
            version: launched.version.clone(),
            accel: Some(spec.accel.as_str().into()),
            kernel_cmdline: Some(spec.boot.cmdline().unwrap_or_default().to_owned()),
        };
        let detail = format!(
            "VMM pid {} up in {} ms ({})",
            launched.pid,
            launched_at.elapsed().as_millis(),
            spec.accel.as_str()
        );
        let rec = match self
            .inner
            .store
            .transition(&rec.name, Transition::Boot, Some(detail), update)
            .await
        {
            Ok((rec, _)) => rec,
            Err(e) => {
                process::signal_group(launched.pid, Signal::SIGKILL);
                watch.exited().await;
                return Err(e.into());
            }
        };
        supervisor::spawn(
            &self.inner.supervisor_deps(),
            Watched {
                id: rec.id.clone(),
                name: rec.name.clone(),
                dir: rec.dir.clone(),
                vmm: vmm.clone(),
                watch,
                booting: true,
                has_agent: rec.has_agent,
                launched_at,
                fresh_kernel: reconfigure.is_none()
                    && matches!(spec.boot, hype_vmm::Boot::Kernel { .. }),
                reconfigure,
            },
        );
        Ok(self.to_view(rec))
    }

    pub async fn start_vm(&self, name: &str) -> Result<Vm> {
        let a = self.begin(name, Some(Transition::Boot)).await?;
        let vmm = self.inner.backends.of_record(&a.rec)?;
        let plan = self.plan_for(&a.rec, vmm).await?;
        self.boot(&a.rec, &plan).await
    }

    /// Graceful first (the agent, then the ACPI power button), forceful after
    /// the stop timeout.
    pub async fn stop_vm(&self, name: &str) -> Result<Vm> {
        let a = self.begin(name, Some(Transition::Stop)).await?;
        let Some(rt) = self.inner.runtimes.get(name) else {
            // No supervisor means no VMM: record it as gone.
            self.inner
                .store
                .transition(name, Transition::Stop, None, VmmUpdate::default())
                .await?;
            self.inner
                .store
                .transition(
                    name,
                    Transition::Exited,
                    Some("no VMM was running".into()),
                    VmmUpdate {
                        pid: Some(None),
                        ..Default::default()
                    },
                )
                .await?;
            return self.get_vm(name).await;
        };
        let vmm = self.inner.backends.of_record(&a.rec)?;
        self.inner
            .store
            .transition(name, Transition::Stop, None, VmmUpdate::default())
            .await?;
        if a.rec.state == VmState::Paused {
            let _ = vmm.resume(name, &a.run_dir).await;
        }
        let timeout = self.inner.cfg.stop_timeout;
        // Without an agent the power button is the only polite request,
        // and it gets the whole timeout.
        let (agent_wait, button_wait) = if rt.has_agent {
            let _ = rt.agent.try_send(hype_agent_proto::HostMessage::Shutdown);
            (timeout / 2, timeout / 2)
        } else {
            (std::time::Duration::ZERO, timeout)
        };
        if tokio::time::timeout(agent_wait, rt.wait_exited())
            .await
            .is_err()
        {
            tracing::info!(
                vm = name,
                agent = rt.has_agent,
                "no shutdown by the agent; pressing the power button"
            );
            let _ = vmm.power_button(name, &a.run_dir).await;
            if tokio::time::timeout(button_wait, rt.wait_exited())
                .await
                .is_err()
            {
                tracing::warn!(
                    vm = name,
                    "guest did not shut down in time; killing its VMM"
                );
                process::signal_group(rt.pid, Signal::SIGKILL);
                rt.wait_exited().await;
            }
        }
        self.get_vm(name).await
    }

    pub async fn pause_vm(&self, name: &str) -> Result<Vm> {
        self.freeze(name, Transition::Pause).await
    }

    pub async fn resume_vm(&self, name: &str) -> Result<Vm> {
        self.freeze(name, Transition::Resume).await
    }

    /// Pause or resume: the VMM first, then the record.
    async fn freeze(&self, name: &str, t: Transition) -> Result<Vm> {
        let a = self.begin(name, Some(t)).await?;
        let vmm = self.inner.backends.of_record(&a.rec)?;
        match t {
            Transition::Pause => vmm.pause(name, &a.run_dir).await?,
            _ => vmm.resume(name, &a.run_dir).await?,
        }
        let (rec, _) = self
            .inner
            .store
            .transition(name, t, None, VmmUpdate::default())
            .await?;
        Ok(self.to_view(rec))
    }

    /// Kills the VMM if there is one, removes the VM's files and its row.
    pub async fn delete_vm(&self, name: &str) -> Result<()> {
        self.delete_vm_because(name, None).await
    }

    /// Delete with a reason recorded in `VM_DELETED`'s detail.
    pub(crate) async fn delete_vm_because(&self, name: &str, detail: Option<String>) -> Result<()> {
        let a = self.begin(name, None).await?;
        let rec_snapshot = a.rec.snapshot.clone();
        if let Some(rt) = self.inner.runtimes.get(name) {
            rt.expect_exit();
            process::signal_group(rt.pid, Signal::SIGKILL);
            rt.wait_exited().await;
        } else if let Some(pid) = a.rec.vmm_pid {
            if let Ok(vmm) = self.inner.backends.of_record(&a.rec) {
                if vmm.owns_process(pid, &a.run_dir) {
                    process::signal_group(pid, Signal::SIGKILL);
                }
            }
        }
        if let Err(e) = std::fs::remove_dir_all(&a.run_dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                return Err(CoreError::Io {
                    path: a.run_dir,
                    source: e,
                });
            }
        }
        self.detach_network(&a.rec).await;
        crate::ram::remove(&self.inner.cfg, &a.rec.dir);
        self.inner.store.delete_vm(name, detail).await?;
        // A new VM of this name starts with no CDP history (idle timeout).
        self.inner.lifetimes.forget(name, None);
        if a.rec.ip.is_some() {
            self.refresh_firewall().await?;
        }
        drop(a);
        // A snapshot made for forks goes with the last of them.
        if let Some(snapshot) = &rec_snapshot {
            self.drop_if_unused(snapshot).await;
        }
        Ok(())
    }
}

/// Rejects `t` early, before any side effect, with the VM's current state.
pub(crate) fn check(rec: &VmRecord, t: Transition) -> Result<()> {
    rec.state
        .apply(t)
        .map(|_| ())
        .map_err(|e| CoreError::InvalidState {
            name: rec.name.clone(),
            state: rec.state,
            action: e.action,
        })
}
