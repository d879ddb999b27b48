//! `/api/v1/vms/{name}/browser/...`: what a browser sandbox's pages did
//! since it started, as hyped's browser watch recorded it.

use axum::extract::{Path, State};
use axum::Json;
use hype_types::{ConsoleMessage, ErrorBody, NetworkRequest};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AfterQuery {
    /// Only entries with a `seq` above this.
    #[serde(default)]
    after: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConsoleMessages {
    pub messages: Vec<ConsoleMessage>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NetworkRequests {
    pub requests: Vec<NetworkRequest>,
}

#[utoipa::path(get, path = "/api/v1/vms/{name}/browser/console", tag = "browser",
    params(("name" = String, Path), AfterQuery),
    responses((status = 200, description = "Console messages of the sandbox's pages, oldest first (the newest 1,000)", body = ConsoleMessages),
        (status = 400, description = "A query parameter that does not parse", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "The VM has no browser", body = ErrorBody)))]
pub async fn console(
    State(s): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<AfterQuery>,
) -> Result<Json<ConsoleMessages>, ApiError> {
    Ok(Json(ConsoleMessages {
        messages: s.hype.console_messages(&name, q.after).await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/vms/{name}/browser/network", tag = "browser",
    params(("name" = String, Path), AfterQuery),
    responses((status = 200, description = "Network requests of the sandbox's pages, oldest first (the newest 1,000)", body = NetworkRequests),
        (status = 400, description = "A query parameter that does not parse", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "The VM has no browser", body = ErrorBody)))]
pub async fn network(
    State(s): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<AfterQuery>,
) -> Result<Json<NetworkRequests>, ApiError> {
    Ok(Json(NetworkRequests {
        requests: s.hype.network_requests(&name, q.after).await?,
    }))
}
