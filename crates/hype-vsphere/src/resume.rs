//! Taking up a disk download where an interrupted run left it, without
//! trusting the bytes on disk by their length. While a file downloads,
//! every [`CHECKPOINT_EVERY`] bytes (and at its end) the file is synced
//! and the sha256 of everything before that offset is appended, synced, to
//! a sidecar `NAME.ckpt`. A resume re-reads the file from its start and
//! keeps it up to the last checkpoint whose digest matches, truncating the
//! rest (a torn tail, a flipped byte: fetched again), with the hash state
//! at that point, which the download carries on. The download then asks
//! the server for the [`OVERLAP`] bytes before that offset too and compares
//! them with the kept ones, so a new lease serving a different stream (a
//! changed disk) restarts the file instead of splicing two.
//!
//! A sidecar holds offsets and digests of what hyped itself wrote; it is
//! read only from the job's own staging directory.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Bytes between checkpoints: at most this much is fetched again after a
/// crash; syncing this often costs little.
pub const CHECKPOINT_EVERY: u64 = 32 << 20;

/// Bytes before the resume offset fetched again and compared.
pub const OVERLAP: usize = 64 << 10;

/// `NAME.ckpt` beside `NAME`.
pub fn sidecar(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".ckpt");
    path.with_file_name(name)
}

/// A checkpoint line: the offset and the sha256 of the bytes before it.
pub fn line(offset: u64, hasher: &Sha256) -> String {
    format!("{offset} {}\n", hex::encode(hasher.clone().finalize()))
}

/// What a resume keeps of a file.
pub struct Kept {
    /// Verified bytes; the file is truncated to this.
    pub offset: u64,
    /// The sha256 state after them.
    pub hasher: Sha256,
    /// The last (up to [`OVERLAP`]) of them, to compare with the server's.
    pub tail: Vec<u8>,
}

/// Checks `path` against its sidecar and truncates both to the last
/// checkpoint that matches (no sidecar, or none matching: offset 0).
/// Blocking: reads the kept prefix once.
pub fn verify(path: &Path) -> io::Result<Kept> {
    let marks = match std::fs::read_to_string(sidecar(path)) {
        Ok(text) => parse(&text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => vec![],
        Err(e) => return Err(e),
    };
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let len = file.metadata()?.len();
    let mut hasher = Sha256::new();
    let mut good = (0u64, Sha256::new(), 0usize);
    let mut pos = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    for (i, (offset, digest)) in marks.iter().enumerate() {
        if *offset > len {
            break;
        }
        while pos < *offset {
            let want = buf.len().min((*offset - pos) as usize);
            file.read_exact(&mut buf[..want])?;
            hasher.update(&buf[..want]);
            pos += want as u64;
        }
        if hex::encode(hasher.clone().finalize()) != *digest {
            tracing::warn!(file = %path.display(), offset, "kept bytes do not match their checkpoint; fetching them again");
            break;
        }
        good = (*offset, hasher.clone(), i + 1);
    }
    let (offset, hasher, n) = good;
    file.set_len(offset)?;
    file.sync_all()?;
    let mut kept = String::new();
    for (o, d) in &marks[..n] {
        kept.push_str(&format!("{o} {d}\n"));
    }
    let mut ck = File::create(sidecar(path))?;
    ck.write_all(kept.as_bytes())?;
    ck.sync_all()?;
    let from = offset.saturating_sub(OVERLAP as u64);
    let mut tail = vec![0u8; (offset - from) as usize];
    file.seek(SeekFrom::Start(from))?;
    file.read_exact(&mut tail)?;
    Ok(Kept {
        offset,
        hasher,
        tail,
    })
}

/// Increasing `OFFSET HEX` lines, up to the first that is not one (a line
/// torn by a crash ends the list).
fn parse(text: &str) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = vec![];
    for l in text.split_inclusive('\n') {
        let Some(l) = l.strip_suffix('\n') else { break };
        let Some((o, d)) = l.split_once(' ') else {
            break;
        };
        let Ok(o) = o.parse::<u64>() else { break };
        if d.len() != 64 || !d.bytes().all(|b| b.is_ascii_hexdigit()) {
            break;
        }
        if out.last().is_some_and(|(p, _)| *p >= o) {
            break;
        }
        out.push((o, d.to_ascii_lowercase()));
    }
    out
}

/// The disk files (`*.vmdk`) an interrupted export left in `dir`, each
/// verified and truncated as [`verify`] does: `(name, kept offset)`, by
/// name. Descriptor and manifest are written again at the end anyway.
pub fn kept(dir: &Path) -> io::Result<Vec<(String, u64)>> {
    let mut out = vec![];
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for e in entries {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".vmdk") && e.file_type()?.is_file() {
            out.push((name, verify(&e.path())?.offset));
        }
    }
    out.sort();
    Ok(out)
}

/// Removes the sidecars in `dir`, once its files are whole and wanted as
/// they are (an export-only folder holds only what its manifest lists).
pub fn forget(dir: &Path) -> io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let path = e?.path();
        if path.extension().is_some_and(|x| x == "ckpt") {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `data` with a checkpoint every `every` bytes, as a download does.
    fn download_like(path: &Path, data: &[u8], every: usize) {
        std::fs::write(path, data).unwrap();
        let mut h = Sha256::new();
        let mut lines = String::new();
        for c in data.chunks(every) {
            h.update(c);
            let end = (c.as_ptr() as usize - data.as_ptr() as usize + c.len()) as u64;
            lines.push_str(&line(end, &h));
        }
        std::fs::write(sidecar(path), lines).unwrap();
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 253) as u8).collect()
    }

    #[test]
    fn an_intact_file_is_kept_whole_with_its_hash_state() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.vmdk");
        let d = data(300_000);
        download_like(&p, &d, 100_000);
        let k = verify(&p).unwrap();
        assert_eq!(k.offset, 300_000);
        assert_eq!(
            k.hasher.finalize().as_slice(),
            Sha256::digest(&d).as_slice()
        );
        assert_eq!(k.tail, d[300_000 - OVERLAP..]);
    }

    #[test]
    fn a_corrupted_byte_in_the_kept_prefix_is_dropped_with_all_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.vmdk");
        let d = data(300_000);
        download_like(&p, &d, 100_000);
        // One flipped byte in the second checkpoint's span; the length is
        // unchanged, so trusting it would keep the bad byte.
        let mut bad = d.clone();
        bad[150_000] ^= 0x40;
        std::fs::write(&p, &bad).unwrap();
        let k = verify(&p).unwrap();
        assert_eq!(k.offset, 100_000, "kept up to the last good checkpoint");
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 100_000);
        assert_eq!(std::fs::read(&p).unwrap(), d[..100_000]);
        assert_eq!(
            k.hasher.clone().finalize().as_slice(),
            Sha256::digest(&d[..100_000]).as_slice()
        );
        // The sidecar lost the checkpoints past it: a second look agrees.
        assert_eq!(verify(&p).unwrap().offset, 100_000);
        // Fetched again (the rest of the bytes appended) it is whole.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(&d[100_000..]).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), d);
    }

    #[test]
    fn a_torn_tail_and_a_torn_sidecar_line_are_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.vmdk");
        let d = data(250_000);
        download_like(&p, &d[..200_000], 100_000);
        // Bytes past the last checkpoint (a crash between two) and half a line.
        std::fs::write(&p, &d).unwrap();
        let mut ck = OpenOptions::new().append(true).open(sidecar(&p)).unwrap();
        ck.write_all(b"250000 ab").unwrap();
        let k = verify(&p).unwrap();
        assert_eq!(k.offset, 200_000);
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 200_000);
    }

    #[test]
    fn no_sidecar_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.vmdk");
        std::fs::write(&p, data(5000)).unwrap();
        assert_eq!(verify(&p).unwrap().offset, 0);
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 0);
        assert_eq!(kept(dir.path()).unwrap(), vec![("a.vmdk".to_string(), 0)]);
    }

    #[test]
    fn forget_removes_the_sidecars_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.vmdk");
        download_like(&p, &data(5000), 1000);
        std::fs::write(dir.path().join("a.mf"), "x").unwrap();
        forget(dir.path()).unwrap();
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["a.mf", "a.vmdk"]);
    }
}
