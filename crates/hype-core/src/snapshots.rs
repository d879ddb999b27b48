//! Named snapshots: a running VM saved for forks (many restores, unlike
//! standby's one). A snapshot is a directory `<data>/snapshots/<name>/`
//! holding the guest's RAM (`memory`, copied sparse from the VM's shared
//! RAM file) and its device state (`state`, without the RAM: QEMU's
//! migration stream, or cloud-hypervisor's snapshot directory). It is made
//! under `.partial-<name>` and renamed when complete, and recorded only
//! then: a kill at any point leaves no row for partial files, and the next
//! start removes them. A named (not ephemeral)
//! snapshot is synced to disk before it is renamed and recorded.

use std::path::{Path, PathBuf};
use std::time::Instant;

use hype_store::SnapshotRecord;
use hype_types::{EventType, Snapshot, SnapshotList, VmState};
use hype_vmm::Vmm;

use crate::{CoreError, Hype, Result};

/// The device state inside a snapshot's directory: QEMU's migration
/// stream, or cloud-hypervisor's snapshot directory (its config and device
/// state, the RAM left out).
pub(crate) const STATE_FILE: &str = "state";
/// The guest RAM inside a snapshot's directory.
pub(crate) const MEMORY_FILE: &str = "memory";
const PARTIAL: &str = ".partial-";
/// Where the VMM writes the device state, in its run directory.
const FORK_STATE: &str = "fork-state";

impl Hype {
    pub(crate) fn snapshots_dir(&self) -> PathBuf {
        self.inner.cfg.data_dir.join("snapshots")
    }

    pub(crate) fn snapshot_dir(&self, name: &str) -> PathBuf {
        self.snapshots_dir().join(name)
    }

    /// Saves running or paused VM `vm` as snapshot `name`. The VM is paused
    /// only while its device state and RAM are captured, then goes on.
    pub async fn create_snapshot(&self, vm: &str, name: &str) -> Result<Snapshot> {
        self.take_snapshot(vm, name, false).await
    }

    /// [`Hype::create_snapshot`]; an `ephemeral` one goes with its last fork.
    pub(crate) async fn take_snapshot(
        &self,
        vm: &str,
        name: &str,
        ephemeral: bool,
    ) -> Result<Snapshot> {
        hype_types::validate_name(name)
            .map_err(|e| CoreError::InvalidRequest(format!("name: {e}")))?;
        let a = self.begin(vm, None).await?;
        let rec = &a.rec;
        if !matches!(rec.state, VmState::Running | VmState::Paused) {
            return Err(CoreError::InvalidState {
                name: vm.into(),
                state: rec.state,
                action: "snapshot for forks",
            });
        }
        let ram = crate::ram::file(&self.inner.cfg, &rec.dir);
        if !rec.has_agent || rec.persist || !ram.exists() {
            return Err(CoreError::Unsupported {
                name: vm.into(),
                what: "forking: only VMs on hype's kernel without a persistent disk (started by this hyped version) can be forked".into(),
            });
        }
        match self.inner.store.get_snapshot(name).await {
            Ok(_) => return Err(CoreError::SnapshotExists { name: name.into() }),
            Err(hype_store::StoreError::SnapshotNotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let vmm = self.inner.backends.of_record(rec)?;
        let partial = self.snapshots_dir().join(format!("{PARTIAL}{name}"));
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| CoreError::Io { path, source }
        };
        let _ = std::fs::remove_dir_all(&partial);
        std::fs::create_dir_all(&partial).map_err(io(&partial))?;
        let started = Instant::now();
        let was_running = rec.state == VmState::Running;
        if was_running {
            vmm.pause(vm, &a.run_dir).await?;
        }
        let saved = async {
            // A confined VMM writes only inside its run directory; the
            // state moves to the snapshot from there (same filesystem),
            // and becomes hyped's.
            let written = a.run_dir.join(FORK_STATE);
            let _ = std::fs::remove_file(&written);
            vmm.save_for_forks(vm, &a.run_dir, &written)
                .await
                .map_err(|source| CoreError::ForkSnapshot {
                    name: vm.into(),
                    source,
                })?;
            let state = partial.join(STATE_FILE);
            std::fs::rename(&written, &state).map_err(io(&state))?;
            let state = state_files(&state).map_err(io(&state))?;
            for path in &state {
                make_ours(path).map_err(io(path))?;
            }
            let memory = partial.join(MEMORY_FILE);
            // Hundreds of MiB: off the async workers, which serve requests.
            let (from, to) = (ram.clone(), memory.clone());
            let memory_bytes =
                tokio::task::spawn_blocking(move || hype_vmm::ram::copy_sparse(&from, &to))
                    .await
                    .map_err(|e| std::io::Error::other(e.to_string()))
                    .and_then(|r| r)
                    .map_err(io(&memory))?;
            Ok((memory_bytes, state))
        }
        .await;
        let paused_ms = started.elapsed().as_millis() as u64;
        if was_running {
            if let Err(e) = vmm.resume(vm, &a.run_dir).await {
                tracing::error!(vm, error = %e, "cannot resume a VM after its snapshot");
            }
        }
        let (size_bytes, state) = match saved {
            Ok((memory_bytes, state)) => {
                let state_bytes: u64 = state
                    .iter()
                    .filter(|f| f.is_file())
                    .map(|f| file_size(f))
                    .sum();
                (memory_bytes + state_bytes, state)
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&partial);
                return Err(e);
            }
        };
        // A named snapshot is kept for later forks: on disk before it is
        // recorded, so a power loss cannot leave a row over a torn file,
        // and so the page cache's writeback of hundreds of MiB does not
        // run later beside the forks (a claim's first CDP answer, right
        // after a pool's snapshot, waited a second for it). The VM is
        // already running again. An ephemeral one dies with its forks.
        if !ephemeral {
            let files = partial.clone();
            let synced = tokio::task::spawn_blocking(move || {
                for f in state.iter().chain([&files.join(MEMORY_FILE), &files]) {
                    std::fs::File::open(f)?.sync_all()?;
                }
                Ok(())
            })
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|r| r);
            if let Err(e) = synced {
                let _ = std::fs::remove_dir_all(&partial);
                return Err(io(&partial)(e));
            }
        }
        let dir = self.snapshot_dir(name);
        if let Err(e) = std::fs::rename(&partial, &dir) {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(io(&dir)(e));
        }
        if !ephemeral {
            // The rename itself, on disk.
            let parent = self.snapshots_dir();
            if let Err(e) = std::fs::File::open(&parent).and_then(|d| d.sync_all()) {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(io(&parent)(e));
            }
        }
        // What the image was when saved: a pool compares it with what the
        // image is now to know its snapshot is stale (by digest, as a
        // built_at ahead of the host's clock would make every snapshot
        // look older than its image).
        let image_sha256 = match self.inner.store.get_image(&rec.image).await {
            Ok(i) => i.sha256,
            Err(_) => None,
        };
        let record = SnapshotRecord {
            name: name.into(),
            vm: vm.into(),
            image: rec.image.clone(),
            cpu_cores: rec.cpu_cores,
            memory_mb: rec.memory_mb,
            kernel_cmdline: rec.kernel_cmdline.clone(),
            persist: false,
            egress: rec.egress,
            vmm_kind: rec.vmm_kind,
            vmm_version: rec.vmm_version.clone(),
            image_sha256,
            size_bytes,
            ephemeral,
            created_at: hype_store::now(),
        };
        if let Err(e) = self.inner.store.insert_snapshot(&record).await {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e.into());
        }
        let detail = serde_json::json!({
            "snapshot": name, "size_bytes": size_bytes, "paused_ms": paused_ms,
        });
        self.inner
            .store
            .record_event(EventType::SnapshotCreated, vm, Some(detail.to_string()))
            .await?;
        tracing::info!(vm, snapshot = name, size_bytes, paused_ms, "snapshot taken");
        self.snapshot_view(record).await
    }

    pub async fn list_snapshots(&self) -> Result<SnapshotList> {
        let mut snapshots = vec![];
        for r in self.inner.store.list_snapshots().await? {
            snapshots.push(self.snapshot_view(r).await?);
        }
        Ok(SnapshotList { snapshots })
    }

    pub async fn get_snapshot(&self, name: &str) -> Result<Snapshot> {
        let r = self.inner.store.get_snapshot(name).await?;
        self.snapshot_view(r).await
    }

    /// Deletes a snapshot that no existing VM was forked from; one that
    /// forks still come from is refused (409 naming them), so that what a
    /// fork was made from stays known for as long as the fork exists.
    pub async fn delete_snapshot(&self, name: &str) -> Result<()> {
        let r = self.inner.store.get_snapshot(name).await?;
        if let Some(pool) = self.inner.store.pools_of(name).await?.into_iter().next() {
            return Err(CoreError::SnapshotOfPool {
                name: name.into(),
                pool,
            });
        }
        let forks = self.inner.store.delete_snapshot(name).await?;
        if !forks.is_empty() {
            return Err(CoreError::SnapshotInUse {
                name: name.into(),
                vms: forks,
            });
        }
        let dir = self.snapshot_dir(name);
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(snapshot = name, error = %e, "cannot remove a deleted snapshot's files");
            }
        }
        let detail = serde_json::json!({ "snapshot": name }).to_string();
        self.inner
            .store
            .record_event(EventType::SnapshotDeleted, &r.vm, Some(detail))
            .await?;
        Ok(())
    }

    /// Deletes `name` if it is ephemeral and no fork of it is left.
    pub(crate) async fn drop_if_unused(&self, name: &str) {
        let Ok(r) = self.inner.store.get_snapshot(name).await else {
            return;
        };
        if r.ephemeral {
            match self.delete_snapshot(name).await {
                Ok(()) | Err(CoreError::SnapshotInUse { .. }) => {}
                Err(e) => {
                    tracing::warn!(snapshot = name, error = %e, "cannot drop an unused snapshot")
                }
            }
        }
    }

    async fn snapshot_view(&self, r: SnapshotRecord) -> Result<Snapshot> {
        let forks = self.inner.store.forks_of(&r.name).await?;
        Ok(Snapshot {
            name: r.name,
            vm: r.vm,
            image: r.image,
            cpu_cores: r.cpu_cores,
            memory_mb: r.memory_mb,
            vmm: r.vmm_kind,
            vmm_version: r.vmm_version,
            size_bytes: r.size_bytes,
            forks,
            ephemeral: r.ephemeral,
            created_at: r.created_at,
        })
    }

    /// At start: partial snapshots (a kill while one was taken) go, and so
    /// do rows whose files are gone (the files are the snapshot).
    pub(crate) async fn reconcile_snapshots(&self) -> Result<()> {
        let dir = self.snapshots_dir();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(PARTIAL) {
                    tracing::info!(path = %e.path().display(), "removing a partial snapshot");
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        for r in self.inner.store.list_snapshots().await? {
            let d = self.snapshot_dir(&r.name);
            if !d.join(STATE_FILE).exists() || !d.join(MEMORY_FILE).exists() {
                tracing::warn!(snapshot = %r.name, "snapshot files gone; forgetting it");
                let _ = self.inner.store.delete_snapshot(&r.name).await;
            } else if r.ephemeral {
                self.drop_if_unused(&r.name).await;
            }
        }
        Ok(())
    }
}

/// Bytes a file takes on disk (0 when it cannot be read).
fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// The paths of a saved device state: the file itself, or a directory (CH's)
/// and the files in it, the directory first.
fn state_files(state: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = vec![state.to_owned()];
    if state.is_dir() {
        for entry in std::fs::read_dir(state)? {
            out.push(entry?.path());
        }
    }
    Ok(out)
}

/// Makes a file the VMM wrote hyped's, readable by forks' VMMs (each under
/// its own uid) as the jail's read-only binds need.
fn make_ours(path: &Path) -> std::io::Result<()> {
    std::os::unix::fs::chown(
        path,
        Some(nix::unistd::geteuid().as_raw()),
        Some(nix::unistd::getegid().as_raw()),
    )?;
    let mode = if path.is_dir() { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode))
}
