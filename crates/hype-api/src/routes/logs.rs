//! `GET /api/v1/vms/{name}/logs`: the serial console, its newest part or
//! followed. The core reads it in bounded pieces; nothing here holds more
//! than a page of it.

use std::convert::Infallible;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use hype_types::ErrorBody;
use serde::Deserialize;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogsQuery {
    /// Stream new output as SSE (`event: log`, one line per event; `event:
    /// end` when the VM is deleted).
    #[serde(default)]
    follow: bool,
    /// Only the last N lines.
    #[serde(default, deserialize_with = "bounded_tail")]
    #[param(minimum = 0, maximum = 1048576)]
    tail: Option<usize>,
}

/// The most lines `tail` may ask for (the tail read is at most 1 MiB, so
/// never holds more lines than this).
const MAX_TAIL: u64 = 1 << 20;

fn bounded_tail<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    use serde::de::Error;
    match Option::<u64>::deserialize(d)? {
        Some(n) if n > MAX_TAIL => Err(D::Error::custom(format!("tail: at most {MAX_TAIL} lines"))),
        n => Ok(n.map(|n| n as usize)),
    }
}

/// What a followed console sends: its lines, then `end` when the VM goes.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum LogFrameKind {
    Log,
    End,
}

/// One frame of a followed console (only the document uses it).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct LogFrame {
    #[schema(inline)]
    event: LogFrameKind,
    /// A console line, or why the stream ends.
    data: String,
}

#[utoipa::path(get, path = "/api/v1/vms/{name}/logs", tag = "vms", params(("name" = String, Path), LogsQuery),
    responses((status = 200, description = "The console's newest output (at most 1 MiB; older output is cut at 16 MiB), or its lines as they come with follow=true",
            content((String = "text/plain"), (inline(LogFrame) = "text/event-stream"))),
        (status = 400, description = "A query parameter that does not parse", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn logs(
    State(s): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<LogsQuery>,
) -> Result<Response, ApiError> {
    let tail = s.hype.console_tail(&name, q.tail).await?;
    if !q.follow {
        return Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            tail.text,
        )
            .into_response());
    }
    let first: Vec<Result<SseEvent, Infallible>> = tail
        .text
        .lines()
        .map(|l| Ok(SseEvent::default().event("log").data(l)))
        .collect();
    // The follower ends with hyped, the VM, or this response.
    let lines = s
        .hype
        .console_follow(&name, tail.cursor, CancellationToken::new());
    let rest = ReceiverStream::new(lines).map(|l| {
        Ok(match l {
            Some(line) => SseEvent::default().event("log").data(line),
            None => SseEvent::default().event("end").data("VM deleted"),
        })
    });
    Ok(Sse::new(tokio_stream::iter(first).chain(rest))
        .keep_alive(KeepAlive::default())
        .into_response())
}
