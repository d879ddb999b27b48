//! `hype images import xcpng` and `hype jobs ...` as a person uses them: the
//! real binary against a real hyped and the test XAPI server.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const PASSWORD: &str = "cli-xcp-pw";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.0.wait();
    }
}

/// Spawns `cmd` and returns it with the rest of its first stdout line after `prefix`.
fn spawn(mut cmd: Command, prefix: &str) -> anyhow::Result<(Proc, String)> {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line)?;
    let rest = line
        .trim()
        .strip_prefix(prefix)
        .ok_or_else(|| anyhow::anyhow!("unexpected first line {line:?}"))?
        .to_owned();
    Ok((Proc(child), rest))
}

fn hype(base: &str, args: &[&str], password: Option<&str>) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hype"));
    cmd.args(args)
        .env("HYPE_API_BASE", base)
        .env_remove("HYPE_API_KEY")
        .env_remove("HYPE_XCPNG_PASSWORD");
    if let Some(p) = password {
        cmd.env("HYPE_XCPNG_PASSWORD", p);
    }
    let out = cmd.output().expect("run hype");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn import_xcpng_attached_and_detached_and_jobs_commands() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let disk = tmp.path().join("d.raw");
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::create(&disk)?;
        f.set_len(8 << 20)?;
        f.write_all_at(&[7u8; 300_000], 2 << 20)?;
    }
    let mut x = Command::new("python3");
    x.arg(repo().join("tests/xcpng/xapi_server.py"))
        .args(["--user", "root", "--password", PASSWORD, "--vm"])
        .arg(format!("cli-vm={}", disk.display()));
    let (_xapi, port) = spawn(x, "listening on ")?;
    let url = format!("http://127.0.0.1:{port}");
    let hyped = PathBuf::from(env!("CARGO_BIN_EXE_hype")).with_file_name("hyped");
    let mut h = Command::new(&hyped);
    h.args(["--listen", "127.0.0.1:0", "--network", "off", "--data-dir"])
        .arg(tmp.path().join("data"))
        .args([
            "--images-dir",
            &std::env::var("HYPE_IMAGES_DIR").unwrap_or_else(|_| "/var/lib/hype/images".into()),
        ]);
    let (_hyped, base) = spawn(h, "hyped listening on ")?;
    let import = |name: &str, extra: &[&str], pw: Option<&str>| {
        let mut args = vec![
            "images",
            "import",
            "xcpng",
            "--url",
            &url,
            "--username",
            "root",
            "--vm",
            "cli-vm",
            "--name",
            name,
        ];
        args.extend_from_slice(extra);
        hype(&base, &args, pw)
    };

    // Attached: follows the job to its end, exit 0, says so.
    let (code, out, err) = import("cli-a", &[], Some(PASSWORD));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("completed: image cli-a"), "{out}");
    assert!(!out.contains(PASSWORD) && !err.contains(PASSWORD));

    // Detached: prints only the id, which `jobs get` then knows.
    let (code, out, err) = import("cli-b", &["--detach", "--transport", "xva"], Some(PASSWORD));
    assert_eq!(code, 0, "{err}");
    let id = out.trim().to_owned();
    assert_eq!(id.len(), 36, "{out}");
    let mut state = String::new();
    for _ in 0..100 {
        let (_, out, _) = hype(&base, &["jobs", "get", &id, "-o", "json"], None);
        let j: serde_json::Value = serde_json::from_str(&out)?;
        state = j["state"].as_str().unwrap_or_default().to_owned();
        if state == "completed" || state == "failed" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(state, "completed");
    let (_, out, _) = hype(&base, &["images", "list"], None);
    assert!(out.contains("cli-a") && out.contains("cli-b"), "{out}");

    // A wrong password: the import fails with the reason and a non-zero exit.
    let (code, _, err) = import("cli-c", &[], Some("nope"));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("SESSION_AUTHENTICATION_FAILED"), "{err}");
    // No password anywhere: refused at once, naming the variable.
    let (code, _, err) = import("cli-d", &[], None);
    assert_ne!(code, 0);
    assert!(err.contains("HYPE_XCPNG_PASSWORD"), "{err}");

    // jobs submit -f (YAML), list, cancel of a finished job.
    let file = tmp.path().join("job.yaml");
    std::fs::write(
        &file,
        format!("jobs:\n- kind: xcpng_export\n  url: {url}\n  username: root\n  password: {PASSWORD}\n  vm: cli-vm\n  name: cli-e\n"),
    )?;
    let (code, out, err) = hype(
        &base,
        &["jobs", "submit", "-f", file.to_str().unwrap(), "-o", "json"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out)?;
    assert_eq!(list["jobs"][0]["image"], "cli-e");
    let (code, out, _) = hype(&base, &["jobs", "list"], None);
    assert_eq!(code, 0);
    assert!(out.starts_with("ID"), "{out}");
    assert_eq!(out.lines().count(), 5, "{out}");
    let (code, _, err) = hype(&base, &["jobs", "cancel", &id], None);
    assert_ne!(code, 0);
    assert!(err.contains("already completed"), "{err}");
    Ok(())
}

/// `hype images import xcpng --list`: the source's VMs as a table and as
/// JSON, the password from the shell's environment only.
#[test]
fn import_list_shows_the_source_s_vms_as_table_and_json() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let disk = tmp.path().join("d.raw");
    std::fs::write(&disk, vec![1u8; 2 << 20])?;
    let mut x = Command::new("python3");
    x.arg(repo().join("tests/xcpng/xapi_server.py"))
        .args(["--user", "root", "--password", PASSWORD])
        .args(["--running", "list-on", "--uefi", "list-off"])
        .arg("--vm")
        .arg(format!("list-on={}", disk.display()))
        .arg("--vm")
        .arg(format!("list-off={},{}", disk.display(), disk.display()));
    let (_xapi, port) = spawn(x, "listening on ")?;
    let url = format!("http://127.0.0.1:{port}");
    let hyped = PathBuf::from(env!("CARGO_BIN_EXE_hype")).with_file_name("hyped");
    let mut h = Command::new(&hyped);
    h.args(["--listen", "127.0.0.1:0", "--network", "off", "--data-dir"])
        .arg(tmp.path().join("data"));
    let (_hyped, base) = spawn(h, "hyped listening on ")?;
    let list = [
        "images",
        "import",
        "xcpng",
        "--url",
        &url,
        "--username",
        "root",
        "--list",
    ];

    let (code, out, err) = hype(&base, &list, Some(PASSWORD));
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("POWER"),
        "{out}"
    );
    let row = |name: &str| {
        *lines
            .iter()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row {name}: {out}"))
    };
    assert!(row("Debian Template").contains("template"), "{out}");
    let on = row("list-on ");
    assert!(
        on.contains(" on ") && on.contains("bios") && on.contains("2.0 MiB xen"),
        "{on}"
    );
    let off = row("list-off");
    assert!(off.contains(" off ") && off.contains("uefi"), "{off}");
    assert!(off.contains("2.0 MiB xen, 2.0 MiB xen"), "{off}");
    assert!(!out.contains("Control domain"), "{out}");

    let json = [&list[..], &["-o", "json"]].concat();
    let (code, out, err) = hype(&base, &json, Some(PASSWORD));
    assert_eq!(code, 0, "{err}");
    let inv: serde_json::Value = serde_json::from_str(&out)?;
    assert_eq!(inv["kind"], "xcpng");
    assert_eq!(inv["vms"].as_array().map(Vec::len), Some(3), "{inv}");
    assert!(!out.contains(PASSWORD) && !err.contains(PASSWORD));

    // Without the password: hyped has none either, and says so.
    let (code, _, err) = hype(&base, &list, None);
    assert_ne!(code, 0);
    assert!(
        err.contains("missing_password") || err.contains("no password"),
        "{err}"
    );
    // --list and --vm do not go together.
    let (code, _, err) = hype(&base, &[&list[..], &["--vm", "x"]].concat(), Some(PASSWORD));
    assert_ne!(code, 0);
    assert!(err.contains("--vm"), "{err}");
    Ok(())
}
