//! The REST backend: hyped's API through [`hype_client::Client`], for
//! `hype mcp` over stdio. Recent events are those a follower task has seen
//! since this process started (the API has no query for past events
//! besides replaying the SSE stream).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::BoxStream;
use futures::StreamExt;
use hype_client::{Client, ClientError, SseStream, UploadTo};
use hype_types::files::UploadSpec;
use hype_types::{
    CreateVm, Download, Event, ExecRequest, ExecResult, ForkResult, ForkVm, Uploaded, Vm,
};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::backend::{
    gather, is_directory, Backend, BackendError, BackendResult, CdpAccess, ErrorKind,
};

const KEPT: usize = 200;

#[derive(Clone)]
pub struct RestBackend {
    client: Client,
    seen: Arc<Mutex<VecDeque<Event>>>,
    tasks: TaskTracker,
}

impl RestBackend {
    /// Starts following hyped's events until `shutdown`.
    pub fn new(client: Client, shutdown: CancellationToken) -> Self {
        let b = Self {
            client,
            seen: Arc::default(),
            tasks: TaskTracker::new(),
        };
        let follower = b.clone();
        b.tasks.spawn(async move {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = follower.follow() => {}
            }
        });
        b
    }

    /// Waits for the follower (it ends on shutdown).
    pub async fn closed(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// Keeps the last events, reconnecting after the last one seen.
    async fn follow(&self) {
        let mut last: Option<i64> = None;
        loop {
            if let Ok(mut s) = self.client.vm_events(None, last).await {
                while let Some(e) = next_event(&mut s).await {
                    last = Some(e.id);
                    let mut seen = self.seen.lock().expect("events lock");
                    if seen.len() == KEPT {
                        seen.pop_front();
                    }
                    seen.push_back(e);
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

async fn next_event(s: &mut SseStream) -> Option<Event> {
    loop {
        let frame = s.next().await?.ok()?;
        if let Ok(e) = serde_json::from_str(&frame.data) {
            return Some(e);
        }
    }
}

fn map(e: ClientError) -> BackendError {
    let kind = match &e {
        ClientError::Api { status, .. } => ErrorKind::from_status(status.as_u16()),
        _ => ErrorKind::Unavailable,
    };
    BackendError::new(kind, e.to_string())
}

impl Backend for RestBackend {
    type Lease = ();

    async fn create(&self, req: CreateVm) -> BackendResult<Vm> {
        self.client.create_vm(&req).await.map_err(map)
    }

    async fn fork(&self, vm: &str, req: ForkVm) -> BackendResult<ForkResult> {
        self.client.fork_vm(vm, &req).await.map_err(map)
    }

    async fn list(&self) -> BackendResult<Vec<Vm>> {
        self.client.list_vms(None).await.map_err(map)
    }

    async fn get(&self, name: &str) -> BackendResult<Vm> {
        self.client.get_vm(name).await.map_err(map)
    }

    async fn delete(&self, name: &str) -> BackendResult<()> {
        self.client.delete_vm(name).await.map_err(map)
    }

    async fn logs(&self, name: &str) -> BackendResult<String> {
        self.client.logs(name).await.map_err(map)
    }

    async fn cdp(&self, name: &str, doc: &str) -> BackendResult<CdpAccess> {
        let doc = self.client.cdp_discovery(name, doc).await.map_err(map)?;
        Ok(CdpAccess {
            doc,
            bearer: self.client.api_key().map(str::to_owned),
        })
    }

    async fn events(&self) -> BackendResult<BoxStream<'static, Event>> {
        let s = self.client.vm_events(None, None).await.map_err(map)?;
        Ok(futures::stream::unfold(s, |mut s| async move {
            next_event(&mut s).await.map(|e| (e, s))
        })
        .boxed())
    }

    async fn recent_events(&self, limit: usize) -> BackendResult<Vec<Event>> {
        let seen = self.seen.lock().expect("events lock");
        Ok(seen
            .iter()
            .skip(seen.len().saturating_sub(limit))
            .cloned()
            .collect())
    }

    fn lease(&self, _name: &str) -> Self::Lease {}

    async fn exec(&self, name: &str, req: ExecRequest) -> BackendResult<ExecResult> {
        self.client.exec(name, &req).await.map_err(map)
    }

    async fn read_file(&self, name: &str, path: &str, limit: u64) -> BackendResult<Vec<u8>> {
        let file = self.client.download_path(name, path).await.map_err(map)?;
        if file.is_archive {
            return Err(is_directory(path));
        }
        gather(file.body, path, limit, map).await
    }

    async fn write_file(
        &self,
        name: &str,
        spec: UploadSpec,
        data: Vec<u8>,
    ) -> BackendResult<Uploaded> {
        let mode = spec.mode.map(|m| format!("{m:04o}"));
        let to = UploadTo {
            path: &spec.path,
            mode: mode.as_deref(),
            owner: spec.owner.as_deref(),
            archive: spec.archive,
        };
        self.client.upload(name, &to, data).await.map_err(map)
    }

    async fn downloads(&self, name: &str) -> BackendResult<Vec<Download>> {
        Ok(self.client.downloads(name).await.map_err(map)?.downloads)
    }

    async fn download(&self, name: &str, file: &str, limit: u64) -> BackendResult<Vec<u8>> {
        let body = self.client.download_file(name, file).await.map_err(map)?;
        gather(body.body, file, limit, map).await
    }
}
