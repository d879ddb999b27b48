//! `hype version`, and how an error becomes a message on stderr and an
//! exit status.

use std::process::ExitCode;

use anyhow::Result;
use hype_client::{Client, ClientError};
use hype_types::VersionInfo;
use serde::Serialize;

use crate::output::{self, Format};

const CLIENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// An error that carries its own exit status.
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    pub message: String,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

#[derive(Serialize)]
struct Versions {
    client: &'static str,
    server: VersionInfo,
}

pub async fn version(client: &Client, out: Format) -> Result<()> {
    let server = client.version().await;
    match (out, server) {
        (Format::Table, Ok(v)) => output::print(&output::version_text(CLIENT_VERSION, Some(&v)))?,
        (Format::Json, Ok(server)) => output::print_json(&Versions {
            client: CLIENT_VERSION,
            server,
        })?,
        (Format::Table, Err(e)) => {
            // As `docker version` does: what is known locally, then the error.
            output::print(&output::version_text(CLIENT_VERSION, None))?;
            return Err(e.into());
        }
        (Format::Json, Err(e)) => return Err(e.into()),
    }
    Ok(())
}

/// Prints `error: ...` and picks the exit status. A closed stdout (as under
/// `| head`) is not worth a message.
pub fn report(e: &anyhow::Error) -> ExitCode {
    if let Some(io) = e.downcast_ref::<std::io::Error>() {
        if io.kind() == std::io::ErrorKind::BrokenPipe {
            return ExitCode::SUCCESS;
        }
    }
    eprintln!("error: {}", message(e));
    match e.downcast_ref::<Exit>() {
        Some(exit) => ExitCode::from(exit.code),
        None => ExitCode::FAILURE,
    }
}

/// The error and its causes, joined by `: `, leaving out a cause whose text
/// the message before it already includes. A client error already says
/// all a user needs (the server's message, or which URL did not answer).
fn message(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !msg.contains(&text) {
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(&text);
        }
        if cause.is::<ClientError>() {
            break;
        }
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_already_said_are_not_repeated() {
        let e = anyhow::anyhow!("connection refused").context("cannot reach x: connection refused");
        assert_eq!(message(&e), "cannot reach x: connection refused");
        let e = anyhow::anyhow!("no such file").context("reading spec.yaml");
        assert_eq!(message(&e), "reading spec.yaml: no such file");
    }
}
