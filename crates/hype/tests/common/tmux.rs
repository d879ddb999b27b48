//! A terminal for the tests that drive a screen: a tmux server of the
//! test's own, typed into with `send-keys` and read with `capture-pane`.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// A tmux server of its own (its socket in the test's directory), killed
/// when dropped, so a failing test leaves no terminal or dashboard behind.
pub struct Tmux {
    socket: std::path::PathBuf,
}

impl Tmux {
    pub fn new(dir: &std::path::Path) -> Self {
        Self {
            socket: dir.join("tmux.sock"),
        }
    }

    pub fn tmux(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .context("run tmux (scripts/install-deps.sh installs it)")?;
        anyhow::ensure!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Starts `hype tui` in session `name` of an 80x24 terminal.
    pub fn start(&self, name: &str, base: &str, env: &str) -> anyhow::Result<()> {
        let cmd = format!(
            "env HYPE_API_BASE={base} {env} {} tui",
            env!("CARGO_BIN_EXE_hype")
        );
        self.run(name, (80, 24), &cmd, &[])
    }

    /// Runs the shell command `cmd` in a new session `name` of a `size`
    /// terminal. `envs` go to the tmux server that the first session
    /// starts, whose environment every session then starts with: a secret
    /// passed so is on no command line (`new-session -e` would put it on
    /// tmux's).
    pub fn run(
        &self,
        name: &str,
        size: (u16, u16),
        cmd: &str,
        envs: &[(&str, &str)],
    ) -> anyhow::Result<()> {
        let (x, y) = (size.0.to_string(), size.1.to_string());
        let mut args = vec!["new-session", "-d", "-s", name, "-x", &x, "-y", &y];
        args.push(cmd);
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(&args)
            .envs(envs.iter().copied())
            .output()
            .context("run tmux (scripts/install-deps.sh installs it)")?;
        anyhow::ensure!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    pub fn keys(&self, name: &str, keys: &[&str]) -> anyhow::Result<()> {
        let mut args = vec!["send-keys", "-t", name];
        args.extend_from_slice(keys);
        self.tmux(&args)?;
        // Let a key land on its own: Esc followed at once by a key reads
        // as Alt and that key.
        std::thread::sleep(Duration::from_millis(150));
        Ok(())
    }

    /// Types `text` literally.
    pub fn type_text(&self, name: &str, text: &str) -> anyhow::Result<()> {
        self.keys(name, &["-l", text])
    }

    pub fn screen(&self, name: &str) -> anyhow::Result<String> {
        self.tmux(&["capture-pane", "-p", "-t", name])
    }

    /// The screen with its escape sequences (colours, bold, reverse).
    pub fn screen_styled(&self, name: &str) -> anyhow::Result<String> {
        self.tmux(&["capture-pane", "-p", "-e", "-t", name])
    }

    /// Waits until the screen satisfies `ok`; returns that screen.
    pub fn wait(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        ok: impl Fn(&str) -> bool,
    ) -> anyhow::Result<String> {
        let until = Instant::now() + timeout;
        loop {
            let s = self.screen(name)?;
            if ok(&s) {
                return Ok(s);
            }
            if Instant::now() > until {
                bail!("timed out waiting for {what}; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn alive(&self, name: &str) -> bool {
        self.tmux(&["has-session", "-t", name]).is_ok()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}
