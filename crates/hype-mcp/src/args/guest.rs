//! Arguments of the tools that act inside a sandbox's guest: exec, files,
//! and what its browser downloaded.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// A command as an agent writes it: a shell line, or a program and its
/// arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(untagged)]
pub enum Command {
    /// Run by `sh -c`.
    Shell(String),
    /// The program and its arguments, no shell.
    Argv(Vec<String>),
}

impl Command {
    pub fn argv(self) -> Vec<String> {
        match self {
            Command::Shell(line) => vec!["sh".into(), "-c".into(), line],
            Command::Argv(argv) => argv,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxExec {
    /// The command: a shell line (run with `sh -c`, so pipes and `&&`
    /// work), or a list of the program and its arguments (no shell).
    pub cmd: Command,
    /// Working directory, an absolute path in the sandbox (default: the
    /// user's home).
    #[serde(default)]
    pub cwd: Option<String>,
    /// Environment variables to add.
    #[serde(default)]
    pub env: Option<BTreeMap<String, String>>,
    /// Text given to the command's standard input.
    #[serde(default)]
    pub stdin: Option<String>,
    /// The user to run as (default: the sandbox's unprivileged user,
    /// `browser` in browser sandboxes; `root` when you need it).
    #[serde(default)]
    pub user: Option<String>,
    /// Seconds after which the command and everything it started are killed
    /// (default 60, at most 3600).
    #[serde(default)]
    pub timeout: Option<u32>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxReadFile {
    /// Absolute path of the file in the sandbox.
    pub path: String,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxWriteFile {
    /// Absolute path of the file in the sandbox; its directory must exist.
    /// A file there is replaced.
    pub path: String,
    /// The file's content as text (UTF-8).
    #[serde(default)]
    pub content: Option<String>,
    /// The file's content as base64, for bytes that are not text (instead
    /// of `content`).
    #[serde(default)]
    pub content_base64: Option<String>,
    /// Permission bits in octal, such as "0755" for a script (default
    /// "0644").
    #[serde(default)]
    pub mode: Option<String>,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxDownloads {
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxGetDownload {
    /// The downloaded file's name, as sandbox_list_downloads shows it.
    pub file: String,
    /// Sandbox to use; defaults to the one last created or used in this session.
    #[serde(default)]
    pub sandbox: Option<String>,
}

/// A file given inline to browser_file_upload.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InlineFile {
    /// The file's name as the page sees it (no directories).
    pub name: String,
    /// Its content as text (UTF-8).
    #[serde(default)]
    pub content: Option<String>,
    /// Its content as base64 (instead of `content`).
    #[serde(default)]
    pub content_base64: Option<String>,
}

/// Text or base64 content, exactly one of them.
pub fn content_bytes(
    field: &str,
    text: Option<String>,
    b64: Option<String>,
) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    match (text, b64) {
        (Some(t), None) => Ok(t.into_bytes()),
        (None, Some(b)) => base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .map_err(|e| format!("{field}content_base64 is not base64: {e}")),
        (Some(_), Some(_)) => Err(format!(
            "give {field}content or {field}content_base64, not both"
        )),
        (None, None) => Err(format!("give {field}content or {field}content_base64")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_command_is_a_shell_line_or_an_argv() {
        let e: SandboxExec = serde_json::from_value(json!({"cmd": "ls | wc -l"})).unwrap();
        assert_eq!(e.cmd.argv(), ["sh", "-c", "ls | wc -l"]);
        let e: SandboxExec = serde_json::from_value(json!({"cmd": ["ls", "-l"]})).unwrap();
        assert_eq!(e.cmd.argv(), ["ls", "-l"]);
        assert!(serde_json::from_value::<SandboxExec>(json!({"cmd": 3})).is_err());
        assert!(serde_json::from_value::<SandboxExec>(json!({"cmd": "x", "shell": 1})).is_err());
    }

    #[test]
    fn content_is_text_or_base64_never_both() {
        assert_eq!(content_bytes("", Some("hi".into()), None).unwrap(), b"hi");
        assert_eq!(content_bytes("", None, Some("aGk=".into())).unwrap(), b"hi");
        let e = content_bytes("files[0].", Some("a".into()), Some("YQ==".into())).unwrap_err();
        assert!(e.contains("not both"), "{e}");
        assert!(content_bytes("", None, Some("!!".into())).is_err());
        assert!(content_bytes("", None, None).is_err());
    }
}
