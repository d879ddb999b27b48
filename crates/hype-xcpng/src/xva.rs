//! XVA: a tar stream whose first entry is `ova.xml`, followed by each
//! disk's 1 MiB chunks `Ref:N/00000042`, each followed by a `.checksum`
//! (SHA-1, hex) or `.xxhash` (XXH64, hex) sidecar. All-zero chunks are left
//! out; a zero-length repeat of a chunk name is a keepalive. The disks are
//! rebuilt as sparse raw files `disk0.raw`, `disk1.raw`, ... in ova.xml's
//! order, every chunk verified before it counts.

use std::collections::HashMap;
use std::path::Path;

use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::ovaxml::{self, DeclaredDisk};
use crate::sparse::{SparseFile, BLOCK};
use crate::{cancellable, ExportOutcome, ExportedDisk, Progress, XcpngError, MAX_DISK_BYTES};

const MAX_OVA_XML: u64 = 16 << 20;

fn bad(why: impl Into<String>) -> XcpngError {
    XcpngError::BadXva { why: why.into() }
}

struct Reader<R> {
    r: R,
    read: u64,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    async fn exact(
        &mut self,
        buf: &mut [u8],
        cancel: &CancellationToken,
    ) -> Result<(), XcpngError> {
        match cancellable(cancel, self.r.read_exact(buf)).await? {
            Ok(_) => {
                self.read += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(XcpngError::Truncated {
                what: "XVA stream".into(),
                got: self.read,
                expected: self.read + buf.len() as u64,
            }),
            Err(source) => Err(XcpngError::Io {
                path: "XVA stream".into(),
                source,
            }),
        }
    }

    async fn skip(&mut self, mut n: u64, cancel: &CancellationToken) -> Result<(), XcpngError> {
        let mut buf = vec![0u8; 64 * 1024];
        while n > 0 {
            let k = n.min(buf.len() as u64) as usize;
            self.exact(&mut buf[..k], cancel).await?;
            n -= k as u64;
        }
        Ok(())
    }
}

fn octal(field: &[u8]) -> Result<u64, XcpngError> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        // GNU base-256 for sizes beyond 8 GiB.
        let mut v: u64 = (field[0] & 0x7f) as u64;
        for b in &field[1..] {
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(*b as u64))
                .ok_or_else(|| bad("tar size overflows"))?;
        }
        return Ok(v);
    }
    let s: String = field
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| *b as char)
        .collect();
    let s = s.trim();
    if s.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(s, 8).map_err(|_| bad(format!("bad tar number {s:?}")))
}

fn cstr(field: &[u8]) -> String {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// Refuses names that could address anything outside the destination.
fn check_path(name: &str) -> Result<(), XcpngError> {
    if name.starts_with('/') || name.split('/').any(|c| c == "..") || name.contains('\\') {
        return Err(XcpngError::UnsafePath { entry: name.into() });
    }
    Ok(())
}

enum Sum {
    Sha1,
    Xx,
}

/// `Ref:5/00000042` → (`Ref:5`, 42, None); with `.checksum` → Some(Sha1).
fn chunk_name(name: &str) -> Option<(&str, u64, Option<Sum>)> {
    let (dir, file) = name.split_once('/')?;
    if !dir.starts_with("Ref:") {
        return None;
    }
    let (num, sum) = if let Some(n) = file.strip_suffix(".checksum") {
        (n, Some(Sum::Sha1))
    } else if let Some(n) = file.strip_suffix(".xxhash") {
        (n, Some(Sum::Xx))
    } else {
        (file, None)
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((dir, num.parse().ok()?, sum))
}

struct Out {
    file: SparseFile,
    disk: DeclaredDisk,
    /// Bytes of all disks before this one, for progress.
    base: u64,
}

/// The last chunk read, waiting for its checksum.
struct Pending {
    name: String,
    data: Vec<u8>,
    verified: bool,
}

/// Rebuilds the disks of the XVA read from `r` into `dest`.
pub async fn rebuild_xva<R: AsyncRead + Unpin>(
    r: R,
    dest: &Path,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<ExportOutcome, XcpngError> {
    let mut rd = Reader { r, read: 0 };
    let mut outs: HashMap<String, Out> = HashMap::new();
    let mut order: Vec<String> = vec![];
    let mut pending: Option<Pending> = None;
    let mut long_name: Option<String> = None;
    let mut header = [0u8; 512];
    let mut zero_blocks = 0;
    let mut firmware = None;
    let mut shape = crate::Shape::default();
    loop {
        rd.exact(&mut header, cancel).await?;
        if header.iter().all(|b| *b == 0) {
            zero_blocks += 1;
            if zero_blocks == 2 {
                break;
            }
            continue;
        }
        zero_blocks = 0;
        let sum: u64 = header
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    *b as u64
                }
            })
            .sum();
        if octal(&header[148..156])? != sum {
            return Err(bad(format!(
                "tar header checksum mismatch at byte {}",
                rd.read - 512
            )));
        }
        let size = octal(&header[124..136])?;
        let kind = header[156];
        let padded = size.div_ceil(512) * 512;
        let mut name = cstr(&header[0..100]);
        if &header[257..262] == b"ustar" {
            let prefix = cstr(&header[345..500]);
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        if let Some(l) = long_name.take() {
            name = l;
        }
        match kind {
            b'L' | b'x' => {
                if size > 64 * 1024 {
                    return Err(bad("oversized tar extended header"));
                }
                let mut buf = vec![0u8; padded as usize];
                rd.exact(&mut buf, cancel).await?;
                buf.truncate(size as usize);
                long_name = if kind == b'L' {
                    Some(cstr(&buf))
                } else {
                    pax_path(&buf)
                };
                continue;
            }
            b'g' => {
                rd.skip(padded, cancel).await?;
                continue;
            }
            _ => {}
        }
        check_path(&name)?;
        if kind == b'5' {
            rd.skip(padded, cancel).await?;
            continue;
        }
        if kind != b'0' && kind != 0 {
            return Err(bad(format!("entry {name:?} is not a regular file")));
        }
        // A chunk is followed by its sidecar; anything else means it had none.
        if let Some(p) = &pending {
            let sidecar = chunk_name(&name).is_some_and(|(_, _, s)| s.is_some());
            if !sidecar && !p.verified {
                return Err(bad(format!("chunk {} has no checksum", p.name)));
            }
        }
        if name == "ova.xml" {
            if !outs.is_empty() {
                return Err(bad("a second ova.xml"));
            }
            if size > MAX_OVA_XML {
                return Err(XcpngError::TooLarge {
                    what: "ova.xml".into(),
                    size,
                    limit: MAX_OVA_XML,
                });
            }
            let mut buf = vec![0u8; padded as usize];
            rd.exact(&mut buf, cancel).await?;
            buf.truncate(size as usize);
            let xml = String::from_utf8(buf).map_err(|_| bad("ova.xml is not UTF-8"))?;
            let declared = ovaxml::declared(&xml)?;
            firmware = Some(declared.firmware);
            shape = declared.shape;
            let disks = declared.disks;
            if disks.is_empty() {
                return Err(bad("ova.xml declares no disk"));
            }
            let mut base = 0u64;
            for (i, d) in disks.into_iter().enumerate() {
                if d.virtual_size > MAX_DISK_BYTES {
                    return Err(XcpngError::TooLarge {
                        what: format!("disk {}", d.vdi),
                        size: d.virtual_size,
                        limit: MAX_DISK_BYTES,
                    });
                }
                // Two VBDs of one VDI would make two disks share one
                // file and one set of chunks: not something XAPI writes.
                if outs.contains_key(&d.vdi) {
                    return Err(bad(format!(
                        "ova.xml attaches VDI {} through two VBDs",
                        d.vdi
                    )));
                }
                let file = SparseFile::create(&dest.join(format!("disk{i}.raw"))).await?;
                order.push(d.vdi.clone());
                let next = base + d.virtual_size;
                outs.insert(
                    d.vdi.clone(),
                    Out {
                        file,
                        disk: d,
                        base,
                    },
                );
                base = next;
            }
            let total = base;
            let files = order.len() as u64;
            progress.send_modify(|p| {
                p.phase = "downloading";
                p.bytes_total = Some(total);
                p.files_total = Some(files);
            });
            continue;
        }
        let Some((dir, idx, sum)) = chunk_name(&name) else {
            tracing::debug!(entry = %name, "skipping an XVA entry that is not a chunk");
            rd.skip(padded, cancel).await?;
            continue;
        };
        if outs.is_empty() {
            return Err(bad("chunks before ova.xml"));
        }
        let Some(out) = outs.get(dir) else {
            return Err(bad(format!("chunk {name} belongs to no disk of ova.xml")));
        };
        match sum {
            Some(kind) => {
                if size > 1024 {
                    return Err(bad(format!("oversized checksum {name}")));
                }
                let mut buf = vec![0u8; padded as usize];
                rd.exact(&mut buf, cancel).await?;
                buf.truncate(size as usize);
                let expected = String::from_utf8_lossy(&buf).trim().to_ascii_lowercase();
                let target = name.rsplit_once('.').map(|(n, _)| n).unwrap_or(&name);
                let Some(p) = pending.as_mut().filter(|p| p.name == target) else {
                    return Err(bad(format!(
                        "checksum {name} follows no chunk of that name"
                    )));
                };
                let got = match kind {
                    Sum::Sha1 => hex::encode(Sha1::digest(&p.data)),
                    Sum::Xx => format!("{:016x}", xxhash_rust::xxh64::xxh64(&p.data, 0)),
                };
                if got != expected {
                    return Err(XcpngError::Checksum {
                        entry: p.name.clone(),
                        expected,
                        got,
                    });
                }
                p.verified = true;
                if !p.data.is_empty() {
                    let off = idx * BLOCK as u64;
                    let data = std::mem::take(&mut p.data);
                    p.data = cancellable(cancel, out.file.write_at(off, data)).await??;
                    p.data.clear();
                    let done = out.base + off + BLOCK as u64;
                    let done = done.min(out.base + out.disk.virtual_size);
                    progress.send_modify(|pr| pr.bytes_done = pr.bytes_done.max(done));
                }
            }
            None => {
                if size > BLOCK as u64 {
                    return Err(bad(format!("chunk {name} is larger than 1 MiB")));
                }
                let end = idx
                    .checked_mul(BLOCK as u64)
                    .and_then(|o| o.checked_add(size))
                    .ok_or_else(|| bad(format!("chunk {name} is out of range")))?;
                if end > out.disk.virtual_size {
                    return Err(bad(format!(
                        "chunk {name} lies beyond its disk's declared size of {} bytes",
                        out.disk.virtual_size
                    )));
                }
                let mut data = pending.take().map(|p| p.data).unwrap_or_default();
                data.resize(padded as usize, 0);
                rd.exact(&mut data, cancel).await?;
                data.truncate(size as usize);
                pending = Some(Pending {
                    name: name.clone(),
                    data,
                    // A keepalive carries nothing to verify.
                    verified: size == 0,
                });
            }
        }
    }
    if let Some(p) = &pending {
        if !p.verified {
            return Err(bad(format!("chunk {} has no checksum", p.name)));
        }
    }
    if outs.is_empty() {
        return Err(bad("no ova.xml"));
    }
    let mut disks = vec![];
    for (i, vdi) in order.iter().enumerate() {
        let Some(out) = outs.remove(vdi) else {
            return Err(bad(format!("VDI {vdi} has no file")));
        };
        let size = out.disk.virtual_size;
        cancellable(cancel, out.file.finish(size)).await??;
        disks.push(ExportedDisk {
            path: dest.join(format!("disk{i}.raw")),
            capacity_bytes: size,
        });
        // Trailing zero chunks were never sent; the disk is whole now.
        let whole = out.base + size;
        progress.send_modify(|p| {
            p.files_done = i as u64 + 1;
            p.bytes_done = p.bytes_done.max(whole);
        });
    }
    Ok(ExportOutcome {
        disks,
        firmware: firmware.ok_or_else(|| bad("no ova.xml"))?,
        shape,
    })
}

/// `path=` of a pax extended header.
fn pax_path(buf: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(buf);
    text.lines().find_map(|l| {
        let (_, kv) = l.split_once(' ')?;
        kv.strip_prefix("path=").map(str::to_owned)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_names_parse() {
        assert!(matches!(
            chunk_name("Ref:5/00000042"),
            Some(("Ref:5", 42, None))
        ));
        assert!(matches!(
            chunk_name("Ref:5/00000042.checksum"),
            Some(("Ref:5", 42, Some(Sum::Sha1)))
        ));
        assert!(matches!(
            chunk_name("Ref:5/00000042.xxhash"),
            Some(("Ref:5", 42, Some(Sum::Xx)))
        ));
        assert!(chunk_name("ova.xml").is_none());
        assert!(chunk_name("Ref:5/abc").is_none());
    }

    #[test]
    fn climbing_paths_are_refused() {
        for p in ["../etc/passwd", "Ref:1/../../x", "/etc/passwd"] {
            assert!(
                matches!(check_path(p), Err(XcpngError::UnsafePath { .. })),
                "{p}"
            );
        }
        assert!(check_path("Ref:1/00000000").is_ok());
    }
}
