//! Which accelerator guests get: decided once at start, in the
//! background, by booting a probe guest under KVM (see `hype_vmm::accel`);
//! creates wait for the decision.

use hype_types::AccelInfo;
use hype_vmm::Accel;

use crate::{images, AccelChoice, Hype};

/// The accelerator decision, made once at start.
#[derive(Debug, Clone)]
pub(crate) struct AccelDecision {
    pub accel: Accel,
    pub info: AccelInfo,
}

impl Hype {
    pub(crate) async fn decide_accel(&self) -> AccelDecision {
        let forced = |accel: Accel, why: &str| AccelDecision {
            accel,
            info: AccelInfo {
                mode: accel.as_str().into(),
                kvm_usable: accel == Accel::Kvm,
                reason: why.into(),
            },
        };
        match self.inner.cfg.accel {
            AccelChoice::Kvm => return forced(Accel::Kvm, "forced by --accel kvm"),
            AccelChoice::Tcg => return forced(Accel::Tcg, "forced by --accel tcg"),
            AccelChoice::Auto => {}
        }
        let Some(qemu) = self.inner.backends.qemu() else {
            return forced(Accel::Tcg, "no qemu to probe KVM with");
        };
        let img = match self
            .inner
            .store
            .get_image(&self.inner.cfg.default_image)
            .await
        {
            Ok(img) => img,
            Err(_) => return forced(Accel::Tcg, "no image to probe KVM with"),
        };
        let files = match images::boot_files(&img) {
            Ok(f) => f,
            Err(why) => return forced(Accel::Tcg, &why),
        };
        let Some(initramfs) = files.initramfs else {
            return forced(
                Accel::Tcg,
                "the default image has no initramfs to probe with",
            );
        };
        let probe = hype_vmm::accel::probe_kvm(
            qemu.binary(),
            &files.kernel,
            &initramfs,
            &self.inner.cfg.system_dir(),
            std::time::Duration::from_secs(10),
        )
        .await;
        let accel = if probe.kvm_usable {
            Accel::Kvm
        } else {
            Accel::Tcg
        };
        if !probe.kvm_usable {
            tracing::warn!(reason = %probe.reason, "KVM cannot run guests here; using TCG (software emulation, slow)");
        }
        AccelDecision {
            accel,
            info: AccelInfo {
                mode: accel.as_str().into(),
                kvm_usable: probe.kvm_usable,
                reason: probe.reason,
            },
        }
    }
}
