//! `GET /api/v1/events/vms` and `GET /api/v1/events/jobs`: events over SSE.
//!
//! A watcher first subscribes to live events, then replays from SQLite
//! everything after its `Last-Event-ID`, then switches to the live feed,
//! skipping ids it has already sent. Ids come from the store and only grow,
//! so a reconnect (even across a restart of hyped) neither misses nor
//! repeats an event. A watcher that falls behind the live buffer goes back
//! to SQLite for the gap. Both streams are one [`stream`] over a [`Feed`].

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::Json;
use futures::Stream;
use hype_core::{CoreError, Hype};
use hype_types::{
    ErrorBody, ErrorKind, Event, EventList, EventType, JobEvent, JobEventType, PageRequest,
};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::AppState;

const PAGE: i64 = 500;

/// A source of events with growing ids, kept in SQLite and published live.
pub(crate) trait Feed: Send + Sync + 'static {
    type Item: Serialize + Clone + Send + Sync + 'static;
    fn id(item: &Self::Item) -> i64;
    fn kind(item: &Self::Item) -> &'static str;
    fn wanted(&self, item: &Self::Item) -> bool;
    fn subscribe(&self) -> broadcast::Receiver<Self::Item>;
    fn after(
        &self,
        after: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Self::Item>, CoreError>> + Send;
    fn last_id(&self) -> impl Future<Output = Result<i64, CoreError>> + Send;
}

struct VmFeed {
    hype: Hype,
    vm: Option<String>,
}

impl Feed for VmFeed {
    type Item = Event;
    fn id(e: &Event) -> i64 {
        e.id
    }
    fn kind(e: &Event) -> &'static str {
        e.event_type.as_str()
    }
    fn wanted(&self, e: &Event) -> bool {
        self.vm.as_deref().is_none_or(|v| v == e.vm)
    }
    fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.hype.subscribe_events()
    }
    async fn after(&self, after: i64, limit: i64) -> Result<Vec<Event>, CoreError> {
        self.hype
            .events_after(after, self.vm.as_deref(), limit)
            .await
    }
    async fn last_id(&self) -> Result<i64, CoreError> {
        self.hype.last_event_id().await
    }
}

struct JobFeed {
    hype: Hype,
    job: Option<String>,
}

impl Feed for JobFeed {
    type Item = JobEvent;
    fn id(e: &JobEvent) -> i64 {
        e.id
    }
    fn kind(e: &JobEvent) -> &'static str {
        e.event_type.as_str()
    }
    fn wanted(&self, e: &JobEvent) -> bool {
        self.job.as_deref().is_none_or(|j| j == e.job.id)
    }
    fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.hype.subscribe_job_events()
    }
    async fn after(&self, after: i64, limit: i64) -> Result<Vec<JobEvent>, CoreError> {
        self.hype
            .job_events_after(after, self.job.as_deref(), limit)
            .await
    }
    async fn last_id(&self) -> Result<i64, CoreError> {
        self.hype.last_job_event_id().await
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only events of this VM.
    vm: Option<String>,
    /// Same as the `Last-Event-ID` header, for clients that cannot set it.
    #[param(nullable = false, minimum = 0)]
    last_event_id: Option<i64>,
}

/// One lifecycle event as an SSE frame. Only the document uses these
/// frame types (inline: they are wire frames, not models): axum writes
/// the frames.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct VmEventFrame {
    /// The event's id; send it back as `Last-Event-ID` to resume.
    id: String,
    /// The event's type.
    event: EventType,
    /// The event itself as JSON: an `Event`.
    data: String,
}

/// One job event as an SSE frame.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct JobEventFrame {
    /// The event's id; send it back as `Last-Event-ID` to resume.
    id: String,
    /// The event's type.
    event: JobEventType,
    /// The event itself as JSON: a `JobEvent`.
    data: String,
}

#[utoipa::path(get, path = "/api/v1/events/vms", tag = "events", params(EventsQuery,
        ("Last-Event-ID" = Option<i64>, Header, nullable = false, minimum = 0, description = "Replay events after this id")),
    responses((status = 200, description = "text/event-stream of lifecycle events", body = inline(VmEventFrame),
        content_type = "text/event-stream"),
        (status = 400, description = "A Last-Event-ID or query that does not parse", body = ErrorBody)))]
pub async fn vm_events(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<EventsQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let feed = VmFeed {
        hype: s.hype.clone(),
        vm: q.vm,
    };
    stream(feed, &headers, q.last_event_id, s.shutdown.clone()).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JobEventsQuery {
    /// Only events of this job.
    job: Option<String>,
    /// Same as the `Last-Event-ID` header, for clients that cannot set it.
    #[param(nullable = false, minimum = 0)]
    last_event_id: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/events/jobs", tag = "events", params(JobEventsQuery,
        ("Last-Event-ID" = Option<i64>, Header, nullable = false, minimum = 0, description = "Replay events after this id")),
    responses((status = 200, description = "text/event-stream of job events (JOB_QUEUED, JOB_STARTED, JOB_PROGRESS, JOB_COMPLETED, JOB_FAILED, JOB_CANCELLED, JOB_RESUMED)", body = inline(JobEventFrame),
        content_type = "text/event-stream"),
        (status = 400, description = "A Last-Event-ID or query that does not parse", body = ErrorBody)))]
pub async fn job_events(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<JobEventsQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let feed = JobFeed {
        hype: s.hype.clone(),
        job: q.job,
    };
    stream(feed, &headers, q.last_event_id, s.shutdown.clone()).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only events of this VM.
    vm: Option<String>,
    /// Events in the page (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The `next` cursor of the previous page (an event id).
    #[param(pattern = "^[0-9]{1,18}$")]
    after: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(ListQuery),
    responses((status = 200, description = "One page of past lifecycle events, oldest first", body = EventList),
        (status = 400, description = "A query parameter that does not parse", body = ErrorBody),
        (status = 422, description = "A limit out of range or a cursor this list did not give", body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<EventList>, ApiError> {
    let page = PageRequest {
        limit: q.limit,
        after: q.after,
    };
    Ok(Json(s.hype.list_events(q.vm.as_deref(), &page).await?))
}

async fn stream<F: Feed>(
    feed: F,
    headers: &HeaderMap,
    query_id: Option<i64>,
    shutdown: CancellationToken,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let header_id = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .filter(|v| *v >= 0)
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorKind::BadRequest,
                        "invalid_last_event_id",
                        "Last-Event-ID must be an event id (an integer)",
                    )
                })?,
        ),
    };
    // Without an id a watcher starts from now, as `docker events` does.
    let mut live = feed.subscribe();
    if query_id.is_some_and(|i| i < 0) {
        return Err(ApiError::new(
            ErrorKind::BadRequest,
            "invalid_last_event_id",
            "last_event_id must be an event id (0 or more)",
        ));
    }
    let after = match header_id.or(query_id) {
        Some(id) => id,
        None => feed.last_id().await?,
    };
    let (tx, rx) = mpsc::channel::<Result<SseEvent, Infallible>>(64);
    tokio::spawn(async move {
        let mut sent = after;
        let send = |e: &F::Item| {
            SseEvent::default()
                .id(F::id(e).to_string())
                .event(F::kind(e))
                .json_data(e)
                .expect("events serialize")
        };
        // Replay, page by page, until the store has nothing newer.
        'outer: loop {
            let replay = async {
                loop {
                    let page = feed.after(sent, PAGE).await?;
                    let n = page.len() as i64;
                    for e in &page {
                        if tx.send(Ok(send(e))).await.is_err() {
                            return Ok::<bool, CoreError>(false);
                        }
                        sent = F::id(e);
                    }
                    if n < PAGE {
                        return Ok(true);
                    }
                }
            };
            match replay.await {
                Ok(true) => {}
                Ok(false) | Err(_) => break 'outer,
            }
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break 'outer,
                    _ = tx.closed() => break 'outer,
                    got = live.recv() => match got {
                        Ok(e) => {
                            if F::id(&e) <= sent || !feed.wanted(&e) {
                                continue;
                            }
                            if tx.send(Ok(send(&e))).await.is_err() {
                                break 'outer;
                            }
                            sent = F::id(&e);
                        }
                        Err(RecvError::Lagged(_)) => continue 'outer,
                        Err(RecvError::Closed) => break 'outer,
                    },
                }
            }
        }
    });
    Ok(Sse::new(ReceiverStream::new(rx)).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(15))
            .text("heartbeat"),
    ))
}
