//! The one mapping from core errors to HTTP: status, stable code, message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hype_core::CoreError;
use hype_types::ErrorBody;

/// An error as the API answers it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        let (status, code) = convert(&e);
        if status.is_server_error() {
            tracing::error!(error = ?e, "request failed");
        }
        ApiError::new(status, code, render(&e))
    }
}

/// Status and code for every core error, in one place.
pub fn convert(e: &CoreError) -> (StatusCode, &'static str) {
    match e {
        CoreError::InvalidSpec(s) => (StatusCode::UNPROCESSABLE_ENTITY, s.code()),
        CoreError::VmNotFound { .. } => (StatusCode::NOT_FOUND, "vm_not_found"),
        CoreError::NameTaken { .. } => (StatusCode::CONFLICT, "name_taken"),
        CoreError::ImageNotFound { .. } => (StatusCode::NOT_FOUND, "image_not_found"),
        CoreError::ImageInUse { .. } => (StatusCode::CONFLICT, "image_in_use"),
        CoreError::InvalidState { .. } => (StatusCode::CONFLICT, "invalid_state"),
        CoreError::Unsupported { .. } => (StatusCode::NOT_IMPLEMENTED, "not_supported"),
        CoreError::BackendUnavailable { .. } => {
            (StatusCode::UNPROCESSABLE_ENTITY, "vmm_unavailable")
        }
        CoreError::Boot { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "boot_failed"),
        CoreError::Vmm(_) => (StatusCode::BAD_GATEWAY, "vmm_error"),
        CoreError::Io { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "io_error"),
        CoreError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store_error"),
        CoreError::AgentUnavailable { .. } => (StatusCode::GATEWAY_TIMEOUT, "agent_unavailable"),
        CoreError::InvalidRequest(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        CoreError::Network { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "network_error"),
        CoreError::SubnetExhausted(_) => (StatusCode::SERVICE_UNAVAILABLE, "subnet_exhausted"),
        CoreError::NoBrowser { .. } => (StatusCode::CONFLICT, "no_browser"),
        CoreError::Browser { .. } => (StatusCode::BAD_GATEWAY, "browser_error"),
        CoreError::TooManyVms { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_vms"),
        CoreError::Disk { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "disk_error"),
        CoreError::Snapshot { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "snapshot_failed"),
        CoreError::Restore { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "restore_failed"),
        CoreError::VersionUnavailable { .. } => (StatusCode::CONFLICT, "vmm_version_unavailable"),
        CoreError::SnapshotMissing { .. } => (StatusCode::CONFLICT, "snapshot_missing"),
        CoreError::InvalidJob(e) => (StatusCode::BAD_REQUEST, e.code),
        CoreError::JobNotFound { .. } => (StatusCode::NOT_FOUND, "job_not_found"),
        CoreError::JobFinished { .. } => (StatusCode::CONFLICT, "job_finished"),
        CoreError::ImageExists { .. } => (StatusCode::CONFLICT, "image_exists"),
        CoreError::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
    }
}

/// The message with its causes, so "boot failed" says why.
fn render(e: &CoreError) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let part = s.to_string();
        if !msg.contains(&part) {
            msg.push_str(": ");
            msg.push_str(&part);
        }
        src = s.source();
    }
    msg
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody::new(self.code, self.message))).into_response()
    }
}
