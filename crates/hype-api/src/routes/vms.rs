//! `/api/v1/vms`: list, create, get, delete and the lifecycle actions.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use hype_types::{CreateVm, Created, ErrorBody, PageRequest, Vm, VmList, VmState};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only VMs in this state.
    state: Option<VmState>,
    /// The VMs waiting in this warm pool (they are not users' VMs and are
    /// listed only so).
    pool: Option<String>,
    /// VMs in the page (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The `next` cursor of the previous page.
    after: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/vms", params(ListQuery), tag = "vms",
    responses((status = 200, description = "One page of VMs, by name", body = VmList),
        (status = 400, description = "A query parameter that does not parse", body = ErrorBody),
        (status = 422, description = "A limit out of range or a cursor this list did not give", body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<VmList>, ApiError> {
    let page = PageRequest {
        limit: q.limit,
        after: q.after,
    };
    Ok(Json(
        s.hype.list_vms(q.state, q.pool.as_deref(), &page).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/vms", request_body = CreateVm, tag = "vms",
    responses((status = 201, description = "Created: booting; or with `snapshot`, or from a warm pool, running (its agent took its own identity); with `count`, each fork made and each that failed", body = Created),
        (status = 404, description = "Unknown image, snapshot or pool", body = ErrorBody),
        (status = 409, description = "Name taken, or the snapshot's QEMU version is not on this host", body = ErrorBody),
        (status = 422, description = "Values this host cannot boot (a name, more CPUs or memory than it has, a VMM it lacks, a command line, persist without a root filesystem)", body = ErrorBody),
        (status = 501, description = "No firmware on this host for the image", body = ErrorBody),
        (status = 500, description = "A fork that did not start (nothing of it is left)", body = ErrorBody),
        (status = 503, description = "No address or uid left, or shutting down", body = ErrorBody),
        (status = 507, description = "The host is short of memory for the VM", body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<CreateVm>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let made = if req.count.is_some() {
        Created::Forks(s.hype.create_from_snapshot(req).await?)
    } else {
        Created::Vm(Box::new(s.hype.create_vm(req).await?))
    };
    Ok((StatusCode::CREATED, Json(made)))
}

#[utoipa::path(get, path = "/api/v1/vms/{name}", tag = "vms", params(("name" = String, Path)),
    responses((status = 200, body = Vm), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vm>, ApiError> {
    Ok(Json(s.hype.get_vm(&name).await?))
}

#[utoipa::path(delete, path = "/api/v1/vms/{name}", tag = "vms", params(("name" = String, Path)),
    responses((status = 204, description = "Stopped and destroyed"), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.hype.delete_vm(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

macro_rules! action {
    ($fn:ident, $method:ident, $path:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "vms", params(("name" = String, Path)),
            responses((status = 200, body = Vm), (status = 404, body = ErrorBody),
                (status = 409, description = "Not allowed in the VM's state", body = ErrorBody),
                (status = 500, description = "The VMM failed (boot, snapshot, restore); the message says the state the VM was left in", body = ErrorBody),
                (status = 501, description = "Not supported by the VM's backend", body = ErrorBody),
                (status = 502, description = "The VMM did not answer", body = ErrorBody)))]
        pub async fn $fn(
            State(s): State<AppState>,
            Path(name): Path<String>,
        ) -> Result<Json<Vm>, ApiError> {
            Ok(Json(s.hype.$method(&name).await?))
        }
    };
}

action!(
    start,
    start_vm,
    "/api/v1/vms/{name}/start",
    "Boot a stopped or crashed VM."
);
action!(
    stop,
    stop_vm,
    "/api/v1/vms/{name}/stop",
    "Shut down gracefully, forcefully after a timeout."
);
action!(
    pause,
    pause_vm,
    "/api/v1/vms/{name}/pause",
    "Freeze the vCPUs."
);
action!(
    resume,
    resume_vm,
    "/api/v1/vms/{name}/resume",
    "Unfreeze the vCPUs."
);
action!(
    snapshot,
    snapshot_vm,
    "/api/v1/vms/{name}/snapshot",
    "Save to disk and release the VMM (standby)."
);
action!(
    restore,
    restore_vm,
    "/api/v1/vms/{name}/restore",
    "Bring a standby VM back."
);
