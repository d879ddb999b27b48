//! `hype`, the command-line client of hyped. This file only parses the
//! command line, builds the API client, dispatches to the command modules
//! and turns an error into a message and an exit status; what each command
//! does lives in its own module, and how things look in `output`.

mod cli;
mod images;
mod mcp;
mod output;
mod setup;
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
        Command::Vms(cmd) => vms::run(&client, out, cmd).await,
        Command::Images(cmd) => images::run(&client, out, cmd).await,
        Command::Version => system::version(&client, out).await,
        Command::Setup(args) => setup::run(out, args).await,
        Command::Mcp => mcp::run(client).await,
        Command::Tui(_) | Command::Jobs(_) => system::not_available(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => system::report(&e),
    }
}
