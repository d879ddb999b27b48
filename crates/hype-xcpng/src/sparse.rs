//! Sparse raw files: all-zero blocks are never written, so a mostly empty
//! disk takes little room and little time; the file's length is set to the
//! disk's size at the end.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::XcpngError;

pub(crate) const BLOCK: usize = 1 << 20;

pub(crate) struct SparseFile {
    file: Arc<std::fs::File>,
    path: PathBuf,
}

pub(crate) fn is_zero(buf: &[u8]) -> bool {
    let words = buf.chunks_exact(8);
    let rest = words.remainder();
    words
        .map(|c| u64::from_ne_bytes(c.try_into().expect("8 bytes")))
        .all(|w| w == 0)
        && rest.iter().all(|b| *b == 0)
}

impl SparseFile {
    pub async fn create(path: &Path) -> Result<Self, XcpngError> {
        let p = path.to_owned();
        let file = tokio::task::spawn_blocking(move || {
            std::fs::OpenOptions::new()
                .create_new(true)
                .write(true)
                .open(&p)
        })
        .await
        .expect("open task")
        .map_err(XcpngError::io(path))?;
        Ok(Self {
            file: Arc::new(file),
            path: path.to_owned(),
        })
    }

    /// Writes `buf` at `offset` unless it is all zeros; hands `buf` back.
    pub async fn write_at(&self, offset: u64, buf: Vec<u8>) -> Result<Vec<u8>, XcpngError> {
        let file = self.file.clone();
        let (buf, res) = tokio::task::spawn_blocking(move || {
            if is_zero(&buf) {
                return (buf, Ok(()));
            }
            let r = file.write_all_at(&buf, offset);
            (buf, r)
        })
        .await
        .expect("write task");
        res.map_err(XcpngError::io(&self.path))?;
        Ok(buf)
    }

    /// Sets the final length (the disk's size) and flushes to disk.
    pub async fn finish(self, len: u64) -> Result<(), XcpngError> {
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || {
            file.set_len(len)?;
            file.sync_all()
        })
        .await
        .expect("finish task")
        .map_err(XcpngError::io(&self.path))
    }
}
