//! Which cloud-hypervisor binary new VMs run, and when `auto` picks it.
//!
//! The operator's binary (`--ch-binary`/`HYPE_CH_BINARY`) wins; otherwise the
//! newest one embedded in this build is extracted under
//! `{data}/system/binaries`. Without either, CH is simply unavailable and
//! `auto` keeps using QEMU: a missing CH never stops hyped from starting.

use std::path::{Path, PathBuf};

use hype_ch::ChVersion;
use hype_types::{ChVersions, VmmChoice, VmmKind};
use hype_vmm::{Accel, CloudHypervisor};

use crate::CoreConfig;

#[derive(Debug, thiserror::Error)]
enum FindError {
    #[error(transparent)]
    External(#[from] hype_ch::VersionError),
    #[error(transparent)]
    Embedded(#[from] hype_ch::BinaryError),
}

/// The CH backend, if a binary is available. Failures are logged, not
/// returned: they only take CH off the menu.
pub(crate) async fn detect(cfg: &CoreConfig) -> Option<CloudHypervisor> {
    let external = cfg.ch_binary.clone();
    let data_dir = cfg.data_dir.clone();
    // Both paths block: one waits for `--version`, the other writes and
    // hashes a file under a lock.
    let found = tokio::task::spawn_blocking(move || find(external, &data_dir)).await;
    match found {
        Ok(Ok(Some(ch))) => {
            tracing::info!(binary = %ch.binary().display(), version = ?hype_vmm::Vmm::version(&ch), "cloud-hypervisor found");
            Some(ch)
        }
        Ok(Ok(None)) => {
            tracing::info!("no cloud-hypervisor binary (none embedded, HYPE_CH_BINARY unset)");
            None
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "cloud-hypervisor unavailable");
            None
        }
        Err(error) => {
            tracing::warn!(%error, "cloud-hypervisor detection did not finish");
            None
        }
    }
}

fn find(external: Option<PathBuf>, data_dir: &Path) -> Result<Option<CloudHypervisor>, FindError> {
    if let Some(path) = external {
        let bin = hype_ch::external_binary(&path)?;
        if !bin.known {
            tracing::warn!(version = %bin.version, "this cloud-hypervisor version was not checked against hype's requests");
        }
        let version = bin.version.to_string();
        return Ok(Some(CloudHypervisor::new(bin.path, Some(version))));
    }
    let newest = hype_ch::available_versions()
        .into_iter()
        .filter(|b| b.arch == hype_ch::HOST_ARCH)
        .filter_map(|b| Some((b.version.parse::<ChVersion>().ok()?, b)))
        .max_by_key(|(version, _)| *version);
    let Some((_, embedded)) = newest else {
        return Ok(None);
    };
    let path = hype_ch::extract(data_dir, embedded.version, embedded.arch)?;
    Ok(Some(CloudHypervisor::new(
        path,
        Some(embedded.version.to_owned()),
    )))
}

/// A CH backend of exactly `version`, for a VM locked to the version it
/// was snapshotted with: the one in use if it matches, else an embedded
/// one of that version. `None` when this host has no such binary.
pub(crate) async fn of_version(
    cfg: &CoreConfig,
    current: Option<&CloudHypervisor>,
    version: &str,
) -> Option<CloudHypervisor> {
    if let Some(ch) = current.filter(|c| hype_vmm::Vmm::version(*c).as_deref() == Some(version)) {
        return Some(ch.clone());
    }
    let embedded = hype_ch::available_versions()
        .into_iter()
        .find(|b| b.arch == hype_ch::HOST_ARCH && b.version == version)?;
    let data_dir = cfg.data_dir.clone();
    let extracted = tokio::task::spawn_blocking(move || {
        hype_ch::extract(&data_dir, embedded.version, embedded.arch)
    })
    .await;
    match extracted {
        Ok(Ok(path)) => Some(CloudHypervisor::new(path, Some(version.to_owned()))),
        Ok(Err(error)) => {
            tracing::warn!(%error, version, "cannot extract the embedded cloud-hypervisor");
            None
        }
        Err(error) => {
            tracing::warn!(%error, version, "cloud-hypervisor extraction did not finish");
            None
        }
    }
}

/// What `auto` means here. CH runs on KVM only, so it is preferred only when
/// the accelerator decision says KVM can run guests; otherwise QEMU.
pub(crate) fn auto_choice(ch_available: bool, accel: Accel) -> VmmChoice {
    if ch_available && accel == Accel::Kvm {
        VmmChoice::CloudHypervisor
    } else {
        VmmChoice::Qemu
    }
}

/// The backend `auto` picks on this host, as `/version` reports it; QEMU
/// while the accelerator decision is pending.
pub(crate) fn default_vmm(
    configured: VmmChoice,
    ch_available: bool,
    accel: Option<Accel>,
) -> VmmKind {
    let choice = match (configured, accel) {
        (VmmChoice::Auto, Some(accel)) => auto_choice(ch_available, accel),
        (VmmChoice::Auto, None) => VmmChoice::Qemu,
        (other, _) => other,
    };
    match choice {
        VmmChoice::CloudHypervisor => VmmKind::CloudHypervisor,
        _ => VmmKind::Qemu,
    }
}

/// Every version this host can boot with: the one in use (external or
/// newest embedded) and every other one embedded for this architecture.
pub(crate) fn versions(ch: Option<&CloudHypervisor>) -> ChVersions {
    let default = ch.and_then(hype_vmm::Vmm::version);
    let mut available: Vec<String> = default.iter().cloned().collect();
    for b in hype_ch::available_versions() {
        if b.arch == hype_ch::HOST_ARCH && !available.iter().any(|v| v == b.version) {
            available.push(b.version.to_owned());
        }
    }
    ChVersions { available, default }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_prefers_ch_only_on_kvm() {
        assert_eq!(auto_choice(true, Accel::Kvm), VmmChoice::CloudHypervisor);
        assert_eq!(auto_choice(true, Accel::Tcg), VmmChoice::Qemu);
        assert_eq!(auto_choice(false, Accel::Kvm), VmmChoice::Qemu);
        assert_eq!(
            default_vmm(VmmChoice::Auto, true, None),
            VmmKind::Qemu,
            "pending decision"
        );
        assert_eq!(
            default_vmm(VmmChoice::Auto, true, Some(Accel::Kvm)),
            VmmKind::CloudHypervisor
        );
        assert_eq!(
            default_vmm(VmmChoice::Qemu, true, Some(Accel::Kvm)),
            VmmKind::Qemu
        );
    }

    #[tokio::test]
    async fn a_standby_vm_gets_exactly_its_version_or_nothing() {
        let cfg = CoreConfig::default();
        let current = CloudHypervisor::new("/bin/true".into(), Some("v53.0".into()));
        let same = of_version(&cfg, Some(&current), "v53.0").await;
        assert_eq!(
            same.map(|c| c.binary().to_owned()),
            Some("/bin/true".into())
        );
        // Not the one in use and not embedded: no stand-in of another version.
        assert!(of_version(&cfg, Some(&current), "v0.1").await.is_none());
        assert!(of_version(&cfg, None, "v0.1").await.is_none());
    }

    #[test]
    fn versions_list_every_embedded_one_for_this_arch() {
        let v = versions(None);
        assert_eq!(v.default, None);
        let embedded: Vec<_> = hype_ch::available_versions()
            .into_iter()
            .filter(|b| b.arch == hype_ch::HOST_ARCH)
            .map(|b| b.version.to_owned())
            .collect();
        assert_eq!(v.available, embedded);
        let ext = CloudHypervisor::new("/bin/true".into(), Some("v99.0".into()));
        let v = versions(Some(&ext));
        assert_eq!(v.default.as_deref(), Some("v99.0"));
        assert_eq!(v.available[0], "v99.0");
        assert_eq!(v.available.len(), embedded.len() + 1);
    }

    #[test]
    fn a_bad_external_binary_is_an_error_not_a_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-ch");
        assert!(matches!(
            find(Some(missing), dir.path()),
            Err(FindError::External(_))
        ));
    }
}
