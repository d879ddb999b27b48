//! `hype images list|get|delete`.

use anyhow::Result;
use hype_client::Client;
use hype_types::ImageList;
use serde_json::json;
use time::OffsetDateTime;

use crate::cli::ImagesCommand;
use crate::output::{self, Format};

pub async fn run(client: &Client, out: Format, cmd: ImagesCommand) -> Result<()> {
    let now = OffsetDateTime::now_utc();
    match cmd {
        ImagesCommand::List => {
            let images = client.list_images().await?;
            match out {
                Format::Table => output::print(&output::image_table(&images, now))?,
                Format::Json => output::print_json(&ImageList { images })?,
            }
        }
        ImagesCommand::Get { name } => {
            let image = client.get_image(&name).await?;
            match out {
                Format::Table => output::print(&output::image_table(&[image], now))?,
                Format::Json => output::print_json(&image)?,
            }
        }
        ImagesCommand::Delete { name } => {
            client.delete_image(&name).await?;
            match out {
                Format::Table => output::print(&format!("deleted {name}\n"))?,
                Format::Json => output::print_json(&json!({ "deleted": name }))?,
            }
        }
        ImagesCommand::Import(cmd) => crate::jobs::import(client, out, cmd).await?,
    }
    Ok(())
}
