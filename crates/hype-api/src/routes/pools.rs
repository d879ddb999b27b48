//! `/api/v1/pools`: warm pools, sandboxes of one shape kept ready.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use hype_types::{CreatePool, ErrorBody, Pool, PoolList};

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::AppState;

#[utoipa::path(post, path = "/api/v1/pools", request_body = CreatePool, tag = "pools",
    responses((status = 201, description = "Recorded; it boots one VM cold, saves it as its snapshot, and fills itself with forks of it in the background (`ready` counts those ready now)", body = Pool),
        (status = 404, description = "Unknown image", body = ErrorBody),
        (status = 409, description = "A pool of that name exists", body = ErrorBody),
        (status = 422, description = "A name, size, CPU count or memory this host cannot serve", body = ErrorBody),
        (status = 501, description = "An image that cannot be forked (not booted on hype's kernel)", body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<CreatePool>,
) -> Result<(StatusCode, Json<Pool>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.hype.create_pool(req).await?)))
}

#[utoipa::path(get, path = "/api/v1/pools", tag = "pools",
    responses((status = 200, description = "Every pool, by name", body = PoolList)))]
pub async fn list(State(s): State<AppState>) -> Result<Json<PoolList>, ApiError> {
    Ok(Json(s.hype.list_pools().await?))
}

#[utoipa::path(get, path = "/api/v1/pools/{name}", tag = "pools",
    params(("name" = String, Path)),
    responses((status = 200, body = Pool), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Pool>, ApiError> {
    Ok(Json(s.hype.get_pool(&name).await?))
}

#[utoipa::path(delete, path = "/api/v1/pools/{name}", tag = "pools",
    params(("name" = String, Path)),
    responses((status = 204, description = "Deleted with the VMs waiting in it; VMs handed out of it stay"),
        (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.hype.delete_pool(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
