//! A typed client for hyped's REST API and SSE streams, shared by the `hype`
//! CLI, the TUI and MCP over stdio. It owns the wire details (auth header,
//! error shape, SSE framing) and nothing of presentation.

mod follow;
mod guest;
mod sse;

use std::time::Duration;

use hype_types::{
    CreateVm, ErrorBody, GuestNetwork, Image, ImageList, Job, JobList, ProbeRequest, ProbeResult,
    VersionInfo, Vm, VmList, MAX_PAGE_LIMIT,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;

pub use follow::{frame_id, is_permanent, Backoff, Feed, Followed, Follower};
pub use guest::{ExecFrame, ExecReader, ExecWriter, GuestFile, UploadTo};
pub use sse::{SseFrame, SseStream};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach hyped at {url}: {source}; is it running? (set HYPE_API_BASE to point elsewhere)")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{message}")]
    Api {
        status: StatusCode,
        code: String,
        message: String,
    },
    #[error("unexpected answer from {url}: {detail}")]
    Decode { url: String, detail: String },
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    key: Option<String>,
    http: reqwest::Client,
}

impl Client {
    pub fn new(base: impl Into<String>, key: Option<String>) -> Self {
        Self {
            base: base.into().trim_end_matches('/').to_owned(),
            key,
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .build()
                .expect("reqwest client builds"),
        }
    }

    /// `HYPE_API_BASE` (default `http://127.0.0.1:7777`) and `HYPE_API_KEY`.
    pub fn from_env() -> Self {
        let base =
            std::env::var("HYPE_API_BASE").unwrap_or_else(|_| "http://127.0.0.1:7777".into());
        let key = std::env::var("HYPE_API_KEY").ok().filter(|k| !k.is_empty());
        Self::new(base, key)
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn req(&self, method: Method, path: &str) -> (String, RequestBuilder) {
        let url = format!("{}{path}", self.base);
        let mut b = self.http.request(method, &url);
        if let Some(k) = &self.key {
            b = b.bearer_auth(k);
        }
        (url, b)
    }

    async fn send(&self, url: &str, b: RequestBuilder) -> Result<Response> {
        let resp = b.send().await.map_err(|source| ClientError::Unreachable {
            url: self.base.clone(),
            source,
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => Err(ClientError::Api {
                status,
                code: body.error.code,
                message: body.error.message,
            }),
            Err(_) => Err(ClientError::Decode {
                url: url.into(),
                detail: format!("{status}: {text}"),
            }),
        }
    }

    async fn json<T: DeserializeOwned>(&self, method: Method, path: &str) -> Result<T> {
        let (url, b) = self.req(method, path);
        let resp = self.send(&url, b).await?;
        resp.json().await.map_err(|e| ClientError::Decode {
            url,
            detail: e.to_string(),
        })
    }

    /// Any GET answering JSON, for resources this client has no method for.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.json(Method::GET, path).await
    }

    pub async fn version(&self) -> Result<VersionInfo> {
        self.json(Method::GET, "/api/v1/version").await
    }

    /// Uptime, VMs and jobs by state, free memory and disk (`hype status`).
    pub async fn status(&self) -> Result<hype_types::StatusInfo> {
        self.json(Method::GET, "/api/v1/status").await
    }

    /// Every VM (in `state`, when given), following the pages.
    pub async fn list_vms(&self, state: Option<&str>) -> Result<Vec<Vm>> {
        let mut out = vec![];
        let mut after: Option<String> = None;
        loop {
            let page = self.list_vms_page(state, after.as_deref(), None).await?;
            out.extend(page.vms);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// One page of VMs by name, after the cursor `after`.
    pub async fn list_vms_page(
        &self,
        state: Option<&str>,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<VmList> {
        let mut q = vec![("limit", limit.unwrap_or(MAX_PAGE_LIMIT).to_string())];
        if let Some(s) = state {
            q.push(("state", s.to_owned()));
        }
        if let Some(a) = after {
            q.push(("after", a.to_owned()));
        }
        self.json(Method::GET, &format!("/api/v1/vms?{}", query(&q)))
            .await
    }

    pub async fn get_vm(&self, name: &str) -> Result<Vm> {
        self.json(Method::GET, &format!("/api/v1/vms/{name}")).await
    }

    pub async fn create_vm(&self, req: &CreateVm) -> Result<Vm> {
        let (url, b) = self.req(Method::POST, "/api/v1/vms");
        let resp = self.send(&url, b.json(req)).await?;
        resp.json().await.map_err(|e| ClientError::Decode {
            url,
            detail: e.to_string(),
        })
    }

    /// A JSON body POSTed to `path`, answered with JSON.
    async fn post_json<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let (url, b) = self.req(Method::POST, path);
        let resp = self.send(&url, b.json(body)).await?;
        resp.json().await.map_err(|e| ClientError::Decode {
            url,
            detail: e.to_string(),
        })
    }

    /// Several forks of a snapshot (`count`): each made or failed.
    pub async fn create_forks(&self, req: &CreateVm) -> Result<hype_types::ForkResult> {
        self.post_json("/api/v1/vms", req).await
    }

    /// Saves running VM `vm` as snapshot `name` for forks.
    pub async fn create_snapshot(&self, vm: &str, name: &str) -> Result<hype_types::Snapshot> {
        let body = hype_types::CreateSnapshot { name: name.into() };
        self.post_json(&format!("/api/v1/vms/{vm}/snapshots"), &body)
            .await
    }

    /// Snapshots `vm` and forks it in one call.
    pub async fn fork_vm(
        &self,
        vm: &str,
        req: &hype_types::ForkVm,
    ) -> Result<hype_types::ForkResult> {
        self.post_json(&format!("/api/v1/vms/{vm}/fork"), req).await
    }

    pub async fn list_snapshots(&self) -> Result<Vec<hype_types::Snapshot>> {
        Ok(self
            .json::<hype_types::SnapshotList>(Method::GET, "/api/v1/snapshots")
            .await?
            .snapshots)
    }

    pub async fn get_snapshot(&self, name: &str) -> Result<hype_types::Snapshot> {
        self.json(Method::GET, &format!("/api/v1/snapshots/{name}"))
            .await
    }

    pub async fn create_pool(&self, req: &hype_types::CreatePool) -> Result<hype_types::Pool> {
        self.post_json("/api/v1/pools", req).await
    }

    pub async fn list_pools(&self) -> Result<Vec<hype_types::Pool>> {
        Ok(self
            .json::<hype_types::PoolList>(Method::GET, "/api/v1/pools")
            .await?
            .pools)
    }

    /// The recordings of VMs named `vm` (deleted ones too), oldest first.
    pub async fn list_recordings(&self, vm: &str) -> Result<Vec<hype_types::Recording>> {
        Ok(self
            .json::<hype_types::RecordingList>(Method::GET, &format!("/api/v1/vms/{vm}/recordings"))
            .await?
            .items)
    }

    pub async fn get_recording(&self, id: &str) -> Result<hype_types::Recording> {
        self.json(Method::GET, &format!("/api/v1/recordings/{id}"))
            .await
    }

    pub async fn delete_recording(&self, id: &str) -> Result<()> {
        let (url, b) = self.req(Method::DELETE, &format!("/api/v1/recordings/{id}"));
        self.send(&url, b).await.map(|_| ())
    }

    pub async fn get_pool(&self, name: &str) -> Result<hype_types::Pool> {
        self.json(Method::GET, &format!("/api/v1/pools/{name}"))
            .await
    }

    pub async fn delete_pool(&self, name: &str) -> Result<()> {
        let (url, b) = self.req(Method::DELETE, &format!("/api/v1/pools/{name}"));
        self.send(&url, b).await.map(|_| ())
    }

    /// The VMs waiting in warm pool `pool` (not users' VMs).
    pub async fn list_pool_vms(&self, pool: &str) -> Result<Vec<Vm>> {
        let q = [
            ("pool", pool.to_owned()),
            ("limit", MAX_PAGE_LIMIT.to_string()),
        ];
        let page: VmList = self
            .json(Method::GET, &format!("/api/v1/vms?{}", query(&q)))
            .await?;
        Ok(page.vms)
    }

    pub async fn delete_snapshot(&self, name: &str) -> Result<()> {
        let (url, b) = self.req(Method::DELETE, &format!("/api/v1/snapshots/{name}"));
        self.send(&url, b).await.map(|_| ())
    }

    pub async fn delete_vm(&self, name: &str) -> Result<()> {
        let (url, b) = self.req(Method::DELETE, &format!("/api/v1/vms/{name}"));
        self.send(&url, b).await.map(|_| ())
    }

    /// A link to VM `name`'s live view, for a browser without the key.
    pub async fn create_live_link(
        &self,
        name: &str,
        req: &hype_types::CreateLiveLink,
    ) -> Result<hype_types::LiveLink> {
        self.post_json(&format!("/api/v1/vms/{name}/live-links"), req)
            .await
    }

    /// `start`, `stop`, `pause`, `resume`, `snapshot` or `restore`.
    pub async fn vm_action(&self, name: &str, action: &str) -> Result<Vm> {
        self.json(Method::POST, &format!("/api/v1/vms/{name}/{action}"))
            .await
    }

    /// The guest's interfaces, as its agent sees them.
    pub async fn guest_network(&self, name: &str) -> Result<GuestNetwork> {
        self.json(Method::GET, &format!("/api/v1/vms/{name}/guest/network"))
            .await
    }

    /// Pings `req.target` from inside the guest.
    pub async fn guest_probe(&self, name: &str, req: &ProbeRequest) -> Result<ProbeResult> {
        let (url, b) = self.req(Method::POST, &format!("/api/v1/vms/{name}/guest/probe"));
        let resp = self.send(&url, b.json(req)).await?;
        resp.json().await.map_err(|e| ClientError::Decode {
            url,
            detail: e.to_string(),
        })
    }

    pub async fn logs(&self, name: &str) -> Result<String> {
        let (url, b) = self.req(Method::GET, &format!("/api/v1/vms/{name}/logs"));
        let resp = self.send(&url, b).await?;
        resp.text().await.map_err(|e| ClientError::Decode {
            url,
            detail: e.to_string(),
        })
    }

    /// Follows the console as SSE.
    pub async fn follow_logs(&self, name: &str) -> Result<SseStream> {
        let (url, b) = self.req(Method::GET, &format!("/api/v1/vms/{name}/logs?follow=true"));
        Ok(SseStream::new(self.send(&url, b).await?))
    }

    /// Lifecycle events after `last_event_id` (from now when `None`).
    pub async fn vm_events(
        &self,
        vm: Option<&str>,
        last_event_id: Option<i64>,
    ) -> Result<SseStream> {
        let path = match vm {
            Some(v) => format!("/api/v1/events/vms?vm={v}"),
            None => "/api/v1/events/vms".into(),
        };
        let (url, mut b) = self.req(Method::GET, &path);
        if let Some(id) = last_event_id {
            b = b.header("Last-Event-ID", id.to_string());
        }
        Ok(SseStream::new(self.send(&url, b).await?))
    }

    /// The id of the newest lifecycle event (`hype_last_event_id` in
    /// `/metrics`), to follow events from a known point rather than "now".
    pub async fn last_event_id(&self) -> Result<i64> {
        let (url, b) = self.req(Method::GET, "/metrics");
        let text = self
            .send(&url, b)
            .await?
            .text()
            .await
            .map_err(|e| ClientError::Decode {
                url: url.clone(),
                detail: e.to_string(),
            })?;
        text.lines()
            .find_map(|l| l.strip_prefix("hype_last_event_id "))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| ClientError::Decode {
                url,
                detail: "no hype_last_event_id in the metrics".into(),
            })
    }

    /// The browser's CDP discovery document (`json/version` or `json/list`)
    /// through hyped, its WebSocket URLs leading back through hyped. They
    /// carry no key: connect with [`Client::api_key`] as a bearer header.
    pub async fn cdp_discovery(&self, name: &str, doc: &str) -> Result<serde_json::Value> {
        self.json(Method::GET, &format!("/api/v1/vms/{name}/cdp/{doc}"))
            .await
    }

    /// The key this client authenticates with, for connections it does not
    /// make itself (CDP WebSockets).
    pub fn api_key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    pub async fn list_images(&self) -> Result<Vec<Image>> {
        Ok(self
            .json::<ImageList>(Method::GET, "/api/v1/images")
            .await?
            .images)
    }

    pub async fn get_image(&self, name: &str) -> Result<Image> {
        self.json(Method::GET, &format!("/api/v1/images/{name}"))
            .await
    }

    pub async fn delete_image(&self, name: &str) -> Result<()> {
        let (url, b) = self.req(Method::DELETE, &format!("/api/v1/images/{name}"));
        self.send(&url, b).await.map(|_| ())
    }

    /// The VMs of an import source (`POST /api/v1/sources/inventory`);
    /// `req` is the request body, password included when the caller has one.
    pub async fn source_inventory(&self, req: &serde_json::Value) -> Result<hype_types::Inventory> {
        let (url, b) = self.req(Method::POST, "/api/v1/sources/inventory");
        let resp = self.send(&url, b.json(req)).await?;
        resp.json().await.map_err(|e| ClientError::Decode {
            url,
            detail: e.to_string(),
        })
    }

    /// Submits a job body as it is: `content_type` is `application/json`
    /// or `application/yaml`.
    pub async fn submit_jobs(&self, body: Vec<u8>, content_type: &str) -> Result<Vec<Job>> {
        let (url, b) = self.req(Method::POST, "/api/v1/jobs");
        let resp = self
            .send(&url, b.header("content-type", content_type).body(body))
            .await?;
        let list: JobList = resp.json().await.map_err(|e| ClientError::Decode {
            url,
            detail: e.to_string(),
        })?;
        Ok(list.jobs)
    }

    /// Every job, newest first, following the pages.
    pub async fn list_jobs(&self) -> Result<Vec<Job>> {
        let mut out = vec![];
        let mut after: Option<String> = None;
        loop {
            let mut q = vec![("limit", MAX_PAGE_LIMIT.to_string())];
            if let Some(a) = &after {
                q.push(("after", a.clone()));
            }
            let page: JobList = self
                .json(Method::GET, &format!("/api/v1/jobs?{}", query(&q)))
                .await?;
            out.extend(page.jobs);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(out),
            }
        }
    }

    pub async fn get_job(&self, id: &str) -> Result<Job> {
        self.json(Method::GET, &format!("/api/v1/jobs/{id}")).await
    }

    pub async fn cancel_job(&self, id: &str) -> Result<Job> {
        self.json(Method::POST, &format!("/api/v1/jobs/{id}/cancel"))
            .await
    }

    /// Gives a job a restart left waiting for its password the password
    /// again; it is queued and keeps what it had downloaded.
    pub async fn resume_job(&self, id: &str, password: &str) -> Result<Job> {
        self.post_json(
            &format!("/api/v1/jobs/{id}/resume"),
            &serde_json::json!({ "password": password }),
        )
        .await
    }

    /// Job events after `last_event_id` (from now when `None`).
    pub async fn job_events(
        &self,
        job: Option<&str>,
        last_event_id: Option<i64>,
    ) -> Result<SseStream> {
        let path = match job {
            Some(j) => format!("/api/v1/events/jobs?job={j}"),
            None => "/api/v1/events/jobs".into(),
        };
        let (url, mut b) = self.req(Method::GET, &path);
        if let Some(id) = last_event_id {
            b = b.header("Last-Event-ID", id.to_string());
        }
        Ok(SseStream::new(self.send(&url, b).await?))
    }
}

/// `k=v&...`, form-encoded.
fn query(pairs: &[(&str, String)]) -> String {
    let mut url = reqwest::Url::parse("http://query.invalid/").expect("a valid URL");
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or("").to_owned()
}
