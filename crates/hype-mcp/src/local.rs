//! The in-process backend: hyped's own [`Hype`], for `/mcp`.

use futures::stream::BoxStream;
use futures::StreamExt;
use hype_core::{CoreError, Hype};
use hype_types::{CreateVm, Event, Vm};
use tokio::sync::broadcast::error::RecvError;

use crate::backend::{Backend, BackendError, BackendResult, CdpAccess, ErrorKind};

#[derive(Clone)]
pub struct LocalBackend {
    hype: Hype,
}

impl LocalBackend {
    pub fn new(hype: Hype) -> Self {
        Self { hype }
    }
}

fn map(e: CoreError) -> BackendError {
    let kind = match e {
        CoreError::VmNotFound { .. } | CoreError::ImageNotFound { .. } => ErrorKind::NotFound,
        CoreError::InvalidSpec(_)
        | CoreError::InvalidRequest(_)
        | CoreError::NameTaken { .. }
        | CoreError::InvalidState { .. }
        | CoreError::Unsupported { .. }
        | CoreError::NoBrowser { .. }
        | CoreError::TooManyVms { .. }
        | CoreError::SubnetExhausted(_)
        | CoreError::BackendUnavailable { .. } => ErrorKind::Refused,
        _ => ErrorKind::Failed,
    };
    BackendError::new(kind, e.to_string())
}

impl Backend for LocalBackend {
    type Lease = hype_core::CdpLease;

    async fn create(&self, req: CreateVm) -> BackendResult<Vm> {
        self.hype.create_vm(req).await.map_err(map)
    }

    async fn list(&self) -> BackendResult<Vec<Vm>> {
        self.hype.list_vms(None).await.map_err(map)
    }

    async fn get(&self, name: &str) -> BackendResult<Vm> {
        self.hype.get_vm(name).await.map_err(map)
    }

    async fn delete(&self, name: &str) -> BackendResult<()> {
        self.hype.delete_vm(name).await.map_err(map)
    }

    async fn logs(&self, name: &str) -> BackendResult<String> {
        let path = self.hype.console_path(name).await.map_err(map)?;
        let bytes = tokio::fs::read(&path).await.unwrap_or_default();
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn cdp(&self, name: &str, doc: &str) -> BackendResult<CdpAccess> {
        let addr = self.hype.cdp_endpoint(name).await.map_err(map)?;
        let doc = hype_cdp::discover(&format!("http://{addr}"), &format!("/{doc}"))
            .await
            .map_err(|e| {
                BackendError::new(
                    ErrorKind::Failed,
                    format!("sandbox '{name}': the browser did not answer: {e}"),
                )
            })?;
        Ok(CdpAccess { doc, bearer: None })
    }

    async fn events(&self) -> BackendResult<BoxStream<'static, Event>> {
        let rx = self.hype.store().subscribe();
        Ok(futures::stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(e) => return Some((e, rx)),
                    // A slow MCP client may miss some; the resource has them.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        })
        .boxed())
    }

    async fn recent_events(&self, limit: usize) -> BackendResult<Vec<Event>> {
        let store = self.hype.store();
        let last = store.last_event_id().await.map_err(|e| map(e.into()))?;
        store
            .events_after((last - limit as i64).max(0), None, limit as i64)
            .await
            .map_err(|e| map(e.into()))
    }

    fn lease(&self, name: &str) -> Self::Lease {
        self.hype.cdp_lease(name)
    }
}
