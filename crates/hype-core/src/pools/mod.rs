//! Warm pools: sandboxes of one shape kept ready. A pool boots one VM
//! cold, saves it as the pool's snapshot once it runs (for a browser image:
//! once Chromium answers CDP) and its VMM has gone quiet ([`settle`]),
//! removes it, and keeps `size` forks of that
//! snapshot running. A create that asks for the pool, or that matches its
//! shape, is handed one of them by renaming it: one transaction, no boot.
//!
//! Each pool has one task that refills it, one fork at a time, woken by
//! claims and by a tick. The task is cancelled on the pool's deletion (which
//! then removes what the pool holds) and on hyped's shutdown (which leaves
//! the pool's VMs running, to be adopted at the next start).

mod claim;
mod settle;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hype_cdp::Discovery;
use hype_store::{PoolRecord, SnapshotRecord, VmRecord};
use hype_types::{CreatePool, CreateVm, Pool, PoolChoice, PoolList, PoolState, VmState};
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::fork::{Lifetime, Origin};
use crate::{CoreError, Hype, Result};

/// How often a pool looks at itself without being woken (VMs that crashed
/// are replaced, a rebuilt image noticed).
const TICK: Duration = Duration::from_secs(5);
/// The pause after a failed attempt, growing to `MAX_BACKOFF`.
const BACKOFF: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long a refill waits after the last claim. The claimed sandbox's
/// first seconds (its caller's first CDP calls, a page load) are what the
/// caller waits on; a fork starting beside them takes both cores under TCG
/// (and hyped's share of the host's under KVM). A burst of claims refills
/// once it is over.
const CLAIM_QUIET: Duration = Duration::from_secs(2);

/// The live side of a pool: its task and its figures since hyped started.
struct PoolRuntime {
    wake: Notify,
    cancel: CancellationToken,
    done: watch::Receiver<bool>,
    claims: AtomicU64,
    misses: AtomicU64,
    /// Milliseconds the last refill fork took; 0 before the first.
    last_refill_ms: AtomicU64,
    /// When a sandbox was last handed out.
    last_claim: Mutex<Option<Instant>>,
    status: Mutex<(PoolState, Option<String>)>,
}

impl PoolRuntime {
    fn set(&self, state: PoolState, error: Option<String>) {
        *self.status.lock().expect("pool status") = (state, error);
    }

    /// What is left of the quiet time after the last claim, if any.
    fn quiet_left(&self) -> Option<Duration> {
        let last = (*self.last_claim.lock().expect("pool claim"))?;
        CLAIM_QUIET
            .checked_sub(last.elapsed())
            .filter(|d| !d.is_zero())
    }
}

/// The pools' tasks, by pool name.
#[derive(Default)]
pub(crate) struct Pools {
    map: Mutex<HashMap<String, Arc<PoolRuntime>>>,
}

impl Pools {
    fn get(&self, name: &str) -> Option<Arc<PoolRuntime>> {
        self.map.lock().expect("pools lock").get(name).cloned()
    }
}

/// What one look at a pool did.
enum Step {
    /// Something was made or removed: look again at once.
    Progress,
    /// Nothing to do until woken.
    Idle,
    /// Short, but a claim was just served: look again after this long.
    Quiet(Duration),
}

impl Hype {
    /// `POST /pools`: records the pool and starts filling it.
    pub async fn create_pool(&self, req: CreatePool) -> Result<Pool> {
        req.validate().map_err(CoreError::InvalidRequest)?;
        // The pool's VMs must be VMs this host can boot.
        template_request(&req.name, &req.image, req.cpu_cores, req.memory_mb)
            .validate(self.inner.cfg.host)?;
        if let Some(max) = self.inner.cfg.max_vms.filter(|m| req.size > *m) {
            return Err(CoreError::InvalidRequest(format!(
                "size: {} is more than the {max} VMs this hyped allows (--max-vms)",
                req.size
            )));
        }
        let vmm = self.inner.backends.of_kind(hype_types::VmmKind::Qemu)?;
        let plan = self.plan(&req.name, &req.image, vmm).await?;
        if !matches!(plan.boot, crate::images::ImageBoot::Kernel(_)) {
            return Err(CoreError::Unsupported {
                name: req.name.clone(),
                what: format!(
                    "a warm pool of image '{}', which is not booted on hype's kernel (it cannot be forked)",
                    req.image
                ),
            });
        }
        let rec = PoolRecord {
            name: req.name,
            image: req.image,
            cpu_cores: req.cpu_cores,
            memory_mb: req.memory_mb,
            size: req.size,
            snapshot: None,
            created_at: hype_store::now(),
        };
        self.inner.store.insert_pool(&rec).await?;
        self.spawn_pool(&rec.name);
        self.pool_view(rec).await
    }

    pub async fn list_pools(&self) -> Result<PoolList> {
        let mut pools = vec![];
        for rec in self.inner.store.list_pools().await? {
            pools.push(self.pool_view(rec).await?);
        }
        Ok(PoolList { pools })
    }

    pub async fn get_pool(&self, name: &str) -> Result<Pool> {
        let rec = self.inner.store.get_pool(name).await?;
        self.pool_view(rec).await
    }

    /// `DELETE /pools/{name}`: stops its task, removes the VMs waiting in
    /// it, then the pool; its snapshot goes now, or with the last VM once
    /// handed out of it.
    pub async fn delete_pool(&self, name: &str) -> Result<()> {
        self.inner.store.get_pool(name).await?;
        let rt = self
            .inner
            .pools
            .map
            .lock()
            .expect("pools lock")
            .remove(name);
        if let Some(rt) = rt {
            rt.cancel.cancel();
            let mut done = rt.done.clone();
            let _ = done.wait_for(|d| *d).await;
        }
        for vm in self.pool_vms(name).await? {
            self.remove_pool_vm(&vm.name, "its warm pool was deleted")
                .await;
        }
        let rec = self.inner.store.get_pool(name).await?;
        self.inner.store.delete_pool(name).await?;
        if let Some(s) = rec.snapshot {
            self.retire_snapshot(&s).await;
        }
        Ok(())
    }

    /// At start: the pools of `--pool` made (or remade, if their shape
    /// changed), and every pool's task started.
    pub(crate) async fn start_pools(&self) -> Result<()> {
        for want in self.inner.cfg.pools.clone() {
            match self.inner.store.get_pool(&want.name).await {
                Ok(have)
                    if (&have.image, have.cpu_cores, have.memory_mb, have.size)
                        == (&want.image, want.cpu_cores, want.memory_mb, want.size) => {}
                Ok(_) => {
                    tracing::info!(pool = %want.name, "warm pool changed shape; remade");
                    self.delete_pool(&want.name).await?;
                    self.create_pool(want).await?;
                }
                Err(hype_store::StoreError::PoolNotFound { .. }) => {
                    self.create_pool(want).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        for rec in self.inner.store.list_pools().await? {
            if self.inner.pools.get(&rec.name).is_none() {
                self.spawn_pool(&rec.name);
            }
        }
        Ok(())
    }

    fn spawn_pool(&self, name: &str) {
        let (done_tx, done) = watch::channel(false);
        let rt = Arc::new(PoolRuntime {
            wake: Notify::new(),
            cancel: self.inner.shutdown.child_token(),
            done,
            claims: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            last_refill_ms: AtomicU64::new(0),
            last_claim: Mutex::new(None),
            status: Mutex::new((PoolState::Building, None)),
        });
        self.inner
            .pools
            .map
            .lock()
            .expect("pools lock")
            .insert(name.to_owned(), rt.clone());
        let hype = self.clone();
        let name = name.to_owned();
        self.inner.tracker.spawn(async move {
            hype.run_pool(&name, &rt).await;
            let _ = done_tx.send(true);
        });
    }

    /// The pool's task: one step at a time (a step is never cut short, so
    /// nothing is left half-made), until cancelled.
    async fn run_pool(&self, name: &str, rt: &PoolRuntime) {
        let mut backoff = BACKOFF;
        while !rt.cancel.is_cancelled() {
            let pause = match self.pool_step(name, rt).await {
                Ok(Step::Progress) => {
                    backoff = BACKOFF;
                    continue;
                }
                Ok(Step::Idle) => TICK,
                // A claim during the wait pushes it back: the wake is
                // ignored, the step looks at the time again.
                Ok(Step::Quiet(left)) => {
                    tokio::select! {
                        _ = rt.cancel.cancelled() => return,
                        _ = tokio::time::sleep(left) => {}
                    }
                    continue;
                }
                Err(CoreError::PoolNotFound { .. }) => return,
                Err(e) => {
                    if !rt.cancel.is_cancelled() {
                        tracing::warn!(pool = name, error = %e.describe(), "warm pool cannot fill");
                        rt.set(PoolState::Failing, Some(e.describe()));
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    backoff / 2
                }
            };
            tokio::select! {
                _ = rt.cancel.cancelled() => return,
                _ = rt.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// One look at a pool: the dead replaced, a stale snapshot rebuilt,
    /// one VM added if it is short.
    async fn pool_step(&self, name: &str, rt: &PoolRuntime) -> Result<Step> {
        let pool = self.inner.store.get_pool(name).await?;
        let vms = self.pool_vms(name).await?;
        let mut removed = false;
        // No fork of this pool is under way between steps: one that runs
        // unmarked was cut short (hyped killed) and is not known to answer.
        let stale = |v: &&VmRecord| {
            !v.state.has_vmm()
                || (v.snapshot.is_some() && !v.pool_ready && v.state == VmState::Running)
        };
        for vm in vms.iter().filter(stale) {
            self.remove_pool_vm(&vm.name, "it ended, or was not ready, in its warm pool")
                .await;
            removed = true;
        }
        if removed {
            return Ok(Step::Progress);
        }
        let snap = match &pool.snapshot {
            Some(s) => self.inner.store.get_snapshot(s).await.ok(),
            None => None,
        };
        let snap = match snap {
            Some(s) if !self.snapshot_stale(&s, &pool).await? => s,
            stale => {
                rt.set(PoolState::Building, None);
                // Forks of a stale snapshot (or a template left by a
                // previous run) are not what the pool promises.
                for vm in &vms {
                    self.remove_pool_vm(&vm.name, "its warm pool is rebuilt")
                        .await;
                }
                if let Some(s) = stale {
                    self.inner.store.set_pool_snapshot(name, None).await?;
                    self.retire_snapshot(&s.name).await;
                }
                let made = self.build_pool_snapshot(&pool, rt).await?;
                self.inner
                    .store
                    .set_pool_snapshot(name, Some(&made))
                    .await?;
                return Ok(Step::Progress);
            }
        };
        let live = vms.iter().filter(|v| v.state.has_vmm()).count() as u32;
        if live >= pool.size {
            rt.set(PoolState::Ready, None);
            return Ok(Step::Idle);
        }
        if !matches!(
            *rt.status.lock().expect("pool status"),
            (PoolState::Failing, _)
        ) {
            rt.set(PoolState::Filling, None);
        }
        if let Some(left) = rt.quiet_left() {
            return Ok(Step::Quiet(left));
        }
        let started = Instant::now();
        let origin = Origin {
            pool: Some(name.to_owned()),
            detail: serde_json::json!({ "snapshot": snap.name, "pool": name }),
        };
        let vm = pool_vm_name(name);
        self.fork_one(&snap, &vm, Lifetime::default(), origin)
            .await?;
        // Handed out only once its browser has answered through hyped's
        // own path: a claim answers with a sandbox whose CDP is there, and
        // under TCG that first request is what warms the guest's code
        // (seconds, in a new QEMU) rather than the caller's.
        if self.inner.is_browser_image(&pool.image) {
            if let Err(e) = self.cdp_discovery(&vm, Discovery::Version).await {
                self.remove_pool_vm(&vm, "its browser did not answer").await;
                return Err(e);
            }
        }
        self.inner.store.mark_pool_ready(name, &vm).await?;
        rt.last_refill_ms
            .store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        rt.set(PoolState::Filling, None);
        Ok(Step::Progress)
    }

    /// Whether the pool's snapshot no longer matches what the pool
    /// promises: the image rebuilt, another QEMU, another shape.
    async fn snapshot_stale(&self, s: &SnapshotRecord, pool: &PoolRecord) -> Result<bool> {
        let image = self.inner.store.get_image(&pool.image).await?;
        let rebuilt = match (&s.image_sha256, &image.sha256) {
            (Some(a), Some(b)) => a != b,
            _ => image.created_at > s.created_at,
        };
        Ok(rebuilt
            || s.vmm_version != self.inner.backends.qemu_version()
            || (s.cpu_cores, s.memory_mb)
                != (pool.cpu_cores.min(self.inner.cfg.host.cpus), pool.memory_mb))
    }

    /// Boots the pool's template cold, saves it as the pool's snapshot once
    /// it runs and has gone quiet ([`settle`]), and removes it. Returns the
    /// snapshot's name.
    async fn build_pool_snapshot(&self, pool: &PoolRecord, rt: &PoolRuntime) -> Result<String> {
        let base = format!("pool-{}-base", pool.name);
        let req = template_request(&base, &pool.image, pool.cpu_cores, pool.memory_mb);
        let events = self.subscribe_events();
        let detail = serde_json::json!({ "pool": pool.name, "template": true });
        self.create_cold(req, Some(pool.name.clone()), Some(detail))
            .await?;
        let ran = tokio::select! {
            r = self.wait_running(&base, events) => r,
            // Shutdown: the template is left to the next start, which
            // removes it and builds again.
            _ = rt.cancel.cancelled() => return Err(CoreError::ShuttingDown),
        };
        let snapshot = format!("pool-{}-{}", pool.name, short_id());
        let taken = match ran {
            Ok(vm) => {
                tokio::select! {
                    () = settle::settle(&base, vm.vmm.pid) => {}
                    _ = rt.cancel.cancelled() => return Err(CoreError::ShuttingDown),
                }
                self.take_snapshot(&base, &snapshot, false).await.map(drop)
            }
            Err(e) => Err(e),
        };
        self.remove_pool_vm(&base, "its warm pool's snapshot is taken")
            .await;
        taken?;
        tracing::info!(pool = %pool.name, snapshot, "warm pool snapshot taken");
        Ok(snapshot)
    }

    /// A snapshot the pool no longer uses: deleted, or, while VMs handed
    /// out of the pool still run from it, left to go with the last of them.
    async fn retire_snapshot(&self, name: &str) {
        let in_use = self
            .inner
            .store
            .forks_of(name)
            .await
            .map(|f| !f.is_empty())
            .unwrap_or(true);
        let done = if in_use {
            self.inner
                .store
                .set_snapshot_ephemeral(name)
                .await
                .map_err(CoreError::from)
        } else {
            self.delete_snapshot(name).await
        };
        if let Err(e) = done {
            tracing::warn!(snapshot = name, error = %e, "cannot retire a warm pool's snapshot");
        }
    }

    async fn pool_vms(&self, pool: &str) -> Result<Vec<VmRecord>> {
        let max = hype_types::MAX_PAGE_LIMIT;
        Ok(self
            .inner
            .store
            .list_vms_page(None, Some(pool), None, max)
            .await?)
    }

    async fn remove_pool_vm(&self, name: &str, why: &str) {
        match self.delete_vm_because(name, Some(why.into())).await {
            Ok(()) | Err(CoreError::VmNotFound { .. }) => {}
            Err(e) => tracing::warn!(vm = name, error = %e, "cannot remove a warm pool's VM"),
        }
    }

    async fn pool_view(&self, rec: PoolRecord) -> Result<Pool> {
        let counts = self.inner.store.pool_counts(&rec.name).await?;
        let rt = self.inner.pools.get(&rec.name);
        let (state, error) = rt
            .as_ref()
            .map(|r| r.status.lock().expect("pool status").clone())
            .unwrap_or((PoolState::Building, None));
        let figure = |f: fn(&PoolRuntime) -> &AtomicU64| {
            rt.as_ref()
                .map(|r| f(r).load(Ordering::Relaxed))
                .unwrap_or(0)
        };
        let last = figure(|r| &r.last_refill_ms);
        Ok(Pool {
            name: rec.name,
            image: rec.image,
            cpu_cores: rec.cpu_cores,
            memory_mb: rec.memory_mb,
            size: rec.size,
            ready: counts.ready,
            starting: counts.starting,
            state,
            error,
            snapshot: rec.snapshot,
            claims: figure(|r| &r.claims),
            misses: figure(|r| &r.misses),
            last_refill_ms: (last > 0).then_some(last),
            created_at: rec.created_at,
        })
    }
}

/// The create of a pool's template (and the check of a pool's shape).
fn template_request(name: &str, image: &str, cpu_cores: u32, memory_mb: u32) -> CreateVm {
    CreateVm {
        name: name.into(),
        cpu_cores,
        memory_mb,
        image: Some(image.into()),
        kernel_cmdline: None,
        vmm: hype_types::VmmChoice::Qemu,
        network: None,
        ttl_seconds: None,
        idle_timeout_seconds: None,
        persist: false,
        snapshot: None,
        count: None,
        pool: Some(PoolChoice::Flag(false)),
        record: false,
    }
}

/// A name for a VM waiting in `pool`: `pool-<pool>-<8 hex>`.
fn pool_vm_name(pool: &str) -> String {
    format!("pool-{pool}-{}", short_id())
}

fn short_id() -> String {
    let id = uuid::Uuid::now_v7().simple().to_string();
    id[id.len() - 8..].to_owned()
}
