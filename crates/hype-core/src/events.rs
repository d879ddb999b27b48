//! Reading what happened: lifecycle and job events (replayed after an id,
//! or followed live) and counts of VMs by state. The API's SSE streams,
//! the MCP resource and `/metrics` read through these, never the store.

use hype_types::{Event, EventList, JobEvent, PageRequest, VmState};
use tokio::sync::broadcast;

use crate::{CoreError, Hype, Result};

impl Hype {
    /// Lifecycle events committed from now on, in id order. A receiver
    /// that lags gets `Lagged` and catches up with [`Hype::events_after`].
    pub fn subscribe_events(&self) -> broadcast::Receiver<Event> {
        self.inner.store.subscribe()
    }

    /// Up to `limit` events with ids above `after`, oldest first; only
    /// `vm`'s when given.
    pub async fn events_after(
        &self,
        after: i64,
        vm: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Event>> {
        Ok(self.inner.store.events_after(after, vm, limit).await?)
    }

    /// One page of past lifecycle events, oldest first, after the cursor
    /// (an event id); only `vm`'s when given.
    pub async fn list_events(&self, vm: Option<&str>, page: &PageRequest) -> Result<EventList> {
        let limit = page.limit().map_err(CoreError::InvalidRequest)?;
        let after = match page.after.as_deref() {
            None => 0,
            Some(a) => a.parse::<i64>().map_err(|_| {
                CoreError::InvalidRequest(format!("after {a:?} is not a cursor this list gave"))
            })?,
        };
        let events = self
            .inner
            .store
            .events_after(after, vm, i64::from(limit))
            .await?;
        let next = crate::view::next_cursor(&events, limit, |e| e.id.to_string());
        Ok(EventList { events, next })
    }

    /// The newest event's id (0 before the first).
    pub async fn last_event_id(&self) -> Result<i64> {
        Ok(self.inner.store.last_event_id().await?)
    }

    /// Job events committed from now on (as [`Hype::subscribe_events`]).
    pub fn subscribe_job_events(&self) -> broadcast::Receiver<JobEvent> {
        self.inner.store.subscribe_jobs()
    }

    pub async fn job_events_after(
        &self,
        after: i64,
        job: Option<&str>,
        limit: i64,
    ) -> Result<Vec<JobEvent>> {
        Ok(self.inner.store.job_events_after(after, job, limit).await?)
    }

    pub async fn last_job_event_id(&self) -> Result<i64> {
        Ok(self.inner.store.last_job_event_id().await?)
    }

    /// How many VMs are in each state (every state listed, zeros too).
    pub async fn vm_counts(&self) -> Result<Vec<(VmState, i64)>> {
        let counts = self.inner.store.count_vms_by_state().await?;
        Ok(VmState::ALL
            .into_iter()
            .map(|st| {
                let n = counts.iter().find(|(c, _)| *c == st).map_or(0, |(_, n)| *n);
                (st, n)
            })
            .collect())
    }
}
