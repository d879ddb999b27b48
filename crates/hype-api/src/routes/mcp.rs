//! `/mcp`: the Model Context Protocol over streamable HTTP, the same tools
//! as `hype mcp`, calling the core in-process. Not a REST route (it is not
//! in the OpenAPI document); behind the same auth as the API.

use hype_mcp::HypeMcp;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::StreamableHttpService;

use crate::mcp_backend::CoreBackend;
use crate::AppState;

pub(crate) fn service(
    s: &AppState,
) -> StreamableHttpService<HypeMcp<CoreBackend>, LocalSessionManager> {
    hype_mcp::http_service(s.mcp.clone(), s.shutdown.clone())
}
