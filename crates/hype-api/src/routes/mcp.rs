//! `/mcp`: the Model Context Protocol over streamable HTTP, the same tools
//! as `hype mcp`, calling the core in-process. Not a REST route (it is not
//! in the OpenAPI document); behind the same auth as the API. A session's
//! extra tool groups come from the URL (`/mcp?caps=pdf,vision`); a bad list
//! is refused here with the API's error body before MCP sees the request.

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hype_types::ErrorKind;
use tower::Layer;

use crate::error::ApiError;
use crate::AppState;

pub(crate) fn service(
    s: &AppState,
) -> impl tower::Service<
    Request,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl Send + 'static,
> + Clone
       + Send
       + Sync
       + 'static {
    let mcp = hype_mcp::http_service(s.mcp.clone(), s.shutdown.clone());
    middleware::from_fn_with_state(s.clone(), check_caps).layer(mcp)
}

/// 400 `invalid_query` naming the bad or forbidden group and the good ones.
async fn check_caps(State(s): State<AppState>, req: Request, next: Next) -> Response {
    match s.mcp.config().caps_for_query(req.uri().query()) {
        Ok(_) => next.run(req).await,
        Err(e) => {
            ApiError::new(ErrorKind::BadRequest, "invalid_query", e.to_string()).into_response()
        }
    }
}
