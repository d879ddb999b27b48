//! `hype mcp`: MCP over stdio. Standard output carries only protocol
//! messages, so nothing else may be printed there; the tools themselves
//! live in hype-mcp.

use tokio_util::sync::CancellationToken;

pub async fn run(
    client: hype_client::Client,
    caps: std::collections::BTreeSet<hype_mcp::Cap>,
) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        on_signal.cancel();
    });
    hype_mcp::serve_stdio(client, caps, shutdown).await?;
    Ok(())
}
