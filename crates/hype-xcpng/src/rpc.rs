//! XAPI's JSON-RPC endpoint (`POST /jsonrpc`, JSON-RPC 2.0). Failures come
//! back as `error: {code, message: "<XAPI error code>", data: [params]}`.

use std::time::Duration;

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::{cancellable, XcpngError};

/// A logged-in session. Its id is a credential: it goes in request bodies
/// and query strings, never into logs or errors.
pub struct Session {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) id: String,
    cancel: CancellationToken,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

pub(crate) fn client(insecure: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(insecure)
        .connect_timeout(Duration::from_secs(20))
        // XAPI redirects exports to the host that holds the disk.
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .expect("a TLS client builds")
}

async fn call_raw(
    http: &reqwest::Client,
    base: &str,
    method: &str,
    params: Value,
    cancel: &CancellationToken,
) -> Result<Value, XcpngError> {
    let body = json!({"jsonrpc": "2.0", "method": method, "params": params, "id": 1});
    let url = format!("{base}/jsonrpc");
    let resp = cancellable(cancel, http.post(&url).json(&body).send())
        .await?
        .map_err(|e| XcpngError::connect(&url, e))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(XcpngError::Http {
            what: format!("XAPI {method}"),
            status: status.as_u16(),
        });
    }
    let answer: Value =
        cancellable(cancel, resp.json())
            .await?
            .map_err(|e| XcpngError::Protocol {
                method: method.into(),
                why: e.without_url().to_string(),
            })?;
    if let Some(err) = answer.get("error").filter(|e| !e.is_null()) {
        let code = err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("UNKNOWN")
            .to_owned();
        let params = err
            .get("data")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().map(str::to_owned).unwrap_or(v.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        return Err(XcpngError::Api {
            method: method.into(),
            code,
            params,
        });
    }
    answer
        .get("result")
        .cloned()
        .ok_or_else(|| XcpngError::Protocol {
            method: method.into(),
            why: "neither result nor error".into(),
        })
}

impl Session {
    pub async fn login(
        url: &str,
        username: &str,
        password: &str,
        insecure: bool,
        cancel: &CancellationToken,
    ) -> Result<Self, XcpngError> {
        let http = client(insecure);
        let base = url.trim_end_matches('/').to_owned();
        let id = call_raw(
            &http,
            &base,
            "session.login_with_password",
            json!([username, password, "2.0", "hype"]),
            cancel,
        )
        .await
        .map_err(|e| match e {
            XcpngError::Api { code, .. } if code == "SESSION_AUTHENTICATION_FAILED" => {
                XcpngError::Auth {
                    user: username.into(),
                }
            }
            other => other,
        })?;
        let id = id
            .as_str()
            .ok_or_else(|| XcpngError::Protocol {
                method: "session.login_with_password".into(),
                why: "the session is not a string".into(),
            })?
            .to_owned();
        Ok(Self {
            http,
            base,
            id,
            cancel: cancel.clone(),
        })
    }

    /// Calls `method` with the session as first parameter.
    pub async fn call(&self, method: &str, params: &[Value]) -> Result<Value, XcpngError> {
        let mut all = vec![Value::String(self.id.clone())];
        all.extend_from_slice(params);
        call_raw(
            &self.http,
            &self.base,
            method,
            Value::Array(all),
            &self.cancel,
        )
        .await
    }

    pub async fn logout(&self) {
        // Not under the job's token: a cancelled job still lets go of its session.
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            call_raw(
                &self.http,
                &self.base,
                "session.logout",
                json!([self.id]),
                &CancellationToken::new(),
            ),
        )
        .await;
    }
}

/// XAPI's int64 travel as strings in XML-RPC and often in JSON-RPC too.
pub(crate) fn as_u64(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}
