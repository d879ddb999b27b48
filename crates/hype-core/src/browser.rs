//! Where a VM's browser can be reached, for the CDP proxy, screenshots and
//! the MCP tools. Only ever the VM's own leased address and the agent's
//! relay port, with URLs rebuilt from those and a checked target id: a
//! request, or the guest's own answers, cannot steer hyped anywhere else.

use std::net::{Ipv4Addr, SocketAddrV4};

use hype_cdp::{DevtoolsSocket, DevtoolsTarget, Discovery};
use hype_types::VmState;

use crate::{CoreError, Hype, Result};

impl Hype {
    /// The guest's CDP relay, if the VM runs a browser image and is running.
    pub async fn cdp_endpoint(&self, name: &str) -> Result<SocketAddrV4> {
        let rec = self.inner.store.get_vm(name).await?;
        if !self.inner.is_browser_image(&rec.image) {
            return Err(CoreError::NoBrowser {
                name: name.into(),
                why: format!("its image '{}' has no browser", rec.image),
            });
        }
        if rec.state != VmState::Running {
            return Err(CoreError::InvalidState {
                name: name.into(),
                state: rec.state,
                action: "reach the browser of",
            });
        }
        let ip: Ipv4Addr = rec
            .ip
            .as_deref()
            .and_then(|ip| ip.parse().ok())
            .ok_or_else(|| CoreError::NoBrowser {
                name: name.into(),
                why: "it has no network address (hyped runs with --network off)".into(),
            })?;
        Ok(SocketAddrV4::new(ip, hype_cdp::GUEST_CDP_PORT))
    }

    /// A discovery document of the VM's browser, its WebSocket URLs
    /// pointing at the guest's relay (callers rewrite them for their own
    /// clients).
    pub async fn cdp_discovery(&self, name: &str, doc: Discovery) -> Result<serde_json::Value> {
        let addr = self.cdp_endpoint(name).await?;
        hype_cdp::discover(addr, doc)
            .await
            .map_err(|source| CoreError::Browser {
                name: name.into(),
                source: Box::new(source),
            })
    }

    /// A DevTools WebSocket to `target` of the VM's browser.
    pub async fn cdp_socket(&self, name: &str, target: &str) -> Result<DevtoolsSocket> {
        let target = DevtoolsTarget::parse(target).ok_or_else(|| {
            CoreError::InvalidRequest(format!(
                "{target:?} is not a DevTools target: expected browser/ID or page/ID"
            ))
        })?;
        let addr = self.cdp_endpoint(name).await?;
        hype_cdp::connect_devtools(addr, &target)
            .await
            .map_err(|source| CoreError::Browser {
                name: name.into(),
                source: Box::new(source),
            })
    }

    /// A PNG of the browser's active page.
    pub async fn screenshot(&self, name: &str) -> Result<Vec<u8>> {
        let addr = self.cdp_endpoint(name).await?;
        hype_cdp::screenshot(addr)
            .await
            .map_err(|source| CoreError::Browser {
                name: name.into(),
                source: Box::new(source),
            })
    }
}
