//! CH version numbers: parsing `cloud-hypervisor --version` and telling
//! whether hype has been tested against a given version.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use crate::error::VersionError;

/// Versions whose API schema the contract tests check and whose binaries
/// `scripts/fetch-cloud-hypervisor.sh` is expected to fetch, oldest first.
pub const KNOWN_VERSIONS: &[&str] = &["v48.0", "v51.1", "v53.0"];

/// A CH release, `v<major>.<minor>`. CH tags releases with two components;
/// a build without git metadata reports `v<major>.<minor>.<patch>` from its
/// crate version, which is why a patch is kept at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl ChVersion {
    pub const fn new(major: u32, minor: u32) -> Self {
        Self {
            major,
            minor,
            patch: 0,
        }
    }

    /// Whether this is one of [`KNOWN_VERSIONS`].
    pub fn is_known(&self) -> bool {
        KNOWN_VERSIONS
            .iter()
            .filter_map(|known| known.parse::<ChVersion>().ok())
            .any(|known| known == *self)
    }
}

impl fmt::Display for ChVersion {
    /// Same spelling as the release tags and the binaries directory names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}", self.major, self.minor)?;
        if self.patch != 0 {
            write!(f, ".{}", self.patch)?;
        }
        Ok(())
    }
}

impl FromStr for ChVersion {
    type Err = VersionError;

    /// Accepts a bare version token: `v53.0`, `53.0`, `v53.0.0`, and
    /// `git describe` forms like `v53.0-dirty` or `v51.1-12-gabcdef`, whose
    /// suffix is ignored: a locally patched build is still that release's API.
    fn from_str(token: &str) -> Result<Self, Self::Err> {
        let unparsable = || VersionError::Unparsable {
            output: token.to_owned(),
        };
        let numbers = token.strip_prefix('v').unwrap_or(token);
        let numbers = numbers.split(['-', '+']).next().unwrap_or_default();
        let parts: Vec<&str> = numbers.split('.').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(unparsable());
        }
        let mut values = [0u32; 3];
        for (value, part) in values.iter_mut().zip(&parts) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(unparsable());
            }
            *value = part.parse().map_err(|_| unparsable())?;
        }
        Ok(Self {
            major: values[0],
            minor: values[1],
            patch: values[2],
        })
    }
}

/// Parses the output of `cloud-hypervisor --version`, e.g.
/// `cloud-hypervisor v53.0` or `cloud-hypervisor v53.0-dirty`.
pub fn parse_version(output: &str) -> Result<ChVersion, VersionError> {
    let mut words = output.split_whitespace();
    match (words.next(), words.next()) {
        (Some("cloud-hypervisor"), Some(token)) => {
            token.parse().map_err(|_| VersionError::Unparsable {
                output: output.to_owned(),
            })
        }
        _ => Err(VersionError::Unparsable {
            output: output.to_owned(),
        }),
    }
}

/// A CH binary supplied by the operator instead of an embedded one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalBinary {
    pub path: PathBuf,
    pub version: ChVersion,
    /// False when the version is not in [`KNOWN_VERSIONS`]; the caller should
    /// warn, since hype's requests were not checked against its schema.
    pub known: bool,
}

/// Identifies the CH binary at `path` by running `path --version`.
///
/// Blocking (it waits for the child); call it from `spawn_blocking` in async
/// code.
pub fn external_binary(path: impl AsRef<Path>) -> Result<ExternalBinary, VersionError> {
    let path = path.as_ref();
    let output = Command::new(path)
        .arg("--version")
        .output()
        .map_err(|source| VersionError::Spawn {
            path: path.to_owned(),
            source,
        })?;
    if !output.status.success() {
        return Err(VersionError::Failed {
            path: path.to_owned(),
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let version = parse_version(&stdout).map_err(|_| VersionError::NotCloudHypervisor {
        path: path.to_owned(),
        output: stdout.trim().to_owned(),
    })?;
    Ok(ExternalBinary {
        path: path.to_owned(),
        version,
        known: version.is_known(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn parses_version_outputs() {
        let table = [
            ("cloud-hypervisor v53.0", "v53.0"),
            ("cloud-hypervisor v53.0\n", "v53.0"),
            ("cloud-hypervisor v53.0-dirty", "v53.0"),
            ("cloud-hypervisor v51.1-12-gabcdef", "v51.1"),
            ("cloud-hypervisor v51.1-12-gabcdef-dirty", "v51.1"),
            ("cloud-hypervisor v48.0.0", "v48.0"),
            ("cloud-hypervisor 48.0", "v48.0"),
            ("cloud-hypervisor v47.2.1", "v47.2.1"),
            ("  cloud-hypervisor   v100.0  ", "v100.0"),
        ];
        for (output, expected) in table {
            let parsed = parse_version(output).unwrap_or_else(|e| panic!("{output:?}: {e}"));
            assert_eq!(parsed.to_string(), expected, "{output:?}");
        }
    }

    #[test]
    fn rejects_non_versions() {
        for output in [
            "",
            "cloud-hypervisor",
            "cloud-hypervisor vfoo",
            "cloud-hypervisor v53",
            "cloud-hypervisor v53.",
            "cloud-hypervisor v53.0.0.0",
            "cloud-hypervisor v-53.0",
            "cloud-hypervisor v53.x",
            "firecracker v1.7.0",
            "ch-remote v53.0",
        ] {
            assert!(
                parse_version(output).is_err(),
                "{output:?} should not parse"
            );
        }
    }

    #[test]
    fn suffix_does_not_change_equality() {
        assert_eq!(
            parse_version("cloud-hypervisor v53.0-dirty").ok(),
            Some(ChVersion::new(53, 0))
        );
        assert_eq!(
            parse_version("cloud-hypervisor v48.0.0").ok(),
            parse_version("cloud-hypervisor v48.0").ok()
        );
    }

    #[test]
    fn known_versions_round_trip_and_are_known() {
        for known in KNOWN_VERSIONS {
            let version: ChVersion = known.parse().expect("known version parses");
            assert_eq!(version.to_string(), *known);
            assert!(version.is_known());
        }
        assert!(!ChVersion::new(49, 0).is_known());
        assert!(ChVersion::new(48, 0) < ChVersion::new(51, 1));
    }

    fn fake_binary(dir: &Path, script: &str) -> PathBuf {
        let path = dir.join("cloud-hypervisor");
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).expect("write fake");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    /// A freshly written script can fail to exec with ETXTBSY while another
    /// test thread's fork still holds the write descriptor; that is a test
    /// harness race, not a behaviour under test.
    fn identify(path: &Path) -> Result<ExternalBinary, VersionError> {
        for _ in 0..50 {
            match external_binary(path) {
                Err(VersionError::Spawn { source, .. })
                    if source.raw_os_error() == Some(nix::libc::ETXTBSY) =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other,
            }
        }
        external_binary(path)
    }

    #[test]
    fn external_binary_known_and_unknown() {
        let dir = tempfile::tempdir().expect("tempdir");
        let known = fake_binary(dir.path(), r#"echo "cloud-hypervisor v51.1-dirty""#);
        let found = identify(&known).expect("known binary");
        assert_eq!(found.version, ChVersion::new(51, 1));
        assert!(found.known);
        assert_eq!(found.path, known);

        let dir = tempfile::tempdir().expect("tempdir");
        let unknown = fake_binary(dir.path(), r#"echo "cloud-hypervisor v60.0""#);
        let found = identify(&unknown).expect("unknown binary");
        assert_eq!(found.version, ChVersion::new(60, 0));
        assert!(!found.known);
    }

    #[test]
    fn external_binary_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope");
        assert!(matches!(
            identify(&missing),
            Err(VersionError::Spawn { .. })
        ));

        let failing = fake_binary(dir.path(), "echo boom >&2; exit 3");
        match identify(&failing) {
            Err(VersionError::Failed { stderr, .. }) => assert_eq!(stderr, "boom"),
            other => panic!("expected Failed, got {other:?}"),
        }

        let dir = tempfile::tempdir().expect("tempdir");
        let other = fake_binary(dir.path(), "echo 'QEMU emulator version 8.2.0'");
        assert!(matches!(
            identify(&other),
            Err(VersionError::NotCloudHypervisor { .. })
        ));
    }
}
