//! The firmware a VM of an imported disk boots with. The image records
//! what its source booted (`bios` or `uefi`); the backend decides what
//! that takes. QEMU boots a BIOS disk with SeaBIOS and a UEFI one with
//! OVMF in two flash chips: the code shared and read-only, the variable
//! store a copy of the VM's own, kept beside its overlay (boot entries a
//! guest writes there survive stop and start; delete removes it with the
//! run directory). cloud-hypervisor has only UEFI (`CLOUDHV.fd`).
//!
//! Everything a plan needs is checked before a VM is recorded, so a
//! create that cannot boot leaves nothing behind.

use std::path::{Path, PathBuf};

use hype_types::{Firmware, VmmKind};

use crate::config::CoreConfig;
use crate::{CoreError, Result};

/// What booting an image's firmware on one backend takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// QEMU's SeaBIOS.
    Bios,
    /// cloud-hypervisor's UEFI image (`None`: its default path).
    ChUefi(Option<PathBuf>),
    /// OVMF: its code, and the empty variable store each VM copies.
    Ovmf { code: PathBuf, vars: PathBuf },
}

/// The plan for a VM `vm` of image `image` (whose firmware is `firmware`)
/// on `kind`, or why it cannot boot there (`501 not_supported`).
pub(crate) fn plan(
    cfg: &CoreConfig,
    vm: &str,
    image: &str,
    firmware: Firmware,
    kind: VmmKind,
) -> Result<Plan> {
    let refuse = |what: String| CoreError::Unsupported {
        name: vm.into(),
        what,
    };
    match (kind, firmware) {
        (VmmKind::Qemu, Firmware::Bios) => Ok(Plan::Bios),
        (VmmKind::Qemu, Firmware::Uefi) => {
            for (path, flag) in [(&cfg.ovmf_code, "--ovmf-code"), (&cfg.ovmf_vars, "--ovmf-vars")] {
                if !path.is_file() {
                    return Err(refuse(format!(
                        "image '{image}' boots through UEFI and OVMF's {} is missing; install the Debian package ovmf (or point {flag} at the file)",
                        path.display()
                    )));
                }
            }
            Ok(Plan::Ovmf {
                code: cfg.ovmf_code.clone(),
                vars: cfg.ovmf_vars.clone(),
            })
        }
        (VmmKind::CloudHypervisor, Firmware::Uefi) => Ok(Plan::ChUefi(cfg.ch_firmware.clone())),
        (VmmKind::CloudHypervisor, Firmware::Bios) => Err(refuse(format!(
            "image '{image}' boots through a BIOS (as its source did) and cloud-hypervisor has only UEFI firmware; use vmm \"qemu\""
        ))),
    }
}

/// Makes what `plan` needs in `run_dir` (the VM's own variable store, on
/// first boot only) and returns the firmware for the VMM.
pub(crate) async fn prepare(vm: &str, plan: Plan, run_dir: &Path) -> Result<hype_vmm::Firmware> {
    Ok(match plan {
        Plan::Bios => hype_vmm::Firmware::Bios,
        Plan::ChUefi(image) => hype_vmm::Firmware::UefiImage(image),
        Plan::Ovmf { code, vars } => {
            let own = run_dir.join(hype_vmm::spec_files::UEFI_VARS);
            crate::disk::ensure_copy(vm, &own, &vars).await?;
            hype_vmm::Firmware::UefiFlash { code, vars: own }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(dir: &Path) -> CoreConfig {
        CoreConfig {
            ovmf_code: dir.join("CODE.fd"),
            ovmf_vars: dir.join("VARS.fd"),
            ch_firmware: Some("/opt/CLOUDHV.fd".into()),
            ..CoreConfig::default()
        }
    }

    #[test]
    fn each_backend_gets_its_own_firmware_or_a_reason() {
        let tmp = tempfile::tempdir().unwrap();
        let c = cfg(tmp.path());
        let p = |f, k| plan(&c, "vm1", "web", f, k);
        assert_eq!(p(Firmware::Bios, VmmKind::Qemu).unwrap(), Plan::Bios);
        assert_eq!(
            p(Firmware::Uefi, VmmKind::CloudHypervisor).unwrap(),
            Plan::ChUefi(Some("/opt/CLOUDHV.fd".into()))
        );
        let e = p(Firmware::Bios, VmmKind::CloudHypervisor).unwrap_err();
        assert!(matches!(e, CoreError::Unsupported { .. }), "{e}");
        assert!(
            e.to_string().contains("BIOS") && e.to_string().contains("qemu"),
            "{e}"
        );
        // OVMF's files are missing until made.
        let e = p(Firmware::Uefi, VmmKind::Qemu).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("ovmf") && msg.contains("CODE.fd") && msg.contains("vm1"),
            "{msg}"
        );
        std::fs::write(&c.ovmf_code, b"code").unwrap();
        let e = p(Firmware::Uefi, VmmKind::Qemu).unwrap_err();
        assert!(e.to_string().contains("VARS.fd"), "{e}");
        std::fs::write(&c.ovmf_vars, b"vars").unwrap();
        assert_eq!(
            p(Firmware::Uefi, VmmKind::Qemu).unwrap(),
            Plan::Ovmf {
                code: c.ovmf_code.clone(),
                vars: c.ovmf_vars.clone()
            }
        );
    }

    #[tokio::test]
    async fn the_variable_store_is_copied_once_and_then_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let c = cfg(tmp.path());
        std::fs::write(&c.ovmf_code, b"code").unwrap();
        std::fs::write(&c.ovmf_vars, b"empty store").unwrap();
        let run = tmp.path().join("vms/vm1");
        let ovmf = plan(&c, "vm1", "web", Firmware::Uefi, VmmKind::Qemu).unwrap();
        let fw = prepare("vm1", ovmf.clone(), &run).await.unwrap();
        let own = run.join(hype_vmm::spec_files::UEFI_VARS);
        assert_eq!(
            fw,
            hype_vmm::Firmware::UefiFlash {
                code: c.ovmf_code.clone(),
                vars: own.clone()
            }
        );
        assert_eq!(std::fs::read(&own).unwrap(), b"empty store");
        // What the guest wrote stays across boots.
        std::fs::write(&own, b"boot entries").unwrap();
        prepare("vm1", ovmf, &run).await.unwrap();
        assert_eq!(std::fs::read(&own).unwrap(), b"boot entries");
        assert_eq!(std::fs::read(&c.ovmf_vars).unwrap(), b"empty store");
    }
}
