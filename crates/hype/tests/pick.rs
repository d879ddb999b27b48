//! `hype images import xcpng --pick` as a person uses it: the real binary in
//! a real terminal (tmux), typing parts of names, picking two VMs, and both
//! imported from the test XAPI server by a real hyped as one batch.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::tmux::Tmux;
use common::{hype, start_hyped};

const PASSWORD: &str = "pick-xcp-pw";

/// The test XAPI server, stopped when dropped.
struct Xapi(Child);

impl Drop for Xapi {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The server with `vms` (each with a copy of `disk`), and its URL.
fn xapi(disk: &Path, vms: &[&str]) -> anyhow::Result<(Xapi, String)> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut cmd = Command::new("python3");
    cmd.arg(repo.join("tests/xcpng/xapi_server.py")).args([
        "--user",
        "root",
        "--password",
        PASSWORD,
    ]);
    for vm in vms {
        cmd.arg("--vm").arg(format!("{vm}={}", disk.display()));
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line)?;
    let port = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or_else(|| anyhow::anyhow!("the XAPI server did not start: {line:?}"))?
        .to_owned();
    Ok((Xapi(child), format!("http://127.0.0.1:{port}")))
}

/// The picker's row of `vm` (`│[x] name ...`), if shown.
fn row<'a>(screen: &'a str, vm: &str) -> Option<&'a str> {
    screen
        .lines()
        .find(|l| l.starts_with('│') && l.contains(&format!(" {vm} ")))
}

fn jobs(base: &str) -> anyhow::Result<Vec<serde_json::Value>> {
    let (code, out, err) = hype(base, &["jobs", "list", "-o", "json"]);
    anyhow::ensure!(code == 0, "jobs list: {err}");
    let list: serde_json::Value = serde_json::from_str(&out)?;
    Ok(list["jobs"].as_array().cloned().unwrap_or_default())
}

#[test]
fn pick_two_vms_by_typing_and_import_both() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let disk = tmp.path().join("d.raw");
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::create(&disk)?;
        f.set_len(4 << 20)?;
        f.write_all_at(&[9u8; 100_000], 1 << 20)?;
    }
    let (_xapi, url) = xapi(&disk, &["pick-alpha", "pick-beta", "other-gamma"])?;
    let hyped = start_hyped(&tmp.path().join("data"), "127.0.0.1:0")?;
    let base = hyped.base.clone();
    let hype_bin = PathBuf::from(env!("CARGO_BIN_EXE_hype"));
    let t = Tmux::new(tmp.path());
    // The shell prints the exit status and keeps the pane to be read.
    let pick = |session: &str, envs: &[(&str, &str)]| {
        let cmd = format!(
            "env HYPE_API_BASE={base} {} images import xcpng --url {url} --username root --pick; \
             echo \"exit $?\"; sleep 600",
            hype_bin.display()
        );
        t.run(session, (110, 30), &cmd, envs)
    };
    let long = Duration::from_secs(30);
    pick("a", &[("HYPE_XCPNG_PASSWORD", PASSWORD), ("NO_COLOR", "1")])?;

    // The whole inventory, the template marked as such.
    let s = t.wait("a", "the picker", long, |s| {
        s.contains("Import from xcpng") && row(s, "other-gamma").is_some()
    })?;
    assert!(s.contains("VMs 4/4"), "{s}");
    let tmpl = row(&s, "Debian Template").expect("the template's row");
    assert!(tmpl.contains("template, not a VM"), "{s}");
    assert!(
        row(&s, "pick-alpha").unwrap().contains("[ ] pick-alpha"),
        "{s}"
    );

    // Part of a name filters; Space picks and clears the query.
    t.type_text("a", "alph")?;
    let s = t.wait("a", "the filter", long, |s| s.contains("VMs 1/4"))?;
    assert!(s.contains("> alph_"), "{s}");
    assert!(
        row(&s, "pick-alpha").is_some() && row(&s, "pick-beta").is_none(),
        "{s}"
    );
    t.keys("a", &["Space"])?;
    let s = t.wait("a", "the first pick", long, |s| s.contains("1 picked"))?;
    assert!(s.contains("VMs 4/4"), "{s}");
    assert!(
        row(&s, "pick-alpha").unwrap().contains("[x] pick-alpha"),
        "{s}"
    );

    // A template cannot be picked, and the row says why.
    t.type_text("a", "debtmp")?;
    t.keys("a", &["Space"])?;
    let s = t.wait("a", "the template refused", long, |s| {
        s.contains("Debian Template is a template, not a VM")
    })?;
    assert!(s.contains("1 picked"), "{s}");
    t.keys("a", &["C-u"])?;

    // Another name, fuzzily (letters in order), picked with Tab.
    t.type_text("a", "pkbt")?;
    let s = t.wait("a", "the second filter", long, |s| s.contains("VMs 1/4"))?;
    assert!(row(&s, "pick-beta").is_some(), "{s}");
    t.keys("a", &["Tab"])?;
    t.wait("a", "the second pick", long, |s| s.contains("2 picked"))?;
    t.keys("a", &["Enter"])?;

    // Both jobs run to completion, followed in the terminal.
    let s = t.wait("a", "the imports", Duration::from_secs(120), |s| {
        s.contains("exit ")
    })?;
    assert!(s.contains("exit 0"), "{s}");
    assert!(s.contains("completed: image pick-alpha"), "{s}");
    assert!(s.contains("completed: image pick-beta"), "{s}");
    assert!(!s.contains(PASSWORD), "{s}");
    let (code, out, _) = hype(&base, &["images", "list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("pick-alpha") && out.contains("pick-beta"),
        "{out}"
    );
    assert!(!out.contains("other-gamma"), "{out}");
    let made = jobs(&base)?;
    assert_eq!(made.len(), 2, "{made:?}");
    for j in &made {
        assert_eq!(j["state"], "completed", "{j}");
        // Jobs name the VM by its uuid: names need not be unique on XCP-ng.
        assert_eq!(j["source"]["vm"].as_str().map(str::len), Some(36), "{j}");
    }

    // Esc cancels: no job is made.
    pick("b", &[])?;
    t.wait("b", "the picker", long, |s| row(s, "pick-beta").is_some())?;
    t.type_text("b", "gam")?;
    t.keys("b", &["Space"])?;
    t.wait("b", "a pick", long, |s| s.contains("1 picked"))?;
    t.keys("b", &["Escape"])?;
    let s = t.wait("b", "the end", long, |s| s.contains("exit "))?;
    assert!(
        s.contains("cancelled: no job submitted") && s.contains("exit 0"),
        "{s}"
    );
    assert_eq!(jobs(&base)?.len(), 2);

    // Not a terminal: a clear error, before the source is even asked.
    let out = Command::new(&hype_bin)
        .args([
            "images",
            "import",
            "xcpng",
            "--url",
            &url,
            "--username",
            "root",
            "--pick",
        ])
        .env("HYPE_API_BASE", &base)
        .env("HYPE_XCPNG_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("--pick needs a terminal"), "{err}");
    assert_eq!(jobs(&base)?.len(), 2);
    Ok(())
}

/// The dashboard's import: `i`, the source in a form, the same picker, and
/// the picked VMs submitted as one batch the jobs pane then follows.
#[test]
fn dashboard_imports_picked_vms() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let disk = tmp.path().join("d.raw");
    std::fs::write(&disk, vec![5u8; 1 << 20])?;
    let (_xapi, url) = xapi(&disk, &["tui-alpha", "tui-beta", "tui-gamma"])?;
    let hyped = start_hyped(&tmp.path().join("data"), "127.0.0.1:0")?;
    let base = hyped.base.clone();
    let t = Tmux::new(tmp.path());
    let long = Duration::from_secs(30);
    let cmd = format!(
        "env HYPE_API_BASE={base} {} tui",
        env!("CARGO_BIN_EXE_hype")
    );
    // The password from the shell's environment, as `hype images import`.
    t.run("d", (80, 24), &cmd, &[("HYPE_XCPNG_PASSWORD", PASSWORD)])?;
    t.wait("d", "the dashboard", long, |s| s.contains("connected"))?;
    t.keys("d", &["i"])?;
    let s = t.wait("d", "the form", long, |s| {
        s.contains("Import from a source")
    })?;
    assert!(s.contains("(from HYPE_XCPNG_PASSWORD)"), "{s}");
    t.type_text("d", &url)?;
    t.keys("d", &["Enter"])?;
    let s = t.wait("d", "the picker", long, |s| row(s, "tui-gamma").is_some())?;
    assert!(s.contains("Import from xcpng"), "{s}");
    t.type_text("d", "gam")?;
    t.keys("d", &["Space"])?;
    t.type_text("d", "alp")?;
    t.keys("d", &["Tab"])?;
    t.wait("d", "two picks", long, |s| s.contains("2 picked"))?;
    t.keys("d", &["Enter"])?;
    t.wait("d", "the batch", long, |s| {
        s.contains("importing tui-alpha, tui-gamma")
    })?;
    for _ in 0..300 {
        let done = jobs(&base)?
            .iter()
            .filter(|j| j["state"] == "completed")
            .count();
        if done == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let made = jobs(&base)?;
    assert_eq!(made.len(), 2, "{made:?}");
    assert!(made.iter().all(|j| j["state"] == "completed"), "{made:?}");
    let (_, out, _) = hype(&base, &["images", "list"]);
    assert!(
        out.contains("tui-alpha") && out.contains("tui-gamma"),
        "{out}"
    );
    assert!(!out.contains("tui-beta"), "{out}");
    t.keys("d", &["q"])?;
    Ok(())
}
