//! Extractors whose rejections speak the API's error shape: malformed JSON
//! is a 400, a body of the wrong shape (unknown or missing fields, wrong
//! types) a 422 naming the field, a query string that does not parse (an
//! unknown field, a state that does not exist) a 400 naming it.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use hype_types::ErrorKind;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::new(
                ErrorKind::BadRequest,
                "malformed_json",
                format!("the body is not valid JSON: {}", inner(&e)),
            )),
            Err(JsonRejection::JsonDataError(e)) => {
                Err(ApiError::new(ErrorKind::Invalid, "invalid_body", inner(&e)))
            }
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                ErrorKind::UnsupportedMediaType,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            )),
            Err(e) => Err(ApiError::new(
                ErrorKind::BadRequest,
                "bad_request",
                e.body_text(),
            )),
        }
    }
}

/// A typed query string.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(query_error(&e)),
            Err(e) => Err(ApiError::new(
                ErrorKind::BadRequest,
                "invalid_query",
                e.body_text(),
            )),
        }
    }
}

/// A typed query string in which a key given more than once is a list
/// (`?cmd=sh&cmd=-c`), read with serde_html_form.
pub struct ApiListQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiListQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        serde_html_form::from_str(parts.uri.query().unwrap_or(""))
            .map(ApiListQuery)
            .map_err(|e| query_error(&e))
    }
}

fn query_error(e: &dyn std::error::Error) -> ApiError {
    ApiError::new(
        ErrorKind::BadRequest,
        "invalid_query",
        format!("the query string: {}", inner(e)),
    )
}

/// serde's own message ("unknown field `cpus`, expected one of ...").
fn inner(e: &dyn std::error::Error) -> String {
    let mut last = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        last = s.to_string();
        src = s.source();
    }
    last
}
