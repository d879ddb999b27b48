//! The test XAPI server (tests/xcpng/xapi_server.py) as an XCP-ng pool for
//! the import and boot tests, killed on drop.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::Context;

/// The password the server accepts for user `root`.
pub const PASSWORD: &str = "xcp-s3cret-pw";

pub struct Xapi {
    child: Child,
    pub url: String,
}

impl Drop for Xapi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves `disk` as VM "Web 01"; `extra` are the server's fault flags.
pub fn xapi(disk: &Path, extra: &[&str]) -> anyhow::Result<Xapi> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/xcpng/xapi_server.py");
    let mut child = Command::new("python3")
        .arg(script)
        .args(["--user", "root", "--password", PASSWORD, "--vm"])
        .arg(format!("Web 01={}", disk.display()))
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .context("python3 runs tests/xcpng/xapi_server.py")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    let port = line
        .trim()
        .strip_prefix("listening on ")
        .context("no port from the XAPI server")?
        .to_owned();
    Ok(Xapi {
        child,
        url: format!("http://127.0.0.1:{port}"),
    })
}
