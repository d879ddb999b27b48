//! The MCP tools' backend in hyped: the core in-process, for `/mcp`. It
//! lives here, beside the other front end of the core, so that hype-mcp
//! (which the CLI links) never depends on the core.

use futures::stream::BoxStream;
use futures::StreamExt;
use hype_cdp::Discovery;
use hype_core::{CoreError, FileDownload, Hype};
use hype_mcp::{is_directory, too_big, Backend, BackendError, BackendResult, CdpAccess};
use hype_types::files::UploadSpec;
use hype_types::{
    CreateVm, Download, Event, ExecRequest, ExecResult, FileKind, ForkResult, ForkVm, PageRequest,
    Uploaded, Vm,
};
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

    async fn exec(&self, name: &str, req: ExecRequest) -> BackendResult<ExecResult> {
        // The same checks as the REST route's, with its words.
        let (spec, stdin) = req
            .validate()
            .map_err(|e| BackendError::new(hype_types::ErrorKind::Invalid, e))?;
        self.hype.exec(name, spec, stdin).await.map_err(map)
    }

    async fn read_file(&self, name: &str, path: &str, limit: u64) -> BackendResult<Vec<u8>> {
        let file = self.hype.read_file(name, path).await.map_err(map)?;
        if file.entry.kind == FileKind::Directory {
            return Err(is_directory(path));
        }
        gather(file, path, limit).await
    }

    async fn write_file(
        &self,
        name: &str,
        spec: UploadSpec,
        data: Vec<u8>,
    ) -> BackendResult<Uploaded> {
        let body =
            futures::stream::iter([Ok::<_, std::convert::Infallible>(bytes::Bytes::from(data))]);
        self.hype.write_file(name, spec, body).await.map_err(map)
    }

    async fn downloads(&self, name: &str) -> BackendResult<Vec<Download>> {
        self.hype.downloads(name).await.map_err(map)
    }

    async fn download(&self, name: &str, file: &str, limit: u64) -> BackendResult<Vec<u8>> {
        let found = self.hype.download(name, file).await.map_err(map)?;
        gather(found, file, limit).await
    }
}

/// A guest file's bytes, refused before reading when the guest says it is
/// bigger than `limit` (and once they pass it, should it grow meanwhile).
async fn gather(file: FileDownload, what: &str, limit: u64) -> BackendResult<Vec<u8>> {
    if file.entry.size > limit {
        return Err(too_big(what, limit));
    }
    hype_mcp::gather(file.body, what, limit, map).await
}
