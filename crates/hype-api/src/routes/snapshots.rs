//! `/api/v1/snapshots` and a VM's `snapshots` and `fork`: VMs saved for
//! forks, and forks made from them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use hype_types::{CreateSnapshot, ErrorBody, ForkResult, ForkVm, Snapshot, SnapshotList};

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::AppState;

#[utoipa::path(post, path = "/api/v1/vms/{name}/snapshots", request_body = CreateSnapshot,
    tag = "snapshots", params(("name" = String, Path, description = "The VM to save")),
    responses((status = 201, description = "Saved; the VM went on running (it was paused only while its state was captured)", body = Snapshot),
        (status = 404, description = "No such VM", body = ErrorBody),
        (status = 409, description = "A snapshot of that name exists, or the VM is neither running nor paused", body = ErrorBody),
        (status = 422, description = "A name that is not one", body = ErrorBody),
        (status = 500, description = "The VMM could not save it (nothing is kept)", body = ErrorBody),
        (status = 501, description = "A VM that cannot be forked (not on hype's kernel under QEMU, or with a persistent disk)", body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Path(vm): Path<String>,
    ApiJson(req): ApiJson<CreateSnapshot>,
) -> Result<(StatusCode, Json<Snapshot>), ApiError> {
    let snap = s.hype.create_snapshot(&vm, &req.name).await?;
    Ok((StatusCode::CREATED, Json(snap)))
}

#[utoipa::path(post, path = "/api/v1/vms/{name}/fork", request_body = ForkVm, tag = "snapshots",
    params(("name" = String, Path, description = "The VM to fork")),
    responses((status = 201, description = "Each fork made (running) and each that failed; the snapshot taken for them goes with the last of them", body = ForkResult),
        (status = 404, description = "No such VM", body = ErrorBody),
        (status = 409, description = "The VM is neither running nor paused", body = ErrorBody),
        (status = 422, description = "A name or count out of range", body = ErrorBody),
        (status = 500, description = "The VMM could not save the VM", body = ErrorBody),
        (status = 501, description = "A VM that cannot be forked", body = ErrorBody)))]
pub async fn fork(
    State(s): State<AppState>,
    Path(vm): Path<String>,
    ApiJson(req): ApiJson<ForkVm>,
) -> Result<(StatusCode, Json<ForkResult>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.hype.fork_vm(&vm, req).await?)))
}

#[utoipa::path(get, path = "/api/v1/snapshots", tag = "snapshots",
    responses((status = 200, description = "Every snapshot, by name", body = SnapshotList)))]
pub async fn list(State(s): State<AppState>) -> Result<Json<SnapshotList>, ApiError> {
    Ok(Json(s.hype.list_snapshots().await?))
}

#[utoipa::path(get, path = "/api/v1/snapshots/{name}", tag = "snapshots",
    params(("name" = String, Path)),
    responses((status = 200, body = Snapshot), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Snapshot>, ApiError> {
    Ok(Json(s.hype.get_snapshot(&name).await?))
}

#[utoipa::path(delete, path = "/api/v1/snapshots/{name}", tag = "snapshots",
    params(("name" = String, Path)),
    responses((status = 204, description = "Deleted, files and all"),
        (status = 404, body = ErrorBody),
        (status = 409, description = "VMs forked from it exist, or it is a warm pool's (named in the message)", body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.hype.delete_snapshot(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
