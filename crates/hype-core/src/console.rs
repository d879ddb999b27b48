//! A VM's serial console, `{run}/console.log`, written by its VMM (which
//! appends, so the file may shrink from the front under it) and read by
//! hyped only in bounded pieces: a guest that prints a gigabyte neither
//! fills the host's disk nor hyped's memory.
//!
//! The file is capped: once it passes [`CAP`], its oldest part is cut off
//! in place (`FALLOC_FL_COLLAPSE_RANGE`, which a concurrent append cannot
//! race), keeping the newest [`KEEP`] bytes; where the filesystem cannot
//! do that, it is emptied. How many bytes were dropped so far is kept in
//! `console.dropped`, so followers address output by its absolute offset
//! and neither repeat nor skip lines across a cut.

use std::io::{Read, Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hype_vmm::spec_files::CONSOLE_LOG;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{Hype, Result};

/// Above this size the console is cut.
pub(crate) const CAP: u64 = 16 << 20;
/// What a cut keeps (rounded to the filesystem's blocks).
const KEEP: u64 = 4 << 20;
/// How often supervisors check the size.
pub(crate) const CAP_CHECK: Duration = Duration::from_secs(2);
/// The most a tail request reads from the end of the file.
const TAIL_WINDOW: u64 = 1 << 20;
/// Longest line a follower sends; longer ones are split.
const MAX_LINE: usize = 16 << 10;
const FOLLOW_POLL: Duration = Duration::from_millis(200);
const DROPPED: &str = "console.dropped";

/// Bytes cut from the front of the console so far.
fn dropped(run_dir: &Path) -> u64 {
    std::fs::read_to_string(run_dir.join(DROPPED))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Cuts the console of `run_dir` back to its newest part if it is over
/// the cap. Errors are logged: the console is never worth a VM.
pub(crate) fn enforce_cap(run_dir: &Path) {
    let path = run_dir.join(CONSOLE_LOG);
    let Ok(f) = std::fs::OpenOptions::new().write(true).open(&path) else {
        return;
    };
    let Ok(len) = f.metadata().map(|m| m.len()) else {
        return;
    };
    if len <= CAP {
        return;
    }
    const BLOCK: u64 = 4096;
    let cut = (len - KEEP) / BLOCK * BLOCK;
    // SAFETY: fallocate on an open fd with in-range, block-aligned values.
    let r = unsafe {
        nix::libc::fallocate(
            f.as_raw_fd(),
            nix::libc::FALLOC_FL_COLLAPSE_RANGE,
            0,
            cut as nix::libc::off_t,
        )
    };
    let cut = if r == 0 {
        cut
    } else {
        // tmpfs and others cannot collapse: start over.
        if let Err(e) = f.set_len(0) {
            tracing::warn!(path = %path.display(), error = %e, "cannot cut the console");
            return;
        }
        len
    };
    let total = dropped(run_dir) + cut;
    let tmp = run_dir.join("console.dropped.tmp");
    if std::fs::write(&tmp, total.to_string())
        .and_then(|()| std::fs::rename(&tmp, run_dir.join(DROPPED)))
        .is_err()
    {
        tracing::warn!(path = %path.display(), "cannot record the console cut");
    }
    tracing::info!(path = %path.display(), cut, "console over its cap: oldest output dropped");
}

/// The last `max` bytes of `path` (all of it if shorter) and the file's
/// length.
fn read_tail(path: &Path, max: u64) -> std::io::Result<(Vec<u8>, u64)> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let from = len.saturating_sub(max);
    f.seek(SeekFrom::Start(from))?;
    let mut buf = Vec::with_capacity((len - from) as usize);
    f.take(max).read_to_end(&mut buf)?;
    Ok((buf, len))
}

/// How many bytes the console holds now (0 when there is none yet).
pub(crate) fn len(run_dir: &Path) -> u64 {
    std::fs::metadata(run_dir.join(CONSOLE_LOG)).map_or(0, |m| m.len())
}

/// The last non-empty line of the console, trimmed (for crash reasons).
pub(crate) fn last_line(run_dir: &Path) -> Option<String> {
    let (bytes, _) = read_tail(&run_dir.join(CONSOLE_LOG), 8 << 10).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| l.chars().take(300).collect())
}

/// Where in a console's output a reader is: bytes since the VM's first
/// boot, cuts included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleCursor(pub u64);

/// The newest part of a console.
#[derive(Debug, Clone)]
pub struct ConsoleTail {
    pub text: String,
    /// Just past `text`, for [`Hype::console_follow`].
    pub cursor: ConsoleCursor,
    /// Whether older output exists that is not in `text`.
    pub truncated: bool,
}

fn tail_of(run_dir: &Path, lines: Option<usize>) -> std::io::Result<ConsoleTail> {
    let base = dropped(run_dir);
    let (bytes, len) = match read_tail(&run_dir.join(CONSOLE_LOG), TAIL_WINDOW) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (vec![], 0),
        Err(e) => return Err(e),
    };
    let mut truncated = base > 0 || (bytes.len() as u64) < len;
    let text = String::from_utf8_lossy(&bytes);
    let text = match lines {
        Some(n) => {
            let all: Vec<&str> = text.lines().collect();
            let from = all.len().saturating_sub(n);
            truncated |= from > 0;
            all[from..].iter().map(|l| format!("{l}\n")).collect()
        }
        None => text.into_owned(),
    };
    Ok(ConsoleTail {
        text,
        cursor: ConsoleCursor(base + len),
        truncated,
    })
}

/// Reads what was appended after `cursor`, in pieces of at most 64 KiB;
/// returns the bytes and the new cursor.
fn read_after(run_dir: &Path, cursor: ConsoleCursor) -> std::io::Result<(Vec<u8>, ConsoleCursor)> {
    let base = dropped(run_dir);
    let mut f = std::fs::File::open(run_dir.join(CONSOLE_LOG))?;
    let len = f.metadata()?.len();
    // Cut past our position: carry on from the oldest byte still there.
    let mut at = cursor.0.max(base) - base;
    if at > len {
        // Emptied under us (a cut that could not collapse).
        at = 0;
    }
    f.seek(SeekFrom::Start(at))?;
    let mut buf = vec![];
    (&mut f).take(64 << 10).read_to_end(&mut buf)?;
    let end = base + at + buf.len() as u64;
    Ok((buf, ConsoleCursor(end)))
}

impl Hype {
    /// The VM's run directory (keyed by its first name, which a VM handed
    /// out of a warm pool no longer has).
    async fn console_dir(&self, name: &str) -> Result<PathBuf> {
        let rec = self.inner.store.get_vm(name).await?;
        Ok(self.inner.cfg.vm_dir(&rec))
    }

    /// The newest console output of a VM: the last `lines` lines, or all
    /// that is kept, at most 1 MiB either way.
    pub async fn console_tail(&self, name: &str, lines: Option<usize>) -> Result<ConsoleTail> {
        let dir = self.console_dir(name).await?;
        let path = dir.join(CONSOLE_LOG);
        let t = tokio::task::spawn_blocking(move || tail_of(&dir, lines))
            .await
            .expect("console reads do not panic");
        t.map_err(|source| crate::CoreError::Io { path, source })
    }

    /// Console lines after `cursor` as they are written, until the VM is
    /// deleted (then `None` is sent), the receiver is dropped, or `stop`
    /// or hyped's shutdown fires.
    pub fn console_follow(
        &self,
        name: &str,
        cursor: ConsoleCursor,
        stop: CancellationToken,
    ) -> mpsc::Receiver<Option<String>> {
        let (tx, rx) = mpsc::channel(64);
        let hype = self.clone();
        let name = name.to_owned();
        let shutdown = self.inner.shutdown.clone();
        self.inner.tracker.spawn(async move {
            let Ok(dir) = hype.console_dir(&name).await else {
                let _ = tx.send(None).await;
                return;
            };
            let mut cursor = cursor;
            let mut partial: Vec<u8> = vec![];
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = stop.cancelled() => return,
                    _ = tx.closed() => return,
                    _ = tokio::time::sleep(FOLLOW_POLL) => {}
                }
                if hype.inner.store.get_vm(&name).await.is_err() {
                    let _ = tx.send(None).await;
                    return;
                }
                loop {
                    let d = dir.clone();
                    let read = tokio::task::spawn_blocking(move || read_after(&d, cursor))
                        .await
                        .expect("console reads do not panic");
                    let Ok((bytes, next)) = read else { break };
                    if bytes.is_empty() {
                        break;
                    }
                    cursor = next;
                    partial.extend_from_slice(&bytes);
                    while let Some(i) = partial.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = partial.drain(..=i).collect();
                        let line = String::from_utf8_lossy(&line);
                        let line = line.trim_end_matches(['\n', '\r']).to_owned();
                        if tx.send(Some(line)).await.is_err() {
                            return;
                        }
                    }
                    while partial.len() > MAX_LINE {
                        let line: Vec<u8> = partial.drain(..MAX_LINE).collect();
                        if tx
                            .send(Some(String::from_utf8_lossy(&line).into_owned()))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
        rx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_console_over_its_cap_keeps_its_newest_output_and_counts_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join(CONSOLE_LOG);
        let line = "x".repeat(1023) + "\n";
        let mut text = String::new();
        for _ in 0..(CAP / 1024 + 100) {
            text.push_str(&line);
        }
        text.push_str("the last line\n");
        std::fs::write(&log, &text).unwrap();
        let before = tail_of(dir.path(), Some(1)).unwrap();
        enforce_cap(dir.path());
        let len = std::fs::metadata(&log).unwrap().len();
        assert!(len <= KEEP + 4096, "{len}");
        assert_eq!(dropped(dir.path()) + len, text.len() as u64);
        let t = tail_of(dir.path(), Some(1)).unwrap();
        assert_eq!(t.text, "the last line\n");
        assert!(t.truncated);
        // The cursor is absolute: the same before and after the cut.
        assert_eq!(t.cursor, before.cursor);
        // A follower positioned before the cut carries on from what is kept.
        let (bytes, next) = read_after(dir.path(), ConsoleCursor(10)).unwrap();
        assert_eq!(bytes.len(), 64 << 10);
        assert_eq!(next.0, dropped(dir.path()) + (64 << 10));
    }

    #[test]
    fn tails_are_bounded_by_lines_and_by_bytes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONSOLE_LOG), "a\nb\nc\n").unwrap();
        let t = tail_of(dir.path(), Some(2)).unwrap();
        assert_eq!(t.text, "b\nc\n");
        assert!(t.truncated);
        assert_eq!(t.cursor, ConsoleCursor(6));
        let all = tail_of(dir.path(), None).unwrap();
        assert_eq!(all.text, "a\nb\nc\n");
        assert!(!all.truncated);
        let big = "y".repeat((TAIL_WINDOW as usize) * 2);
        std::fs::write(dir.path().join(CONSOLE_LOG), &big).unwrap();
        let t = tail_of(dir.path(), None).unwrap();
        assert_eq!(t.text.len() as u64, TAIL_WINDOW);
        assert!(t.truncated);
        let none = tempfile::tempdir().unwrap();
        assert_eq!(tail_of(none.path(), None).unwrap().text, "");
        assert_eq!(last_line(dir.path()).unwrap().len(), 300);
    }
}
