//! `hype vms ...`: list, create (and wait for the guest), get, delete, the
//! lifecycle actions and the serial console. `watch` lives in `watch.rs`.

use std::time::Duration;

use anyhow::{bail, Result};
use hype_client::Client;
use hype_types::{CreateVm, Vm, VmList, VmState};
use serde_json::json;
use time::OffsetDateTime;

use crate::cli::{CreateArgs, VmsCommand};
use crate::output::{self, Format};
use crate::watch;

pub async fn run(client: &Client, out: Format, cmd: VmsCommand) -> Result<()> {
    match cmd {
        VmsCommand::List { state } => {
            let vms = client.list_vms(state.as_deref()).await?;
            match out {
                Format::Table => output::print(&output::vm_table(&vms, now()))?,
                Format::Json => output::print_json(&VmList { vms, next: None })?,
            }
        }
        VmsCommand::Create(args) => create(client, out, args).await?,
        VmsCommand::Get { name } => {
            let vm = client.get_vm(&name).await?;
            match out {
                Format::Table => output::print(&output::vm_detail(&vm, now()))?,
                Format::Json => output::print_json(&vm)?,
            }
        }
        VmsCommand::Delete { name } => {
            client.delete_vm(&name).await?;
            match out {
                Format::Table => output::print(&format!("deleted {name}\n"))?,
                Format::Json => output::print_json(&json!({ "deleted": name }))?,
            }
        }
        VmsCommand::Start { name } => action(client, out, &name, "start").await?,
        VmsCommand::Stop { name } => action(client, out, &name, "stop").await?,
        VmsCommand::Pause { name } => action(client, out, &name, "pause").await?,
        VmsCommand::Resume { name } => action(client, out, &name, "resume").await?,
        VmsCommand::Snapshot { name } => action(client, out, &name, "snapshot").await?,
        VmsCommand::Restore { name } => action(client, out, &name, "restore").await?,
        VmsCommand::Fork {
            vm,
            name,
            count,
            ttl,
        } => {
            let req = hype_types::ForkVm {
                name,
                count,
                ttl_seconds: ttl,
                idle_timeout_seconds: None,
            };
            let made = client.fork_vm(&vm, &req).await?;
            crate::snapshots::print_forks(out, &made)?;
        }
        VmsCommand::Watch { name } => watch::watch(client, out, name.as_deref()).await?,
        VmsCommand::Exec(_) => unreachable!("main runs exec, for its exit status"),
        VmsCommand::Cp {
            source,
            destination,
        } => crate::cp::run(client, out, &source, &destination).await?,
        VmsCommand::Logs { name, follow } => logs(client, out, &name, follow).await?,
        VmsCommand::LiveLink {
            name,
            expires_in,
            interactive,
        } => {
            let req = hype_types::CreateLiveLink {
                expires_in,
                interactive,
            };
            let link = client.create_live_link(&name, &req).await?;
            match out {
                Format::Table => output::print(&format!("{}\n", link.url))?,
                Format::Json => output::print_json(&link)?,
            }
        }
    }
    Ok(())
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn print_vm(out: Format, vm: &Vm) -> Result<()> {
    match out {
        Format::Table => output::print(&output::vm_table(std::slice::from_ref(vm), now()))?,
        Format::Json => output::print_json(vm)?,
    }
    Ok(())
}

async fn action(client: &Client, out: Format, name: &str, action: &str) -> Result<()> {
    let vm = client.vm_action(name, action).await?;
    print_vm(out, &vm)
}

async fn create(client: &Client, out: Format, args: CreateArgs) -> Result<()> {
    let req = CreateVm {
        name: args.name,
        cpu_cores: args.cpu,
        memory_mb: args.memory,
        image: args.image,
        kernel_cmdline: args.kernel_cmdline,
        vmm: args.vmm.into(),
        network: args
            .no_egress
            .then_some(hype_types::NetworkSpec { egress: false }),
        ttl_seconds: args.ttl,
        idle_timeout_seconds: args.idle_timeout,
        persist: args.persist,
        record: args.record,
        snapshot: args.snapshot,
        count: None,
        pool: match (args.pool, args.no_pool) {
            (Some(p), _) => Some(hype_types::PoolChoice::Name(p)),
            (None, true) => Some(hype_types::PoolChoice::Flag(false)),
            (None, false) => None,
        },
    };
    let created = client.create_vm(&req).await?;
    let progress = out == Format::Table;
    if progress {
        eprintln!("{}: created ({})", created.name, created.state);
    }
    if args.no_wait {
        return print_vm(out, &created);
    }
    // Already running: done. Otherwise the VM's events, replayed from the
    // start, tell what happened since the POST and, if it failed, why.
    if client.get_vm(&created.name).await?.state != VmState::Running {
        let timeout = Duration::from_secs(args.timeout);
        let waiting = watch::until_running(client, &created, progress);
        if let Ok(done) = tokio::time::timeout(timeout, waiting).await {
            done?;
        } else {
            let state = match client.get_vm(&created.name).await {
                Ok(vm) => vm.state.to_string(),
                Err(_) => "unknown".into(),
            };
            bail!(
                "{} is not running after {}s (state: {state}); it keeps booting, see `hype vms logs {}`",
                created.name,
                args.timeout,
                created.name
            );
        }
    }
    print_vm(out, &client.get_vm(&created.name).await?)
}

async fn logs(client: &Client, out: Format, name: &str, follow: bool) -> Result<()> {
    if !follow {
        let text = client.logs(name).await?;
        match out {
            Format::Table => output::print(&text)?,
            Format::Json => output::print_json(&json!({ "vm": name, "log": text }))?,
        }
        return Ok(());
    }
    let mut stream = client.follow_logs(name).await?;
    while let Some(frame) = stream.next().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => bail!("the log stream of {name} broke: {e}"),
        };
        match frame.event.as_deref() {
            Some("log") => match out {
                Format::Table => output::print(&format!("{}\n", frame.data))?,
                Format::Json => {
                    output::print_json_line(&json!({ "vm": name, "line": frame.data }))?
                }
            },
            Some("end") => {
                eprintln!("{name}: {}", frame.data);
                break;
            }
            _ => {}
        }
    }
    Ok(())
}
