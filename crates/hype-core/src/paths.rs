//! hyped's own directories, and where confined VMMs find theirs. Everything under the data directory is
//! private to hyped: the database, VMs' consoles, disks with browser
//! profiles, imported disks. The directories are made (or corrected to)
//! mode 0700 and hyped's umask is 0077, so every file it or a VMM creates
//! is 0600 whatever the operator's umask was.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::{CoreConfig, CoreError, Result};

fn private_dir(dir: &Path) -> Result<()> {
    let io = |source| CoreError::Io {
        path: dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)
}

/// Makes the data directory and its parts, all 0700, and sets the umask.
pub(crate) fn ensure_private_dirs(cfg: &CoreConfig) -> Result<()> {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    for dir in [
        cfg.data_dir.clone(),
        cfg.vms_dir(),
        cfg.system_dir(),
        cfg.recordings_dir(),
    ] {
        private_dir(&dir)?;
    }
    Ok(())
}

/// The jail VMMs run in, as configured: its empty root directory made, its
/// cgroup layout found, and hyped made the reaper of jailed VMMs (their
/// jailer exits at once; the VMM must stay hyped's child).
pub(crate) fn jail_config(cfg: &CoreConfig) -> Result<Option<hype_vmm::jail::JailConfig>> {
    let Some(j) = &cfg.jail else {
        return Ok(None);
    };
    let root = cfg.system_dir().join("jail");
    private_dir(&root)?;
    hype_vmm::jail::become_subreaper().map_err(|source| CoreError::Io {
        path: "prctl(PR_SET_CHILD_SUBREAPER)".into(),
        source,
    })?;
    let cgroups = hype_vmm::jail::cgroup::Cgroups::detect();
    match &cgroups {
        hype_vmm::jail::cgroup::Cgroups::None => {
            tracing::warn!("no usable cgroups (v2 with memory, cpu and pids, or v1): VMMs run without resource limits")
        }
        c => tracing::info!(cgroups = ?c, "VMMs are confined"),
    }
    if !j.jailer.is_file() {
        return Err(CoreError::Io {
            path: j.jailer.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the jailer is missing (it is built beside hyped); or start hyped with --jail off",
            ),
        });
    }
    Ok(Some(hype_vmm::jail::JailConfig {
        jailer: j.jailer.clone(),
        root,
        cgroups,
    }))
}
