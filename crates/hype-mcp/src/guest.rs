//! The tools that act inside a sandbox: a command run to its end, a file
//! read or written, what the browser downloaded, and the files an agent
//! gives browser_file_upload inline. Each is one backend call; the guest
//! agent and the core decide everything else (users, limits, paths).

use std::hash::{BuildHasher, Hasher};

use base64::Engine as _;
use hype_types::files::UploadSpec;
use hype_types::{ExecRequest, ExecResult, OutputEncoding};
use rmcp::model::{ContentBlock, ResourceContents};

use crate::args::{
    content_bytes, InlineFile, SandboxDownloads, SandboxExec, SandboxGetDownload, SandboxReadFile,
    SandboxWriteFile,
};
use crate::backend::Backend;
use crate::error::ToolError;
use crate::server::{HypeMcp, Output};

/// The most bytes of one file a tool answer carries.
pub(crate) const MAX_FILE: u64 = 10 << 20;
/// Where browser_file_upload puts inline files, one new directory per call.
const UPLOADS_DIR: &str = "/tmp";

impl<B: Backend> HypeMcp<B> {
    pub(crate) async fn sandbox_exec(&self, a: SandboxExec) -> Output {
        let sandbox = self.sandbox(a.sandbox)?;
        let req = ExecRequest {
            cmd: a.cmd.argv(),
            env: a.env.unwrap_or_default(),
            cwd: a.cwd,
            user: a.user,
            stdin: a.stdin,
            stdin_base64: None,
            timeout_seconds: a.timeout,
        };
        let r = self.backend.exec(&sandbox, req).await?;
        Ok(vec![ContentBlock::text(exec_report(&r))])
    }

    pub(crate) async fn sandbox_read_file(&self, a: SandboxReadFile) -> Output {
        let sandbox = self.sandbox(a.sandbox)?;
        let bytes = self.backend.read_file(&sandbox, &a.path, MAX_FILE).await?;
        match String::from_utf8(bytes) {
            Ok(text) => Ok(vec![ContentBlock::text(text)]),
            Err(e) => {
                let uri = format!("hype://sandboxes/{sandbox}/files{}", a.path);
                let bytes = e.into_bytes();
                Ok(vec![
                    ContentBlock::text(format!(
                        "{} is not text ({} bytes): returned as the resource {uri}.",
                        a.path,
                        bytes.len()
                    )),
                    blob(&bytes, uri, mime_of(&a.path)),
                ])
            }
        }
    }

    pub(crate) async fn sandbox_write_file(&self, a: SandboxWriteFile) -> Output {
        let sandbox = self.sandbox(a.sandbox)?;
        let data = content_bytes("", a.content, a.content_base64).map_err(ToolError::Invalid)?;
        // The REST route's own checks (absolute path, octal mode).
        let spec = hype_types::files::UploadQuery {
            path: a.path,
            mode: a.mode,
            owner: None,
            archive: false,
        }
        .validate()
        .map_err(ToolError::Invalid)?;
        let done = self.backend.write_file(&sandbox, spec, data).await?;
        Ok(vec![ContentBlock::text(format!(
            "Wrote {} bytes to {} in sandbox '{sandbox}'.",
            done.bytes, done.path
        ))])
    }

    pub(crate) async fn sandbox_list_downloads(&self, a: SandboxDownloads) -> Output {
        let sandbox = self.sandbox(a.sandbox)?;
        let list = self.backend.downloads(&sandbox).await?;
        if list.is_empty() {
            return Ok(vec![ContentBlock::text(format!(
                "Sandbox '{sandbox}' has downloaded nothing yet."
            ))]);
        }
        let json = serde_json::to_string_pretty(&list).unwrap_or_default();
        Ok(vec![ContentBlock::text(format!(
            "{} file(s) downloaded by sandbox '{sandbox}' (sandbox_get_download fetches one by name):\n{json}",
            list.len()
        ))])
    }

    pub(crate) async fn sandbox_get_download(&self, a: SandboxGetDownload) -> Output {
        let sandbox = self.sandbox(a.sandbox)?;
        hype_types::files::check_download_name(&a.file).map_err(ToolError::Invalid)?;
        let bytes = self.backend.download(&sandbox, &a.file, MAX_FILE).await?;
        let uri = format!("hype://sandboxes/{sandbox}/downloads/{}", a.file);
        Ok(vec![
            ContentBlock::text(format!(
                "{} ({} bytes), returned as the resource {uri}.",
                a.file,
                bytes.len()
            )),
            blob(&bytes, uri, mime_of(&a.file)),
        ])
    }

    /// Puts `files` in a new directory of the sandbox, in one archive, and
    /// answers their paths there.
    pub(crate) async fn stage_files(
        &self,
        sandbox: &str,
        files: Vec<InlineFile>,
    ) -> Result<Vec<String>, ToolError> {
        let dir = format!("{UPLOADS_DIR}/hype-upload-{:016x}", random());
        let paths = files
            .iter()
            .map(|f| format!("{dir}/{}", f.name))
            .collect::<Vec<_>>();
        let tar = archive(files)?;
        if tar.len() as u64 > MAX_FILE {
            return Err(ToolError::Invalid(format!(
                "the inline files are over {} MiB together: put big files in the sandbox with sandbox_write_file or the REST API, then give their paths",
                MAX_FILE >> 20
            )));
        }
        let spec = UploadSpec {
            path: dir,
            mode: None,
            owner: None,
            archive: true,
        };
        self.backend.write_file(sandbox, spec, tar).await?;
        Ok(paths)
    }
}

/// `files` as a tar archive of plain files, each name checked.
fn archive(files: Vec<InlineFile>) -> Result<Vec<u8>, ToolError> {
    let mut archive = tar::Builder::new(Vec::new());
    for (i, f) in files.into_iter().enumerate() {
        let field = format!("files[{i}].");
        if f.name.is_empty() || f.name.contains(['/', '\0']) || f.name == "." || f.name == ".." {
            return Err(ToolError::Invalid(format!(
                "{field}name {:?} is not a file name (no directories)",
                f.name
            )));
        }
        let data =
            content_bytes(&field, f.content, f.content_base64).map_err(ToolError::Invalid)?;
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        // Root's, readable by all: the browser only reads them. (The
        // fields must be numbers even when an owner is given.)
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        );
        archive
            .append_data(&mut h, &f.name, data.as_slice())
            .map_err(|e| ToolError::Invalid(format!("{field}name: {e}")))?;
    }
    archive
        .into_inner()
        .map_err(|e| ToolError::Invalid(format!("files: {e}")))
}

/// An exec's outcome as a model reads it.
fn exec_report(r: &ExecResult) -> String {
    let how = match (r.exit_code, &r.signal, r.timed_out) {
        (_, _, true) => "Timed out and was killed".to_owned(),
        (Some(code), _, _) => format!("Exit code: {code}"),
        (None, Some(sig), _) => format!("Killed by {sig}"),
        (None, None, _) => "Ended".to_owned(),
    };
    let mut out = format!("{how} ({} ms)\n", r.duration_ms);
    for (name, text, enc) in [
        ("stdout", &r.stdout, r.stdout_encoding),
        ("stderr", &r.stderr, r.stderr_encoding),
    ] {
        if text.is_empty() {
            continue;
        }
        let note = match enc {
            OutputEncoding::Utf8 => "",
            OutputEncoding::Base64 => " (not UTF-8: base64)",
        };
        out.push_str(&format!("### {name}{note}\n{text}"));
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    if r.truncated {
        out.push_str("(output over 1 MiB per stream was left out)\n");
    }
    out
}

fn blob(bytes: &[u8], uri: String, mime: &str) -> ContentBlock {
    let data = base64::engine::general_purpose::STANDARD.encode(bytes);
    ContentBlock::resource(ResourceContents::BlobResourceContents {
        uri,
        mime_type: Some(mime.into()),
        blob: data,
        meta: None,
    })
}

/// A file's media type by its extension, for the clients that show it.
fn mime_of(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("pdf") => "application/pdf",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("svg") => "image/svg+xml",
        Some("txt" | "log") => "text/plain",
        Some("csv") => "text/csv",
        Some("html" | "htm") => "text/html",
        Some("json") => "application/json",
        Some("zip") => "application/zip",
        Some("gz" | "tgz") => "application/gzip",
        _ => "application/octet-stream",
    }
}

fn random() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: Option<i32>, signal: Option<&str>, timed_out: bool) -> ExecResult {
        ExecResult {
            exit_code: code,
            signal: signal.map(Into::into),
            timed_out,
            stdout: "hi\n".into(),
            stdout_encoding: OutputEncoding::Utf8,
            stderr: "aGk=".into(),
            stderr_encoding: OutputEncoding::Base64,
            truncated: true,
            duration_ms: 7,
        }
    }

    #[test]
    fn exec_reports_say_how_it_ended_and_what_it_wrote() {
        let r = exec_report(&result(Some(3), None, false));
        assert!(
            r.starts_with("Exit code: 3 (7 ms)\n### stdout\nhi\n"),
            "{r}"
        );
        assert!(r.contains("### stderr (not UTF-8: base64)\naGk=\n"), "{r}");
        assert!(r.contains("left out"), "{r}");
        let r = exec_report(&result(None, Some("SIGKILL"), false));
        assert!(r.starts_with("Killed by SIGKILL"), "{r}");
        let r = exec_report(&result(None, Some("SIGKILL"), true));
        assert!(r.starts_with("Timed out"), "{r}");
    }

    #[test]
    fn inline_files_make_an_archive_a_guest_unpacks() {
        let tar = archive(vec![InlineFile {
            name: "note.txt".into(),
            content: Some("12345".into()),
            content_base64: None,
        }])
        .unwrap();
        let mut a = tar::Archive::new(tar.as_slice());
        let mut e = a.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(e.header().uid().unwrap(), 0);
        assert!(e.header().mtime().unwrap() > 0);
        assert_eq!(e.path().unwrap().to_str(), Some("note.txt"));
        let mut body = String::new();
        std::io::Read::read_to_string(&mut e, &mut body).unwrap();
        assert_eq!(body, "12345");
        for bad in ["", "..", "a/b"] {
            let f = InlineFile {
                name: bad.into(),
                content: Some("x".into()),
                content_base64: None,
            };
            assert!(archive(vec![f]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn media_types_come_from_extensions() {
        assert_eq!(mime_of("report.PDF"), "application/pdf");
        assert_eq!(mime_of("a.tar.gz"), "application/gzip");
        assert_eq!(mime_of("noext"), "application/octet-stream");
    }
}
