//! `hype images import vsphere|xcpng --list`: what the source holds, as a
//! table or JSON; `--pick`: the same list in hype-tui's picker, the picked
//! VMs turned into job bodies. The password comes from this shell's
//! environment, as for an import; without it hyped uses its own (if its
//! rules allow).

use anyhow::Result;
use hype_client::Client;
use hype_types::{Inventory, SourceKind};
use serde_json::{json, Value};

use crate::cli::ImportCommand;
use crate::output::{self, Format, Table};

/// The inventory request for the source an import command names.
pub fn inventory_body(cmd: &ImportCommand) -> Value {
    let (kind, common) = match cmd {
        ImportCommand::Vsphere(a) => (SourceKind::Vsphere, &a.common),
        ImportCommand::Xcpng(a) => (SourceKind::Xcpng, &a.common),
    };
    let mut body = json!({"kind": kind.as_str(), "url": common.url, "username": common.username,
        "insecure": common.insecure});
    if let Ok(p) = std::env::var(kind.job_kind().password_env()) {
        if !p.is_empty() {
            body["password"] = json!(p);
        }
    }
    body
}

pub async fn list(client: &Client, out: Format, cmd: &ImportCommand) -> Result<()> {
    let inv = client.source_inventory(&inventory_body(cmd)).await?;
    match out {
        Format::Table => Ok(output::print(&inventory_table(&inv))?),
        Format::Json => output::print_json(&inv),
    }
}

/// The job bodies of the VMs the user picks (`None`: cancelled), each the
/// command's own body (boot, firmware, transport, insecure, ...) naming one
/// VM and the image after it. The terminal is checked before the source is
/// asked, so a script learns at once that `--pick` is not for it.
pub async fn pick(client: &Client, cmd: &ImportCommand) -> Result<Option<Vec<Value>>> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(hype_tui::TuiError::PickNeedsTerminal.into());
    }
    let inv = client.source_inventory(&inventory_body(cmd)).await?;
    let title = format!("{} {}", inv.kind.as_str(), inv.url);
    let opts = hype_tui::Options::from_env();
    let Some(vms) = hype_tui::pick(&title, inv.vms, &opts).await? else {
        return Ok(None);
    };
    let kind = inv.kind;
    let base = crate::jobs::import_body(cmd);
    vms.iter()
        .map(|vm| {
            let (by, image) = hype_tui::picker::job_target(kind, vm).map_err(anyhow::Error::msg)?;
            let mut body = base.clone();
            body["vm"] = json!(by);
            body["name"] = json!(image);
            Ok(body)
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// One row per VM; a template says so in TYPE. vSphere VMs show their
/// inventory path, XCP-ng VMs their uuid (what a job's `vm` takes).
pub fn inventory_table(inv: &Inventory) -> String {
    let mut t = Table::new(&[
        "NAME", "TYPE", "POWER", "GUEST OS", "FIRMWARE", "CPU", "MEMORY", "DISKS", "NICS", "VM",
    ]);
    for v in &inv.vms {
        let disks = v
            .disks
            .iter()
            .map(|d| {
                let bus = serde_json::to_value(d.bus)
                    .ok()
                    .and_then(|b| b.as_str().map(str::to_owned))
                    .unwrap_or_default();
                format!("{} {bus}", output::human_size(d.size_bytes))
            })
            .collect::<Vec<_>>();
        let nics = v.nics.iter().map(|n| n.model.clone()).collect::<Vec<_>>();
        let list = |l: Vec<String>| {
            if l.is_empty() {
                "-".to_owned()
            } else {
                l.join(", ")
            }
        };
        t.row(vec![
            v.name.clone(),
            if v.template { "template" } else { "vm" }.into(),
            v.power_state.as_str().into(),
            v.guest_os.clone().unwrap_or_else(|| "-".into()),
            v.firmware
                .map(|f| f.as_str().to_owned())
                .unwrap_or_else(|| "-".into()),
            v.cpus.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
            v.memory_mb
                .map(|m| output::human_size(m << 20))
                .unwrap_or_else(|| "-".into()),
            list(disks),
            list(nics),
            v.path
                .clone()
                .or_else(|| v.uuid.clone())
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    t.render()
}
