//! `hype vms exec`: a command in a guest over hyped's exec WebSocket, with
//! this terminal's stdin (`-i`), a PTY in raw mode whose size follows this
//! window (`-t`), and the command's exit status as this one's.

use std::io::{IsTerminal, Read, Write};

use anyhow::{bail, Result};
use hype_client::{Client, ExecFrame};
use hype_types::{ExecControl, ExecStreamQuery};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use crate::cli::ExecArgs;

pub async fn run(client: &Client, args: ExecArgs) -> Result<u8> {
    if args.tty && !std::io::stdin().is_terminal() {
        bail!("the input device is not a TTY; leave out -t");
    }
    let size = if args.tty {
        crossterm::terminal::size().ok()
    } else {
        None
    };
    let q = ExecStreamQuery {
        cmd: args.cmd,
        env: args.env,
        cwd: args.workdir,
        user: args.user,
        tty: args.tty,
        rows: size.map(|(_, rows)| rows),
        cols: size.map(|(cols, _)| cols),
        stdin: args.interactive,
        timeout_seconds: args.timeout,
    };
    let (mut writer, mut reader) = client.exec_socket(&args.name, &q).await?;
    let _raw = if args.tty {
        Some(RawMode::enable()?)
    } else {
        None
    };
    let mut input = if args.interactive {
        Some(read_stdin())
    } else {
        None
    };
    let mut winch = signal(SignalKind::window_change())?;
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    loop {
        tokio::select! {
            frame = reader.next() => match frame {
                Some(Ok(ExecFrame::Stdout(b))) => { out.write_all(&b)?; out.flush()?; }
                Some(Ok(ExecFrame::Stderr(b))) => { err.write_all(&b)?; err.flush()?; }
                Some(Ok(ExecFrame::Exit { code, signal, .. })) => {
                    return Ok(status(code, signal.as_deref()));
                }
                // Raw mode or not, the line starts at the left.
                Some(Ok(ExecFrame::Error { message, .. })) => eprint!("hype: {message}\r\n"),
                Some(Err(e)) => return Err(e.into()),
                None => bail!("the connection to hyped ended before the command did"),
            },
            chunk = recv(&mut input) => match chunk {
                Some(bytes) => writer.stdin(bytes).await?,
                None => {
                    input = None;
                    // With a terminal, end of input is the terminal's own
                    // ^D, typed through; without, it closes stdin.
                    if !args.tty {
                        writer.control(&ExecControl::Eof).await?;
                    }
                }
            },
            _ = winch.recv(), if args.tty => {
                if let Ok((cols, rows)) = crossterm::terminal::size() {
                    writer.control(&ExecControl::Resize { rows, cols }).await?;
                }
            }
        }
    }
}

async fn recv(input: &mut Option<mpsc::Receiver<Vec<u8>>>) -> Option<Vec<u8>> {
    match input {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// stdin on a thread of its own: a blocking read must not hold up the
/// runtime's shutdown when the command ends first.
fn read_stdin() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(4);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; 32 << 10];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

/// The shell's convention: the exit code, or 128 + the signal's number.
fn status(code: Option<i32>, signal: Option<&str>) -> u8 {
    if let Some(code) = code {
        return u8::try_from(code & 0xff).unwrap_or(1);
    }
    let number = match signal.unwrap_or("") {
        "SIGHUP" => 1,
        "SIGINT" => 2,
        "SIGQUIT" => 3,
        "SIGABRT" => 6,
        "SIGKILL" => 9,
        "SIGUSR1" => 10,
        "SIGSEGV" => 11,
        "SIGUSR2" => 12,
        "SIGPIPE" => 13,
        "SIGALRM" => 14,
        "SIGTERM" => 15,
        _ => 1,
    };
    128 + number
}

/// The terminal in raw mode while it lives.
struct RawMode;

impl RawMode {
    fn enable() -> Result<Self> {
        crossterm::terminal::enable_raw_mode()?;
        Ok(Self)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

#[cfg(test)]
mod tests {
    use super::status;

    #[test]
    fn statuses_follow_the_shell() {
        assert_eq!(status(Some(3), None), 3);
        assert_eq!(status(None, Some("SIGKILL")), 137);
        assert_eq!(status(None, Some("SIGINT")), 130);
    }
}
