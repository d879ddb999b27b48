//! Files in a guest (`/api/v1/vms/{name}/files...`) and what its browser
//! downloaded (`.../downloads`), as asked and as answered.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::exec::{check_guest_path, check_user};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    File,
    Directory,
    Symlink,
    Other,
}

/// A file in the guest, as `lstat` sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FileInfo {
    /// Its name in its directory.
    pub name: String,
    pub kind: FileKind,
    pub size: u64,
    /// Permission bits, octal (`0644`).
    #[schema(example = "0644")]
    pub mode: String,
    pub uid: u32,
    pub gid: u32,
    /// RFC 3339, from the guest's clock.
    pub modified_at: String,
    /// Where a symlink points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// A directory's entries, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FileList {
    pub path: String,
    pub entries: Vec<FileInfo>,
    /// Over 10,000 entries: the rest are left out.
    pub truncated: bool,
}

/// `?path=` of `GET .../files`, `.../files/stat`, `.../files/list`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PathQuery {
    /// An absolute guest path.
    pub path: String,
}

/// The query of `PUT .../files`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// Where the file goes (its directory must exist); with `archive`, the
    /// directory the tar is unpacked into.
    pub path: String,
    /// Permission bits, octal (`0755`); default `0644` for a new file, the
    /// old file's for a replaced one.
    pub mode: Option<String>,
    /// `name`, `uid` or `uid:gid`; default: the guest's unprivileged user.
    pub owner: Option<String>,
    /// The body is a tar archive to unpack into `path`.
    #[serde(default)]
    pub archive: bool,
}

/// The query of `DELETE .../files`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RemoveQuery {
    pub path: String,
    /// A directory and all it holds (else only an empty one).
    #[serde(default)]
    pub recursive: bool,
}

/// An upload, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSpec {
    pub path: String,
    pub mode: Option<u32>,
    pub owner: Option<String>,
    pub archive: bool,
}

/// What `PUT .../files` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Uploaded {
    pub path: String,
    /// Bytes received (the file's size, or the archive's).
    pub bytes: u64,
}

impl PathQuery {
    pub fn validate(&self) -> Result<&str, String> {
        check_guest_path("path", &self.path)?;
        Ok(&self.path)
    }
}

impl RemoveQuery {
    pub fn validate(&self) -> Result<(), String> {
        check_guest_path("path", &self.path)?;
        if self.path.trim_end_matches('/').is_empty() {
            return Err("path / cannot be removed".into());
        }
        Ok(())
    }
}

impl UploadQuery {
    pub fn validate(&self) -> Result<UploadSpec, String> {
        check_guest_path("path", &self.path)?;
        let mode = match &self.mode {
            None => None,
            Some(m) => Some(
                u32::from_str_radix(m, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| format!("mode {m:?} is not octal permission bits (0644)"))?,
            ),
        };
        if let Some(owner) = &self.owner {
            check_user("owner", owner)?;
        }
        Ok(UploadSpec {
            path: self.path.clone(),
            mode,
            owner: self.owner.clone(),
            archive: self.archive,
        })
    }
}

/// A file the sandbox's browser downloaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Download {
    /// Its file name (`GET .../downloads/{file}` fetches it).
    pub name: String,
    pub size: u64,
    /// Hex, computed in the guest when the download finished.
    pub sha256: String,
    /// What was downloaded.
    pub url: String,
    /// The page it was started from, when the browser says.
    pub page_url: Option<String>,
    /// RFC 3339.
    pub finished_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DownloadList {
    pub downloads: Vec<Download>,
}

/// A download's name as `.../downloads/{file}` takes it: a plain name in
/// the downloads folder, never a path.
pub fn check_download_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 255
        || name.contains('/')
        || name.contains('\0')
        || name.starts_with('.')
    {
        return Err(format!("{name:?} is not a download's file name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_take_octal_modes_and_owners() {
        let q = UploadQuery {
            path: "/tmp/x".into(),
            mode: Some("0755".into()),
            owner: Some("1000:1000".into()),
            archive: false,
        };
        assert_eq!(q.validate().unwrap().mode, Some(0o755));
        for (mode, owner, path) in [
            (Some("rwx"), None, "/tmp/x"),
            (Some("17777"), None, "/tmp/x"),
            (None, Some("a b"), "/tmp/x"),
            (None, None, "tmp/x"),
        ] {
            let q = UploadQuery {
                path: path.into(),
                mode: mode.map(Into::into),
                owner: owner.map(Into::into),
                archive: false,
            };
            assert!(q.validate().is_err(), "{q:?}");
        }
    }

    #[test]
    fn removing_the_root_is_refused() {
        for path in ["/", "//"] {
            let q = RemoveQuery {
                path: path.into(),
                recursive: true,
            };
            assert!(q.validate().is_err());
        }
    }

    #[test]
    fn download_names_are_never_paths() {
        check_download_name("report (1).pdf").unwrap();
        for bad in ["", "../x", "a/b", ".hidden"] {
            assert!(check_download_name(bad).is_err(), "{bad}");
        }
    }
}
