//! Errors as the API answers them. Every error has an [`ErrorKind`], and
//! the kind alone decides the status code ([`ErrorKind::http_status`]):
//! core errors bring their own kind and code, and the few errors born here
//! (a body that is not JSON, a missing key, an unknown route) name theirs.

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hype_core::CoreError;
use hype_types::{ErrorBody, ErrorKind};

/// An error as the API answers it.
#[derive(Debug)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.kind.http_status()).expect("every kind has a valid status")
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        let kind = e.kind();
        if !kind.is_caller_error() {
            tracing::error!(error = ?e, "request failed");
        }
        ApiError::new(kind, e.code(), e.describe())
    }
}

/// A WebSocket route asked without a WebSocket upgrade.
impl From<WebSocketUpgradeRejection> for ApiError {
    fn from(e: WebSocketUpgradeRejection) -> Self {
        ApiError::new(
            ErrorKind::BadRequest,
            "websocket_required",
            format!("this is a WebSocket endpoint: {}", e.body_text()),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status(), Json(ErrorBody::new(self.code, self.message))).into_response()
    }
}
