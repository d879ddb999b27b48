//! `/api/v1/vms/{name}/guest/...`: questions answered from inside a running
//! guest by its agent.

use axum::extract::{Path, State};
use axum::Json;
use hype_types::{ErrorBody, GuestNetwork, ProbeRequest, ProbeResult};

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::AppState;

#[utoipa::path(get, path = "/api/v1/vms/{name}/guest/network", tag = "vms", params(("name" = String, Path)),
    responses((status = 200, body = GuestNetwork), (status = 404, body = ErrorBody),
        (status = 409, description = "The VM is not running", body = ErrorBody),
        (status = 501, description = "The VM has no guest agent (an imported disk)", body = ErrorBody),
        (status = 504, description = "The guest agent did not answer", body = ErrorBody)))]
pub async fn network(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<GuestNetwork>, ApiError> {
    Ok(Json(s.hype.guest_network(&name).await?))
}

#[utoipa::path(post, path = "/api/v1/vms/{name}/guest/probe", tag = "vms", params(("name" = String, Path)),
    request_body = ProbeRequest,
    responses((status = 200, description = "Whether the guest reached the target", body = ProbeResult),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 501, description = "The VM has no guest agent (an imported disk)", body = ErrorBody),
        (status = 504, body = ErrorBody)))]
pub async fn probe(
    State(s): State<AppState>,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<ProbeRequest>,
) -> Result<Json<ProbeResult>, ApiError> {
    Ok(Json(s.hype.guest_probe(&name, req).await?))
}
