//! `hype tui`: a live terminal dashboard of one hyped, built on ratatui and
//! crossterm. It owns the screen (an `App` state changed only by messages,
//! drawn by a pure `ui::render`) and the tasks that feed it: the VM and
//! job event streams, the periodic VM list, the keyboard. It talks to
//! hyped only through `hype-client` and never formats for the plain CLI;
//! the one screen the CLI borrows is the VM picker (`pick`), so
//! `hype images import --pick` and the dashboard's import are one thing.

pub mod app;
pub mod form;
pub mod input;
pub mod jobs;
pub mod picker;
pub mod table;
mod tasks;
pub mod ui;

use std::time::Duration;

use futures::StreamExt;
use hype_client::Client;
use hype_types::SourceVm;
use time::OffsetDateTime;
use tokio::sync::mpsc;
pub use tokio_util::sync::CancellationToken;

use crate::app::{App, Msg};
use crate::picker::{Outcome, Picker};
use crate::tasks::Runner;

#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("hype tui needs a terminal: run it interactively, or use `hype vms list` and `hype vms watch` in scripts")]
    NotATerminal,
    #[error("--pick needs a terminal (stdin and stdout): use --list to see the source's VMs and --vm to import one, or `hype jobs submit` for several")]
    PickNeedsTerminal,
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

/// The picker over `vms`, full screen, for the CLI: the VMs picked when
/// the user presses Enter, `None` when they cancel (Esc, Ctrl-C, SIGTERM,
/// a closed terminal). The terminal is restored either way.
pub async fn pick(
    title: &str,
    vms: Vec<SourceVm>,
    opts: &Options,
) -> Result<Option<Vec<SourceVm>>, TuiError> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(TuiError::PickNeedsTerminal);
    }
    let mut terminal = ratatui::try_init()?;
    let shutdown = CancellationToken::new();
    let watch = tokio::spawn(signals(shutdown.clone()));
    let result = pick_loop(&mut terminal, Picker::new(title, vms), opts, &shutdown).await;
    watch.abort();
    ratatui::try_restore()?;
    result
}

async fn pick_loop(
    terminal: &mut ratatui::DefaultTerminal,
    mut picker: Picker,
    opts: &Options,
    shutdown: &CancellationToken,
) -> Result<Option<Vec<SourceVm>>, TuiError> {
    let theme = ui::theme::Theme { color: opts.color };
    let mut events = crossterm::event::EventStream::new();
    loop {
        terminal.draw(|f| ui::picker(&picker, theme, f))?;
        let ev = tokio::select! {
            _ = shutdown.cancelled() => return Ok(None),
            ev = events.next() => ev,
        };
        match ev {
            Some(Ok(crossterm::event::Event::Key(k))) => match picker.on_key(k) {
                Outcome::Open => {}
                Outcome::Cancel => return Ok(None),
                Outcome::Submit(vms) => return Ok(Some(vms)),
            },
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => return Ok(None),
        }
    }
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
