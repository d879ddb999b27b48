//! [`Hype`]: the actions. Each VM's actions are serialised by a per-name
//! lock; state changes go through the store's transition function, so a
//! supervisor recording an exit and a user's request never disagree.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hype_store::{NewVm, Store, VmRecord, VmmUpdate};
use hype_types::{AccelInfo, CreateVm, Transition, VersionInfo, Vm, VmState, VmmChoice};
use hype_vmm::process::{self, ExitWatch};
use hype_vmm::{AnyVmm, CloudHypervisor, Qemu, Vmm};
use nix::sys::signal::Signal;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::accel::AccelDecision;
use crate::supervisor::{self, Runtime};
use crate::{images, CoreConfig, CoreError, Result};

pub(crate) struct Inner {
    pub cfg: CoreConfig,
    pub store: Store,
    pub qemu: Option<Qemu>,
    pub ch: Option<CloudHypervisor>,
    pub net: Option<hype_net::Net>,
    pub net_status: hype_types::NetworkStatus,
    /// Open CDP connections per VM, for idle timeouts and closing them.
    pub cdp: Mutex<HashMap<String, crate::lifetime::CdpState>>,
    /// Images with a browser root filesystem (their VMs get a `cdp_url`).
    pub browser_images: Mutex<std::collections::HashSet<String>>,
    pub accel: watch::Receiver<Option<AccelDecision>>,
    pub runtimes: Mutex<HashMap<String, Runtime>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    generation: AtomicU64,
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
    pub jobs: crate::jobs::Jobs,
}

impl Inner {
    pub fn next_generation(&self) -> u64 {
        self.generation.fetch_add(1, Ordering::Relaxed)
    }

    pub fn forget_runtime(&self, name: &str, generation: u64) {
        let mut map = self.runtimes.lock().expect("runtimes lock");
        if map.get(name).is_some_and(|r| r.generation == generation) {
            map.remove(name);
        }
    }

    pub(crate) fn runtime(&self, name: &str) -> Option<Runtime> {
        self.runtimes
            .lock()
            .expect("runtimes lock")
            .get(name)
            .cloned()
    }

    pub(crate) fn lock_for(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .expect("locks lock")
            .entry(name.to_owned())
            .or_default()
            .clone()
    }
}

/// The orchestrator. Cheap to clone; every clone is the same instance.
#[derive(Clone)]
pub struct Hype {
    pub(crate) inner: Arc<Inner>,
}

impl Hype {
    /// Opens the store, registers built images, decides the accelerator (in
    /// the background) and adopts or buries VMs left from a previous run.
    pub async fn start(cfg: CoreConfig, shutdown: CancellationToken) -> Result<Self> {
        for dir in [cfg.data_dir.clone(), cfg.vms_dir(), cfg.system_dir()] {
            std::fs::create_dir_all(&dir).map_err(|source| CoreError::Io { path: dir, source })?;
        }
        let store = Store::open(&cfg.db_path()).await?;
        images::import_built(&store, &cfg.images_dir).await?;
        let browser_images = store
            .list_images()
            .await?
            .into_iter()
            .filter(|i| i.rootfs.is_some())
            .map(|i| i.name)
            .collect();
        let qemu = Qemu::detect(cfg.qemu_binary.clone());
        match &qemu {
            Some(q) => tracing::info!(version = ?q.version(), "qemu found"),
            None => tracing::warn!("qemu-system-x86_64 not found; VMs cannot boot"),
        }
        let ch = crate::ch::detect(&cfg).await;
        let (net, net_status) = crate::network::setup(&cfg).await;
        let (accel_tx, accel_rx) = watch::channel(None);
        let workers = cfg.import_workers;
        let inner = Arc::new(Inner {
            cfg,
            store,
            qemu,
            ch,
            net,
            net_status,
            browser_images: Mutex::new(browser_images),
            cdp: Mutex::default(),
            accel: accel_rx,
            runtimes: Mutex::default(),
            locks: Mutex::default(),
            generation: AtomicU64::new(0),
            jobs: crate::jobs::Jobs::new(workers),
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
        hype.reconcile_jobs().await?;
        hype.start_dispatcher();
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

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn config(&self) -> &CoreConfig {
        &self.inner.cfg
    }

    pub async fn version(&self) -> VersionInfo {
        let accel = self.inner.accel.borrow().clone();
        let ch = self.inner.ch.as_ref();
        let default_vmm = crate::ch::default_vmm(
            self.inner.cfg.default_vmm,
            ch.is_some(),
            accel.as_ref().map(|a| a.accel),
        );
        VersionInfo {
            server: env!("CARGO_PKG_VERSION").into(),
            api: "v1".into(),
            qemu: self.inner.qemu.as_ref().and_then(|q| q.version()),
            cloud_hypervisor: crate::ch::versions(ch),
            accel: accel.map(|a| a.info).unwrap_or(AccelInfo {
                mode: "pending".into(),
                kvm_usable: false,
                reason: "the KVM probe is still running".into(),
            }),
            default_vmm: default_vmm.as_str().into(),
            network: self.inner.net_status.clone(),
        }
    }

    pub(crate) fn backend(&self, choice: VmmChoice) -> Result<AnyVmm> {
        let choice = match choice {
            VmmChoice::Auto => self.inner.cfg.default_vmm,
            other => other,
        };
        match choice {
            VmmChoice::Auto | VmmChoice::Qemu => match &self.inner.qemu {
                Some(q) => Ok(AnyVmm::Qemu(q.clone())),
                None => Err(CoreError::BackendUnavailable {
                    backend: "qemu",
                    why: "qemu-system-x86_64 was not found (Debian package qemu-system-x86)".into(),
                }),
            },
            VmmChoice::CloudHypervisor => match &self.inner.ch {
                Some(c) => Ok(AnyVmm::CloudHypervisor(c.clone())),
                None => Err(CoreError::BackendUnavailable {
                    backend: "cloud-hypervisor",
                    why: "this hyped has no cloud-hypervisor binary; use vmm \"qemu\"".into(),
                }),
            },
        }
    }

    /// Settles `auto`; CH is an option only on KVM, which may mean waiting
    /// for the accelerator decision.
    async fn resolve(&self, choice: VmmChoice) -> Result<VmmChoice> {
        match (choice, self.inner.cfg.default_vmm) {
            (VmmChoice::Auto, VmmChoice::Auto) if self.inner.ch.is_some() => {
                Ok(crate::ch::auto_choice(true, self.accel().await?.accel))
            }
            (VmmChoice::Auto, configured) => Ok(configured),
            (explicit, _) => Ok(explicit),
        }
    }

    pub(crate) fn backend_for(&self, r: &VmRecord) -> Result<AnyVmm> {
        self.backend(match r.vmm_kind {
            hype_types::VmmKind::Qemu => VmmChoice::Qemu,
            hype_types::VmmKind::CloudHypervisor => VmmChoice::CloudHypervisor,
        })
    }

    /// Validates, records and boots a new VM. Returns it in `starting`;
    /// `VM_RUNNING` follows once its agent reports ready.
    pub async fn create_vm(&self, req: CreateVm) -> Result<Vm> {
        req.validate(self.inner.cfg.host)?;
        let vmm = self.backend(self.resolve(req.vmm).await?)?;
        let image_name = req
            .image
            .clone()
            .unwrap_or_else(|| self.inner.cfg.default_image.clone());
        let img = self.inner.store.get_image(&image_name).await?;
        let boot = self.image_boot(&req.name, &img).await?;
        if !boot.has_agent() && req.kernel_cmdline.is_some() {
            return Err(CoreError::InvalidRequest(format!(
                "kernel_cmdline: image '{}' boots its own kernel through firmware; hype passes it no command line",
                img.name
            )));
        }
        if let images::ImageBoot::Disk {
            boot: images::DiskBoot::Firmware(firmware),
            ..
        } = &boot
        {
            // Checked before the VM is recorded: a firmware that cannot
            // run here leaves nothing behind.
            crate::firmware::plan(&self.inner.cfg, &req.name, &img.name, *firmware, vmm.kind())?;
        }
        if req.persist && img.rootfs.is_none() {
            return Err(CoreError::InvalidRequest(format!(
                "persist needs an image with a root filesystem (such as 'browser'); '{}' has none",
                img.name
            )));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let (rec, _) = self
            .inner
            .store
            .insert_vm(
                NewVm {
                    id,
                    name: req.name.clone(),
                    cpu_cores: req.cpu_cores,
                    memory_mb: req.memory_mb,
                    image: image_name,
                    kernel_cmdline: String::new(),
                    user_cmdline: req.kernel_cmdline.clone(),
                    vmm_kind: vmm.kind(),
                    egress: req.egress(),
                    ttl_seconds: req.ttl_seconds,
                    idle_timeout_seconds: req.idle_timeout_seconds,
                    persist: req.persist,
                },
                self.inner.cfg.max_vms,
            )
            .await?;
        let lock = self.inner.lock_for(&rec.name);
        let _guard = lock.lock().await;
        let run_dir = self.inner.cfg.run_dir(&rec.name);
        // A directory left by an earlier VM of the same name is stale.
        let _ = std::fs::remove_dir_all(&run_dir);
        match self.boot(&rec, &vmm).await {
            Ok(vm) => Ok(vm),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&run_dir);
                let detail = format!("create failed: {e}");
                if let Err(del) = self.inner.store.delete_vm(&rec.name, Some(detail)).await {
                    tracing::error!(vm = %rec.name, error = %del, "cannot remove a VM whose boot failed");
                }
                Err(e)
            }
        }
    }

    /// Launches the VMM for `rec` and starts supervising it.
    async fn boot(&self, rec: &VmRecord, vmm: &AnyVmm) -> Result<Vm> {
        let net = self.attach_network(rec).await?;
        let booted = self.launch(rec, vmm, net.as_ref()).await;
        if booted.is_err() && net.is_some() {
            self.detach_network(rec).await;
        }
        booted
    }

    async fn launch(
        &self,
        rec: &VmRecord,
        vmm: &AnyVmm,
        net: Option<&crate::network::Attachment>,
    ) -> Result<Vm> {
        let spec = self.vm_spec(rec, vmm, net).await?;
        let launched_at = Instant::now();
        let launched = vmm.launch(&spec).await.map_err(|source| CoreError::Boot {
            name: rec.name.clone(),
            source,
        })?;
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
            &self.inner,
            rec.name.clone(),
            vmm.clone(),
            watch,
            true,
            spec.boot.has_agent(),
            launched_at,
        );
        Ok(self.to_view(rec))
    }

    pub async fn start_vm(&self, name: &str) -> Result<Vm> {
        let lock = self.inner.lock_for(name);
        let _guard = lock.lock().await;
        let rec = self.inner.store.get_vm(name).await?;
        check(&rec, Transition::Boot)?;
        let vmm = self.backend_for(&rec)?;
        self.boot(&rec, &vmm).await
    }

    /// Graceful first (the agent, then the ACPI power button), forceful after
    /// the stop timeout.
    pub async fn stop_vm(&self, name: &str) -> Result<Vm> {
        let lock = self.inner.lock_for(name);
        let _guard = lock.lock().await;
        let rec = self.inner.store.get_vm(name).await?;
        check(&rec, Transition::Stop)?;
        let vmm = self.backend_for(&rec)?;
        let run_dir = self.inner.cfg.run_dir(name);
        let Some(rt) = self.inner.runtime(name) else {
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
        self.inner
            .store
            .transition(name, Transition::Stop, None, VmmUpdate::default())
            .await?;
        if rec.state == VmState::Paused {
            let _ = vmm.resume(name, &run_dir).await;
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
            let _ = vmm.power_button(name, &run_dir).await;
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
        self.freeze(name, true).await
    }

    pub async fn resume_vm(&self, name: &str) -> Result<Vm> {
        self.freeze(name, false).await
    }

    /// Pause (`true`) or resume (`false`): the VMM first, then the record.
    async fn freeze(&self, name: &str, pause: bool) -> Result<Vm> {
        let t = if pause {
            Transition::Pause
        } else {
            Transition::Resume
        };
        let lock = self.inner.lock_for(name);
        let _guard = lock.lock().await;
        let rec = self.inner.store.get_vm(name).await?;
        check(&rec, t)?;
        let vmm = self.backend_for(&rec)?;
        let run_dir = self.inner.cfg.run_dir(name);
        if pause {
            vmm.pause(name, &run_dir).await?;
        } else {
            vmm.resume(name, &run_dir).await?;
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
        let lock = self.inner.lock_for(name);
        let _guard = lock.lock().await;
        let rec = self.inner.store.get_vm(name).await?;
        if let Some(rt) = self.inner.runtime(name) {
            rt.deleting.store(true, Ordering::SeqCst);
            process::signal_group(rt.pid, Signal::SIGKILL);
            rt.wait_exited().await;
        } else if let Some(pid) = rec.vmm_pid {
            if let Ok(vmm) = self.backend_for(&rec) {
                if vmm.owns_process(pid, &self.inner.cfg.run_dir(name)) {
                    process::signal_group(pid, Signal::SIGKILL);
                }
            }
        }
        let run_dir = self.inner.cfg.run_dir(name);
        if let Err(e) = std::fs::remove_dir_all(&run_dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                return Err(CoreError::Io {
                    path: run_dir,
                    source: e,
                });
            }
        }
        self.detach_network(&rec).await;
        self.inner.store.delete_vm(name, detail).await?;
        if !rec.egress && rec.ip.is_some() {
            self.refresh_firewall().await?;
        }
        Ok(())
    }

    /// The serial console log of a VM (it may not exist yet).
    pub async fn console_path(&self, name: &str) -> Result<PathBuf> {
        self.inner.store.get_vm(name).await?;
        Ok(self
            .inner
            .cfg
            .run_dir(name)
            .join(hype_vmm::spec_files::CONSOLE_LOG))
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
