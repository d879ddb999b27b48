//! `/api/v1/sources/inventory`: what an import source holds, before a job.

use axum::extract::State;
use axum::Json;
use hype_types::{ErrorBody, Inventory, InventoryRequest};

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::AppState;

#[utoipa::path(post, path = "/api/v1/sources/inventory", tag = "jobs",
    request_body = InventoryRequest,
    responses((status = 200, description = "The source's VMs and user templates, by name", body = Inventory),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "A request that cannot be done: a bad URL, no password, hyped's own password for a URL not https to a host given with --import-allow-host (`env_password_refused`), credentials the source refused (`source_login_failed`), an untrusted certificate (`source_certificate`)", body = ErrorBody),
        (status = 502, description = "The source could not be reached (`source_unreachable`) or answered badly (`source_error`); the message names it", body = ErrorBody)))]
pub async fn inventory(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<InventoryRequest>,
) -> Result<Json<Inventory>, ApiError> {
    Ok(Json(s.hype.source_inventory(req).await?))
}
