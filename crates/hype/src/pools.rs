//! `hype pools create|list|get|delete`.

use anyhow::Result;
use hype_client::Client;
use hype_types::{CreatePool, Pool, PoolList};
use serde_json::json;
use time::OffsetDateTime;

use crate::cli::PoolsCommand;
use crate::output::{self, Format, Table};

pub async fn run(client: &Client, out: Format, cmd: PoolsCommand) -> Result<()> {
    match cmd {
        PoolsCommand::Create {
            name,
            image,
            cpu,
            memory,
            size,
        } => {
            let req = CreatePool {
                name,
                image,
                cpu_cores: cpu,
                memory_mb: memory,
                size,
            };
            let p = client.create_pool(&req).await?;
            print(out, &[p])?;
        }
        PoolsCommand::List => {
            let pools = client.list_pools().await?;
            match out {
                Format::Table => print(out, &pools)?,
                Format::Json => output::print_json(&PoolList { pools })?,
            }
        }
        PoolsCommand::Get { name } => {
            let p = client.get_pool(&name).await?;
            let vms = client.list_pool_vms(&name).await?;
            match out {
                Format::Json => output::print_json(&json!({ "pool": p, "vms": vms }))?,
                Format::Table => {
                    print(out, &[p])?;
                    if !vms.is_empty() {
                        output::print("\n")?;
                        output::print(&output::vm_table(&vms, OffsetDateTime::now_utc()))?;
                    }
                }
            }
        }
        PoolsCommand::Delete { name } => {
            client.delete_pool(&name).await?;
            match out {
                Format::Table => output::print(&format!("deleted {name}\n"))?,
                Format::Json => output::print_json(&json!({ "deleted": name }))?,
            }
        }
    }
    Ok(())
}

fn print(out: Format, pools: &[Pool]) -> Result<()> {
    if out == Format::Json {
        return match pools {
            [one] => output::print_json(one),
            many => output::print_json(&many),
        };
    }
    let now = OffsetDateTime::now_utc();
    let mut t = Table::new(&[
        "NAME", "IMAGE", "CPU", "MEMORY", "READY", "STATE", "CLAIMS", "MISSES", "AGE",
    ]);
    for p in pools {
        let state = match &p.error {
            Some(e) => format!("{}: {e}", state_name(p)),
            None => state_name(p).into(),
        };
        t.row(vec![
            p.name.clone(),
            p.image.clone(),
            p.cpu_cores.to_string(),
            format!("{} MiB", p.memory_mb),
            format!("{}/{}", p.ready, p.size),
            state,
            p.claims.to_string(),
            p.misses.to_string(),
            output::age_since(&p.created_at, now),
        ]);
    }
    Ok(output::print(&t.render())?)
}

fn state_name(p: &Pool) -> &'static str {
    match p.state {
        hype_types::PoolState::Building => "building",
        hype_types::PoolState::Filling => "filling",
        hype_types::PoolState::Ready => "ready",
        hype_types::PoolState::Failing => "failing",
    }
}
