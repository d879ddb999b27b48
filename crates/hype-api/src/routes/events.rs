//! `GET /api/v1/events/vms`: lifecycle events over SSE.
//!
//! A watcher first subscribes to live events, then replays from SQLite
//! everything after its `Last-Event-ID`, then switches to the live feed,
//! skipping ids it has already sent. Ids come from the store and only grow,
//! so a reconnect (even across a restart of hyped) neither misses nor
//! repeats an event. A watcher that falls behind the live buffer goes back
//! to SQLite for the gap.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use hype_types::Event;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::AppState;

const PAGE: i64 = 500;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Only events of this VM.
    vm: Option<String>,
    /// Same as the `Last-Event-ID` header, for clients that cannot set it.
    last_event_id: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/events/vms", tag = "events", params(EventsQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "Replay events after this id")),
    responses((status = 200, description = "text/event-stream of lifecycle events", body = Event,
        content_type = "text/event-stream")))]
pub async fn vm_events(
    State(s): State<AppState>,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let header_id = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_last_event_id",
                        "Last-Event-ID must be an event id (an integer)",
                    )
                })?,
        ),
    };
    // Without an id a watcher starts from now, as `docker events` does.
    let mut live = s.hype.store().subscribe();
    let after = match header_id.or(q.last_event_id) {
        Some(id) => id,
        None => s
            .hype
            .store()
            .last_event_id()
            .await
            .map_err(hype_core::CoreError::from)?,
    };
    let (tx, rx) = mpsc::channel::<Result<SseEvent, Infallible>>(64);
    let shutdown = s.shutdown.clone();
    let hype = s.hype.clone();
    let vm = q.vm;
    tokio::spawn(async move {
        let mut sent = after;
        let send = |e: &Event| {
            SseEvent::default()
                .id(e.id.to_string())
                .event(e.event_type.as_str())
                .json_data(e)
                .expect("events serialize")
        };
        // Replay, page by page, until the store has nothing newer.
        'outer: loop {
            let replay = async {
                loop {
                    let page = hype.store().events_after(sent, vm.as_deref(), PAGE).await?;
                    let n = page.len() as i64;
                    for e in &page {
                        if tx.send(Ok(send(e))).await.is_err() {
                            return Ok::<bool, hype_store::StoreError>(false);
                        }
                        sent = e.id;
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
                            if e.id <= sent || vm.as_deref().is_some_and(|v| v != e.vm) {
                                continue;
                            }
                            if tx.send(Ok(send(&e))).await.is_err() {
                                break 'outer;
                            }
                            sent = e.id;
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
