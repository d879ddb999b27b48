//! The pool's inventory: every VM and user template with what an operator
//! needs to choose one (uuid, power state, guest OS, firmware, disks, NICs).
//! Read-only: five `get_all_records` calls under one session.

use std::time::Duration;

use hype_types::{DiskBus, PowerState, SourceDisk, SourceNic, SourceVm};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::rpc::as_u64;
use crate::{vm_firmware, Session, XcpngError};

/// Bounds the whole listing: a pool that stops answering must not hold
/// the API call forever.
const LIST_TIMEOUT: Duration = Duration::from_secs(120);

/// Lists the pool's VMs and the templates users made (not XCP-ng's own
/// `default_template`s, of which every pool has a hundred), sorted by name.
pub async fn list_vms(
    url: &str,
    username: &str,
    password: &str,
    insecure: bool,
) -> Result<Vec<SourceVm>, XcpngError> {
    let cancel = CancellationToken::new();
    let timer = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(LIST_TIMEOUT).await;
            cancel.cancel();
        })
    };
    let out = async {
        let s = Session::login(url, username, password, insecure, &cancel).await?;
        let listed = read_all(&s).await;
        s.logout().await;
        listed
    }
    .await;
    timer.abort();
    let mut vms = out.map_err(|e| match e {
        XcpngError::Cancelled => XcpngError::Protocol {
            method: "get_all_records".into(),
            why: format!(
                "the inventory was not read within {} s",
                LIST_TIMEOUT.as_secs()
            ),
        },
        e => e,
    })?;
    vms.sort_by(|a, b| (&a.name, &a.uuid).cmp(&(&b.name, &b.uuid)));
    Ok(vms)
}

async fn all(s: &Session, class: &str) -> Result<serde_json::Map<String, Value>, XcpngError> {
    let method = format!("{class}.get_all_records");
    match s.call(&method, &[]).await? {
        Value::Object(m) => Ok(m),
        _ => Err(XcpngError::Protocol {
            method,
            why: "not a map".into(),
        }),
    }
}

async fn read_all(s: &Session) -> Result<Vec<SourceVm>, XcpngError> {
    let vms = all(s, "VM").await?;
    let vbds = all(s, "VBD").await?;
    let vdis = all(s, "VDI").await?;
    let vifs = all(s, "VIF").await?;
    let networks = all(s, "network").await?;
    let metrics = all(s, "VM_guest_metrics").await?;
    let str_of = |v: &Value, k: &str| v[k].as_str().map(str::to_string).filter(|s| !s.is_empty());
    let mut out = vec![];
    for rec in vms.values() {
        let flag = |k: &str| rec[k].as_bool().unwrap_or(false);
        if flag("is_control_domain") || flag("is_a_snapshot") {
            continue;
        }
        let template = flag("is_a_template");
        if template && rec["other_config"]["default_template"].as_str() == Some("true") {
            continue;
        }
        let mut disks: Vec<(u64, SourceDisk)> = vec![];
        for r in rec["VBDs"].as_array().into_iter().flatten() {
            let Some(vbd) = r.as_str().and_then(|r| vbds.get(r)) else {
                continue;
            };
            let Some(vdi) = vbd["VDI"].as_str().and_then(|r| vdis.get(r)) else {
                continue;
            };
            if vbd["type"].as_str() != Some("Disk") {
                continue;
            }
            let dev = str_of(vbd, "userdevice").unwrap_or_default();
            disks.push((
                dev.parse().unwrap_or(u64::MAX),
                SourceDisk {
                    size_bytes: as_u64(&vdi["virtual_size"]).unwrap_or(0),
                    bus: DiskBus::Xen,
                    slot: dev,
                    label: str_of(vdi, "name_label"),
                },
            ));
        }
        // The boot disk first, as an export orders them.
        disks.sort_by_key(|(d, _)| *d);
        let mut nics: Vec<(u64, SourceNic)> = vec![];
        for r in rec["VIFs"].as_array().into_iter().flatten() {
            let Some(vif) = r.as_str().and_then(|r| vifs.get(r)) else {
                continue;
            };
            let network = vif["network"]
                .as_str()
                .and_then(|n| networks.get(n))
                .and_then(|n| str_of(n, "name_label"));
            nics.push((
                as_u64(&vif["device"]).unwrap_or(u64::MAX),
                SourceNic {
                    model: "xen".into(),
                    mac: str_of(vif, "MAC"),
                    network,
                },
            ));
        }
        nics.sort_by_key(|(d, _)| *d);
        let guest_os = rec["guest_metrics"]
            .as_str()
            .and_then(|m| metrics.get(m))
            .and_then(|m| str_of(&m["os_version"], "name"))
            .or_else(|| str_of(&rec["other_config"], "base_template_name"));
        out.push(SourceVm {
            name: str_of(rec, "name_label").unwrap_or_default(),
            path: None,
            uuid: str_of(rec, "uuid"),
            power_state: match rec["power_state"].as_str() {
                Some("Running") => PowerState::On,
                Some("Halted") => PowerState::Off,
                Some("Suspended") => PowerState::Suspended,
                Some("Paused") => PowerState::Paused,
                _ => PowerState::Unknown,
            },
            guest_os,
            firmware: vm_firmware(rec).ok(),
            template,
            cpus: crate::vm_shape(rec).cpus,
            memory_mb: crate::vm_shape(rec).memory_mb,
            disks: disks.into_iter().map(|(_, d)| d).collect(),
            nics: nics.into_iter().map(|(_, n)| n).collect(),
        });
    }
    Ok(out)
}
