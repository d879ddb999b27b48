//! The route table, one file per resource. Routes are registered only
//! through [`api`]'s `OpenApiRouter`, which builds the router and the
//! OpenAPI document from the same list: a route cannot exist undocumented.

pub(crate) mod agui;
pub(crate) mod browser;
pub(crate) mod cdp;
pub(crate) mod events;
pub(crate) mod exec;
pub(crate) mod files;
pub(crate) mod guest;
pub(crate) mod images;
pub(crate) mod jobs;
pub(crate) mod live;
pub(crate) mod logs;
pub(crate) mod mcp;
pub(crate) mod pools;
pub(crate) mod recordings;
pub(crate) mod session;
pub(crate) mod snapshots;
pub(crate) mod sources;
pub(crate) mod system;
pub(crate) mod vms;
mod ws;

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::metrics::RequestLabels;
use crate::{auth, AppState};

/// Routes anyone may call (no key): liveness.
pub(crate) fn public() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(system::healthz))
}

/// Routes that answer before a key is known (the console's login), from
/// allowed peers only and under the rate limit.
pub(crate) fn session() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(session::get, session::login, session::logout))
}

/// Routes behind the API's auth.
pub(crate) fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(crate::openapi::base())
        .routes(routes!(system::version))
        .routes(routes!(system::status))
        .routes(routes!(system::openapi))
        .routes(routes!(system::metrics))
        .routes(routes!(vms::list, vms::create))
        .routes(routes!(vms::get, vms::delete))
        .routes(routes!(vms::start))
        .routes(routes!(vms::stop))
        .routes(routes!(vms::pause))
        .routes(routes!(vms::resume))
        .routes(routes!(vms::snapshot))
        .routes(routes!(vms::restore))
        .routes(routes!(snapshots::create))
        .routes(routes!(snapshots::fork))
        .routes(routes!(snapshots::list))
        .routes(routes!(snapshots::get, snapshots::delete))
        .routes(routes!(pools::create, pools::list))
        .routes(routes!(pools::get, pools::delete))
        .routes(routes!(logs::logs))
        .routes(routes!(guest::network))
        .routes(routes!(guest::probe))
        .routes(routes!(exec::exec))
        .routes(routes!(exec::exec_ws))
        .routes(routes!(files::download, files::upload, files::remove))
        .routes(routes!(files::stat))
        .routes(routes!(files::list))
        .routes(routes!(files::downloads))
        .routes(routes!(files::download_file))
        .routes(routes!(cdp::version))
        .routes(routes!(cdp::list))
        .routes(routes!(cdp::json))
        .routes(routes!(cdp::devtools))
        .routes(routes!(cdp::screenshot))
        .routes(routes!(live::live_ws))
        .routes(routes!(live::create_link))
        .routes(routes!(browser::console))
        .routes(routes!(browser::network))
        .routes(routes!(recordings::list))
        .routes(routes!(recordings::get_of_vm))
        .routes(routes!(recordings::get, recordings::delete))
        .routes(routes!(recordings::events))
        .routes(routes!(events::list))
        .routes(routes!(events::vm_events))
        .routes(routes!(events::job_events))
        .routes(routes!(agui::agui))
        .routes(routes!(jobs::list, jobs::submit))
        .routes(routes!(jobs::get))
        .routes(routes!(jobs::cancel))
        .routes(routes!(jobs::resume))
        .routes(routes!(sources::inventory))
        .routes(routes!(images::list))
        .routes(routes!(images::get, images::delete))
}

/// The whole service: the routes behind auth and the rate limit, the
/// login beside them, the console's pages (static, public: the data they
/// show comes through the API), all of them behind the Host and Origin
/// rules (`guard`), all counted.
pub(crate) fn router(state: AppState, limiter: Option<Arc<crate::limit::Config>>) -> Router {
    let (api, _) = api().split_for_parts();
    let (public, _) = public().split_for_parts();
    let (session, _) = session().split_for_parts();
    let mut api = api
        // MCP is not a REST route; the document says so in its description.
        .nest_service("/mcp", mcp::service(&state))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require));
    let mut session =
        session.route_layer(middleware::from_fn_with_state(state.clone(), auth::peer));
    if let Some(l) = limiter {
        api = api.route_layer(crate::limit::layer(l.clone()));
        session = session.route_layer(crate::limit::layer(l));
    }
    // The live page refuses a bad live link with a plain 401 page.
    let console = hype_console::router().layer(middleware::from_fn_with_state(
        state.clone(),
        crate::live_links::page,
    ));
    public
        .merge(console)
        .merge(session)
        .merge(api)
        .fallback(system::not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::guard::check,
        ))
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
