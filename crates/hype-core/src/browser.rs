//! Where a VM's browser can be reached, for the CDP proxy and screenshots.
//! Only ever the VM's own leased address and the agent's relay port: a
//! request cannot steer hyped anywhere else.

use std::net::{Ipv4Addr, SocketAddrV4};

use hype_types::VmState;

use crate::{CoreError, Hype, Result};

impl Hype {
    /// The guest's CDP relay, if the VM runs a browser image and is running.
    pub async fn cdp_endpoint(&self, name: &str) -> Result<SocketAddrV4> {
        let rec = self.inner.store.get_vm(name).await?;
        let browser = self
            .inner
            .browser_images
            .lock()
            .expect("images lock")
            .contains(&rec.image);
        if !browser {
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

    /// A PNG of the browser's active page.
    pub async fn screenshot(&self, name: &str) -> Result<Vec<u8>> {
        let addr = self.cdp_endpoint(name).await?;
        hype_cdp::screenshot(&format!("http://{addr}"))
            .await
            .map_err(|e| CoreError::Browser {
                name: name.into(),
                why: e.to_string(),
            })
    }
}
