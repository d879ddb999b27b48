//! `hype recordings list|get|delete`.

use anyhow::Result;
use hype_client::Client;
use hype_types::{Recording, RecordingList};
use serde_json::json;

use crate::cli::RecordingsCommand;
use crate::output::{self, Format, Table};

pub async fn run(client: &Client, out: Format, cmd: RecordingsCommand) -> Result<()> {
    match cmd {
        RecordingsCommand::List { vm } => {
            let items = client.list_recordings(&vm).await?;
            match out {
                Format::Table => print(&items)?,
                Format::Json => output::print_json(&RecordingList { items })?,
            }
        }
        RecordingsCommand::Get { id } => {
            let r = client.get_recording(&id).await?;
            match out {
                Format::Table => {
                    print(std::slice::from_ref(&r))?;
                    output::print(&format!("replay: {}\n", r.replay_url))?;
                }
                Format::Json => output::print_json(&r)?,
            }
        }
        RecordingsCommand::Delete { id } => {
            client.delete_recording(&id).await?;
            match out {
                Format::Table => output::print(&format!("deleted {id}\n"))?,
                Format::Json => output::print_json(&json!({ "deleted": id }))?,
            }
        }
    }
    Ok(())
}

fn print(items: &[Recording]) -> Result<()> {
    let mut t = Table::new(&[
        "ID", "VM", "STARTED", "ENDED", "EVENTS", "PAGES", "SIZE", "NOTE",
    ]);
    for r in items {
        t.row(vec![
            r.id.clone(),
            r.vm.clone(),
            r.started_at.clone(),
            r.ended_at.clone().unwrap_or_else(|| "recording".into()),
            r.events.to_string(),
            r.pages.to_string(),
            output::human_size(r.size_bytes),
            r.note.clone().unwrap_or_default(),
        ]);
    }
    Ok(output::print(&t.render())?)
}
