//! `/api/v1/jobs`: import jobs. The body is JSON or YAML (by Content-Type),
//! one job or `{jobs: [...]}`; every refusal is a 400 naming the job and the
//! field (a 422 when hyped's import settings forbid it), and stores nothing.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use hype_types::{ErrorBody, ErrorKind, Job, JobList, JobSpec, JobState, PageRequest, ResumeJob};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;

fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<serde_json::Value, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match ct.as_str() {
        "application/json" => serde_json::from_slice(body).map_err(|e| {
            ApiError::new(
                ErrorKind::BadRequest,
                "malformed_json",
                format!("the body is not valid JSON: {e}"),
            )
        }),
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => {
            serde_yaml::from_slice(body).map_err(|e| {
                ApiError::new(
                    ErrorKind::BadRequest,
                    "malformed_yaml",
                    format!("the body is not valid YAML: {e}"),
                )
            })
        }
        _ => Err(ApiError::new(
            ErrorKind::UnsupportedMediaType,
            "unsupported_media_type",
            "send the job as JSON (Content-Type: application/json) or YAML (application/yaml)",
        )),
    }
}

#[utoipa::path(post, path = "/api/v1/jobs", tag = "jobs",
    request_body(content(
        (JobSpec = "application/json"), (JobSpec = "application/yaml")),
        description = "One job, or `{jobs: [...]}` (all stored or none)"),
    responses((status = 202, description = "Queued", body = JobList),
        (status = 400, description = "Not a job: an unknown kind, an unknown or mistyped field, an empty or oversized batch", body = ErrorBody),
        (status = 409, description = "The image exists or is being imported", body = ErrorBody),
        (status = 415, description = "Neither JSON nor YAML", body = ErrorBody),
        (status = 422, description = "A job whose values cannot be done (a missing option, a bad URL or name, no password), or that hyped's settings do not allow: a file source outside --import-dir, hyped's own password for a URL not https to a host given with --import-allow-host", body = ErrorBody)))]
pub async fn submit(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<JobList>), ApiError> {
    let value = parse_body(&headers, &body)?;
    let specs = hype_types::parse_submission(value).map_err(hype_core::CoreError::from)?;
    let jobs = s.hype.submit_jobs(specs).await?;
    Ok((StatusCode::ACCEPTED, Json(JobList { jobs, next: None })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only jobs in this state.
    state: Option<JobState>,
    /// Jobs in the page (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The `next` cursor of the previous page.
    after: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", params(ListQuery),
    responses((status = 200, description = "One page of jobs, newest first", body = JobList),
        (status = 400, description = "A query parameter that does not parse", body = ErrorBody),
        (status = 422, description = "A limit out of range", body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<JobList>, ApiError> {
    let page = PageRequest {
        limit: q.limit,
        after: q.after,
    };
    Ok(Json(s.hype.list_jobs(q.state, &page).await?))
}

#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs", params(("id" = String, Path)),
    responses((status = 200, body = Job), (status = 404, body = ErrorBody)))]
pub async fn get(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Job>, ApiError> {
    Ok(Json(s.hype.get_job(&id).await?))
}

#[utoipa::path(post, path = "/api/v1/jobs/{id}/cancel", tag = "jobs", params(("id" = String, Path)),
    responses((status = 200, description = "The job, cancelled (or still stopping)", body = Job),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Already finished", body = ErrorBody)))]
pub async fn cancel(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(s.hype.cancel_job(&id).await?))
}

/// The password of a job a restart left waiting for it (its phase is
/// `awaiting_password`); the job is queued again and keeps what it had
/// downloaded. The password is held in memory for the run, never stored.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/resume", tag = "jobs", params(("id" = String, Path)),
    request_body = ResumeJob,
    responses((status = 200, description = "The job, queued again", body = Job),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Not waiting for its password (`job_not_awaiting_password`)", body = ErrorBody),
        (status = 422, description = "Not a resume body (`invalid_body`), or an empty password", body = ErrorBody)))]
pub async fn resume(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ResumeJob>,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(s.hype.resume_job(&id, req.password).await?))
}
