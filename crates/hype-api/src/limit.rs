//! Requests per client, bounded: one client (by peer address) cannot take
//! hyped's whole attention. Over the rate, a request gets 429 with
//! `Retry-After` in the API's error shape. Long-lived requests (SSE, CDP
//! WebSockets) count once, when they start. The peer address comes from
//! axum's `ConnectInfo`, which `run` provides.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Response};
use axum::response::IntoResponse;
use hype_types::ErrorKind;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::PeerIpKeyExtractor;
use tower_governor::{GovernorError, GovernorLayer};

use crate::error::ApiError;

pub(crate) type Config = GovernorConfig<PeerIpKeyExtractor, governor::middleware::NoOpMiddleware>;

/// The limiter for `per_second` requests per client (bursts of twice that),
/// `None` when off (0).
pub(crate) fn config(per_second: u32) -> Option<Arc<Config>> {
    if per_second == 0 {
        return None;
    }
    let cfg = GovernorConfigBuilder::default()
        .period(Duration::from_secs_f64(1.0 / f64::from(per_second)))
        .burst_size(per_second.saturating_mul(2))
        .finish()?;
    Some(Arc::new(cfg))
}

pub(crate) fn layer(
    cfg: Arc<Config>,
) -> GovernorLayer<PeerIpKeyExtractor, governor::middleware::NoOpMiddleware, Body> {
    GovernorLayer::new(cfg).error_handler(refusal)
}

fn refusal(e: GovernorError) -> Response<Body> {
    match e {
        GovernorError::TooManyRequests { wait_time, .. } => {
            let wait = wait_time.max(1);
            let mut resp = ApiError::new(
                ErrorKind::TooMany,
                "rate_limited",
                format!(
                    "too many requests from this client; retry in {wait} s (hyped's --rate-limit)"
                ),
            )
            .into_response();
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                wait.to_string().parse().expect("digits are a header value"),
            );
            resp
        }
        GovernorError::UnableToExtractKey | GovernorError::Other { .. } => ApiError::new(
            ErrorKind::Internal,
            "rate_limiter",
            "the rate limiter could not tell who the client is",
        )
        .into_response(),
    }
}

/// Forgets clients not seen for a while, so the limiter's memory stays
/// bounded by recent clients.
pub(crate) async fn prune(cfg: Arc<Config>, shutdown: tokio_util::sync::CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
        cfg.limiter().retain_recent();
    }
}
