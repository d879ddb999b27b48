//! schemathesis (PyPI) against the document a real hyped serves: every
//! operation, every check (`--checks all`), schema-valid and invalid input,
//! responses checked against the document. Its venv comes from
//! `scripts/install-deps.sh` (tests/openapi/requirements.txt); the settings
//! are tests/openapi/schemathesis.toml.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::Server;

#[test]
fn schemathesis_finds_no_failure_in_the_served_document() -> anyhow::Result<()> {
    let venv =
        PathBuf::from(std::env::var("HYPE_VENV").unwrap_or_else(|_| "/var/cache/hype/venv".into()));
    let st = venv.join("bin/schemathesis");
    assert!(
        st.is_file(),
        "{} is missing: run scripts/install-deps.sh",
        st.display()
    );
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    // One VM at a time (creates beyond it are a documented 429): the
    // fuzzer creates, stops and deletes real VMs.
    let s = Server::start_with(&["--max-vms", "1"])?;
    // schemathesis keeps its state in `.schemathesis/` of its directory.
    let work = tempfile::tempdir()?;
    let out = Command::new(&st)
        .current_dir(work.path())
        .arg("--config-file")
        .arg(repo.join("tests/openapi/schemathesis.toml"))
        .arg("run")
        .arg(format!("{}/api/v1/openapi.json", s.base))
        .args(["--checks", "all", "--max-examples", "10", "--workers", "1"])
        // Its stateful phase infers links from POST /api/v1/vms's answer and
        // may feed the new VM's `id` into `{name}` (hyped addresses VMs by
        // name only), then reports the 404 as "created resource not found".
        // Every other check still runs on those sequences. (A CLI flag:
        // `--checks all` overrides the config file.)
        .args(["--exclude-checks", "ensure_resource_availability"])
        .args(["--seed", "1"])
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .output()?;
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("{report}");
    assert!(
        out.status.success(),
        "schemathesis found failures (above); stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        report.contains("Tested: "),
        "schemathesis did not run: {report}"
    );
    Ok(())
}
