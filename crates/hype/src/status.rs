//! `hype status`: hyped and its host at a glance, as `docker info` gives it.

use anyhow::Result;
use hype_client::Client;
use hype_types::{StateCount, StatusInfo};

use crate::output::{self, Format};

pub async fn run(client: &Client, out: Format) -> Result<()> {
    let s = client.status().await?;
    match out {
        Format::Table => Ok(output::print(&status_text(&s))?),
        Format::Json => output::print_json(&s),
    }
}

/// `running 2, stopped 1` (states with none left out; `none` when empty).
fn counts(c: &[StateCount]) -> String {
    let parts: Vec<String> = c
        .iter()
        .filter(|s| s.count > 0)
        .map(|s| format!("{} {}", s.state, s.count))
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

pub fn status_text(s: &StatusInfo) -> String {
    let disk = |d: &hype_types::DiskSpace| {
        format!(
            "{} free of {} ({})",
            output::human_size(d.available_bytes),
            output::human_size(d.total_bytes),
            d.path
        )
    };
    let mut out = format!(
        "Server:       hyped {}\nUp:           {} (since {})\nVMs:          {}\nJobs:         {}\n",
        s.server,
        output::age(s.uptime_seconds as i64),
        s.started_at,
        counts(&s.vms),
        counts(&s.jobs),
    );
    out.push_str(&format!(
        "Memory:       {} available of {}; VMs hold {}\n",
        output::human_size(s.memory.available_bytes),
        output::human_size(s.memory.total_bytes),
        output::human_size(s.memory.vms_mb << 20),
    ));
    out.push_str(&format!("VM disk:      {}\n", disk(&s.vm_disk)));
    out.push_str(&format!("Images disk:  {}\n", disk(&s.images_disk)));
    out.push_str(&format!(
        "Accelerator:  {} ({})\n",
        s.accel.mode, s.accel.reason
    ));
    let net = &s.network;
    let state = if net.enabled {
        format!(
            "on, bridge {} subnet {}",
            net.bridge.as_deref().unwrap_or("-"),
            net.subnet.as_deref().unwrap_or("-")
        )
    } else {
        "off".into()
    };
    out.push_str(&format!("Network:      {state}\n"));
    if net.problems.is_empty() {
        out.push_str("Problems:     none\n");
    } else {
        out.push_str("Problems:\n");
        for p in &net.problems {
            out.push_str(&format!("  - {p}\n"));
        }
    }
    out
}
