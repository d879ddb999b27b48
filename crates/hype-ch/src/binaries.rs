//! CH binaries embedded in hype at build time and their extraction to disk.
//!
//! The binaries live, git-ignored, under
//! `crates/hype-ch/binaries/cloud-hypervisor/<version>/<arch>/cloud-hypervisor`
//! (fetched by `scripts/fetch-cloud-hypervisor.sh`). A build without any of
//! them is valid: it simply embeds nothing and the operator must point hype
//! at an external binary.
//!
//! Extraction is blocking file I/O with an exclusive `flock`; call it from
//! `spawn_blocking` in async code.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};
use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest, Sha256};

use crate::error::BinaryError;

include!(concat!(env!("OUT_DIR"), "/embedded_binaries.rs"));

static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/binaries/cloud-hypervisor");

const BINARY_NAME: &str = "cloud-hypervisor";
const MODE: u32 = 0o755;

/// Architecture name of this build, spelled like the binaries' directories
/// (`x86_64`, `aarch64`).
pub const HOST_ARCH: &str = std::env::consts::ARCH;

/// One embedded binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedBinary {
    /// Release tag, e.g. `v53.0`.
    pub version: &'static str,
    pub arch: &'static str,
    /// Hex sha256 of the binary, recorded by build.rs.
    pub sha256: &'static str,
}

impl EmbeddedBinary {
    fn bytes(&self) -> Option<&'static [u8]> {
        EMBEDDED
            .get_file(format!("{}/{}/{BINARY_NAME}", self.version, self.arch))
            .map(|file| file.contents())
    }
}

/// Every embedded binary, sorted by version then arch; empty when the build
/// had none.
pub fn available_versions() -> Vec<EmbeddedBinary> {
    EMBEDDED_SHA256
        .iter()
        .map(|&(version, arch, sha256)| EmbeddedBinary {
            version,
            arch,
            sha256,
        })
        .filter(|binary| binary.bytes().is_some())
        .collect()
}

/// Makes the embedded `version`/`arch` binary available at
/// `{data_dir}/system/binaries/<version>/<arch>/cloud-hypervisor` and returns
/// that path.
///
/// The file is written once; later calls only verify its sha256 and rewrite
/// it when it differs (a truncated write from a crash, or tampering).
/// Concurrent callers, including other processes, serialise on a lock file
/// next to it, and the binary only ever appears complete (temporary file,
/// fsync, rename).
pub fn extract(data_dir: &Path, version: &str, arch: &str) -> Result<PathBuf, BinaryError> {
    let available = available_versions();
    let binary = available
        .iter()
        .find(|b| b.version == version && b.arch == arch)
        .ok_or_else(|| BinaryError::NotEmbedded {
            version: version.to_owned(),
            arch: arch.to_owned(),
            available: describe(&available),
        })?;
    let bytes = binary.bytes().ok_or_else(|| BinaryError::NotEmbedded {
        version: version.to_owned(),
        arch: arch.to_owned(),
        available: describe(&available),
    })?;
    extract_bytes(data_dir, version, arch, bytes, binary.sha256)
}

fn describe(available: &[EmbeddedBinary]) -> String {
    if available.is_empty() {
        return "none".to_owned();
    }
    available
        .iter()
        .map(|b| format!("{}/{}", b.version, b.arch))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The extraction itself, separated from the embedded table so tests can
/// feed it fake payloads.
fn extract_bytes(
    data_dir: &Path,
    version: &str,
    arch: &str,
    bytes: &[u8],
    sha256: &str,
) -> Result<PathBuf, BinaryError> {
    let dir = data_dir
        .join("system")
        .join("binaries")
        .join(version)
        .join(arch);
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| BinaryError::Io { path, source }
    };
    fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let target = dir.join(BINARY_NAME);

    let lock_path = dir.join(format!(".{BINARY_NAME}.lock"));
    let lock_file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_err(&lock_path))?;
    // Held until the end of this function; dropping the guard unlocks.
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive).map_err(|(_, source)| {
        BinaryError::Lock {
            path: lock_path.clone(),
            source,
        }
    })?;

    match sha256_of_file(&target) {
        Ok(existing) if existing == sha256 => {
            ensure_mode(&target).map_err(io_err(&target))?;
            return Ok(target);
        }
        Ok(existing) => {
            tracing::warn!(
                path = %target.display(),
                expected = sha256,
                found = %existing,
                "extracted cloud-hypervisor differs from the embedded one; re-extracting"
            );
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(BinaryError::Io {
                path: target,
                source,
            })
        }
    }

    // Checked before writing so a bad embed never reaches the disk.
    let actual = hex::encode(Sha256::digest(bytes));
    if actual != sha256 {
        return Err(BinaryError::Checksum {
            path: target,
            expected: sha256.to_owned(),
            actual,
        });
    }

    // Under the lock no one else writes here, so a fixed name is safe and a
    // leftover from a crashed extraction is simply overwritten.
    let temp = dir.join(format!(".{BINARY_NAME}.tmp"));
    write_synced(&temp, bytes).map_err(io_err(&temp))?;
    fs::rename(&temp, &target).map_err(io_err(&target))?;
    // Persist the rename itself, not just the file contents.
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(&dir))?;
    tracing::info!(path = %target.display(), version, arch, "extracted cloud-hypervisor");
    Ok(target)
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(MODE)
        .open(path)?;
    file.write_all(bytes)?;
    // The umask may have masked bits off `mode` above.
    file.set_permissions(Permissions::from_mode(MODE))?;
    file.sync_all()
}

fn ensure_mode(path: &Path) -> io::Result<()> {
    let current = fs::metadata(path)?.permissions().mode() & 0o7777;
    if current != MODE {
        fs::set_permissions(path, Permissions::from_mode(MODE))?;
    }
    Ok(())
}

fn sha256_of_file(path: &Path) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut file = File::open(path)?;
    io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests;
