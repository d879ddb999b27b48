//! `hype snapshots create|list|get|delete`, and how forks are printed.

use anyhow::{bail, Result};
use hype_client::Client;
use hype_types::{ForkResult, Snapshot, SnapshotList};
use serde_json::json;
use time::OffsetDateTime;

use crate::cli::SnapshotsCommand;
use crate::output::{self, Format, Table};

pub async fn run(client: &Client, out: Format, cmd: SnapshotsCommand) -> Result<()> {
    match cmd {
        SnapshotsCommand::Create { vm, name } => {
            let s = client.create_snapshot(&vm, &name).await?;
            print(out, &[s])?;
        }
        SnapshotsCommand::List => {
            let snapshots = client.list_snapshots().await?;
            match out {
                Format::Table => print(out, &snapshots)?,
                Format::Json => output::print_json(&SnapshotList { snapshots })?,
            }
        }
        SnapshotsCommand::Get { name } => {
            let s = client.get_snapshot(&name).await?;
            print(out, &[s])?;
        }
        SnapshotsCommand::Delete { name } => {
            client.delete_snapshot(&name).await?;
            match out {
                Format::Table => output::print(&format!("deleted {name}\n"))?,
                Format::Json => output::print_json(&json!({ "deleted": name }))?,
            }
        }
    }
    Ok(())
}

fn print(out: Format, snapshots: &[Snapshot]) -> Result<()> {
    if out == Format::Json {
        return match snapshots {
            [one] => output::print_json(one),
            many => output::print_json(&many),
        };
    }
    let now = OffsetDateTime::now_utc();
    let mut t = Table::new(&[
        "NAME", "VM", "IMAGE", "CPU", "MEMORY", "SIZE", "FORKS", "AGE",
    ]);
    for s in snapshots {
        t.row(vec![
            s.name.clone(),
            s.vm.clone(),
            s.image.clone(),
            s.cpu_cores.to_string(),
            format!("{} MiB", s.memory_mb),
            output::human_size(s.size_bytes),
            s.forks.len().to_string(),
            output::age_since(&s.created_at, now),
        ]);
    }
    Ok(output::print(&t.render())?)
}

/// The forks made and those that failed; an error (exit status 1) when
/// any failed.
pub fn print_forks(out: Format, made: &ForkResult) -> Result<()> {
    match out {
        Format::Json => output::print_json(made)?,
        Format::Table => {
            output::print(&output::vm_table(&made.vms, OffsetDateTime::now_utc()))?;
            for f in &made.failed {
                eprintln!("{}: {}", f.name, f.error.message);
            }
        }
    }
    if !made.failed.is_empty() {
        bail!(
            "{} of {} forks failed",
            made.failed.len(),
            made.failed.len() + made.vms.len()
        );
    }
    Ok(())
}
