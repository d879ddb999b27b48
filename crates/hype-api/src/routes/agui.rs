//! `GET /api/v1/agui`: the console's live feed as an AG-UI event stream,
//! so an AG-UI front end shows the sandboxes and what agents do with them.
//!
//! The stream opens a run (`RUN_STARTED`), sends the state
//! (`STATE_SNAPSHOT`, see [`crate::agui`]), then a `STATE_DELTA` for each
//! lifecycle event that changed what the client holds, and each MCP tool
//! call (`/mcp`) as `TOOL_CALL_START`, `TOOL_CALL_ARGS`, `TOOL_CALL_END`
//! and, when it ends, `TOOL_CALL_RESULT`. Shutdown ends the run
//! (`RUN_FINISHED`) and the stream.
//!
//! It subscribes to the lifecycle and tool-call feeds before it lists the
//! VMs, so a change between the list and the first event still reaches the
//! client. Each delta comes from a fresh list diffed against what this
//! client was sent, so a burst of events (or a lagged feed) costs one list
//! and the client's state always converges on `GET /api/v1/vms`.

use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use hype_types::{ErrorBody, ErrorKind};
use serde::Deserialize;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::{IntoParams, ToSchema};

use crate::agui::{tool_call, AguiEvent, Mirror};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::AppState;

/// The thread a run belongs to when the client names none.
const DEFAULT_THREAD: &str = "hype";

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AguiQuery {
    /// The AG-UI thread the run belongs to (default `hype`).
    #[param(pattern = "^[A-Za-z0-9._:-]{1,128}$")]
    thread_id: Option<String>,
    /// The run's id, as `RUN_STARTED` and `RUN_FINISHED` carry it (default:
    /// a fresh random one).
    #[param(pattern = "^[A-Za-z0-9._:-]{1,128}$")]
    run_id: Option<String>,
}

/// One AG-UI event as an SSE frame (`data:` only, as AG-UI's own encoder
/// writes them). Only the document uses this type.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct AguiFrame {
    /// The event as JSON: `{"type": "RUN_STARTED" | "STATE_SNAPSHOT" |
    /// "STATE_DELTA" | "TOOL_CALL_START" | "TOOL_CALL_ARGS" |
    /// "TOOL_CALL_END" | "TOOL_CALL_RESULT" | "RUN_FINISHED", ...}` with the
    /// AG-UI protocol's fields.
    data: String,
}

fn check_id(field: &'static str, v: Option<String>) -> Result<Option<String>, ApiError> {
    match v {
        Some(v)
            if v.is_empty()
                || v.len() > 128
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".:_-".contains(&b)) =>
        {
            Err(ApiError::new(
                ErrorKind::Invalid,
                "invalid_agui_id",
                format!("{field} must be 1 to 128 letters, digits, '.', ':', '_' or '-'"),
            ))
        }
        v => Ok(v),
    }
}

fn random_id() -> String {
    let mut raw = [0u8; 16];
    // Only names the run; the clock will do if the OS has no randomness.
    if getrandom::fill(&mut raw).is_err() {
        let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
        raw.copy_from_slice(&now.to_le_bytes());
    }
    hex::encode(raw)
}

/// The sandboxes and the MCP tool calls made on them as an AG-UI event
/// stream (docs/agui.md).
#[utoipa::path(get, path = "/api/v1/agui", tag = "events", params(AguiQuery),
    responses((status = 200, description = "text/event-stream of AG-UI events: RUN_STARTED, STATE_SNAPSHOT of the sandboxes (`{\"vms\": {NAME: Vm}}`, as GET /api/v1/vms lists them), a STATE_DELTA (RFC 6902 JSON Patch) on each lifecycle change, each MCP tool call as TOOL_CALL_START, TOOL_CALL_ARGS (arguments redacted), TOOL_CALL_END and TOOL_CALL_RESULT; RUN_FINISHED when hyped shuts down",
        body = inline(AguiFrame), content_type = "text/event-stream"),
        (status = 400, description = "A query that does not parse", body = ErrorBody),
        (status = 422, description = "A threadId or runId that is not 1 to 128 letters, digits, '.', ':', '_' or '-'", body = ErrorBody)))]
pub async fn agui(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<AguiQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let thread_id = check_id("threadId", q.thread_id)?.unwrap_or_else(|| DEFAULT_THREAD.into());
    let run_id = check_id("runId", q.run_id)?.unwrap_or_else(random_id);
    // Subscribed before the list: nothing between them is lost.
    let mut events = s.hype.subscribe_events();
    let mut calls = s.mcp.subscribe_tool_calls();
    let (mut mirror, snapshot) = Mirror::new(&s.hype.all_vms().await?);
    let (tx, rx) = mpsc::channel::<Result<SseEvent, Infallible>>(64);
    let hype = s.hype.clone();
    let shutdown = s.shutdown.clone();
    tokio::spawn(async move {
        let send = |e: AguiEvent| {
            let tx = tx.clone();
            async move {
                tx.send(Ok(SseEvent::default().data(e.to_json())))
                    .await
                    .is_ok()
            }
        };
        let started = AguiEvent::RunStarted {
            thread_id: thread_id.clone(),
            run_id: run_id.clone(),
        };
        if !send(started).await || !send(snapshot).await {
            return;
        }
        let mut open = HashSet::new();
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => {
                    send(AguiEvent::RunFinished { thread_id, run_id }).await;
                    return;
                }
                _ = tx.closed() => return,
                got = events.recv() => {
                    if matches!(got, Err(RecvError::Closed)) {
                        return;
                    }
                    // Whatever else is queued is in the list taken now.
                    while !matches!(
                        events.try_recv(),
                        Err(TryRecvError::Empty | TryRecvError::Closed)
                    ) {}
                    match hype.all_vms().await {
                        Ok(vms) => {
                            if let Some(delta) = mirror.update(&vms) {
                                if !send(delta).await {
                                    return;
                                }
                            }
                        }
                        // The next event lists again and catches up.
                        Err(e) => tracing::warn!(error = %e, "AG-UI stream: listing VMs"),
                    }
                }
                got = calls.recv() => match got {
                    Ok(rec) => {
                        for e in tool_call(rec, &mut open) {
                            if !send(e).await {
                                return;
                            }
                        }
                    }
                    // Missed records: their ends find no start and send nothing.
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
            }
        }
    });
    Ok(Sse::new(ReceiverStream::new(rx)).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(15))
            .text("heartbeat"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert_eq!(
            check_id("runId", Some("run-1.a:b_c".into())).unwrap(),
            Some("run-1.a:b_c".into())
        );
        assert_eq!(check_id("runId", None).unwrap(), None);
        for bad in ["", "a b", "a/b", "ü", &"x".repeat(129)] {
            let e = check_id("threadId", Some(bad.into())).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Invalid, "{bad:?}");
        }
        assert_ne!(random_id(), random_id());
        assert_eq!(random_id().len(), 32);
    }

    #[test]
    fn unknown_query_fields_are_refused() {
        let q: Result<AguiQuery, _> = serde_html_form::from_str("threadId=t&runId=r");
        let q = q.unwrap();
        assert_eq!(
            (q.thread_id.as_deref(), q.run_id.as_deref()),
            (Some("t"), Some("r"))
        );
        assert!(serde_html_form::from_str::<AguiQuery>("thread_id=t").is_err());
    }
}
