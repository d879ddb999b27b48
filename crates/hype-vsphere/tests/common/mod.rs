//! Runs tests/vsphere/vcsim (govmomi's simulator with ExportVm) on an
//! ephemeral loopback port, one process per test, and reads what it saw.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;

use hype_vsphere::{ExportSpec, Progress};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

pub const USER: &str = "hype-test";
pub const PASSWORD: &str = "vc-secret";

/// Builds the simulator (once per test binary) with the project's script,
/// which fails with a pointer to scripts/install-deps.sh when Go or govmomi
/// are missing: these tests must not pass without their peer.
fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = Command::new(root.join("scripts/build-vcsim.sh"))
            .output()
            .expect("run scripts/build-vcsim.sh");
        assert!(
            out.status.success(),
            "cannot build the vCenter simulator; run scripts/install-deps.sh (as root), then retry:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

pub struct Sim {
    child: Child,
    _stdin: ChildStdin,
    pub url: String,
    /// Where the simulator keeps the disk files it serves.
    pub data: tempfile::TempDir,
}

impl Sim {
    pub fn start(args: &[&str]) -> Sim {
        let data = tempfile::tempdir().unwrap();
        let mut child = Command::new(binary())
            .args(["-listen", "127.0.0.1:0", "-data-dir"])
            .arg(data.path())
            .args(args)
            .env("VCSIM_USERNAME", USER)
            .env("VCSIM_PASSWORD", PASSWORD)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the simulator");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("simulator said {line:?}: {e}"));
        let url = v["url"].as_str().unwrap().to_string();
        let stdin = child.stdin.take().unwrap();
        Sim {
            child,
            _stdin: stdin,
            url,
            data,
        }
    }

    pub fn spec(&self, vm: &str) -> ExportSpec {
        let mut s = ExportSpec::new(&self.url, USER, PASSWORD, vm);
        s.insecure = true;
        s
    }

    /// Everything the simulator recorded: lease states, progress calls,
    /// completes, aborts, and each file request with its range and status.
    pub async fn events(&self) -> Vec<serde_json::Value> {
        let base = self.url.trim_end_matches("/sdk");
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        let body = http
            .get(format!("{base}/hype/events"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        serde_json::from_str(&body).unwrap()
    }

    pub async fn kinds(&self, kind: &str) -> Vec<serde_json::Value> {
        self.events()
            .await
            .into_iter()
            .filter(|e| e["kind"] == kind)
            .collect()
    }

    /// The bytes the simulator serves as disk `index` of `vm`.
    pub fn source(&self, vm: &str, index: usize) -> Vec<u8> {
        std::fs::read(self.data.path().join(format!("{vm}-disk-{index}.bin"))).unwrap()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn progress() -> (watch::Sender<Progress>, watch::Receiver<Progress>) {
    watch::channel(Progress::default())
}

pub fn sha256_file(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// The names in a directory, sorted; empty when it does not exist.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}
