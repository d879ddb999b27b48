//! hyped's own directories. Everything under the data directory is
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
    for dir in [cfg.data_dir.clone(), cfg.vms_dir(), cfg.system_dir()] {
        private_dir(&dir)?;
    }
    Ok(())
}
