//! Files in a guest, moved by its agent over streams: downloads (a file's
//! bytes, or a directory as tar) and uploads streamed with the agent's
//! credit, so no whole file is ever held in hyped; stat, list and remove;
//! and what the sandbox's browser downloaded.

use std::time::Duration;

use futures::{Stream, StreamExt};
use hype_agent_proto::{FileEntry, GuestMessage, HostMessage, DOWNLOADS_DIR};
use hype_types::{Download, FileInfo, FileKind, FileList, UploadSpec, Uploaded};

use crate::exec::{lost, opened, refusal, unexpected};
use crate::streams::{GuestStream, StreamGone, StreamOutput};
use crate::{CoreError, Hype, Result};

/// How long the guest gets to finish a write after its last byte (fsync,
/// rename, unpacking the rest of an archive).
const DONE_WAIT: Duration = Duration::from_secs(120);

/// A file (or a directory's tar) on its way out of the guest.
pub struct FileDownload {
    pub entry: FileInfo,
    pub body: futures::stream::BoxStream<'static, Result<Vec<u8>>>,
}

impl Hype {
    pub async fn file_stat(&self, name: &str, path: &str) -> Result<FileInfo> {
        match self
            .ask_file(name, "read files of", |id| HostMessage::Stat {
                id,
                path: path.into(),
            })
            .await?
        {
            GuestMessage::Stat { entry, .. } => Ok(info(entry)),
            other => Err(unexpected(name, &other)),
        }
    }

    pub async fn file_list(&self, name: &str, path: &str) -> Result<FileList> {
        match self
            .ask_file(name, "read files of", |id| HostMessage::List {
                id,
                path: path.into(),
            })
            .await?
        {
            GuestMessage::Listing {
                entries, truncated, ..
            } => Ok(FileList {
                path: path.into(),
                entries: entries.into_iter().map(info).collect(),
                truncated,
            }),
            other => Err(unexpected(name, &other)),
        }
    }

    pub async fn file_remove(&self, name: &str, path: &str, recursive: bool) -> Result<()> {
        match self
            .ask_file(name, "remove files of", |id| HostMessage::Remove {
                id,
                path: path.into(),
                recursive,
            })
            .await?
        {
            GuestMessage::Done { .. } => Ok(()),
            other => Err(unexpected(name, &other)),
        }
    }

    /// A one-answer request over a stream of its own.
    async fn ask_file(
        &self,
        name: &str,
        action: &'static str,
        make: impl FnOnce(u64) -> HostMessage,
    ) -> Result<GuestMessage> {
        let rt = self.stream_runtime(name, action).await?;
        let GuestStream { mut output, .. } = GuestStream::open(&rt.link, &rt.agent, make)
            .await
            .map_err(|e| lost(name, e))?;
        let answer = opened(name, &mut output).await?;
        output.finished();
        Ok(answer)
    }

    /// A file's bytes, or a directory as a tar archive, as the guest reads
    /// them; the guest sends only as fast as the body is taken.
    pub async fn read_file(&self, name: &str, path: &str) -> Result<FileDownload> {
        let rt = self.stream_runtime(name, "read files of").await?;
        let GuestStream { mut output, .. } =
            GuestStream::open(&rt.link, &rt.agent, |id| HostMessage::ReadFile {
                id,
                path: path.into(),
            })
            .await
            .map_err(|e| lost(name, e))?;
        let entry = match opened(name, &mut output).await? {
            GuestMessage::Opened { entry, .. } => info(entry),
            other => return Err(unexpected(name, &other)),
        };
        Ok(FileDownload {
            entry,
            body: body(name.to_owned(), output).boxed(),
        })
    }

    /// Writes `body` to `spec.path` in the guest (or unpacks it there, for
    /// an archive). Nothing is left in the guest if it fails midway.
    pub async fn write_file<S, E>(&self, name: &str, spec: UploadSpec, body: S) -> Result<Uploaded>
    where
        S: Stream<Item = std::result::Result<bytes::Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let rt = self.stream_runtime(name, "write files to").await?;
        let GuestStream { input, mut output } =
            GuestStream::open(&rt.link, &rt.agent, |id| HostMessage::WriteFile {
                id,
                path: spec.path.clone(),
                mode: spec.mode,
                owner: spec.owner.clone(),
                archive: spec.archive,
            })
            .await
            .map_err(|e| lost(name, e))?;
        match opened(name, &mut output).await? {
            GuestMessage::Opened { .. } => {}
            other => return Err(unexpected(name, &other)),
        }
        let feed = async {
            let mut body = std::pin::pin!(body);
            let mut sent = 0u64;
            while let Some(chunk) = body.next().await {
                let chunk = chunk
                    .map_err(|e| CoreError::InvalidRequest(format!("the upload broke off: {e}")))?;
                input.write(&chunk).await.map_err(|e| lost(name, e))?;
                sent += chunk.len() as u64;
            }
            input.eof().await.map_err(|e| lost(name, e))?;
            Ok::<_, CoreError>(sent)
        };
        // The guest may fail before the body ends (no space left): its
        // answer then ends the upload at once.
        let early = tokio::select! {
            fed = feed => { fed?; None }
            msg = output.recv() => Some(msg),
        };
        let answer = match early {
            Some(msg) => msg,
            None => tokio::time::timeout(DONE_WAIT, output.recv())
                .await
                .map_err(|_| CoreError::AgentTimeout { name: name.into() })?,
        };
        output.finished();
        match answer {
            Some(GuestMessage::Done { bytes, .. }) => Ok(Uploaded {
                path: spec.path,
                bytes,
            }),
            Some(msg @ (GuestMessage::Error { .. } | GuestMessage::Unsupported { .. })) => {
                Err(refusal(name, msg))
            }
            Some(other) => Err(unexpected(name, &other)),
            None => Err(lost(name, StreamGone::Lost)),
        }
    }

    /// What the VM's browser downloaded, oldest first.
    pub async fn downloads(&self, name: &str) -> Result<Vec<Download>> {
        Ok(self.inner.store.downloads_of(name).await?)
    }

    /// One downloaded file, by its name in the downloads folder.
    pub async fn download(&self, name: &str, file: &str) -> Result<FileDownload> {
        hype_types::files::check_download_name(file).map_err(CoreError::InvalidRequest)?;
        let path = format!("{DOWNLOADS_DIR}/{file}");
        let found = self.read_file(name, &path).await?;
        if found.entry.kind != FileKind::File {
            return Err(CoreError::Guest {
                name: name.into(),
                code: hype_agent_proto::StreamErrorCode::NotFound,
                message: format!("no downloaded file {file:?}"),
            });
        }
        Ok(found)
    }
}

/// The bytes of a read, ending at its `eof`; an error in the guest midway
/// ends the body with that error.
fn body(name: String, output: StreamOutput) -> impl Stream<Item = Result<Vec<u8>>> + Send {
    futures::stream::unfold(Some(output), move |state| {
        let name = name.clone();
        async move {
            let mut output = state?;
            match output.recv().await {
                Some(GuestMessage::Data { data, .. }) => Some((Ok(data.0), Some(output))),
                Some(GuestMessage::Eof { .. }) => {
                    output.finished();
                    None
                }
                Some(msg @ (GuestMessage::Error { .. } | GuestMessage::Unsupported { .. })) => {
                    output.finished();
                    Some((Err(refusal(&name, msg)), None))
                }
                Some(other) => Some((Err(unexpected(&name, &other)), None)),
                None => Some((Err(lost(&name, StreamGone::Lost)), None)),
            }
        }
    })
}

fn info(e: FileEntry) -> FileInfo {
    let modified =
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(e.modified_ms) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    FileInfo {
        name: e.name,
        kind: match e.kind {
            hype_agent_proto::FileKind::File => FileKind::File,
            hype_agent_proto::FileKind::Directory => FileKind::Directory,
            hype_agent_proto::FileKind::Symlink => FileKind::Symlink,
            hype_agent_proto::FileKind::Other => FileKind::Other,
        },
        size: e.size,
        mode: format!("{:04o}", e.mode & 0o7777),
        uid: e.uid,
        gid: e.gid,
        modified_at: modified
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        target: e.target,
    }
}
