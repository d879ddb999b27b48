//! The JSON error shape every non-2xx answer carries.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `{"error":{"code":"snake_case","message":"human text"}}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable, snake_case.
    #[schema(example = "vm_not_found")]
    pub code: String,
    /// For people: says what was wrong and, where it can, what to do.
    #[schema(example = "no VM named 'demo'")]
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }
    }
}
