//! The web console's pages: the files `scripts/build-console.sh` builds
//! from `console/` into `assets/`, built into the binary, and the routes
//! that serve them (`/` and `/assets/...`) with the headers that keep them
//! to themselves (and the page again at `/vms/{name}/live`, the live
//! view, and at `/recordings/{id}`, the replay of a recording, which the app draws from its path): a Content-Security-Policy allowing only hyped's own
//! scripts, styles and connections, no framing, no referrer. It also holds
//! the rrweb record script ([`RECORD_SCRIPT`]) hyped injects into the pages
//! of recorded sandboxes, built from the same locked sources.
//!
//! This crate owns only static files. It must not know about sessions,
//! the API or its state: the pages reach hyped through the REST API like
//! any client, and `hype-api` decides who may call it.

use std::sync::LazyLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

/// One built file, as served.
#[derive(Debug)]
pub struct Asset {
    /// The path it is served at.
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

/// Every file of the console, at its path.
pub static ASSETS: &[Asset] = &[
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../assets/index.html"),
    },
    Asset {
        path: "/assets/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/app.js"),
    },
    Asset {
        path: "/assets/app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../assets/app.css"),
    },
];

/// The rrweb record script hyped injects into every page of a recorded
/// sandbox (`console/src/record.js`, bundled): it sends its events in
/// batches to the CDP binding `__hypeRec`. Not served.
pub static RECORD_SCRIPT: &str = include_str!("../assets/record.js");

/// The replay page's policy: the console's, but the recorded page's own
/// styles (rrweb rebuilds them as inline `<style>` in the player's frame)
/// may apply. Scripts stay hyped's only; rrweb never runs the page's.
pub const REPLAY_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// What a console page may load and reach: only hyped itself (`'self'`
/// covers its WebSockets too), no inline script, no plugins, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// Each asset's ETag (a digest of its bytes), so a reload costs a 304.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| format!("\"{}\"", &hex::encode(Sha256::digest(a.body))[..20]))
        .collect()
});

/// The routes of every asset, for any router state.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let files = ASSETS.iter().enumerate().fold(Router::new(), |r, (i, a)| {
        r.route(a.path, get(move |h: HeaderMap| async move { serve(i, &h) }))
    });
    // The live view and the replay are pages of the same app, which reads
    // its path.
    files
        .route(
            "/vms/{name}/live",
            get(|h: HeaderMap| async move { serve(0, &h) }),
        )
        .route(
            "/recordings/{id}",
            get(|h: HeaderMap| async move {
                let mut resp = serve(0, &h);
                resp.headers_mut().insert(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(REPLAY_CONTENT_SECURITY_POLICY),
                );
                resp
            }),
        )
}

fn serve(i: usize, req: &HeaderMap) -> Response {
    let asset = &ASSETS[i];
    let etag = &ETAGS[i];
    let fresh = req
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response()
    };
    let h = resp.headers_mut();
    let fixed = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        // Asked again each time (answered 304 while unchanged): a new
        // hyped's console is never mixed with an old one's script.
        (header::CACHE_CONTROL, "no-cache"),
    ];
    for (name, value) in fixed {
        h.insert(name, HeaderValue::from_static(value));
    }
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    #[test]
    fn the_page_loads_only_assets_this_crate_serves() {
        let index = std::str::from_utf8(ASSETS[0].body).unwrap();
        for part in index.split(['"', '\'']) {
            if part.starts_with('/') {
                assert!(
                    ASSETS.iter().any(|a| a.path == part),
                    "index.html refers to {part}, which is not served"
                );
            }
            assert!(
                !part.starts_with("http:")
                    && !part.starts_with("https:")
                    && !part.starts_with("//"),
                "index.html loads {part} from elsewhere"
            );
        }
    }

    #[tokio::test]
    async fn assets_are_served_with_their_policy_and_revalidated() {
        let app: Router = router();
        let resp = app
            .clone()
            .oneshot(Request::get("/assets/app.js").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let h = resp.headers();
        assert_eq!(h[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert!(h[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
        let etag = h[header::ETAG].clone();
        let again = app
            .oneshot(
                Request::get("/assets/app.js")
                    .header(header::IF_NONE_MATCH, etag)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(again.status(), 304);
    }

    #[tokio::test]
    async fn the_live_view_is_the_page_under_its_own_path() {
        let app: Router = router();
        let resp = app
            .oneshot(Request::get("/vms/s1/live").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        assert_eq!(&body[..], ASSETS[0].body);
    }
}
