//! File operations for the host, as root (like `docker cp`): reading a
//! file or a directory (as a tar archive) out of the guest, writing one in
//! (through a temporary beside it, renamed into place only when complete,
//! or a tar unpacked into a directory), `stat`, `list` and `remove`. Paths
//! must be absolute. Every error names the path and carries the guest's
//! own reason. Each request runs on a thread of its own, so a slow disk or
//! a huge directory never holds up the session.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hype_agent_proto::stream::MAX_LISTING;
use hype_agent_proto::{FileEntry, FileKind, GuestMessage, StreamErrorCode, CHUNK};

use crate::flow::{self, Input, InputReader, InputRx, OutputWriter};
use crate::streams::{Control, Stream, StreamError};
use crate::users::Accounts;

/// Runs `work` for `stream` on a thread of its own; its error is the
/// stream's answer.
pub fn spawn(
    stream: Arc<Stream>,
    name: &str,
    work: impl FnOnce(&Stream) -> Result<(), StreamError> + Send + 'static,
) -> Result<Control, StreamError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || match work(&stream) {
            Ok(()) => stream.finish(),
            Err(e) => stream.fail(&e),
        })
        .map_err(StreamError::io("(a thread)"))?;
    Ok(Control::None)
}

fn absolute(path: &str) -> Result<&Path, StreamError> {
    let p = Path::new(path);
    if p.is_absolute() {
        Ok(p)
    } else {
        Err(StreamError::Path {
            path: p.into(),
            code: StreamErrorCode::Invalid,
            why: "not an absolute path",
        })
    }
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| "/".into(), |n| n.to_string_lossy().into_owned())
}

fn entry_of(path: &Path, meta: &Metadata) -> FileEntry {
    let kind = if meta.is_file() {
        FileKind::File
    } else if meta.is_dir() {
        FileKind::Directory
    } else if meta.file_type().is_symlink() {
        FileKind::Symlink
    } else {
        FileKind::Other
    };
    FileEntry {
        name: name_of(path),
        kind,
        size: meta.len(),
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        modified_ms: meta.mtime() * 1000 + meta.mtime_nsec() / 1_000_000,
        target: (kind == FileKind::Symlink)
            .then(|| fs::read_link(path).ok())
            .flatten()
            .map(|t| t.to_string_lossy().into_owned()),
    }
}

/// `read_file`: a regular file's bytes, or a directory as a tar archive
/// (the directory itself its top entry, as `tar -C parent -cf - name`),
/// both on fd 1 and streamed within the credit, never held whole.
pub fn read(stream: &Stream, path: &str) -> Result<(), StreamError> {
    let path = absolute(path)?;
    let meta = fs::metadata(path).map_err(StreamError::io(path))?;
    let id = stream.id;
    if meta.is_file() {
        let mut file = File::open(path).map_err(StreamError::io(path))?;
        stream.send(&GuestMessage::Opened {
            id,
            entry: entry_of(path, &meta),
        });
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(StreamError::io(path)(e)),
            };
            if !stream.credit.send(&stream.sink, id, 1, &buf[..n]) {
                return Ok(());
            }
        }
    } else if meta.is_dir() {
        stream.send(&GuestMessage::Opened {
            id,
            entry: entry_of(path, &meta),
        });
        let name = match path.file_name() {
            Some(name) => PathBuf::from(name),
            None => PathBuf::from("."),
        };
        let out = OutputWriter::new(stream.credit.clone(), stream.sink.clone(), id);
        let mut tar = tar::Builder::new(out);
        // Links stay links: following them could leave the directory (or
        // loop).
        tar.follow_symlinks(false);
        tar.append_dir_all(&name, path)
            .and_then(|()| tar.into_inner())
            .and_then(|mut out| out.flush())
            .map_err(StreamError::io(path))?;
    } else {
        return Err(StreamError::Path {
            path: path.into(),
            code: StreamErrorCode::Invalid,
            why: "not a regular file or a directory",
        });
    }
    stream.send(&GuestMessage::Eof { id, fd: 1 });
    Ok(())
}

/// A `write_file` request.
pub struct WriteRequest {
    pub path: String,
    pub mode: Option<u32>,
    pub owner: Option<String>,
    pub archive: bool,
    pub accounts: Accounts,
}

/// `write_file`: see the module comment and docs/agent-protocol.md.
pub fn write(stream: &Stream, req: WriteRequest, input: InputRx) -> Result<(), StreamError> {
    let path = absolute(&req.path)?.to_path_buf();
    if req.archive {
        let owner = match &req.owner {
            Some(spec) => Some(req.accounts.resolve(Some(spec))?),
            None => None,
        };
        return unpack(stream, &path, owner.map(|u| (u.uid, u.gid)), input);
    }
    let owner = req.accounts.resolve(req.owner.as_deref())?;
    let parent = path.parent().unwrap_or(Path::new("/"));
    let parent_meta = fs::metadata(parent).map_err(StreamError::io(parent))?;
    if !parent_meta.is_dir() {
        return Err(not_directory(parent));
    }
    let existing = match fs::metadata(&path) {
        Ok(meta) if meta.is_dir() => {
            return Err(StreamError::Path {
                path,
                code: StreamErrorCode::IsDirectory,
                why: "is a directory",
            })
        }
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(StreamError::io(path)(e)),
    };
    let mode = req
        .mode
        .unwrap_or_else(|| existing.as_ref().map_or(0o644, |m| m.mode() & 0o7777));
    let entry = match fs::symlink_metadata(&path) {
        Ok(meta) => entry_of(&path, &meta),
        Err(_) => FileEntry {
            name: name_of(&path),
            kind: FileKind::File,
            size: 0,
            mode,
            uid: owner.uid,
            gid: owner.gid,
            modified_ms: now_ms(),
            target: None,
        },
    };
    let mut temp = Temp::create(&path)?;
    stream.send(&GuestMessage::Opened {
        id: stream.id,
        entry,
    });
    let bytes = temp.fill(input, &path)?;
    let Some(bytes) = bytes else {
        // Cancelled: the temporary goes with `temp`.
        return Ok(());
    };
    temp.commit(&path, mode, owner.uid, owner.gid)?;
    stream.send(&GuestMessage::Done {
        id: stream.id,
        bytes,
    });
    Ok(())
}

fn not_directory(path: &Path) -> StreamError {
    StreamError::Path {
        path: path.into(),
        code: StreamErrorCode::NotDirectory,
        why: "not a directory",
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// An upload's temporary file beside its destination; removed unless it
/// was renamed into place.
struct Temp {
    path: PathBuf,
    file: File,
    committed: bool,
}

impl Temp {
    fn create(dest: &Path) -> Result<Self, StreamError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = dest.parent().unwrap_or(Path::new("/"));
        let name = name_of(dest);
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let seed = now_ms().unsigned_abs() ^ (u64::from(std::process::id()) << 20) ^ (n << 40);
            let path = dir.join(format!(".{name}.hype-{:06x}", seed & 0xff_ffff));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(nix::libc::O_CLOEXEC)
                .open(&path)
            {
                Ok(file) => {
                    return Ok(Self {
                        path,
                        file,
                        committed: false,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(StreamError::io(dest)(e)),
            }
        }
    }

    /// Writes the input up to `eof`; None if the stream was cancelled.
    fn fill(&mut self, mut input: InputRx, dest: &Path) -> Result<Option<u64>, StreamError> {
        let mut bytes = 0u64;
        loop {
            match input.recv() {
                Some(Input::Data(data)) => {
                    self.file.write_all(&data).map_err(StreamError::io(dest))?;
                    bytes += data.len() as u64;
                    input.consumed(data.len() as u64);
                }
                Some(Input::Eof) => return Ok(Some(bytes)),
                None => return Ok(None),
            }
        }
    }

    /// Makes the file durable, gives it its mode and owner, and renames it
    /// over `dest`.
    fn commit(mut self, dest: &Path, mode: u32, uid: u32, gid: u32) -> Result<(), StreamError> {
        let err = StreamError::io(dest);
        self.file.sync_all().map_err(StreamError::io(dest))?;
        self.file
            .set_permissions(fs::Permissions::from_mode(mode))
            .map_err(StreamError::io(dest))?;
        std::os::unix::fs::fchown(&self.file, Some(uid), Some(gid))
            .map_err(StreamError::io(dest))?;
        fs::rename(&self.path, dest).map_err(err)?;
        self.committed = true;
        if let Some(dir) = dest.parent() {
            // The rename itself lasts once the directory is synced.
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// `write_file` with `archive`: a tar unpacked into the directory `dir`
/// (made if its parent exists). Entries that would land outside it are
/// refused (the tar crate's own check); what was unpacked before an error
/// stays.
fn unpack(
    stream: &Stream,
    dir: &Path,
    owner: Option<(u32, u32)>,
    input: InputRx,
) -> Result<(), StreamError> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(not_directory(dir)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir(dir).map_err(StreamError::io(dir))?;
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::lchown(dir, Some(uid), Some(gid))
                    .map_err(StreamError::io(dir))?;
            }
        }
        Err(e) => return Err(StreamError::io(dir)(e)),
    }
    let meta = fs::metadata(dir).map_err(StreamError::io(dir))?;
    stream.send(&GuestMessage::Opened {
        id: stream.id,
        entry: entry_of(dir, &meta),
    });
    let mut reader = InputReader::new(input);
    let unpacked = unpack_entries(&mut reader, dir, owner);
    if let Err(e) = unpacked {
        if e.kind() == flow::cancelled().kind() && stream.is_cancelled() {
            return Ok(());
        }
        return Err(StreamError::io(dir)(e));
    }
    // The archive's end marker may be followed by padding up to `eof`.
    reader.drain().map_err(StreamError::io(dir))?;
    stream.send(&GuestMessage::Done {
        id: stream.id,
        bytes: reader.total,
    });
    Ok(())
}

fn unpack_entries(
    reader: &mut InputReader,
    dir: &Path,
    owner: Option<(u32, u32)>,
) -> io::Result<()> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_unpack_xattrs(false);
    archive.set_overwrite(true);
    // As `Archive::unpack` does: directories last, so that their modes and
    // times are not undone by what is written into them.
    let mut directories = Vec::new();
    let mut chown = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let rel = entry.path()?.into_owned();
        if rel.components().any(|c| c == Component::ParentDir) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("archive entry {} leaves the directory", rel.display()),
            ));
        }
        if entry.header().entry_type().is_dir() {
            directories.push(entry);
        } else {
            entry.unpack_in(dir).map_err(refused_escape)?;
        }
        chown.push(rel);
    }
    directories.reverse();
    for mut entry in directories {
        entry.unpack_in(dir).map_err(refused_escape)?;
    }
    if let Some((uid, gid)) = owner {
        for rel in chown {
            let rel: PathBuf = rel
                .components()
                .filter(|c| matches!(c, Component::Normal(_)))
                .collect();
            std::os::unix::fs::lchown(dir.join(rel), Some(uid), Some(gid))?;
        }
    }
    Ok(())
}

/// The tar crate refuses an entry that would land outside the directory
/// (through a symlink the archive made) with an error of no particular
/// kind; it is the archive's fault, so `invalid`.
fn refused_escape(e: io::Error) -> io::Error {
    if e.to_string().contains("outside of destination") {
        io::Error::new(io::ErrorKind::InvalidData, e.to_string())
    } else {
        e
    }
}

/// `stat`: what `lstat` says (a symlink's target filled in).
pub fn stat(stream: &Stream, path: &str) -> Result<(), StreamError> {
    let path = absolute(path)?;
    let meta = fs::symlink_metadata(path).map_err(StreamError::io(path))?;
    stream.send(&GuestMessage::Stat {
        id: stream.id,
        entry: entry_of(path, &meta),
    });
    Ok(())
}

/// `list`: a directory's entries by name, at most [`MAX_LISTING`].
pub fn list(stream: &Stream, path: &str) -> Result<(), StreamError> {
    let path = absolute(path)?;
    let mut entries = Vec::new();
    for item in fs::read_dir(path).map_err(StreamError::io(path))? {
        let item = item.map_err(StreamError::io(path))?;
        let child = item.path();
        // One removed between the listing and its lstat is simply gone.
        if let Ok(meta) = fs::symlink_metadata(&child) {
            entries.push(entry_of(&child, &meta));
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let truncated = entries.len() > MAX_LISTING;
    entries.truncate(MAX_LISTING);
    stream.send(&GuestMessage::Listing {
        id: stream.id,
        entries,
        truncated,
    });
    Ok(())
}

/// `remove`: a file or symlink, or a directory (with `recursive`, and
/// everything in it).
pub fn remove(stream: &Stream, path: &str, recursive: bool) -> Result<(), StreamError> {
    let path = absolute(path)?;
    if path.parent().is_none() {
        return Err(StreamError::Path {
            path: path.into(),
            code: StreamErrorCode::Invalid,
            why: "the root directory cannot be removed",
        });
    }
    let meta = fs::symlink_metadata(path).map_err(StreamError::io(path))?;
    let removed = if meta.is_dir() && recursive {
        fs::remove_dir_all(path)
    } else if meta.is_dir() {
        fs::remove_dir(path)
    } else {
        fs::remove_file(path)
    };
    removed.map_err(StreamError::io(path))?;
    stream.send(&GuestMessage::Done {
        id: stream.id,
        bytes: 0,
    });
    Ok(())
}

#[cfg(test)]
mod tests;
