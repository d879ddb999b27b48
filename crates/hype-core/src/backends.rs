//! The VMMs this hyped can launch and the accelerator guests get: which
//! backend a create, a start or a restore uses is decided here and nowhere
//! else. The rest of the core holds a [`VmmBackend`] and calls the `Vmm`
//! trait on it; under `cfg(test)` it may be the double of `crate::double`,
//! which runs real processes but no guest.

use std::path::Path;

use hype_store::VmRecord;
use hype_types::{AccelInfo, ChVersions, VmmChoice, VmmKind};
use hype_vmm::{Accel, AnyVmm, CloudHypervisor, Launched, Qemu, VmSpec, Vmm};
use tokio::net::UnixStream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::accel::AccelDecision;
use crate::{CoreConfig, CoreError, Result};

/// The backend of one VM.
#[derive(Debug, Clone)]
pub(crate) enum VmmBackend {
    Real(AnyVmm),
    #[cfg(test)]
    Double(crate::double::DoubleVmm),
}

/// Every backend hyped knows of, and the accelerator decision they wait on.
pub(crate) struct Backends {
    cfg_default: VmmChoice,
    /// QEMU, or (in unit tests) the double standing in for it.
    qemu: Option<VmmBackend>,
    ch: Option<CloudHypervisor>,
    accel: watch::Receiver<Option<AccelDecision>>,
    shutdown: CancellationToken,
}

impl Backends {
    pub fn new(
        cfg_default: VmmChoice,
        qemu: Option<VmmBackend>,
        ch: Option<CloudHypervisor>,
        accel: watch::Receiver<Option<AccelDecision>>,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            cfg_default,
            qemu,
            ch,
            accel,
            shutdown,
        }
    }

    /// The real QEMU, for the KVM probe.
    pub fn qemu(&self) -> Option<&Qemu> {
        match &self.qemu {
            Some(VmmBackend::Real(AnyVmm::Qemu(q))) => Some(q),
            _ => None,
        }
    }

    pub fn qemu_version(&self) -> Option<String> {
        self.qemu.as_ref().and_then(Vmm::version)
    }

    pub fn ch_versions(&self) -> ChVersions {
        crate::ch::versions(self.ch.as_ref())
    }

    /// The accelerator decision, waiting for it while the probe runs.
    pub async fn accel(&self) -> Result<AccelDecision> {
        let mut rx = self.accel.clone();
        let got = tokio::select! {
            r = rx.wait_for(|d| d.is_some()) => r.map(|d| d.clone()),
            _ = self.shutdown.cancelled() => return Err(CoreError::ShuttingDown),
        };
        got.ok().flatten().ok_or(CoreError::ShuttingDown)
    }

    /// What `/version` says of the accelerator (pending while probing).
    pub fn accel_info(&self) -> AccelInfo {
        self.accel
            .borrow()
            .clone()
            .map(|a| a.info)
            .unwrap_or(AccelInfo {
                mode: "pending".into(),
                kvm_usable: false,
                reason: "the KVM probe is still running".into(),
            })
    }

    /// The backend `auto` picks now, as `/version` reports it.
    pub fn default_kind(&self) -> VmmKind {
        let accel = self.accel.borrow().as_ref().map(|a| a.accel);
        crate::ch::default_vmm(self.cfg_default, self.ch.is_some(), accel)
    }

    /// The backend for a create: `auto` settled (CH only on KVM, which may
    /// mean waiting for the accelerator decision).
    pub async fn resolve(&self, choice: VmmChoice) -> Result<VmmBackend> {
        let choice = match (choice, self.cfg_default) {
            (VmmChoice::Auto, VmmChoice::Auto) if self.ch.is_some() => {
                crate::ch::auto_choice(true, self.accel().await?.accel)
            }
            (VmmChoice::Auto, configured) => configured,
            (explicit, _) => explicit,
        };
        match choice {
            VmmChoice::Auto | VmmChoice::Qemu => self.of_kind(VmmKind::Qemu),
            VmmChoice::CloudHypervisor => self.of_kind(VmmKind::CloudHypervisor),
        }
    }

    /// The backend of `kind`, or why this host has none.
    pub fn of_kind(&self, kind: VmmKind) -> Result<VmmBackend> {
        match kind {
            VmmKind::Qemu => self.qemu.clone().ok_or(CoreError::BackendUnavailable {
                backend: "qemu",
                why: "qemu-system-x86_64 was not found (Debian package qemu-system-x86)".into(),
            }),
            VmmKind::CloudHypervisor => match &self.ch {
                Some(c) => Ok(VmmBackend::Real(AnyVmm::CloudHypervisor(c.clone()))),
                None => Err(CoreError::BackendUnavailable {
                    backend: "cloud-hypervisor",
                    why: "this hyped has no cloud-hypervisor binary; use vmm \"qemu\"".into(),
                }),
            },
        }
    }

    /// The backend a VM was created on.
    pub fn of_record(&self, rec: &VmRecord) -> Result<VmmBackend> {
        self.of_kind(rec.vmm_kind)
    }

    /// The backend a saved state comes back on: the same kind, and for CH
    /// the very version that saved it (its snapshot format is not stable
    /// across versions).
    pub async fn for_saved_state(
        &self,
        cfg: &CoreConfig,
        name: &str,
        kind: VmmKind,
        version: Option<&str>,
    ) -> Result<VmmBackend> {
        match (kind, version) {
            (VmmKind::CloudHypervisor, Some(version)) => {
                match crate::ch::of_version(cfg, self.ch.as_ref(), version).await {
                    Some(ch) => Ok(VmmBackend::Real(AnyVmm::CloudHypervisor(ch))),
                    None => {
                        let available = crate::ch::versions(self.ch.as_ref()).available;
                        Err(CoreError::VersionUnavailable {
                            name: name.into(),
                            version: version.into(),
                            available: if available.is_empty() {
                                "no cloud-hypervisor".into()
                            } else {
                                available.join(", ")
                            },
                        })
                    }
                }
            }
            _ => self.of_kind(kind),
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $v:ident => $e:expr) => {
        match $self {
            VmmBackend::Real($v) => $e,
            #[cfg(test)]
            VmmBackend::Double($v) => $e,
        }
    };
}

impl Vmm for VmmBackend {
    fn kind(&self) -> VmmKind {
        dispatch!(self, v => v.kind())
    }
    fn version(&self) -> Option<String> {
        dispatch!(self, v => v.version())
    }
    fn cmdline_extra(&self, accel: Accel) -> Vec<String> {
        dispatch!(self, v => v.cmdline_extra(accel))
    }
    async fn launch(&self, spec: &VmSpec) -> hype_vmm::Result<Launched> {
        dispatch!(self, v => v.launch(spec).await)
    }
    async fn pause(&self, name: &str, run_dir: &Path) -> hype_vmm::Result<()> {
        dispatch!(self, v => v.pause(name, run_dir).await)
    }
    async fn resume(&self, name: &str, run_dir: &Path) -> hype_vmm::Result<()> {
        dispatch!(self, v => v.resume(name, run_dir).await)
    }
    async fn power_button(&self, name: &str, run_dir: &Path) -> hype_vmm::Result<()> {
        dispatch!(self, v => v.power_button(name, run_dir).await)
    }
    async fn connect_agent(&self, name: &str, run_dir: &Path) -> hype_vmm::Result<UnixStream> {
        dispatch!(self, v => v.connect_agent(name, run_dir).await)
    }
    async fn snapshot(&self, name: &str, run_dir: &Path, dest: &Path) -> hype_vmm::Result<()> {
        dispatch!(self, v => v.snapshot(name, run_dir, dest).await)
    }
    async fn restore(&self, spec: &VmSpec, from: &Path) -> hype_vmm::Result<Launched> {
        dispatch!(self, v => v.restore(spec, from).await)
    }
    async fn save_for_forks(
        &self,
        name: &str,
        run_dir: &Path,
        state: &Path,
    ) -> hype_vmm::Result<()> {
        dispatch!(self, v => v.save_for_forks(name, run_dir, state).await)
    }
    async fn fork(&self, spec: &VmSpec, state: &Path) -> hype_vmm::Result<Launched> {
        dispatch!(self, v => v.fork(spec, state).await)
    }
    async fn quit(&self, name: &str, run_dir: &Path) -> hype_vmm::Result<()> {
        dispatch!(self, v => v.quit(name, run_dir).await)
    }
    async fn reset(&self, name: &str, run_dir: &Path) -> hype_vmm::Result<()> {
        dispatch!(self, v => v.reset(name, run_dir).await)
    }
    async fn guest_running(&self, name: &str, run_dir: &Path) -> hype_vmm::Result<bool> {
        dispatch!(self, v => v.guest_running(name, run_dir).await)
    }
    fn owns_process(&self, pid: u32, run_dir: &Path) -> bool {
        dispatch!(self, v => v.owns_process(pid, run_dir))
    }
    fn exit_reason(&self, run_dir: &Path) -> Option<String> {
        dispatch!(self, v => v.exit_reason(run_dir))
    }
}
