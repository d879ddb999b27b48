//! Liveness, version, metrics, the OpenAPI document, and the 404 shape.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use hype_types::{ErrorKind, StatusInfo, VersionInfo};
use prometheus_client::encoding::text::encode;
use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::error::ApiError;
use crate::AppState;

#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, description = "hyped serves", body = String, content_type = "text/plain")))]
pub async fn healthz() -> &'static str {
    "ok\n"
}

#[utoipa::path(get, path = "/api/v1/version", tag = "system", responses((status = 200, body = VersionInfo)))]
pub async fn version(State(s): State<AppState>) -> Json<VersionInfo> {
    Json(s.hype.version().await)
}

#[utoipa::path(get, path = "/api/v1/status", tag = "system",
    responses((status = 200, description = "Uptime, VMs and jobs by state, free memory and disk, the accelerator, the network's problems", body = StatusInfo)))]
pub async fn status(State(s): State<AppState>) -> Result<Json<StatusInfo>, ApiError> {
    Ok(Json(s.hype.status().await?))
}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "system",
    responses((status = 200, description = "This document", body = Object, content_type = "application/json")))]
pub async fn openapi(State(s): State<AppState>) -> impl IntoResponse {
    Json(crate::openapi::served(s.hype.config().host))
}

#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Metrics in the OpenMetrics text format", body = String,
        content_type = "application/openmetrics-text"),
        (status = 500, body = hype_types::ErrorBody)))]
pub async fn metrics(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let mut reg = Registry::with_prefix("hype");
    reg.register(
        "http_requests",
        "HTTP requests by route and status",
        s.metrics.requests.clone(),
    );
    let vms = Family::<Vec<(String, String)>, Gauge>::default();
    // Counted in SQL: a scrape must stay cheap with thousands of VMs.
    for (st, n) in s.hype.vm_counts().await? {
        vms.get_or_create(&vec![("state".to_owned(), st.as_str().to_owned())])
            .set(n);
    }
    reg.register("vms", "VMs by state", vms);
    register_pools(&mut reg, s.hype.list_pools().await?.pools);
    let last = Gauge::<i64>::default();
    last.set(s.hype.last_event_id().await?);
    reg.register("last_event_id", "Id of the newest lifecycle event", last);
    let live = s.hype.live_figures();
    let viewers = Gauge::<i64>::default();
    viewers.set(i64::try_from(live.viewers).unwrap_or(i64::MAX));
    reg.register(
        "live_viewers",
        "Live views open, each with its own screencast (none runs at 0)",
        viewers,
    );
    let frames = Counter::<u64>::default();
    frames.inc_by(live.frames);
    reg.register("live_frames", "Screencast frames the browsers sent", frames);
    let dropped = Counter::<u64>::default();
    dropped.inc_by(live.dropped);
    reg.register(
        "live_frames_dropped",
        "Screencast frames replaced by a newer one before a slow viewer took them",
        dropped,
    );
    let mut body = String::new();
    encode(&mut body, &reg)
        .map_err(|e| ApiError::new(ErrorKind::Internal, "metrics", e.to_string()))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    ))
}

/// Each warm pool's size, what is ready, claims, misses and refill time.
fn register_pools(reg: &mut Registry, pools: Vec<hype_types::Pool>) {
    type Labels = Vec<(String, String)>;
    let size = Family::<Labels, Gauge>::default();
    let ready = Family::<Labels, Gauge>::default();
    let claims = Family::<Labels, Counter>::default();
    let misses = Family::<Labels, Counter>::default();
    let refill = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    for p in pools {
        let l = vec![("pool".to_owned(), p.name.clone())];
        size.get_or_create(&l).set(i64::from(p.size));
        ready.get_or_create(&l).set(i64::from(p.ready));
        claims.get_or_create(&l).inc_by(p.claims);
        misses.get_or_create(&l).inc_by(p.misses);
        if let Some(ms) = p.last_refill_ms {
            refill.get_or_create(&l).set(ms as f64 / 1000.0);
        }
    }
    reg.register("pool_size", "Sandboxes each warm pool keeps ready", size);
    reg.register("pool_ready", "Sandboxes ready in each warm pool now", ready);
    reg.register("pool_claims", "Creates served from each warm pool", claims);
    reg.register(
        "pool_misses",
        "Creates that found the warm pool empty",
        misses,
    );
    reg.register(
        "pool_refill_seconds",
        "How long the last refill fork of each warm pool took to be ready",
        refill,
    );
}

pub async fn not_found() -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        "not_found",
        "no such route; see /api/v1/openapi.json",
    )
}
