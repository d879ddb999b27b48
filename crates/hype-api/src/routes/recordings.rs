//! `/api/v1/recordings` and `/api/v1/vms/{name}/recordings`: session
//! recordings of browser sandboxes, which outlive their VM.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hype_types::{ErrorBody, Recording, RecordingList};

use crate::error::ApiError;
use crate::AppState;

#[utoipa::path(get, path = "/api/v1/vms/{name}/recordings", tag = "recordings",
    params(("name" = String, Path)),
    responses((status = 200, description = "The recordings of VMs of this name, oldest first; a VM deleted since keeps them", body = RecordingList),
        (status = 404, description = "No VM of this name and no recording of one", body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<RecordingList>, ApiError> {
    let items = s.hype.recordings_of(&name).await?;
    Ok(Json(RecordingList { items }))
}

#[utoipa::path(get, path = "/api/v1/recordings/{id}", tag = "recordings",
    params(("id" = String, Path)),
    responses((status = 200, body = Recording), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Recording>, ApiError> {
    Ok(Json(s.hype.recording(&id).await?))
}

#[utoipa::path(get, path = "/api/v1/vms/{name}/recordings/{id}", tag = "recordings",
    params(("name" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "Recording `id` of a VM of this name (the same as `/api/v1/recordings/{id}`)", body = Recording),
        (status = 404, description = "No such recording, or it is another VM's", body = ErrorBody)))]
pub async fn get_of_vm(
    State(s): State<AppState>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<Recording>, ApiError> {
    Ok(Json(s.hype.recording_of(&name, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/recordings/{id}/events", tag = "recordings",
    params(("id" = String, Path)),
    responses((status = 200, description = "The recording's rrweb events, in the order the pages sent them (an rrweb Replayer plays them)", body = Vec<serde_json::Value>),
        (status = 404, body = ErrorBody)))]
pub async fn events(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let body = s.hype.recording_events(&id).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[utoipa::path(delete, path = "/api/v1/recordings/{id}", tag = "recordings",
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted, its events with it"),
        (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.hype.delete_recording(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
