//! The export lease: `ExportVm`, waiting for `ready`, its device URLs,
//! keeping it alive, and ending it.

use std::time::{Duration, Instant};

use reqwest::Url;
use tokio_util::sync::CancellationToken;

use crate::inventory::{fault_message, pause};
use crate::soap::property;
use crate::soap::{returnval, Client, Element, MoRef, Request};
use crate::VsphereError;

/// How long vCenter may take to open the disks before the lease is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceUrl {
    /// `/vm-id/ControllerTypeBus:Unit` for disks.
    pub key: String,
    pub url: String,
    pub disk: bool,
    pub file_size: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseInfo {
    pub device_urls: Vec<DeviceUrl>,
    pub timeout: Duration,
}

pub async fn export_vm(client: &Client, vm: &MoRef) -> Result<MoRef, VsphereError> {
    let res = client.call(&Request::new("ExportVm", vm)).await?;
    returnval(&res, "ExportVm").and_then(|rv| {
        MoRef::from_element(rv).ok_or_else(|| VsphereError::Protocol {
            operation: "ExportVm".into(),
            message: "no lease reference".into(),
        })
    })
}

/// Polls the lease state until `ready` (then reads its info) or `error`.
pub async fn wait_ready(
    client: &Client,
    lease: &MoRef,
    cancel: &CancellationToken,
) -> Result<LeaseInfo, VsphereError> {
    let began = Instant::now();
    loop {
        let o = property::object(client, lease, &["state", "error", "info"])
            .await?
            .ok_or_else(|| VsphereError::LeaseError {
                message: format!("lease {} vanished", lease.value),
            })?;
        match o.text("state") {
            Some("ready") => {
                let info = o.get("info").ok_or_else(|| VsphereError::Protocol {
                    operation: "RetrievePropertiesEx".into(),
                    message: "a ready lease without info".into(),
                })?;
                return parse_info(info);
            }
            Some("error") => {
                return Err(VsphereError::LeaseError {
                    message: o
                        .get("error")
                        .map(fault_message)
                        .unwrap_or_else(|| "the lease went to state error".into()),
                })
            }
            Some("done") => {
                return Err(VsphereError::LeaseError {
                    message: "the lease is already done".into(),
                })
            }
            _ if began.elapsed() > READY_TIMEOUT => {
                return Err(VsphereError::LeaseTimeout {
                    seconds: READY_TIMEOUT.as_secs(),
                })
            }
            _ => pause(Duration::from_millis(100), cancel).await?,
        }
    }
}

fn parse_info(info: &Element) -> Result<LeaseInfo, VsphereError> {
    let device_urls = info
        .children("deviceUrl")
        .map(|d| DeviceUrl {
            key: d.child_text("key").unwrap_or("").to_string(),
            url: d.child_text("url").unwrap_or("").to_string(),
            disk: d.child_text("disk") == Some("true"),
            file_size: d
                .child_text("fileSize")
                .and_then(|s| s.parse::<i64>().ok())
                .filter(|s| *s > 0)
                .map(|s| s as u64),
        })
        .collect();
    let timeout = info
        .child_text("leaseTimeout")
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|t| *t > 0)
        .unwrap_or(300);
    Ok(LeaseInfo {
        device_urls,
        timeout: Duration::from_secs(timeout),
    })
}

/// How often to call `HttpNfcLeaseProgress`: well inside the lease timeout.
pub fn keepalive_interval(timeout: Duration) -> Duration {
    (timeout / 4).clamp(Duration::from_millis(500), Duration::from_secs(60))
}

pub async fn progress(client: &Client, lease: &MoRef, percent: u8) -> Result<(), VsphereError> {
    let mut req = Request::new("HttpNfcLeaseProgress", lease);
    req.text("percent", &percent.min(100).to_string());
    client.call(&req).await.map(drop)
}

pub async fn complete(client: &Client, lease: &MoRef) -> Result<(), VsphereError> {
    client
        .call(&Request::new("HttpNfcLeaseComplete", lease))
        .await
        .map(drop)
}

/// Tells vCenter the transfer is over without success.
pub async fn abort(client: &Client, lease: &MoRef) -> Result<(), VsphereError> {
    client
        .call(&Request::new("HttpNfcLeaseAbort", lease))
        .await
        .map(drop)
}

/// A device URL names its host `*` when the client should use the host it
/// already talks to (vCenter or ESXi), port included.
pub fn resolve_url(raw: &str, sdk: &Url) -> Result<Url, VsphereError> {
    let bad = |message: String| VsphereError::Protocol {
        operation: "HttpNfcLease".into(),
        message,
    };
    let mut url = Url::parse(raw).map_err(|e| bad(format!("device URL {raw:?}: {e}")))?;
    if url.host_str() == Some("*") {
        url.set_host(sdk.host_str())
            .map_err(|e| bad(format!("device URL {raw:?}: {e}")))?;
        url.set_port(sdk.port())
            .map_err(|()| bad(format!("device URL {raw:?}: cannot take a port")))?;
    }
    if !matches!(url.scheme(), "https" | "http") {
        return Err(bad(format!("device URL {raw:?} is not HTTP(S)")));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_host_becomes_the_sdk_host_and_port() {
        let sdk = Url::parse("https://vc.example:8989/sdk").unwrap();
        let u = resolve_url("https://*/nfc/52ab/disk-0.vmdk", &sdk).unwrap();
        assert_eq!(u.as_str(), "https://vc.example:8989/nfc/52ab/disk-0.vmdk");
        let u = resolve_url("https://esx1.example/nfc/52ab/disk-0.vmdk", &sdk).unwrap();
        assert_eq!(u.host_str(), Some("esx1.example"));
        assert!(resolve_url("file:///etc/passwd", &sdk).is_err());
        assert!(resolve_url("not a url", &sdk).is_err());
    }

    #[test]
    fn info_lists_device_urls_with_sizes() {
        let info = Element::parse(
            br#"<val><entity type="VirtualMachine">vm-1</entity>
<deviceUrl><key>/vm-1/ParaVirtualSCSIController0:0</key><url>https://*/nfc/l/disk-0.vmdk</url><disk>true</disk><fileSize>4194304</fileSize></deviceUrl>
<deviceUrl><key>/vm-1/nvram</key><url>https://*/nfc/l/vm.nvram</url><disk>false</disk></deviceUrl>
<totalDiskCapacityInKB>3072</totalDiskCapacityInKB><leaseTimeout>3</leaseTimeout></val>"#,
        )
        .unwrap();
        let li = parse_info(&info).unwrap();
        assert_eq!(li.timeout, Duration::from_secs(3));
        assert_eq!(li.device_urls.len(), 2);
        assert!(li.device_urls[0].disk);
        assert_eq!(li.device_urls[0].file_size, Some(4 << 20));
        assert!(!li.device_urls[1].disk);
        assert_eq!(li.device_urls[1].file_size, None);
    }

    #[test]
    fn keepalive_stays_well_inside_the_timeout() {
        assert_eq!(
            keepalive_interval(Duration::from_secs(300)),
            Duration::from_secs(60)
        );
        assert_eq!(
            keepalive_interval(Duration::from_secs(4)),
            Duration::from_secs(1)
        );
        assert_eq!(
            keepalive_interval(Duration::from_secs(1)),
            Duration::from_millis(500)
        );
    }
}
