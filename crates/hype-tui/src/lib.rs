//! `hype tui`: a live terminal dashboard of one hyped, built on ratatui and
//! crossterm. It owns the screen (an `App` state changed only by messages,
//! drawn by a pure `ui::render`) and the tasks that feed it: the VM and
//! job event streams, the periodic VM list, the keyboard. It talks to
//! hyped only through `hype-client` and never formats for the plain CLI.

pub mod app;
pub mod form;
pub mod input;
pub mod jobs;
pub mod table;
mod tasks;
pub mod ui;

use std::time::Duration;

use futures::StreamExt;
use hype_client::Client;
use time::OffsetDateTime;
use tokio::sync::mpsc;
pub use tokio_util::sync::CancellationToken;

use crate::app::{App, Msg};
use crate::tasks::Runner;

#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("hype tui needs a terminal: run it interactively, or use `hype vms list` and `hype vms watch` in scripts")]
    NotATerminal,
    #[error("the terminal failed: {0}")]
    Terminal(#[from] std::io::Error),
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Colours; off when `NO_COLOR` is set to anything but "".
    pub color: bool,
    /// How often the VM list is fetched besides after each event.
    pub refresh: Duration,
}

impl Options {
    pub fn from_env() -> Self {
        Self {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            refresh: Duration::from_secs(2),
        }
    }
}

/// Runs the dashboard until the user quits (or `shutdown` is cancelled, or
/// the terminal goes away), then restores the terminal.
pub async fn run(
    client: Client,
    opts: Options,
    shutdown: CancellationToken,
) -> Result<(), TuiError> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(TuiError::NotATerminal);
    }
    let mut terminal = ratatui::try_init()?;
    let result = event_loop(&mut terminal, client, opts, shutdown).await;
    ratatui::try_restore()?;
    result
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    client: Client,
    opts: Options,
    shutdown: CancellationToken,
) -> Result<(), TuiError> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut runner = Runner::start(
        client.clone(),
        tx.clone(),
        shutdown.child_token(),
        opts.refresh,
    );
    runner.spawn(None, keys(tx, shutdown.clone()));
    runner.spawn(None, signals(shutdown.clone()));
    let mut app = App::new(client.base(), opts.color, OffsetDateTime::now_utc());
    let outcome = loop {
        if let Err(e) = terminal.draw(|f| ui::render(&app, f)) {
            break Err(e.into());
        }
        let msg = tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            m = rx.recv() => match m {
                Some(m) => m,
                None => break Ok(()),
            },
        };
        // Take whatever else is waiting before drawing again.
        let mut cmds = app.update(msg);
        while let Ok(m) = rx.try_recv() {
            cmds.extend(app.update(m));
        }
        for c in cmds {
            runner.exec(c);
        }
        if app.quit {
            break Ok(());
        }
    };
    runner.stop().await;
    outcome
}

/// Key presses and resizes; a terminal that is gone ends the dashboard.
async fn keys(tx: mpsc::UnboundedSender<Msg>, shutdown: CancellationToken) {
    let mut events = crossterm::event::EventStream::new();
    while let Some(Ok(ev)) = events.next().await {
        let msg = match ev {
            crossterm::event::Event::Key(k) => Msg::Key(k),
            crossterm::event::Event::Resize(..) => Msg::Resize,
            _ => continue,
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
    shutdown.cancel();
}

/// SIGTERM and SIGHUP (the terminal closed) end the dashboard cleanly.
async fn signals(shutdown: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = hup.recv() => {}
    }
    shutdown.cancel();
}
