//! `hype vms cp`: files between a guest and this machine, as `docker cp`
//! does it. A directory travels as a tar archive both ways. What a guest
//! sends is untrusted: only files, directories and symlinks are unpacked,
//! never outside the destination (the tar crate refuses `..`, absolute
//! paths and writes through symlinks), and without set-id bits.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use futures::StreamExt;
use hype_client::{Client, ClientError, UploadTo};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::output::{self, Format};

/// One side of a copy.
#[derive(Debug, PartialEq, Eq)]
enum Side<'a> {
    Guest { vm: &'a str, path: &'a str },
    Local(&'a str),
}

/// `NAME:/path` is a guest's (VM names have no slash, guest paths are
/// absolute); anything else is local (`./a:b` stays local).
fn side(arg: &str) -> Side<'_> {
    match arg.split_once(':') {
        Some((vm, path)) if !vm.is_empty() && !vm.contains('/') && path.starts_with('/') => {
            Side::Guest { vm, path }
        }
        _ => Side::Local(arg),
    }
}

pub async fn run(client: &Client, out: Format, source: &str, destination: &str) -> Result<()> {
    let (bytes, what) = match (side(source), side(destination)) {
        (Side::Guest { vm, path }, Side::Local(local)) => {
            (from_guest(client, vm, path, local).await?, local.to_owned())
        }
        (Side::Local(local), Side::Guest { vm, path }) => {
            let landed = to_guest(client, vm, Path::new(local), path).await?;
            (landed.1, format!("{vm}:{}", landed.0))
        }
        (Side::Guest { .. }, Side::Guest { .. }) => {
            bail!("copy between two VMs through here: one side must be local")
        }
        (Side::Local(_), Side::Local(_)) => {
            bail!("one side must be a VM's path, NAME:/absolute/path")
        }
    };
    if destination == "-" {
        return Ok(());
    }
    match out {
        Format::Table => output::print(&format!("copied {bytes} bytes to {what}\n"))?,
        Format::Json => output::print_json(&json!({ "destination": what, "bytes": bytes }))?,
    }
    Ok(())
}

fn base_name(path: &str) -> Option<&str> {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
}

async fn from_guest(client: &Client, vm: &str, path: &str, local: &str) -> Result<u64> {
    let file = client.download_path(vm, path).await?;
    let mut body = file.body;
    if local == "-" {
        let mut stdout = tokio::io::stdout();
        let mut n = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            n += chunk.len() as u64;
            stdout.write_all(&chunk).await?;
        }
        stdout.flush().await?;
        return Ok(n);
    }
    let local = PathBuf::from(local);
    if !file.is_archive {
        let name = base_name(path).context("the guest path names no file")?;
        let target = if local.is_dir() {
            local.join(name)
        } else {
            local
        };
        let partial = target.with_file_name(format!(
            ".{}.hype-partial",
            target
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("copy")
        ));
        let mut f = tokio::fs::File::create(&partial)
            .await
            .with_context(|| format!("create {}", partial.display()))?;
        let mut n = 0u64;
        let copied = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                n += chunk.len() as u64;
                f.write_all(&chunk).await?;
            }
            f.flush().await?;
            Ok::<_, anyhow::Error>(())
        }
        .await;
        if let Err(e) = copied {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
        tokio::fs::rename(&partial, &target).await?;
        return Ok(n);
    }
    // A directory: its archive's top entry is the directory's own name.
    let name = base_name(path).unwrap_or("root").to_owned();
    let (into, rename_to) = if local.is_dir() {
        (local.clone(), None)
    } else {
        let parent = local
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let staging = tempfile::Builder::new()
            .prefix(".hype-cp-")
            .tempdir_in(parent)
            .with_context(|| format!("a staging directory in {}", parent.display()))?;
        (staging.keep(), Some(local.clone()))
    };
    let counted = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let count = counted.clone();
    let stream = body.map(move |r| {
        r.inspect(|b| {
            count.fetch_add(b.len() as u64, std::sync::atomic::Ordering::Relaxed);
        })
        .map_err(|e: ClientError| std::io::Error::other(e.to_string()))
    });
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    let dir = into.clone();
    let unpacked = tokio::task::spawn_blocking(move || unpack(reader, &dir)).await?;
    let finish = match (&unpacked, &rename_to) {
        (Ok(()), Some(target)) => std::fs::rename(into.join(&name), target)
            .with_context(|| format!("move the copy to {}", target.display())),
        _ => Ok(()),
    };
    if rename_to.is_some() {
        let _ = std::fs::remove_dir_all(&into);
    }
    unpacked?;
    finish?;
    Ok(counted.load(std::sync::atomic::Ordering::Relaxed))
}

/// Unpacks a guest's archive into `dir`: files, directories and symlinks
/// only (a guest could send device nodes or hard links to host files).
fn unpack(reader: impl std::io::Read, dir: &Path) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(false);
    archive.set_preserve_ownerships(false);
    archive.set_unpack_xattrs(false);
    let mut skipped = 0usize;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir() || kind.is_symlink()) {
            skipped += 1;
            continue;
        }
        let path = entry.path()?.into_owned();
        if !entry.unpack_in(dir)? {
            bail!(
                "the guest's archive holds {}, which would land outside {}",
                path.display(),
                dir.display()
            );
        }
    }
    if skipped > 0 {
        eprintln!(
            "hype: left out {skipped} entries that are neither files, directories nor symlinks"
        );
    }
    Ok(())
}

async fn to_guest(client: &Client, vm: &str, local: &Path, dest: &str) -> Result<(String, u64)> {
    let meta = tokio::fs::metadata(local)
        .await
        .with_context(|| format!("{}", local.display()))?;
    let into_dir = match client.stat_path(vm, dest).await {
        Ok(info) => info.kind == hype_types::FileKind::Directory,
        Err(ClientError::Api { status, .. }) if status.as_u16() == 404 => false,
        Err(e) => return Err(e.into()),
    };
    let local_name = local
        .file_name()
        .and_then(|n| n.to_str())
        .context("the local path names no file")?
        .to_owned();
    let dest = dest.trim_end_matches('/');
    let dest = if dest.is_empty() { "/" } else { dest };
    if meta.is_file() {
        let path = if into_dir {
            format!("{}/{local_name}", dest.trim_end_matches('/'))
        } else {
            dest.to_owned()
        };
        use std::os::unix::fs::PermissionsExt;
        let mode = format!("{:04o}", meta.permissions().mode() & 0o777);
        let f = tokio::fs::File::open(local).await?;
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(f));
        let to = UploadTo {
            path: &path,
            mode: Some(&mode),
            owner: None,
            archive: false,
        };
        let done = client.upload(vm, &to, body).await?;
        return Ok((done.path, done.bytes));
    }
    if !meta.is_dir() {
        bail!("{} is neither a file nor a directory", local.display());
    }
    // Into an existing directory it keeps its name; else it becomes dest.
    let (top, unpack_at) = if into_dir {
        (local_name, dest.to_owned())
    } else {
        let (parent, name) = dest.rsplit_once('/').context("dest has no directory")?;
        let parent = if parent.is_empty() { "/" } else { parent };
        (name.to_owned(), parent.to_owned())
    };
    let (pipe_w, pipe_r) = tokio::io::duplex(256 << 10);
    let src = local.to_path_buf();
    let top_for_tar = top.clone();
    let packing = tokio::task::spawn_blocking(move || {
        let mut builder = tar::Builder::new(tokio_util::io::SyncIoBridge::new(pipe_w));
        builder.follow_symlinks(false);
        builder.append_dir_all(&top_for_tar, &src)?;
        builder.into_inner()?.shutdown()?;
        Ok::<_, std::io::Error>(())
    });
    let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(pipe_r));
    let to = UploadTo {
        path: &unpack_at,
        mode: None,
        owner: None,
        archive: true,
    };
    let done = client.upload(vm, &to, body).await;
    let packed = packing.await?;
    let done = done?;
    packed.with_context(|| format!("pack {}", local.display()))?;
    let landed = format!("{}/{top}", unpack_at.trim_end_matches('/'));
    Ok((landed, done.bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_are_told_apart() {
        assert_eq!(
            side("web01:/etc/hosts"),
            Side::Guest {
                vm: "web01",
                path: "/etc/hosts"
            }
        );
        for local in ["./a:b", "a:b", "/tmp/x", ":/x", "-"] {
            assert_eq!(side(local), Side::Local(local));
        }
    }

    #[test]
    fn hostile_archives_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Char);
        h.set_size(0);
        b.append_data(&mut h, "null", std::io::empty()).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o4755);
        b.append_data(&mut h, "d/ok", &b"hi"[..]).unwrap();
        let data = b.into_inner().unwrap();
        unpack(&data[..], dir.path()).unwrap();
        assert!(!dir.path().join("null").exists());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("d/ok"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7000, 0, "set-id bits kept: {mode:o}");
    }
}
