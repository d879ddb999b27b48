//! The export from start to end, and the undoing of a failed one: abort
//! the lease, remove what was created under the destination, log out.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::download::{self, Counters, Target, MAX_FILE_BYTES};
use crate::lease::{self, LeaseInfo};
use crate::ovf::{self, OvfDisk};
use crate::soap::{Client, MoRef};
use crate::{inventory, ExportOutcome, ExportSpec, ExportedDisk, Progress, VsphereError};

const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(600);
const MAX_PARALLEL_DOWNLOADS: usize = 32;
/// Bounds the calls made while undoing a failed export.
const CLEANUP_CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// What a failed export has to undo.
#[derive(Default)]
struct Undo {
    client: Option<Arc<Client>>,
    logged_in: bool,
    lease: Option<MoRef>,
    files: Vec<PathBuf>,
    created_dir: Option<PathBuf>,
}

/// Exports `spec.vm` into `dest` (created if missing; files in it must not
/// exist yet). On failure or cancel the lease is aborted and every file
/// this call created is removed.
pub async fn export(
    spec: &ExportSpec,
    dest: &Path,
    progress: watch::Sender<Progress>,
    cancel: CancellationToken,
) -> Result<ExportOutcome, VsphereError> {
    let url = sdk_url(&spec.url)?;
    let parallel = match spec.parallel_downloads {
        0 => ExportSpec::DEFAULT_PARALLEL_DOWNLOADS,
        n if n > MAX_PARALLEL_DOWNLOADS => {
            return Err(VsphereError::InvalidSpec {
                message: format!("parallel_downloads must be at most {MAX_PARALLEL_DOWNLOADS}"),
            })
        }
        n => n,
    };
    if spec.vm.trim().is_empty() || spec.username.is_empty() {
        return Err(VsphereError::InvalidSpec {
            message: "vm and username are required".into(),
        });
    }
    progress.send_replace(Progress::default());
    let mut undo = Undo::default();
    // Dropping `run` on cancel also drops its downloads; `undo` survives it.
    let result = tokio::select! {
        r = run(spec, &url, dest, parallel, &progress, &cancel, &mut undo) => r,
        _ = cancel.cancelled() => Err(VsphereError::Cancelled),
    };
    if let Err(e) = &result {
        tracing::info!(vm = %spec.vm, error = %e, "vSphere export failed, undoing it");
        if let (Some(client), Some(lease)) = (&undo.client, &undo.lease) {
            match tokio::time::timeout(CLEANUP_CALL_TIMEOUT, lease::abort(client, lease)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "HttpNfcLeaseAbort failed"),
                Err(_) => tracing::warn!("HttpNfcLeaseAbort timed out"),
            }
        }
        let keep = spec.keep_on_stop.as_ref().is_some_and(|t| t.is_cancelled());
        if keep {
            tracing::info!(vm = %spec.vm, "keeping the partial downloads for a resume");
        }
        for f in undo.files.iter().rev().filter(|_| !keep) {
            for f in [f.clone(), crate::resume::sidecar(f)] {
                if let Err(e) = std::fs::remove_file(&f) {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        tracing::warn!(path = %f.display(), error = %e, "cannot remove partial file");
                    }
                }
            }
        }
        if let Some(dir) = undo.created_dir.as_ref().filter(|_| !keep) {
            let _ = std::fs::remove_dir(dir);
        }
    }
    if let (Some(client), true) = (&undo.client, undo.logged_in) {
        let _ = tokio::time::timeout(CLEANUP_CALL_TIMEOUT, client.logout()).await;
    }
    result
}

async fn run(
    spec: &ExportSpec,
    url: &Url,
    dest: &Path,
    parallel: usize,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
    undo: &mut Undo,
) -> Result<ExportOutcome, VsphereError> {
    let client = Arc::new(Client::connect(url, spec.insecure).await?);
    undo.client = Some(client.clone());
    client.login(&spec.username, &spec.password).await?;
    undo.logged_in = true;

    let vm_ref = inventory::find_vm(&client, spec.vm.trim()).await?;
    let mut vm = inventory::vm_info(&client, &vm_ref, &spec.vm).await?;
    if vm.template {
        return Err(VsphereError::IsTemplate { vm: vm.name });
    }
    if vm.powered_on {
        if !spec.shutdown {
            return Err(VsphereError::VmPoweredOn { vm: vm.name });
        }
        inventory::shutdown(&client, &vm, SHUTDOWN_TIMEOUT, cancel).await?;
    }
    if spec.remove_cdrom && !vm.cdroms.is_empty() {
        inventory::remove_cdroms(&client, &vm, cancel).await?;
        vm.cdroms.clear();
    }
    if vm.disks.is_empty() {
        return Err(VsphereError::NoDisks { vm: vm.name });
    }

    progress.send_modify(|p| p.phase = "exporting");
    let lease_ref = lease::export_vm(&client, &vm.moref).await?;
    undo.lease = Some(lease_ref.clone());
    let info = lease::wait_ready(&client, &lease_ref, cancel).await?;

    let base = safe_name(&vm.name);
    let mut targets = targets(&info, &base, dest, client.url())?;
    if targets.is_empty() {
        return Err(VsphereError::NoDisks { vm: vm.name });
    }
    let placed = place_disks(&vm, &info, &targets);
    for (t, (capacity, _, _)) in targets.iter_mut().zip(&placed) {
        t.limit = download::limit_for(*capacity);
    }
    let bytes_total: Option<u64> = targets.iter().map(|t| t.expected).sum();
    if let Some(needed) = bytes_total {
        check_space(dest, needed)?;
    }
    let ovf_path = dest.join(format!("{base}.ovf"));
    let mf_path = dest.join(format!("{base}.mf"));
    create_files(
        dest,
        targets
            .iter()
            .map(|t| t.path.as_path())
            .chain([ovf_path.as_path(), mf_path.as_path()]),
        spec.resume,
        undo,
    )?;

    progress.send_modify(|p| {
        p.phase = "downloading";
        p.bytes_total = bytes_total;
        p.files_total = Some(targets.len() as u64);
    });
    let counters = Counters::default();
    let downloaded = tokio::select! {
        r = download::download_all(&client, &targets, parallel, &counters, cancel) => r?,
        e = keepalive(&client, &lease_ref, &info, &counters, bytes_total, progress) => return Err(e),
    };
    // Every file is whole, and its last checkpoint says so. A caller that
    // still works on the files keeps the sidecars (and removes them with
    // crate::resume::forget), so a stop meanwhile keeps every disk.
    if !spec.keep_checkpoints {
        crate::resume::forget(dest).map_err(|e| VsphereError::io(dest, e))?;
    }

    progress.send_modify(|p| {
        p.phase = "verifying";
        p.bytes_done = counters.bytes.load(Ordering::Relaxed);
        p.files_done = counters.files.load(Ordering::Relaxed);
    });
    // Completeness was checked per file against the server's length (or,
    // without one, the lease's fileSize, which may only be an estimate).
    let ovf_disks: Vec<OvfDisk<'_>> = targets
        .iter()
        .zip(&downloaded)
        .zip(&placed)
        .map(|((t, d), (capacity, controller, unit))| OvfDisk {
            file_name: &t.name,
            file_size: d.size,
            capacity_bytes: *capacity,
            controller: *controller,
            unit: *unit,
        })
        .collect();
    let descriptor = ovf::descriptor(&vm, &ovf_disks);
    write(&ovf_path, descriptor.as_bytes())?;
    let ovf_name = format!("{base}.ovf");
    let ovf_sha = hex::encode(Sha256::digest(descriptor.as_bytes()));
    let mut entries: Vec<(&str, &str)> = vec![(&ovf_name, &ovf_sha)];
    entries.extend(
        targets
            .iter()
            .zip(&downloaded)
            .map(|(t, d)| (t.name.as_str(), d.sha256.as_str())),
    );
    write(&mf_path, ovf::manifest(&entries).as_bytes())?;

    // A failed progress call this late does not spoil the export.
    let _ = lease::progress(&client, &lease_ref, 100).await;
    lease::complete(&client, &lease_ref).await?;
    undo.lease = None;
    progress.send_modify(|p| p.phase = "done");
    Ok(ExportOutcome {
        firmware: vm.firmware.as_deref().and_then(crate::firmware),
        buses: placed
            .iter()
            .map(|(_, c, _)| {
                c.map(|c| crate::browse::bus_of(&vm.controllers[c].kind))
                    .unwrap_or(hype_types::DiskBus::Other)
            })
            .collect(),
        nic: vm.nics.first().cloned(),
        ovf: ovf_path,
        manifest: mf_path,
        disks: targets
            .iter()
            .zip(&placed)
            .map(|(t, (capacity, _, _))| ExportedDisk {
                path: t.path.clone(),
                capacity_bytes: *capacity,
            })
            .collect(),
    })
}

/// Reports progress every 250 ms and keeps the lease alive; returns only
/// when the lease is gone.
async fn keepalive(
    client: &Client,
    lease_ref: &MoRef,
    info: &LeaseInfo,
    counters: &Counters,
    bytes_total: Option<u64>,
    progress: &watch::Sender<Progress>,
) -> VsphereError {
    let every = lease::keepalive_interval(info.timeout);
    let mut last = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        let done = counters.bytes.load(Ordering::Relaxed);
        let files = counters.files.load(Ordering::Relaxed);
        progress.send_if_modified(|p| {
            let changed = p.bytes_done != done || p.files_done != files;
            p.bytes_done = done;
            p.files_done = files;
            changed
        });
        if last.elapsed() < every {
            continue;
        }
        last = Instant::now();
        let percent = bytes_total
            .filter(|t| *t > 0)
            .map(|t| (done.saturating_mul(100) / t).min(99) as u8)
            .unwrap_or(0);
        match lease::progress(client, lease_ref, percent).await {
            Ok(()) => {}
            Err(VsphereError::Soap { fault, .. }) => {
                return VsphereError::LeaseError {
                    message: format!("the lease ended during the download: {fault}"),
                }
            }
            // A network hiccup: the downloads will tell if it lasts.
            Err(e) => tracing::warn!(error = %e, "HttpNfcLeaseProgress failed"),
        }
    }
}

fn targets(
    info: &LeaseInfo,
    base: &str,
    dest: &Path,
    sdk: &Url,
) -> Result<Vec<Target>, VsphereError> {
    info.device_urls
        .iter()
        .filter(|d| d.disk)
        .enumerate()
        .map(|(i, d)| {
            // Our own names: the server's target ids never become paths.
            let name = format!("{base}-disk{}.vmdk", i + 1);
            if let Some(size) = d.file_size.filter(|s| *s > MAX_FILE_BYTES) {
                return Err(VsphereError::AbsurdSize {
                    file: name,
                    size,
                    max: MAX_FILE_BYTES,
                });
            }
            Ok(Target {
                url: lease::resolve_url(&d.url, sdk)?,
                path: dest.join(&name),
                name,
                expected: d.file_size,
                // Set from the disk's capacity once disks are placed.
                limit: MAX_FILE_BYTES,
            })
        })
        .collect()
}

/// Capacity, controller and unit of each target's disk: by the device key
/// (`/vm-id/ControllerTypeBus:Unit`), else by order.
fn place_disks(
    vm: &inventory::VmInfo,
    info: &LeaseInfo,
    targets: &[Target],
) -> Vec<(u64, Option<usize>, i32)> {
    let keys: Vec<&str> = info
        .device_urls
        .iter()
        .filter(|d| d.disk)
        .map(|d| d.key.as_str())
        .collect();
    (0..targets.len())
        .map(|i| {
            let by_key = keys.get(i).and_then(|k| {
                vm.disks.iter().find(|d| {
                    d.device_id
                        .as_deref()
                        .is_some_and(|id| k.ends_with(&format!("/{id}")))
                })
            });
            match by_key.or(vm.disks.get(i)) {
                Some(d) => (
                    d.capacity_bytes,
                    vm.controllers
                        .iter()
                        .position(|c| c.key == d.controller_key),
                    d.unit,
                ),
                None => (0, None, 0),
            }
        })
        .collect()
}

pub(crate) fn sdk_url(raw: &str) -> Result<Url, VsphereError> {
    let invalid = |m: String| VsphereError::InvalidSpec {
        message: format!("url {raw:?}: {m}"),
    };
    let mut url = Url::parse(raw).map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(invalid("expected https://host/sdk".into()));
    }
    if url.path() == "/" || url.path().is_empty() {
        url.set_path("/sdk");
    }
    Ok(url)
}

/// A VM name as a file name: anything but letters, digits, `.`, `-`, `_`
/// becomes `_`, and it cannot start with a dot.
fn safe_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_start_matches('.');
    if s.is_empty() {
        "vm".into()
    } else {
        s.to_string()
    }
}

fn check_space(dest: &Path, needed: u64) -> Result<(), VsphereError> {
    let probe = if dest.exists() {
        dest
    } else {
        dest.parent().unwrap_or(Path::new("."))
    };
    let st = nix::sys::statvfs::statvfs(probe)
        .map_err(|e| VsphereError::io(probe, std::io::Error::from(e)))?;
    let available = st.blocks_available() as u64 * st.fragment_size() as u64;
    if needed > available {
        return Err(VsphereError::InsufficientSpace {
            dest: dest.to_path_buf(),
            needed,
            available,
        });
    }
    Ok(())
}

/// Creates the destination (if missing) and every output file, empty and
/// new, synchronously: a cancel cannot fall between creating a file and
/// recording it for removal. Resuming, files that exist are taken over
/// (the downloads check them) and any other file in `dest` (a disk the VM
/// no longer has, a sidecar without its file) is removed.
fn create_files<'a>(
    dest: &Path,
    paths: impl Iterator<Item = &'a Path>,
    resume: bool,
    undo: &mut Undo,
) -> Result<(), VsphereError> {
    match std::fs::create_dir(dest) {
        Ok(()) => undo.created_dir = Some(dest.to_path_buf()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dest.is_dir() => {}
        Err(e) => return Err(VsphereError::io(dest, e)),
    }
    let paths: Vec<&Path> = paths.collect();
    if resume {
        let io = |e| VsphereError::io(dest, e);
        for e in std::fs::read_dir(dest).map_err(io)? {
            let f = e.map_err(io)?.path();
            let ours = paths
                .iter()
                .any(|p| *p == f || crate::resume::sidecar(p) == f);
            if !ours {
                std::fs::remove_file(&f).map_err(|e| VsphereError::io(&f, e))?;
            }
        }
    }
    for p in paths {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(!resume)
            .create(resume)
            .open(p)
        {
            Ok(_) => undo.files.push(p.to_path_buf()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(VsphereError::DestinationExists {
                    path: p.to_path_buf(),
                })
            }
            Err(e) => return Err(VsphereError::io(p, e)),
        }
    }
    Ok(())
}

fn write(path: &Path, data: &[u8]) -> Result<(), VsphereError> {
    std::fs::write(path, data).map_err(|e| VsphereError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_urls() {
        assert_eq!(
            sdk_url("https://vc.example").unwrap().as_str(),
            "https://vc.example/sdk"
        );
        assert_eq!(
            sdk_url("https://10.0.0.5:8989/sdk").unwrap().as_str(),
            "https://10.0.0.5:8989/sdk"
        );
        assert!(matches!(
            sdk_url("ftp://x/sdk"),
            Err(VsphereError::InvalidSpec { .. })
        ));
        assert!(matches!(
            sdk_url("vc.example"),
            Err(VsphereError::InvalidSpec { .. })
        ));
    }

    #[test]
    fn safe_names() {
        assert_eq!(safe_name("web01"), "web01");
        assert_eq!(safe_name("../etc/passwd"), "_etc_passwd");
        assert_eq!(safe_name("my vm (copy)"), "my_vm__copy_");
        assert_eq!(safe_name("..."), "vm");
    }

    #[test]
    fn existing_files_are_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let taken = dir.path().join("b");
        std::fs::write(&taken, "mine").unwrap();
        let mut undo = Undo::default();
        let a = dir.path().join("a");
        let err = create_files(
            dir.path(),
            [a.as_path(), taken.as_path()].into_iter(),
            false,
            &mut undo,
        );
        assert!(matches!(err, Err(VsphereError::DestinationExists { .. })));
        // Only what this call created is listed for removal.
        assert_eq!(undo.files, vec![a]);
        assert!(undo.created_dir.is_none());
        assert_eq!(std::fs::read_to_string(&taken).unwrap(), "mine");
    }

    #[test]
    fn absurd_space_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            check_space(dir.path(), u64::MAX),
            Err(VsphereError::InsufficientSpace { .. })
        ));
        assert!(check_space(dir.path(), 1).is_ok());
    }
}
