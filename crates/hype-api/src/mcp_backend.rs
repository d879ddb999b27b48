//! The MCP tools' backend in hyped: the core in-process, for `/mcp`. It
//! lives here, beside the other front end of the core, so that hype-mcp
//! (which the CLI links) never depends on the core.

use futures::stream::BoxStream;
use futures::StreamExt;
use hype_cdp::Discovery;
use hype_core::{CoreError, Hype};
use hype_mcp::{Backend, BackendError, BackendResult, CdpAccess};
use hype_types::{CreateVm, Event, ForkResult, ForkVm, PageRequest, Vm};
use tokio::sync::broadcast::error::RecvError;

#[derive(Clone)]
pub struct CoreBackend {
    hype: Hype,
}

impl CoreBackend {
    pub fn new(hype: Hype) -> Self {
        Self { hype }
    }
}

fn map(e: CoreError) -> BackendError {
    BackendError::new(e.kind(), e.describe())
}

/// The most console a tool answer carries.
const LOG_LINES: usize = 2000;

impl Backend for CoreBackend {
    type Lease = hype_core::CdpLease;

    async fn create(&self, req: CreateVm) -> BackendResult<Vm> {
        self.hype.create_vm(req).await.map_err(map)
    }

    async fn fork(&self, vm: &str, req: ForkVm) -> BackendResult<ForkResult> {
        self.hype.fork_vm(vm, req).await.map_err(map)
    }

    async fn list(&self) -> BackendResult<Vec<Vm>> {
        self.hype.all_vms().await.map_err(map)
    }

    async fn get(&self, name: &str) -> BackendResult<Vm> {
        self.hype.get_vm(name).await.map_err(map)
    }

    async fn delete(&self, name: &str) -> BackendResult<()> {
        self.hype.delete_vm(name).await.map_err(map)
    }

    async fn logs(&self, name: &str) -> BackendResult<String> {
        let tail = self
            .hype
            .console_tail(name, Some(LOG_LINES))
            .await
            .map_err(map)?;
        Ok(tail.text)
    }

    async fn cdp(&self, name: &str, doc: &str) -> BackendResult<CdpAccess> {
        let doc = match doc {
            "json/version" => Discovery::Version,
            _ => Discovery::List,
        };
        let doc = self.hype.cdp_discovery(name, doc).await.map_err(map)?;
        Ok(CdpAccess { doc, bearer: None })
    }

    async fn events(&self) -> BackendResult<BoxStream<'static, Event>> {
        let rx = self.hype.subscribe_events();
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
        let last = self.hype.last_event_id().await.map_err(map)?;
        let page = PageRequest {
            limit: Some(limit.clamp(1, hype_types::MAX_PAGE_LIMIT as usize) as u32),
            after: Some((last - limit as i64).max(0).to_string()),
        };
        Ok(self
            .hype
            .list_events(None, &page)
            .await
            .map_err(map)?
            .events)
    }

    fn lease(&self, name: &str) -> Self::Lease {
        self.hype.cdp_lease(name)
    }
}
