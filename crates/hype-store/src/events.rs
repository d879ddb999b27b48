//! The event log: append inside a state-changing transaction, read back by id.

use hype_types::{Event, EventType, VmState};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use crate::error::DbContext;
use crate::{now, Result, Store, StoreError};

pub(crate) async fn insert(
    tx: &mut Transaction<'_, Sqlite>,
    ty: EventType,
    vm: &str,
    state: VmState,
    detail: Option<String>,
) -> Result<Event> {
    let at = now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO events (type, vm, state, at, detail) VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(ty.as_str())
    .bind(vm)
    .bind(state.as_str())
    .bind(&at)
    .bind(&detail)
    .fetch_one(&mut **tx)
    .await
    .during("append event")?;
    Ok(Event {
        id,
        event_type: ty,
        vm: vm.into(),
        state,
        at,
        detail,
    })
}

fn from_row(row: &SqliteRow) -> Result<Event> {
    let ty: String = row.get("type");
    let state: String = row.get("state");
    Ok(Event {
        id: row.get("id"),
        event_type: EventType::parse(&ty).ok_or(StoreError::Corrupt {
            table: "events",
            what: format!("type {ty:?}"),
        })?,
        vm: row.get("vm"),
        state: VmState::parse(&state).ok_or(StoreError::Corrupt {
            table: "events",
            what: format!("state {state:?}"),
        })?,
        at: row.get("at"),
        detail: row.get("detail"),
    })
}

impl Store {
    /// Appends news about a VM that changes nothing of it (a snapshot was
    /// taken of it), with the VM's current state (`stopped` once it is
    /// gone), and publishes it.
    pub async fn record_event(
        &self,
        ty: EventType,
        vm: &str,
        detail: Option<String>,
    ) -> Result<Event> {
        let (_w, mut tx) = self.begin_write("begin event").await?;
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM vms WHERE name = ?")
            .bind(vm)
            .fetch_optional(&mut *tx)
            .await
            .during("read VM state")?;
        let state = match state {
            Some(s) => VmState::parse(&s).ok_or(StoreError::Corrupt {
                table: "vms",
                what: format!("state {s:?}"),
            })?,
            None => VmState::Stopped,
        };
        let event = insert(&mut tx, ty, vm, state, detail).await?;
        tx.commit().await.during("commit event")?;
        self.publish([event.clone()]);
        Ok(event)
    }

    /// Up to `limit` events with an id above `after`, oldest first.
    pub async fn events_after(
        &self,
        after: i64,
        vm: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Event>> {
        let rows = match vm {
            Some(vm) => {
                sqlx::query(
                    "SELECT id, type, vm, state, at, detail FROM events \
                     WHERE id > ? AND vm = ? ORDER BY id LIMIT ?",
                )
                .bind(after)
                .bind(vm)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query(
                    "SELECT id, type, vm, state, at, detail FROM events \
                     WHERE id > ? ORDER BY id LIMIT ?",
                )
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
            }
        }
        .during("read events")?;
        rows.iter().map(from_row).collect()
    }

    /// The newest event's id, 0 when there is none.
    pub async fn last_event_id(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM events")
            .fetch_one(&self.pool)
            .await
            .during("read last event id")
    }
}
