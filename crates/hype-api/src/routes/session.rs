//! `/api/v1/session`: the web console's login and logout. These answer
//! before any key is known (the peer allow-list, the rate limit and the
//! Host and Origin rules still apply); everything else goes through
//! `auth`, which takes the session cookie made here in place of the key.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hype_types::{ErrorBody, ErrorKind, Login, SessionInfo};
use std::time::SystemTime;

use crate::auth::Credential;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::session;
use crate::AppState;

pub(crate) fn rfc3339(t: SystemTime) -> Option<String> {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

#[utoipa::path(get, path = "/api/v1/session", tag = "session",
    responses((status = 200, description = "Whether hyped needs a key, and whether this request's credentials are good", body = SessionInfo)))]
pub async fn get(State(s): State<AppState>, req: Request) -> Json<SessionInfo> {
    let cred = s.auth.credential(&req).ok();
    let expires_at = match cred {
        Some(Credential::Session) => session::from_request(req.headers())
            .and_then(|id| s.auth.sessions.ends_at(&id))
            .and_then(rfc3339),
        _ => None,
    };
    Json(SessionInfo {
        key_required: s.auth.keyed(),
        authenticated: cred.is_some(),
        expires_at,
    })
}

#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = Login,
    responses((status = 201, description = "Logged in: the session is in the `hype_session` cookie (HttpOnly, SameSite=Strict, Secure over TLS)", body = SessionInfo,
            headers(("Set-Cookie" = String, description = "hype_session=<random id>; Path=/; Max-Age=<seconds>; HttpOnly; SameSite=Strict"))),
        (status = 401, description = "Not this hyped's key", body = ErrorBody),
        (status = 409, description = "hyped has no API key: there is nothing to log in to", body = ErrorBody),
        (status = 422, description = "A body other than `{\"key\"}`", body = ErrorBody),
        (status = 500, description = "No random source for the session id", body = ErrorBody)))]
pub async fn login(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Login>,
) -> Result<Response, ApiError> {
    if !s.auth.keyed() {
        return Err(ApiError::new(
            ErrorKind::Conflict,
            "no_api_key",
            "hyped runs without an API key: the console needs no login",
        ));
    }
    if !s.auth.key_ok(Some(&body.key)) {
        tracing::warn!("console login with a wrong key");
        return Err(ApiError::new(
            ErrorKind::Unauthorized,
            "unauthorized",
            "that is not this hyped's API key",
        ));
    }
    let opened = s
        .auth
        .sessions
        .open()
        .map_err(|e| ApiError::new(ErrorKind::Internal, "no_random", e.to_string()))?;
    let info = SessionInfo {
        key_required: true,
        authenticated: true,
        expires_at: rfc3339(opened.ends_at),
    };
    let cookie = session::set_cookie(&opened, session::over_tls(&headers));
    Ok((
        StatusCode::CREATED,
        [
            (header::SET_COOKIE, cookie),
            (header::CACHE_CONTROL, "no-store".parse().expect("static")),
        ],
        Json(info),
    )
        .into_response())
}

#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses((status = 204, description = "Logged out: this request's session (if any) is ended and its cookie cleared")))]
pub async fn logout(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = session::from_request(&headers) {
        s.auth.sessions.close(&id);
    }
    (
        StatusCode::NO_CONTENT,
        [(
            header::SET_COOKIE,
            session::clear_cookie(session::over_tls(&headers)),
        )],
    )
        .into_response()
}
