//! The VM repository. A VM's state changes only through [`Store::transition`],
//! which applies the lifecycle's transition function and writes the event in
//! the same transaction.

use hype_types::{Event, EventType, Transition, VmState, VmmKind};
use sqlx::sqlite::SqliteRow;
use sqlx::{Executor, Row, Sqlite, Transaction};

use crate::error::{is_unique_violation, DbContext};
use crate::{events, now, Result, Store, StoreError};

/// A VM row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmRecord {
    pub id: String,
    pub name: String,
    pub state: VmState,
    pub cpu_cores: u32,
    pub memory_mb: u32,
    pub image: String,
    pub kernel_cmdline: String,
    pub user_cmdline: Option<String>,
    pub vmm_kind: VmmKind,
    pub vmm_version: Option<String>,
    pub vmm_pid: Option<u32>,
    pub accel: Option<String>,
    pub ip: Option<String>,
    pub mac: Option<String>,
    /// Whether the guest may reach beyond the host.
    pub egress: bool,
    pub ttl_seconds: Option<u32>,
    pub idle_timeout_seconds: Option<u32>,
    /// Root writes go to a disk of the VM's own.
    pub persist: bool,
    /// Its pages are recorded.
    pub record: bool,
    /// A hype agent runs in the guest.
    pub has_agent: bool,
    /// The uid its VMM runs as when confined, once assigned.
    pub uid: Option<u32>,
    /// Its run directory's key (its name when it was made).
    pub dir: String,
    /// The snapshot it was forked from.
    pub snapshot: Option<String>,
    /// The warm pool it waits in (`None` once handed out).
    pub pool: Option<String>,
    /// Its pool may hand it out (it runs and its browser answered).
    pub pool_ready: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// What a create writes.
#[derive(Debug, Clone)]
pub struct NewVm {
    pub id: String,
    pub name: String,
    pub cpu_cores: u32,
    pub memory_mb: u32,
    pub image: String,
    pub kernel_cmdline: String,
    pub user_cmdline: Option<String>,
    pub vmm_kind: VmmKind,
    pub egress: bool,
    pub ttl_seconds: Option<u32>,
    pub idle_timeout_seconds: Option<u32>,
    pub persist: bool,
    pub record: bool,
    pub has_agent: bool,
    pub snapshot: Option<String>,
    /// The warm pool it is made for.
    pub pool: Option<String>,
    /// `VM_CREATED`'s detail (a fork's snapshot).
    pub created_detail: Option<String>,
}

/// Fields a transition may set alongside the state.
#[derive(Debug, Clone, Default)]
pub struct VmmUpdate {
    /// `Some(None)` clears the pid.
    pub pid: Option<Option<u32>>,
    pub version: Option<String>,
    pub accel: Option<String>,
    pub kernel_cmdline: Option<String>,
}

const COLUMNS: &str =
    "id, name, state, cpu_cores, memory_mb, image, kernel_cmdline, user_cmdline, \
     vmm_kind, vmm_version, vmm_pid, accel, ip, mac, egress, ttl_seconds, idle_timeout_seconds, persist, \
     record, has_agent, uid, dir, snapshot, pool, pool_ready, created_at, updated_at";

fn from_row(row: &SqliteRow) -> Result<VmRecord> {
    let state: String = row.get("state");
    let kind: String = row.get("vmm_kind");
    Ok(VmRecord {
        id: row.get("id"),
        name: row.get("name"),
        state: VmState::parse(&state).ok_or(StoreError::Corrupt {
            table: "vms",
            what: format!("state {state:?}"),
        })?,
        cpu_cores: row.get::<i64, _>("cpu_cores") as u32,
        memory_mb: row.get::<i64, _>("memory_mb") as u32,
        image: row.get("image"),
        kernel_cmdline: row.get("kernel_cmdline"),
        user_cmdline: row.get("user_cmdline"),
        vmm_kind: VmmKind::parse(&kind).ok_or(StoreError::Corrupt {
            table: "vms",
            what: format!("vmm_kind {kind:?}"),
        })?,
        vmm_version: row.get("vmm_version"),
        vmm_pid: row.get::<Option<i64>, _>("vmm_pid").map(|p| p as u32),
        accel: row.get("accel"),
        ip: row.get("ip"),
        mac: row.get("mac"),
        egress: row.get::<i64, _>("egress") != 0,
        ttl_seconds: row.get::<Option<i64>, _>("ttl_seconds").map(|v| v as u32),
        idle_timeout_seconds: row
            .get::<Option<i64>, _>("idle_timeout_seconds")
            .map(|v| v as u32),
        persist: row.get::<i64, _>("persist") != 0,
        record: row.get::<i64, _>("record") != 0,
        has_agent: row.get::<i64, _>("has_agent") != 0,
        uid: row.get::<Option<i64>, _>("uid").map(|u| u as u32),
        dir: row.get("dir"),
        snapshot: row.get("snapshot"),
        pool: row.get("pool"),
        pool_ready: row.get::<i64, _>("pool_ready") != 0,
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    })
}

impl Store {
    /// Inserts a VM in `creating` with its `VM_CREATED` event. The unique
    /// name constraint decides between concurrent creates of one name.
    /// With `max`, refuses the insert when that many VMs exist already; the
    /// count and the insert are one transaction under the writer lock, so
    /// concurrent creates cannot overshoot.
    pub async fn insert_vm(&self, new: NewVm, max: Option<u32>) -> Result<(VmRecord, Event)> {
        let (_w, mut tx) = self.begin_write("begin create").await?;
        if let Some(max) = max {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM vms")
                .fetch_one(&mut *tx)
                .await
                .during("count VMs")?;
            if n >= i64::from(max) {
                return Err(StoreError::TooManyVms { max });
            }
        }
        let at = now();
        let res = insert_row(&mut tx, &new, VmState::Creating, &at).await;
        match res {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::NameTaken { name: new.name });
            }
            Err(e) if is_fk_violation(&e) => {
                return Err(StoreError::ImageNotFound { name: new.image });
            }
            Err(source) => {
                return Err(StoreError::Db {
                    op: "insert VM",
                    source,
                })
            }
        }
        let event = events::insert(
            &mut tx,
            EventType::VmCreated,
            &new.name,
            VmState::Creating,
            new.created_detail.clone(),
        )
        .await?;
        let vm = fetch(&mut *tx, &new.name).await?;
        tx.commit().await.during("commit create")?;
        self.publish([event.clone()]);
        Ok((vm, event))
    }

    pub async fn get_vm(&self, name: &str) -> Result<VmRecord> {
        fetch(&self.pool, name).await
    }

    /// Every VM, by name (for reconcile; lists for users are paged).
    pub async fn list_vms(&self) -> Result<Vec<VmRecord>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM vms ORDER BY name"))
            .fetch_all(&self.pool)
            .await
            .during("list VMs")?;
        rows.iter().map(from_row).collect()
    }

    /// Up to `limit` VMs by name, after the name `after`; only those in
    /// `state` when given. Users' VMs, or with `pool` the VMs waiting in
    /// that warm pool.
    pub async fn list_vms_page(
        &self,
        state: Option<VmState>,
        pool: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<VmRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM vms WHERE (?1 IS NULL OR state = ?1) AND name > ?2 \
             AND pool IS ?4 ORDER BY name LIMIT ?3"
        ))
        .bind(state.map(|s| s.as_str()))
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .bind(pool)
        .fetch_all(&self.pool)
        .await
        .during("list VMs")?;
        rows.iter().map(from_row).collect()
    }

    /// The VMs with a TTL or an idle timeout, for the lifetime reaper.
    pub async fn list_vms_with_lifetimes(&self) -> Result<Vec<VmRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM vms \
             WHERE ttl_seconds IS NOT NULL OR idle_timeout_seconds IS NOT NULL ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await
        .during("list VMs with lifetimes")?;
        rows.iter().map(from_row).collect()
    }

    /// The VM's uid for its confined VMM: the one it has, or the lowest
    /// free one of `[base, base + count)`, assigned for good.
    pub async fn assign_uid(&self, name: &str, base: u32, count: u32) -> Result<u32> {
        let (_w, mut tx) = self.begin_write("begin assign uid").await?;
        let current = fetch(&mut *tx, name).await?;
        if let Some(uid) = current.uid {
            return Ok(uid);
        }
        // The lowest uid of the range that no VM holds: `base` itself, or
        // one past a held one.
        let free: Option<i64> = sqlx::query_scalar(
            "SELECT c FROM (SELECT ?1 AS c UNION SELECT uid + 1 FROM vms WHERE uid IS NOT NULL) \
             WHERE c >= ?1 AND c < ?1 + ?2 AND c NOT IN (SELECT uid FROM vms WHERE uid IS NOT NULL) \
             ORDER BY c LIMIT 1",
        )
        .bind(i64::from(base))
        .bind(i64::from(count))
        .fetch_optional(&mut *tx)
        .await
        .during("find a free uid")?;
        let Some(uid) = free else {
            return Err(StoreError::UidsExhausted { base, count });
        };
        sqlx::query("UPDATE vms SET uid = ? WHERE name = ?")
            .bind(uid)
            .bind(name)
            .execute(&mut *tx)
            .await
            .during("assign uid")?;
        tx.commit().await.during("commit assign uid")?;
        Ok(uid as u32)
    }

    /// How many VMs are in each state (states with none are absent).
    pub async fn count_vms_by_state(&self) -> Result<Vec<(VmState, i64)>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, count(*) FROM vms GROUP BY state")
                .fetch_all(&self.pool)
                .await
                .during("count VMs by state")?;
        rows.into_iter()
            .map(|(s, n)| {
                VmState::parse(&s)
                    .map(|st| (st, n))
                    .ok_or(StoreError::Corrupt {
                        table: "vms",
                        what: format!("state {s:?}"),
                    })
            })
            .collect()
    }

    pub async fn count_vms(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT count(*) FROM vms")
            .fetch_one(&self.pool)
            .await
            .during("count VMs")
    }

    /// Applies `t` to the VM's current state, stores the result with `update`,
    /// and writes the transition's event, all in one transaction.
    pub async fn transition(
        &self,
        name: &str,
        t: Transition,
        detail: Option<String>,
        update: VmmUpdate,
    ) -> Result<(VmRecord, Option<Event>)> {
        self.transition_of(Key::Name(name), t, detail, update).await
    }

    /// [`Store::transition`] of the VM with id `id`, whatever its name is
    /// by then (a supervisor's VM may be handed out of a pool under
    /// another name).
    pub async fn transition_id(
        &self,
        id: &str,
        t: Transition,
        detail: Option<String>,
        update: VmmUpdate,
    ) -> Result<(VmRecord, Option<Event>)> {
        self.transition_of(Key::Id(id), t, detail, update).await
    }

    /// The VM with id `id`.
    pub async fn get_vm_by_id(&self, id: &str) -> Result<VmRecord> {
        fetch_by(&self.pool, Key::Id(id)).await
    }

    async fn transition_of(
        &self,
        key: Key<'_>,
        t: Transition,
        detail: Option<String>,
        update: VmmUpdate,
    ) -> Result<(VmRecord, Option<Event>)> {
        let (_w, mut tx) = self.begin_write("begin transition").await?;
        let current = fetch_by(&mut *tx, key).await?;
        let name = current.name.as_str();
        let next = current
            .state
            .apply(t)
            .map_err(|source| StoreError::InvalidTransition {
                name: name.into(),
                source,
            })?;
        let done = sqlx::query(
            "UPDATE vms SET state = ?, updated_at = ?, \
             vmm_pid = CASE WHEN ? THEN ? ELSE vmm_pid END, \
             vmm_version = coalesce(?, vmm_version), accel = coalesce(?, accel), \
             kernel_cmdline = coalesce(?, kernel_cmdline) \
             WHERE name = ? AND state = ?",
        )
        .bind(next.as_str())
        .bind(now())
        .bind(update.pid.is_some())
        .bind(update.pid.flatten().map(|p| p as i64))
        .bind(&update.version)
        .bind(&update.accel)
        .bind(&update.kernel_cmdline)
        .bind(name)
        .bind(current.state.as_str())
        .execute(&mut *tx)
        .await
        .during("update VM state")?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Raced {
                name: name.into(),
                now: current.state,
            });
        }
        let event = match t.event() {
            Some(ty) => Some(events::insert(&mut tx, ty, name, next, detail).await?),
            None => None,
        };
        let vm = fetch(&mut *tx, name).await?;
        tx.commit().await.during("commit transition")?;
        self.publish(event.clone());
        Ok((vm, event))
    }

    /// Removes the VM (and, by cascade, its lease) with a `VM_DELETED` event.
    pub async fn delete_vm(&self, name: &str, detail: Option<String>) -> Result<Event> {
        let (_w, mut tx) = self.begin_write("begin delete").await?;
        let current = fetch(&mut *tx, name).await?;
        sqlx::query("DELETE FROM vms WHERE id = ?")
            .bind(&current.id)
            .execute(&mut *tx)
            .await
            .during("delete VM")?;
        let event =
            events::insert(&mut tx, EventType::VmDeleted, name, current.state, detail).await?;
        tx.commit().await.during("commit delete")?;
        self.publish([event.clone()]);
        Ok(event)
    }

    /// Bulk insert for benchmarks (the `seed` feature): VMs straight into
    /// `stopped`, without events.
    #[cfg(feature = "seed")]
    pub async fn seed_stopped_vms(&self, vms: Vec<NewVm>) -> Result<()> {
        let (_w, mut tx) = self.begin_write("begin seed").await?;
        let at = now();
        for new in vms {
            insert_row(&mut tx, &new, VmState::Stopped, &at)
                .await
                .during("seed VM")?;
        }
        tx.commit().await.during("commit seed")
    }
}

pub(crate) async fn fetch<'e, E: Executor<'e, Database = Sqlite>>(
    ex: E,
    name: &str,
) -> Result<VmRecord> {
    fetch_by(ex, Key::Name(name)).await
}

/// How a VM is looked up: by its name, or by its id (which never changes).
#[derive(Clone, Copy)]
enum Key<'a> {
    Name(&'a str),
    Id(&'a str),
}

async fn fetch_by<'e, E: Executor<'e, Database = Sqlite>>(ex: E, key: Key<'_>) -> Result<VmRecord> {
    let (column, value) = match key {
        Key::Name(n) => ("name", n),
        Key::Id(i) => ("id", i),
    };
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM vms WHERE {column} = ?"))
        .bind(value)
        .fetch_optional(ex)
        .await
        .during("read VM")?;
    match row {
        Some(row) => from_row(&row),
        None => Err(StoreError::VmNotFound { name: value.into() }),
    }
}

/// The one INSERT of a VM row, in `state`.
async fn insert_row(
    tx: &mut Transaction<'_, Sqlite>,
    new: &NewVm,
    state: VmState,
    at: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO vms (id, name, state, cpu_cores, memory_mb, image, kernel_cmdline, \
         user_cmdline, vmm_kind, egress, ttl_seconds, idle_timeout_seconds, persist, \
         record, has_agent, dir, snapshot, pool, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&new.id)
    .bind(&new.name)
    .bind(state.as_str())
    .bind(new.cpu_cores as i64)
    .bind(new.memory_mb as i64)
    .bind(&new.image)
    .bind(&new.kernel_cmdline)
    .bind(&new.user_cmdline)
    .bind(new.vmm_kind.as_str())
    .bind(new.egress as i64)
    .bind(new.ttl_seconds.map(i64::from))
    .bind(new.idle_timeout_seconds.map(i64::from))
    .bind(new.persist as i64)
    .bind(new.record as i64)
    .bind(new.has_agent as i64)
    .bind(&new.name)
    .bind(&new.snapshot)
    .bind(&new.pool)
    .bind(at)
    .bind(at)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

fn is_fk_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_foreign_key_violation())
}
