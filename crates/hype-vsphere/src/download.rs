//! Disk downloads: several at once, each retried, resumed with a Range
//! request when the server answers `206 Partial Content` and restarted when
//! it answers `200`. The SHA256 is computed on the way, so nothing is read
//! twice. Checkpoints in a sidecar let a later run take a file up where
//! this one ended (see [`crate::resume`]).

use std::io::SeekFrom;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use reqwest::header::{CONTENT_RANGE, COOKIE, RANGE};
use reqwest::{StatusCode, Url};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};
use tokio_util::sync::CancellationToken;

use crate::error::certificate_problem;
use crate::inventory::pause;
use crate::resume::{self, CHECKPOINT_EVERY};
use crate::soap::Client;
use crate::VsphereError;

/// vSphere's largest virtual disk is 62 TB; anything announced beyond
/// 64 TiB is a broken or hostile answer, not a disk.
pub const MAX_FILE_BYTES: u64 = 64 << 40;

/// Consecutive attempts without a single new byte before giving up.
const MAX_ATTEMPTS: u32 = 5;

pub struct Target {
    /// The file name under the destination, for messages.
    pub name: String,
    pub url: Url,
    pub path: PathBuf,
    /// The size the lease announced, if it did.
    pub expected: Option<u64>,
    /// The most a file of no announced length may grow to (see
    /// [`limit_for`]): without it a hostile server could stream forever.
    pub limit: u64,
}

/// The bound of a disk file of unknown length whose disk holds `capacity`
/// bytes. A stream-optimised VMDK of incompressible data is its capacity
/// plus a 512-byte marker per 64 KiB grain (under 1%) plus grain tables
/// (under 0.01%) and a header; a sixteenth and 16 MiB cover that with room.
pub fn limit_for(capacity: u64) -> u64 {
    capacity
        .saturating_add(capacity / 16)
        .saturating_add(16 << 20)
        .min(MAX_FILE_BYTES)
}

#[derive(Debug, Clone)]
pub struct Downloaded {
    pub size: u64,
    pub sha256: String,
}

/// Shared by the downloads and the progress reporter.
#[derive(Default)]
pub struct Counters {
    pub bytes: AtomicU64,
    pub files: AtomicU64,
}

/// Downloads every target, `parallel` at a time, in order of `targets`.
/// The first failure drops (and so stops) the others.
pub async fn download_all(
    client: &Client,
    targets: &[Target],
    parallel: usize,
    counters: &Counters,
    cancel: &CancellationToken,
) -> Result<Vec<Downloaded>, VsphereError> {
    // A loop, not `map`: a closure returning these futures makes the whole
    // export fail to be `Send` for every lifetime, and job runners spawn it.
    let mut downloads = Vec::with_capacity(targets.len());
    for t in targets {
        downloads.push(download(client, t, counters, cancel));
    }
    futures::stream::iter(downloads)
        .buffered(parallel.max(1))
        .try_collect()
        .await
}

enum Failure {
    Retry(VsphereError),
    Fatal(VsphereError),
}

/// One file's state across attempts.
struct Partial {
    out: BufWriter<tokio::fs::File>,
    have: u64,
    hasher: Sha256,
    /// The sidecar checkpoints are appended to.
    ckpt: tokio::fs::File,
    next_ckpt: u64,
    /// Kept bytes just before `have` that the server must send again, the
    /// same, before its new bytes count (a resume's check of the source).
    overlap: Vec<u8>,
}

async fn download(
    client: &Client,
    t: &Target,
    counters: &Counters,
    cancel: &CancellationToken,
) -> Result<Downloaded, VsphereError> {
    let io = |e| VsphereError::io(&t.path, e);
    // What an earlier run left, checked against its checkpoints (a new
    // file has none and keeps nothing).
    let path = t.path.clone();
    let kept = tokio::task::spawn_blocking(move || resume::verify(&path))
        .await
        .map_err(|e| io(std::io::Error::other(e)))?
        .map_err(io)?;
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .open(&t.path)
        .await
        .map_err(io)?;
    file.seek(SeekFrom::Start(kept.offset)).await.map_err(io)?;
    let ckpt = tokio::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(resume::sidecar(&t.path))
        .await
        .map_err(io)?;
    if kept.offset > 0 {
        tracing::info!(file = %t.name, offset = kept.offset, "resuming the download");
    }
    counters.bytes.fetch_add(kept.offset, Ordering::Relaxed);
    let mut p = Partial {
        out: BufWriter::with_capacity(1 << 20, file),
        have: kept.offset,
        hasher: kept.hasher,
        ckpt,
        next_ckpt: kept.offset + CHECKPOINT_EVERY,
        overlap: kept.tail,
    };
    let mut failures = 0;
    loop {
        let before = p.have;
        match attempt(client, t, &mut p, counters, cancel).await {
            Ok(()) => break,
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Retry(e)) => {
                failures = if p.have > before { 1 } else { failures + 1 };
                if failures >= MAX_ATTEMPTS {
                    return Err(e);
                }
                tracing::warn!(file = %t.name, error = %e, attempt = failures, "download interrupted, retrying");
                pause(Duration::from_millis(200 << failures), cancel).await?;
            }
        }
    }
    // A whole file is one last checkpoint: a resume after this keeps it all.
    checkpoint(&mut p).await.map_err(io)?;
    counters.files.fetch_add(1, Ordering::Relaxed);
    Ok(Downloaded {
        size: p.have,
        sha256: hex::encode(p.hasher.finalize()),
    })
}

async fn attempt(
    client: &Client,
    t: &Target,
    p: &mut Partial,
    counters: &Counters,
    cancel: &CancellationToken,
) -> Result<(), Failure> {
    let fatal_io = |e| Failure::Fatal(VsphereError::io(&t.path, e));
    let mut req = client.http().get(t.url.clone());
    if let Some(c) = client.cookie_for(&t.url) {
        req = req.header(COOKIE, c);
    }
    // Resuming, the request starts `overlap` bytes early to compare them.
    let from = p.have - p.overlap.len() as u64;
    if p.have > 0 {
        req = req.header(RANGE, format!("bytes={from}-"));
    }
    let sent = tokio::select! {
        _ = cancel.cancelled() => return Err(Failure::Fatal(VsphereError::Cancelled)),
        r = req.send() => r,
    };
    let mut res = sent.map_err(|source| match certificate_problem(&source) {
        // The disk host (an ESXi host, for vCenter) has its own certificate;
        // asking again will not make it trusted.
        Some(message) => Failure::Fatal(VsphereError::Certificate {
            url: t.url.to_string(),
            message,
        }),
        None => Failure::Retry(VsphereError::Download {
            file: t.name.clone(),
            source,
        }),
    })?;
    let status = res.status();
    let status_error = || VsphereError::HttpStatus {
        file: t.name.clone(),
        status: status.as_u16(),
    };
    let total = match status {
        StatusCode::PARTIAL_CONTENT if p.have > 0 => {
            match content_range(res.headers().get(CONTENT_RANGE)) {
                Some((start, total)) if start == from => {
                    total.or(res.content_length().map(|l| start + l))
                }
                _ => {
                    // A range we did not ask for: start over.
                    restart(p, counters).await.map_err(fatal_io)?;
                    return Err(Failure::Retry(status_error()));
                }
            }
        }
        StatusCode::OK => {
            if p.have > 0 {
                tracing::info!(file = %t.name, "server ignored the range, restarting the file");
                restart(p, counters).await.map_err(fatal_io)?;
            }
            res.content_length()
        }
        StatusCode::RANGE_NOT_SATISFIABLE if p.have > 0 && t.expected == Some(p.have) => {
            return Ok(())
        }
        s if s.is_server_error()
            || s == StatusCode::REQUEST_TIMEOUT
            || s == StatusCode::TOO_MANY_REQUESTS =>
        {
            return Err(Failure::Retry(status_error()))
        }
        _ => return Err(Failure::Fatal(status_error())),
    }
    .or(t.expected);
    if let Some(size) = total.filter(|s| *s > MAX_FILE_BYTES) {
        return Err(Failure::Fatal(VsphereError::AbsurdSize {
            file: t.name.clone(),
            size,
            max: MAX_FILE_BYTES,
        }));
    }
    loop {
        let chunk = tokio::select! {
            _ = cancel.cancelled() => return Err(Failure::Fatal(VsphereError::Cancelled)),
            c = res.chunk() => c,
        };
        match chunk {
            Ok(Some(mut bytes)) => {
                if !p.overlap.is_empty() {
                    let n = bytes.len().min(p.overlap.len());
                    if bytes[..n] != p.overlap[..n] {
                        let offset = p.have;
                        restart(p, counters).await.map_err(fatal_io)?;
                        return Err(Failure::Retry(VsphereError::Diverged {
                            file: t.name.clone(),
                            offset,
                        }));
                    }
                    p.overlap.drain(..n);
                    bytes = bytes.slice(n..);
                    if bytes.is_empty() {
                        continue;
                    }
                }
                let len = bytes.len() as u64;
                if total.is_none() && p.have + len > t.limit {
                    return Err(Failure::Fatal(VsphereError::TooLong {
                        file: t.name.clone(),
                        limit: t.limit,
                    }));
                }
                if let Some(expected) = total.filter(|tot| p.have + len > *tot) {
                    return Err(Failure::Fatal(VsphereError::Oversized {
                        file: t.name.clone(),
                        expected,
                    }));
                }
                p.out.write_all(&bytes).await.map_err(fatal_io)?;
                p.hasher.update(&bytes);
                p.have += len;
                counters.bytes.fetch_add(len, Ordering::Relaxed);
                if p.have >= p.next_ckpt {
                    checkpoint(p).await.map_err(fatal_io)?;
                }
            }
            Ok(None) => break,
            Err(source) => {
                return Err(Failure::Retry(match total {
                    Some(expected) => VsphereError::Truncated {
                        file: t.name.clone(),
                        expected,
                        got: p.have,
                    },
                    None => VsphereError::Download {
                        file: t.name.clone(),
                        source,
                    },
                }))
            }
        }
    }
    match total {
        _ if !p.overlap.is_empty() => Err(Failure::Retry(VsphereError::Truncated {
            file: t.name.clone(),
            expected: total.unwrap_or(p.have),
            got: from,
        })),
        Some(expected) if p.have < expected => Err(Failure::Retry(VsphereError::Truncated {
            file: t.name.clone(),
            expected,
            got: p.have,
        })),
        _ => Ok(()),
    }
}

/// Empties the file and its checkpoints: what follows a `200` is the file
/// from its start.
async fn restart(p: &mut Partial, counters: &Counters) -> std::io::Result<()> {
    p.out.flush().await?;
    p.ckpt.set_len(0).await?;
    p.out.get_ref().set_len(0).await?;
    p.out.seek(SeekFrom::Start(0)).await?;
    counters.bytes.fetch_sub(p.have, Ordering::Relaxed);
    p.have = 0;
    p.hasher = Sha256::new();
    p.next_ckpt = CHECKPOINT_EVERY;
    p.overlap.clear();
    Ok(())
}

/// Makes the bytes so far durable, then records their digest: a
/// checkpoint never names bytes that a crash could still lose.
async fn checkpoint(p: &mut Partial) -> std::io::Result<()> {
    p.out.flush().await?;
    p.out.get_ref().sync_data().await?;
    p.ckpt
        .write_all(resume::line(p.have, &p.hasher).as_bytes())
        .await?;
    p.ckpt.sync_data().await?;
    p.next_ckpt = p.have + CHECKPOINT_EVERY;
    Ok(())
}

/// `bytes START-END/TOTAL` (TOTAL may be `*`): the start and the total.
fn content_range(h: Option<&reqwest::header::HeaderValue>) -> Option<(u64, Option<u64>)> {
    let v = h?.to_str().ok()?.strip_prefix("bytes ")?;
    let (range, total) = v.split_once('/')?;
    let start = range.split_once('-')?.0.trim().parse().ok()?;
    Some((start, total.trim().parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn content_range_start_and_total() {
        let h = HeaderValue::from_static("bytes 100-199/200");
        assert_eq!(content_range(Some(&h)), Some((100, Some(200))));
        let h = HeaderValue::from_static("bytes 5-9/*");
        assert_eq!(content_range(Some(&h)), Some((5, None)));
        let h = HeaderValue::from_static("bytes */200");
        assert_eq!(content_range(Some(&h)), None);
        assert_eq!(content_range(None), None);
    }
}
