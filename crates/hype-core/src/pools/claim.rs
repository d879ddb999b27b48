//! Claims: a create served by a warm pool, and what a handed-out VM
//! becomes (its caller's name, lifetime and CPU weight).

use std::sync::atomic::Ordering;
use std::time::Instant;

use hype_store::{Claim, PoolRecord};
use hype_types::{CreateVm, PoolChoice, Vm};

use crate::fork::{Lifetime, Origin};
use crate::{CoreError, Hype, Result};

impl Hype {
    /// The pool a create is served from: the one it names, or (unless it
    /// says `"pool": false`) one whose image, CPUs and memory it matches.
    pub(crate) async fn pool_for(&self, req: &CreateVm) -> Result<Option<PoolRecord>> {
        let plain = req.kernel_cmdline.is_none()
            && !req.persist
            && !req.record
            && !self.inner.cfg.record_all
            && req.network.is_none()
            && matches!(
                req.vmm,
                hype_types::VmmChoice::Auto | hype_types::VmmChoice::Qemu
            );
        match &req.pool {
            Some(PoolChoice::Flag(false)) => Ok(None),
            Some(PoolChoice::Flag(true)) => Err(CoreError::InvalidRequest(
                "pool: a warm pool's name, or false to boot cold".into(),
            )),
            Some(PoolChoice::Name(name)) => {
                let pool = self.inner.store.get_pool(name).await?;
                let contradicts = req
                    .contradicts(&pool.image, pool.cpu_cores, pool.memory_mb)
                    .is_some();
                if contradicts || !plain {
                    return Err(CoreError::InvalidRequest(format!(
                        "pool '{name}' holds VMs of image '{}' with {} CPU(s) and {} MiB, as they are; \
                         a create from it may set only its name, ttl_seconds and idle_timeout_seconds",
                        pool.image, pool.cpu_cores, pool.memory_mb
                    )));
                }
                Ok(Some(pool))
            }
            None if plain => {
                let image = req
                    .image
                    .clone()
                    .unwrap_or_else(|| self.inner.cfg.default_image.clone());
                Ok(self.inner.store.list_pools().await?.into_iter().find(|p| {
                    p.image == image && p.cpu_cores == req.cpu_cores && p.memory_mb == req.memory_mb
                }))
            }
            None => Ok(None),
        }
    }

    /// A create served by `pool`: a ready VM renamed to the caller's name;
    /// if none is ready, a fork of the pool's snapshot; if it has none yet,
    /// a cold boot. `VM_CREATED`'s detail says which (`served`).
    pub(crate) async fn create_from_pool(&self, pool: PoolRecord, req: CreateVm) -> Result<Vm> {
        let mut checked = req.clone();
        checked.cpu_cores = pool.cpu_cores;
        checked.memory_mb = pool.memory_mb;
        checked.validate(self.inner.cfg.host)?;
        let rt = self.inner.pools.get(&pool.name);
        let guard = self.inner.locks.lock(&req.name).await;
        let claimed = self
            .inner
            .store
            .claim_pool_vm(Claim {
                pool: &pool.name,
                name: &req.name,
                ttl_seconds: req.ttl_seconds,
                idle_timeout_seconds: req.idle_timeout_seconds,
                detail: serde_json::json!({ "pool": pool.name, "served": "pool" }).to_string(),
            })
            .await?;
        if let Some(rt) = &rt {
            let counter = if claimed.is_some() {
                &rt.claims
            } else {
                &rt.misses
            };
            counter.fetch_add(1, Ordering::Relaxed);
            if claimed.is_some() {
                *rt.last_claim.lock().expect("pool claim") = Some(Instant::now());
            }
            rt.wake.notify_one();
        }
        if let Some((old, rec, _)) = claimed {
            // It waited in the background; now someone holds it.
            if let Some(jail) = &self.inner.jail {
                let normal = hype_vmm::jail::cgroup::Priority::Normal;
                if let Err(e) = jail.cgroups.set_priority(&rec.dir, normal) {
                    tracing::warn!(vm = %rec.name, error = %e, "a handed-out VM keeps its pool's CPU weight");
                }
            }
            self.inner.runtimes.rename(&old, &rec.name);
            self.inner.lifetimes.forget(&old, None);
            tracing::info!(vm = %rec.name, pool = %pool.name, was = old, "handed out of a warm pool");
            // The guest still calls itself by its pool name; it takes the
            // caller's in the background, so the answer waits for nothing.
            let (hype, name) = (self.clone(), rec.name.clone());
            self.inner
                .tracker
                .spawn(async move { hype.rename_guest(&name).await });
            return Ok(self.to_view(rec));
        }
        drop(guard);
        let snap = match &pool.snapshot {
            Some(s) => self.inner.store.get_snapshot(s).await.ok(),
            None => None,
        };
        match snap {
            Some(snap) => {
                let origin = Origin {
                    pool: None,
                    detail: serde_json::json!({ "pool": pool.name, "served": "fork", "snapshot": snap.name }),
                };
                let life = Lifetime {
                    ttl_seconds: req.ttl_seconds,
                    idle_timeout_seconds: req.idle_timeout_seconds,
                };
                self.fork_one(&snap, &req.name, life, origin).await
            }
            None => {
                let cold = CreateVm {
                    image: Some(pool.image.clone()),
                    pool: None,
                    ..checked
                };
                let detail = serde_json::json!({ "pool": pool.name, "served": "cold" });
                self.create_cold(cold, None, Some(detail)).await
            }
        }
    }

    /// Sets a handed-out VM's hostname to its new name, through its agent.
    async fn rename_guest(&self, name: &str) {
        let spec = hype_types::ExecSpec {
            cmd: vec!["hostname".into(), name.into()],
            env: Default::default(),
            cwd: Some("/".into()),
            user: Some("root".into()),
            tty: None,
            stdin: false,
            timeout_seconds: Some(30),
        };
        match self.exec(name, spec, vec![]).await {
            Ok(r) if r.exit_code == Some(0) => {}
            Ok(r) => tracing::warn!(
                vm = name,
                stderr = r.stderr,
                "the guest kept its pool hostname"
            ),
            Err(e) => {
                tracing::warn!(vm = name, error = %e.describe(), "the guest kept its pool hostname")
            }
        }
    }
}
