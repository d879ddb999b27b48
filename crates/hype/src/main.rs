//! `hype`, the command-line client of hyped. This file only parses the
//! command line, builds the API client, dispatches to the command modules
//! and turns an error into a message and an exit status; what each command
//! does lives in its own module, and how things look in `output`.

mod cli;
mod cp;
mod exec;
mod images;
mod jobs;
mod mcp;
mod output;
mod pools;
mod recordings;
mod setup;
mod snapshots;
mod sources;
mod status;
mod system;
mod vms;
mod watch;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let client = hype_client::Client::new(cli.api_base, cli.api_key.filter(|k| !k.is_empty()));
    let out = cli.output;
    let result = match cli.command {
        // The command's own exit status is passed through.
        Command::Vms(cli::VmsCommand::Exec(args)) => {
            return match exec::run(&client, args).await {
                Ok(code) => ExitCode::from(code),
                Err(e) => system::report(&e),
            }
        }
        Command::Vms(cmd) => vms::run(&client, out, cmd).await,
        Command::Images(cmd) => images::run(&client, out, cmd).await,
        Command::Version => system::version(&client, out).await,
        Command::Status => status::run(&client, out).await,
        Command::Setup(args) => setup::run(out, args).await,
        Command::Tui => hype_tui::run(
            client,
            hype_tui::Options::from_env(),
            hype_tui::CancellationToken::new(),
        )
        .await
        .map_err(Into::into),
        Command::Jobs(cmd) => jobs::run(&client, out, cmd).await,
        Command::Snapshots(cmd) => snapshots::run(&client, out, cmd).await,
        Command::Pools(cmd) => pools::run(&client, out, cmd).await,
        Command::Recordings(cmd) => recordings::run(&client, out, cmd).await,
        Command::Mcp { caps } => mcp::run(client, caps).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => system::report(&e),
    }
}
