//! Guest RAM files: copies that keep only their data. A guest touches a
//! fraction of its memory, and the rest stays a hole in a copy too
//! (SEEK_DATA/SEEK_HOLE on tmpfs), which is what keeps a snapshot of a
//! 1.5 GiB guest at the few hundred MiB it used.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use nix::unistd::{lseek, Whence};

/// Copies a guest's RAM file to the new file `to`, only its data. Returns
/// the bytes copied. The copy is readable by every uid (forks' VMMs map
/// it through read-only binds): keep it where only its owner can enter.
pub fn copy_sparse(from: &Path, to: &Path) -> std::io::Result<u64> {
    let dst = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(to)?;
    fill(from, &dst)
}

/// Writes the data of `from` into `dst`, an existing file of only zeros
/// or holes (a RAM file just made), sized to `from`'s length. Returns the
/// bytes copied.
pub fn fill(from: &Path, dst: &File) -> std::io::Result<u64> {
    let src = File::open(from)?;
    let len = src.metadata()?.len();
    dst.set_len(len)?;
    let fd = src.as_raw_fd();
    let mut at: i64 = 0;
    let mut copied = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    while (at as u64) < len {
        let start = match lseek(fd, at, Whence::SeekData) {
            Ok(s) => s,
            // No data after `at`.
            Err(nix::errno::Errno::ENXIO) => break,
            Err(e) => return Err(e.into()),
        };
        let end = lseek(fd, start, Whence::SeekHole)?;
        // copy_file_range does not cross filesystems (tmpfs to the disk).
        let mut off = start as u64;
        while off < end as u64 {
            let n = buf.len().min((end as u64 - off) as usize);
            src.read_exact_at(&mut buf[..n], off)?;
            // Pages the guest zeroed stay holes in the copy too.
            if buf[..n].iter().any(|&b| b != 0) {
                dst.write_all_at(&buf[..n], off)?;
                copied += n as u64;
            }
            off += n as u64;
        }
        at = end;
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, SeekFrom, Write};

    #[test]
    fn sparse_copies_keep_data_and_holes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let mut f = std::fs::File::create(&a).unwrap();
        f.set_len(64 << 20).unwrap();
        f.seek(SeekFrom::Start(8 << 20)).unwrap();
        f.write_all(&[7u8; 4096]).unwrap();
        f.seek(SeekFrom::Start((64 << 20) - 4096)).unwrap();
        f.write_all(&[9u8; 4096]).unwrap();
        drop(f);
        let copied = super::copy_sparse(&a, &b).unwrap();
        assert!((8192..4 << 20).contains(&copied), "copied {copied}");
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        // The copy is not the file's whole length on disk.
        use std::os::unix::fs::MetadataExt;
        assert!(std::fs::metadata(&b).unwrap().blocks() * 512 < 8 << 20);
    }
}
