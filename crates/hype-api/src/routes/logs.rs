//! `GET /api/v1/vms/{name}/logs`: the serial console, whole or followed.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    /// Stream new output as SSE (`event: log`, one line per event).
    #[serde(default)]
    follow: bool,
    /// Only the last N lines.
    tail: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/vms/{name}/logs", tag = "vms", params(("name" = String, Path), LogsQuery),
    responses((status = 200, description = "text/plain, or text/event-stream with follow=true"),
        (status = 404, body = hype_types::ErrorBody)))]
pub async fn logs(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<LogsQuery>,
) -> Result<Response, ApiError> {
    let path = s.hype.console_path(&name).await?;
    let text = tokio::fs::read(&path).await.unwrap_or_default();
    let mut start = text.len();
    let text = String::from_utf8_lossy(&text).into_owned();
    let shown: String = match q.tail {
        Some(n) => {
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(n);
            lines[from..].iter().map(|l| format!("{l}\n")).collect()
        }
        None => text,
    };
    if !q.follow {
        return Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], shown).into_response());
    }
    let (tx, rx) = mpsc::channel::<Result<SseEvent, Infallible>>(64);
    let shutdown = s.shutdown.clone();
    let hype = s.hype.clone();
    tokio::spawn(async move {
        for l in shown.lines() {
            if tx
                .send(Ok(SseEvent::default().event("log").data(l)))
                .await
                .is_err()
            {
                return;
            }
        }
        let mut partial = String::new();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tx.closed() => return,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            if hype.get_vm(&name).await.is_err() {
                let _ = tx
                    .send(Ok(SseEvent::default().event("end").data("VM deleted")))
                    .await;
                return;
            }
            let Ok(mut f) = tokio::fs::File::open(&path).await else {
                continue;
            };
            let len = f.metadata().await.map(|m| m.len() as usize).unwrap_or(0);
            if len < start {
                start = 0; // truncated: a new boot
            }
            if len == start
                || f.seek(std::io::SeekFrom::Start(start as u64))
                    .await
                    .is_err()
            {
                continue;
            }
            let mut buf = Vec::new();
            if f.read_to_end(&mut buf).await.is_err() {
                continue;
            }
            start += buf.len();
            partial.push_str(&String::from_utf8_lossy(&buf));
            while let Some(i) = partial.find('\n') {
                let line: String = partial.drain(..=i).collect();
                let line = line.trim_end_matches(['\n', '\r']);
                if tx
                    .send(Ok(SseEvent::default().event("log").data(line)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    });
    Ok(Sse::new(ReceiverStream::new(rx))
        .keep_alive(KeepAlive::default())
        .into_response())
}
