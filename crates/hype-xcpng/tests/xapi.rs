//! The exporter against tests/xcpng/xapi_server.py (a real HTTP server
//! speaking XAPI's wire protocol), that server against the official XenAPI
//! client, and the XVA rebuild against Debian's `xva-img`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use hype_xcpng::{export, Firmware, Progress, Remote, Source, XcpngError};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Xapi {
    child: Child,
    url: String,
}

impl Drop for Xapi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn xapi(disks: &[&Path], extra: &[&str]) -> Xapi {
    let list: Vec<String> = disks.iter().map(|d| d.display().to_string()).collect();
    let mut child = Command::new("python3")
        .arg(repo().join("tests/xcpng/xapi_server.py"))
        .args(["--user", "root", "--password", "s3cret", "--vm"])
        .arg(format!("web01={}", list.join(",")))
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs the test XAPI server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("listening on ")
        .expect("port line");
    Xapi {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// A disk with data here and there and long zero runs (sparse-friendly).
fn make_disk(path: &Path, mib: u64, seed: u8) {
    let f = std::fs::File::create(path).unwrap();
    f.set_len(mib << 20).unwrap();
    use std::os::unix::fs::FileExt;
    for i in (0..mib).step_by(3) {
        let data: Vec<u8> = (0..700_000u32)
            .map(|j| (j as u8).wrapping_mul(31).wrapping_add(seed ^ i as u8))
            .collect();
        f.write_all_at(&data, (i << 20) + 4096).unwrap();
    }
    // A last partial block, so size handling at the end is exercised.
    f.write_all_at(b"tail", (mib << 20) - 4).unwrap();
}

fn remote(url: &str, vm: &str, password: &str, xva: bool) -> Source {
    Source::Remote(Remote {
        url: url.into(),
        username: "root".into(),
        password: password.into(),
        vm: vm.into(),
        insecure: false,
        xva,
    })
}

async fn run(src: &Source, dest: &Path) -> Result<hype_xcpng::ExportOutcome, XcpngError> {
    let (tx, _rx) = watch::channel(Progress::default());
    export(src, dest, tx, CancellationToken::new()).await
}

fn same(a: &Path, b: &Path) {
    let (x, y) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    assert_eq!(x.len(), y.len(), "{} vs {}", a.display(), b.display());
    assert!(x == y, "{} and {} differ", a.display(), b.display());
}

#[tokio::test]
async fn raw_and_xva_exports_rebuild_the_disks_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let (d0, d1) = (tmp.path().join("d0.raw"), tmp.path().join("d1.raw"));
    make_disk(&d0, 9, 1);
    make_disk(&d1, 4, 2);
    let s = xapi(&[&d0, &d1], &["--redirect"]);
    for xva in [false, true] {
        let dest = tmp.path().join(format!("out-{xva}"));
        std::fs::create_dir(&dest).unwrap();
        let out = run(&remote(&s.url, "web01", "s3cret", xva), &dest)
            .await
            .unwrap();
        assert_eq!(out.disks.len(), 2);
        assert_eq!(out.disks[0].capacity_bytes, 9 << 20);
        // No firmware key in HVM_boot_params: a BIOS VM.
        assert_eq!(out.firmware, Firmware::Bios);
        same(&out.disks[0].path, &d0);
        same(&out.disks[1].path, &d1);
    }
}

#[tokio::test]
async fn both_transports_report_a_uefi_vm_as_uefi() {
    let tmp = tempfile::tempdir().unwrap();
    let d0 = tmp.path().join("d0.raw");
    make_disk(&d0, 2, 5);
    let s = xapi(&[&d0], &["--uefi", "web01"]);
    for xva in [false, true] {
        let dest = tmp.path().join(format!("out-{xva}"));
        std::fs::create_dir(&dest).unwrap();
        let out = run(&remote(&s.url, "web01", "s3cret", xva), &dest)
            .await
            .unwrap();
        assert_eq!(out.firmware, Firmware::Uefi, "xva: {xva}");
        same(&out.disks[0].path, &d0);
    }
}

#[tokio::test]
async fn bad_sources_fail_with_their_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let d0 = tmp.path().join("d0.raw");
    make_disk(&d0, 3, 1);
    let s = xapi(&[&d0], &[]);
    let dest = tmp.path().join("a");
    std::fs::create_dir(&dest).unwrap();
    let e = run(&remote(&s.url, "web01", "wrong", false), &dest)
        .await
        .unwrap_err();
    assert!(matches!(e, XcpngError::Auth { .. }), "{e}");
    assert!(!e.to_string().contains("wrong"));
    let e = run(&remote(&s.url, "nope", "s3cret", false), &dest)
        .await
        .unwrap_err();
    assert!(matches!(e, XcpngError::VmNotFound { .. }), "{e}");
    // Templates and dom0 are not VMs to export.
    let e = run(&remote(&s.url, "Control domain", "s3cret", false), &dest)
        .await
        .unwrap_err();
    assert!(matches!(e, XcpngError::VmNotFound { .. }), "{e}");
    drop(s);

    for (flag, xva) in [
        ("--truncate", false),
        ("--corrupt-checksum", true),
        ("--climb", true),
    ] {
        let s = xapi(&[&d0], &[flag]);
        let dest = tmp.path().join(flag.trim_start_matches('-'));
        std::fs::create_dir(&dest).unwrap();
        let e = run(&remote(&s.url, "web01", "s3cret", xva), &dest)
            .await
            .unwrap_err();
        match flag {
            "--truncate" => assert!(matches!(e, XcpngError::Truncated { .. }), "{e}"),
            "--corrupt-checksum" => assert!(matches!(e, XcpngError::Checksum { .. }), "{e}"),
            _ => assert!(matches!(e, XcpngError::UnsafePath { .. }), "{e}"),
        }
    }
}

#[tokio::test]
async fn absurd_or_false_sizes_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d0 = tmp.path().join("d0.raw");
    make_disk(&d0, 3, 1);
    // A petabyte-sized claim, over raw and XVA; then a claim smaller than
    // what is actually sent.
    for (claim, xva, expect) in [
        ("1125899906842624000", false, "beyond the limit"),
        ("1125899906842624000", true, "beyond the limit"),
        ("1048576", false, "differs from the VDI's virtual_size"),
        ("1048576", true, "beyond its disk's declared size"),
    ] {
        let s = xapi(&[&d0], &["--claim-size", claim]);
        let dest = tmp.path().join(format!("{claim}-{xva}"));
        std::fs::create_dir(&dest).unwrap();
        let e = run(&remote(&s.url, "web01", "s3cret", xva), &dest)
            .await
            .unwrap_err();
        assert!(e.to_string().contains(expect), "{claim} {xva}: {e}");
    }
}

#[tokio::test]
async fn self_signed_certificates_need_insecure() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = (tmp.path().join("c.pem"), tmp.path().join("k.pem"));
    let st = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let d0 = tmp.path().join("d0.raw");
    make_disk(&d0, 2, 5);
    let s = xapi(
        &[&d0],
        &["--tls", cert.to_str().unwrap(), key.to_str().unwrap()],
    );
    let url = s.url.replace("http://", "https://");
    let dest = tmp.path().join("strict");
    std::fs::create_dir(&dest).unwrap();
    let e = run(&remote(&url, "web01", "s3cret", false), &dest)
        .await
        .unwrap_err();
    assert!(matches!(e, XcpngError::Connect { .. }), "{e}");
    assert!(e.to_string().contains("certificate"), "{e}");
    let dest = tmp.path().join("insecure");
    std::fs::create_dir(&dest).unwrap();
    let Source::Remote(mut r) = remote(&url, "web01", "s3cret", false) else {
        unreachable!()
    };
    r.insecure = true;
    let out = run(&Source::Remote(r), &dest).await.unwrap();
    same(&out.disks[0].path, &d0);
}

#[test]
fn the_test_server_satisfies_the_official_xenapi_client() {
    let py =
        PathBuf::from(std::env::var("HYPE_VENV").unwrap_or_else(|_| "/var/cache/hype/venv".into()))
            .join("bin/python");
    assert!(
        py.is_file(),
        "{} missing: run scripts/install-deps.sh (it installs tests/xcpng/requirements.txt)",
        py.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let d0 = tmp.path().join("d0.raw");
    make_disk(&d0, 3, 7);
    let s = xapi(&[&d0], &["--redirect", "--uefi", "web01"]);
    let out = Command::new(py)
        .arg(repo().join("tests/xcpng/xenapi_check.py"))
        .args([&s.url, "root", "s3cret", "web01"])
        .arg(&d0)
        .arg("uefi")
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A minimal ustar writer for building XVAs here (names taken as given,
/// `../` included, which is the point of one test).
pub struct TarOut<W: Write>(pub W);

impl<W: Write> TarOut<W> {
    pub fn add(&mut self, name: &str, data: &[u8]) {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| *b as u32).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        self.0.write_all(&h).unwrap();
        self.0.write_all(data).unwrap();
        let pad = (512 - data.len() % 512) % 512;
        self.0.write_all(&vec![0u8; pad]).unwrap();
    }

    pub fn finish(mut self) {
        self.0.write_all(&[0u8; 1024]).unwrap();
    }
}

fn ova(size: u64) -> String {
    format!(
        "<value><struct><member><name>version</name><value><struct></struct></value></member>\
<member><name>objects</name><value><array><data>\
<value><struct><member><name>class</name><value>VBD</value></member><member><name>id</name><value>Ref:1</value></member>\
<member><name>snapshot</name><value><struct><member><name>type</name><value>Disk</value></member>\
<member><name>VDI</name><value>Ref:2</value></member><member><name>userdevice</name><value>0</value></member>\
</struct></value></member></struct></value>\
<value><struct><member><name>class</name><value>VDI</value></member><member><name>id</name><value>Ref:2</value></member>\
<member><name>snapshot</name><value><struct><member><name>virtual_size</name><value>{size}</value></member>\
</struct></value></member></struct></value></data></array></value></member></struct></value>"
    )
}

/// Writes `disk` as an XVA with `.checksum` (SHA-1) or `.xxhash` sidecars.
fn build_xva(disk: &Path, out: &Path, xxhash: bool) {
    use sha1::Digest;
    let data = std::fs::read(disk).unwrap();
    let mut t = TarOut(std::io::BufWriter::new(std::fs::File::create(out).unwrap()));
    t.add("ova.xml", ova(data.len() as u64).as_bytes());
    for (i, chunk) in data.chunks(1 << 20).enumerate() {
        if chunk.iter().all(|b| *b == 0) {
            continue;
        }
        let name = format!("Ref:2/{i:08}");
        t.add(&name, chunk);
        if xxhash {
            let h = format!("{:016x}", xxhash_rust::xxh64::xxh64(chunk, 0));
            t.add(&format!("{name}.xxhash"), h.as_bytes());
        } else {
            t.add(
                &format!("{name}.checksum"),
                hex::encode(sha1::Sha1::digest(chunk)).as_bytes(),
            );
        }
    }
    t.finish();
}

#[tokio::test]
async fn xva_files_rebuild_as_xva_img_does() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = tmp.path().join("disk.raw");
    make_disk(&disk, 7, 3);
    for xxhash in [false, true] {
        let xva = tmp.path().join(format!("vm-{xxhash}.xva"));
        build_xva(&disk, &xva, xxhash);
        let dest = tmp.path().join(format!("ours-{xxhash}"));
        std::fs::create_dir(&dest).unwrap();
        let out = run(&Source::XvaFile(xva.clone()), &dest).await.unwrap();
        same(&out.disks[0].path, &disk);
        if xxhash {
            continue;
        }
        // Debian's xva-img works on the unpacked chunk directory.
        let unpacked = tmp.path().join("unpacked");
        std::fs::create_dir(&unpacked).unwrap();
        let st = Command::new("tar")
            .arg("-xf")
            .arg(&xva)
            .arg("-C")
            .arg(&unpacked)
            .status()
            .unwrap();
        assert!(st.success());
        let theirs = tmp.path().join("theirs.raw");
        let out2 = Command::new("xva-img")
            .args(["-s", "disk-export"])
            .arg(unpacked.join("Ref:2"))
            .arg(&theirs)
            .output()
            .expect("xva-img (Debian package xva-img, installed by scripts/install-deps.sh)");
        assert!(
            out2.status.success(),
            "{}",
            String::from_utf8_lossy(&out2.stderr)
        );
        // xva-img stops at the last chunk present; the disk's size is ova.xml's.
        let mut t = std::fs::read(&theirs).unwrap();
        t.resize(7 << 20, 0);
        assert!(
            t == std::fs::read(&out.disks[0].path).unwrap(),
            "xva-img disagrees"
        );
    }
}

#[tokio::test]
async fn an_xva_entry_climbing_out_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let xva = tmp.path().join("bad.xva");
    let mut t = TarOut(std::fs::File::create(&xva).unwrap());
    t.add("ova.xml", ova(1 << 20).as_bytes());
    t.add("Ref:2/../../etc/evil", b"x");
    t.finish();
    let dest = tmp.path().join("d");
    std::fs::create_dir(&dest).unwrap();
    let e = run(&Source::XvaFile(xva), &dest).await.unwrap_err();
    assert!(matches!(e, XcpngError::UnsafePath { .. }), "{e}");
    assert!(!tmp.path().join("etc").exists());
}
