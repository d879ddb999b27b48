//! Warm pools, and the one way a pool's VM leaves it: handed to a caller
//! under the caller's name, in one transaction with its events.

use hype_types::{Event, EventType, VmState};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::error::{is_unique_violation, DbContext};
use crate::vms::fetch;
use crate::{events, now, Result, Store, StoreError};

/// A pool row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolRecord {
    pub name: String,
    pub image: String,
    pub cpu_cores: u32,
    pub memory_mb: u32,
    pub size: u32,
    /// The snapshot its VMs are forked from, once made.
    pub snapshot: Option<String>,
    pub created_at: String,
}

fn pool_row(r: &SqliteRow) -> PoolRecord {
    PoolRecord {
        name: r.get("name"),
        image: r.get("image"),
        cpu_cores: r.get::<i64, _>("cpu_cores") as u32,
        memory_mb: r.get::<i64, _>("memory_mb") as u32,
        size: r.get::<i64, _>("size") as u32,
        snapshot: r.get("snapshot"),
        created_at: r.get("created_at"),
    }
}

/// A pool's forks by readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolCounts {
    pub ready: u32,
    pub starting: u32,
}

/// What a claim asks of the VM it takes.
#[derive(Debug, Clone)]
pub struct Claim<'a> {
    pub pool: &'a str,
    pub name: &'a str,
    pub ttl_seconds: Option<u32>,
    pub idle_timeout_seconds: Option<u32>,
    /// `VM_CREATED`'s detail.
    pub detail: String,
}

impl Store {
    pub async fn insert_pool(&self, p: &PoolRecord) -> Result<()> {
        let res = sqlx::query(
            "INSERT INTO pools (name, image, cpu_cores, memory_mb, size, snapshot, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&p.name)
        .bind(&p.image)
        .bind(i64::from(p.cpu_cores))
        .bind(i64::from(p.memory_mb))
        .bind(i64::from(p.size))
        .bind(&p.snapshot)
        .bind(&p.created_at)
        .execute(&self.pool)
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::PoolExists {
                name: p.name.clone(),
            }),
            Err(source) => Err(StoreError::Db {
                op: "insert pool",
                source,
            }),
        }
    }

    pub async fn list_pools(&self) -> Result<Vec<PoolRecord>> {
        let rows = sqlx::query("SELECT * FROM pools ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .during("list pools")?;
        Ok(rows.iter().map(pool_row).collect())
    }

    pub async fn get_pool(&self, name: &str) -> Result<PoolRecord> {
        let row = sqlx::query("SELECT * FROM pools WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .during("read pool")?;
        row.map(|r| pool_row(&r))
            .ok_or_else(|| StoreError::PoolNotFound { name: name.into() })
    }

    /// The pools that use `snapshot`.
    pub async fn pools_of(&self, snapshot: &str) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT name FROM pools WHERE snapshot = ? ORDER BY name")
            .bind(snapshot)
            .fetch_all(&self.pool)
            .await
            .during("find a snapshot's pools")
    }

    /// Records the snapshot the pool forks from (`None`: none usable).
    pub async fn set_pool_snapshot(&self, name: &str, snapshot: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE pools SET snapshot = ? WHERE name = ?")
            .bind(snapshot)
            .bind(name)
            .execute(&self.pool)
            .await
            .during("set pool snapshot")?;
        Ok(())
    }

    pub async fn delete_pool(&self, name: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM pools WHERE name = ?")
            .bind(name)
            .execute(&self.pool)
            .await
            .during("delete pool")?;
        if done.rows_affected() == 0 {
            return Err(StoreError::PoolNotFound { name: name.into() });
        }
        Ok(())
    }

    /// A snapshot that no pool keeps goes with its last fork.
    pub async fn set_snapshot_ephemeral(&self, name: &str) -> Result<()> {
        sqlx::query("UPDATE snapshots SET ephemeral = 1 WHERE name = ?")
            .bind(name)
            .execute(&self.pool)
            .await
            .during("mark snapshot ephemeral")?;
        Ok(())
    }

    /// Hands the pool's oldest running VM to a caller: renamed to
    /// `claim.name`, out of the pool, its lifetime counted from now, with
    /// `VM_CREATED` (`claim.detail`) and `VM_RUNNING` under the new name.
    /// `None` when the pool has no running VM. Returns the VM's old name
    /// with its row.
    pub async fn claim_pool_vm(
        &self,
        claim: Claim<'_>,
    ) -> Result<Option<(String, crate::VmRecord, Vec<Event>)>> {
        let (_w, mut tx) = self.begin_write("begin claim").await?;
        let old: Option<String> = sqlx::query_scalar(
            // Only a VM the pool marked ready: never its template, never a
            // fork whose browser has not answered yet.
            "SELECT name FROM vms WHERE pool = ? AND state = 'running' AND pool_ready = 1 \
             ORDER BY created_at, name LIMIT 1",
        )
        .bind(claim.pool)
        .fetch_optional(&mut *tx)
        .await
        .during("find a pool VM")?;
        let Some(old) = old else {
            return Ok(None);
        };
        let at = now();
        let res = sqlx::query(
            "UPDATE vms SET name = ?, pool = NULL, pool_ready = 0, ttl_seconds = ?, idle_timeout_seconds = ?, \
             created_at = ?, updated_at = ? WHERE name = ? AND state = 'running'",
        )
        .bind(claim.name)
        .bind(claim.ttl_seconds.map(i64::from))
        .bind(claim.idle_timeout_seconds.map(i64::from))
        .bind(&at)
        .bind(&at)
        .bind(&old)
        .execute(&mut *tx)
        .await;
        match res {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::NameTaken {
                    name: claim.name.into(),
                })
            }
            Err(source) => {
                return Err(StoreError::Db {
                    op: "claim pool VM",
                    source,
                })
            }
        }
        let created = events::insert(
            &mut tx,
            EventType::VmCreated,
            claim.name,
            VmState::Running,
            Some(claim.detail),
        )
        .await?;
        let running = events::insert(
            &mut tx,
            EventType::VmRunning,
            claim.name,
            VmState::Running,
            Some(format!("handed out of warm pool '{}'", claim.pool)),
        )
        .await?;
        let vm = fetch(&mut *tx, claim.name).await?;
        tx.commit().await.during("commit claim")?;
        let events = vec![created, running];
        self.publish(events.clone());
        Ok(Some((old, vm, events)))
    }

    /// Marks a running VM of `pool` as one to hand out.
    pub async fn mark_pool_ready(&self, pool: &str, name: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE vms SET pool_ready = 1 WHERE name = ? AND pool = ? AND state = 'running'",
        )
        .bind(name)
        .bind(pool)
        .execute(&self.pool)
        .await
        .during("mark pool VM ready")?;
        Ok(done.rows_affected() == 1)
    }

    /// The pool's forks (its template left out): how many can be handed
    /// out now, and how many are on their way.
    pub async fn pool_counts(&self, pool: &str) -> Result<PoolCounts> {
        let (ready, starting): (i64, i64) = sqlx::query_as(
            "SELECT coalesce(sum(state = 'running' AND pool_ready = 1), 0), \
             coalesce(sum(state IN ('creating', 'starting') OR (state = 'running' AND pool_ready = 0)), 0) \
             FROM vms WHERE pool = ? AND snapshot IS NOT NULL",
        )
        .bind(pool)
        .fetch_one(&self.pool)
        .await
        .during("count pool VMs")?;
        Ok(PoolCounts {
            ready: ready as u32,
            starting: starting as u32,
        })
    }
}
