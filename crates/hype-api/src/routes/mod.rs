//! The route table; one file per resource.

pub(crate) mod cdp;
pub(crate) mod events;
pub(crate) mod guest;
pub(crate) mod images;
pub(crate) mod jobs;
pub(crate) mod logs;
pub(crate) mod mcp;
pub(crate) mod system;
pub(crate) mod vms;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::metrics::RequestLabels;
use crate::{auth, AppState};

pub(crate) fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/v1/version", get(system::version))
        .route("/api/v1/openapi.json", get(system::openapi))
        .route("/api/v1/vms", get(vms::list).post(vms::create))
        .route("/api/v1/vms/{name}", get(vms::get).delete(vms::delete))
        .route("/api/v1/vms/{name}/start", post(vms::start))
        .route("/api/v1/vms/{name}/stop", post(vms::stop))
        .route("/api/v1/vms/{name}/pause", post(vms::pause))
        .route("/api/v1/vms/{name}/resume", post(vms::resume))
        .route("/api/v1/vms/{name}/snapshot", post(vms::snapshot))
        .route("/api/v1/vms/{name}/restore", post(vms::restore))
        .route("/api/v1/vms/{name}/logs", get(logs::logs))
        .route("/api/v1/vms/{name}/guest/network", get(guest::network))
        .route("/api/v1/vms/{name}/cdp/json/version", get(cdp::version))
        .route("/api/v1/vms/{name}/cdp/json/list", get(cdp::list))
        .route("/api/v1/vms/{name}/cdp/json", get(cdp::list))
        // Playwright asks with a trailing slash.
        .route("/api/v1/vms/{name}/cdp/json/version/", get(cdp::version))
        .route("/api/v1/vms/{name}/cdp/json/list/", get(cdp::list))
        .route("/api/v1/vms/{name}/cdp/json/", get(cdp::list))
        .route(
            "/api/v1/vms/{name}/cdp/devtools/{*target}",
            get(cdp::devtools),
        )
        .route("/api/v1/vms/{name}/screenshot", get(cdp::screenshot))
        .route("/api/v1/vms/{name}/guest/probe", post(guest::probe))
        .route("/api/v1/events/vms", get(events::vm_events))
        .route("/api/v1/events/jobs", get(events::job_events))
        .route("/api/v1/jobs", get(jobs::list).post(jobs::submit))
        .route("/api/v1/jobs/{id}", get(jobs::get))
        .route("/api/v1/jobs/{id}/cancel", post(jobs::cancel))
        .route("/api/v1/images", get(images::list))
        .route(
            "/api/v1/images/{name}",
            get(images::get).delete(images::delete),
        )
        .route("/metrics", get(system::metrics))
        .nest_service("/mcp", mcp::service(&state))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require));
    Router::new()
        .route("/healthz", get(system::healthz))
        .merge(api)
        .fallback(system::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

async fn count(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let resp = next.run(req).await;
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: resp.status().as_u16(),
        })
        .inc();
    resp
}
