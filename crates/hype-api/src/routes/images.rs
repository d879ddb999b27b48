//! `/api/v1/images`: what can be booted.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use hype_types::{ErrorBody, Image, ImageList};

use crate::error::ApiError;
use crate::AppState;

#[utoipa::path(get, path = "/api/v1/images", tag = "images", responses((status = 200, body = ImageList)))]
pub async fn list(State(s): State<AppState>) -> Result<Json<ImageList>, ApiError> {
    Ok(Json(ImageList {
        images: s.hype.list_images().await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/images/{name}", tag = "images", params(("name" = String, Path)),
    responses((status = 200, body = Image), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Image>, ApiError> {
    Ok(Json(s.hype.get_image(&name).await?))
}

#[utoipa::path(delete, path = "/api/v1/images/{name}", tag = "images", params(("name" = String, Path)),
    responses((status = 204, description = "Forgotten"), (status = 404, body = ErrorBody),
        (status = 409, description = "In use", body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.hype.delete_image(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
