//! Import throughput, printed as figures:
//! - raw VDI export of a 2 GiB disk (sparse-friendly but non-zero) over
//!   loopback from tests/xcpng/xapi_server.py: hype's exporter against
//!   `curl` fetching the same URL;
//! - XVA → raw: hype's streaming rebuild (checksums verified) against
//!   `tar -x` + Debian's `xva-img disk-export`.
//!
//! `cargo bench -p hype-xcpng --bench import` (`HYPE_BENCH_GIB` sets the size)

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use hype_xcpng::{export, Progress, Remote, Source};
use serde_json::{json, Value};
use sha1::Digest;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const MIB: u64 = 1 << 20;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Data in two of every three MiB, zeros in the third.
fn make_disk(path: &Path, size: u64) {
    let f = std::fs::File::create(path).unwrap();
    f.set_len(size).unwrap();
    let block: Vec<u8> = (0..MIB).map(|i| (i * 7 % 251) as u8).collect();
    for i in 0..size / MIB {
        if i % 3 != 2 {
            let mut b = block.clone();
            b[..8].copy_from_slice(&i.to_le_bytes());
            f.write_all_at(&b, i * MIB).unwrap();
        }
    }
}

fn mibs(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / MIB as f64 / secs
}

async fn rpc(url: &str, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "method": method, "params": params, "id": 1});
    let v: Value = reqwest::Client::new()
        .post(format!("{url}/jsonrpc"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["result"].clone()
}

fn build_xva(disk: &Path, out: &Path) {
    let data = std::fs::read(disk).unwrap();
    let mut w = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    let mut add = |name: &str, d: &[u8]| {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", d.len()).as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| *b as u32).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        w.write_all(&h).unwrap();
        w.write_all(d).unwrap();
        w.write_all(&vec![0u8; (512 - d.len() % 512) % 512])
            .unwrap();
    };
    let ova = format!(
        "<value><struct><member><name>objects</name><value><array><data>\
<value><struct><member><name>class</name><value>VBD</value></member><member><name>id</name><value>Ref:1</value></member>\
<member><name>snapshot</name><value><struct><member><name>type</name><value>Disk</value></member>\
<member><name>VDI</name><value>Ref:2</value></member><member><name>userdevice</name><value>0</value></member></struct></value></member></struct></value>\
<value><struct><member><name>class</name><value>VDI</value></member><member><name>id</name><value>Ref:2</value></member>\
<member><name>snapshot</name><value><struct><member><name>virtual_size</name><value>{}</value></member></struct></value></member></struct></value>\
</data></array></value></member></struct></value>",
        data.len()
    );
    add("ova.xml", ova.as_bytes());
    for (i, c) in data.chunks(MIB as usize).enumerate() {
        if c.iter().all(|b| *b == 0) {
            continue;
        }
        let name = format!("Ref:2/{i:08}");
        add(&name, c);
        add(
            &format!("{name}.checksum"),
            hex::encode(sha1::Sha1::digest(c)).as_bytes(),
        );
    }
    w.write_all(&[0u8; 1024]).unwrap();
}

#[tokio::main]
async fn main() {
    let gib: u64 = std::env::var("HYPE_BENCH_GIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let size = gib << 30;
    let tmp = tempfile::tempdir_in("/var/tmp").unwrap();
    let disk = tmp.path().join("disk.raw");
    make_disk(&disk, size);

    // Raw VDI export over loopback.
    let mut child = Command::new("python3")
        .arg(repo().join("tests/xcpng/xapi_server.py"))
        .args(["--user", "root", "--password", "pw", "--vm"])
        .arg(format!("bench={}", disk.display()))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = format!(
        "http://127.0.0.1:{}",
        line.trim().trim_start_matches("listening on ")
    );
    let mut ours = f64::MAX;
    let mut theirs = f64::MAX;
    for round in 0..2 {
        let dest = tmp.path().join(format!("ours{round}"));
        std::fs::create_dir(&dest).unwrap();
        let (tx, _rx) = watch::channel(Progress::default());
        let src = Source::Remote(Remote {
            url: url.clone(),
            username: "root".into(),
            password: "pw".into(),
            vm: "bench".into(),
            insecure: false,
            xva: false,
        });
        let t = Instant::now();
        export(&src, &dest, tx, CancellationToken::new())
            .await
            .unwrap();
        ours = ours.min(t.elapsed().as_secs_f64());
        std::fs::remove_dir_all(&dest).unwrap();

        let session = rpc(
            &url,
            "session.login_with_password",
            json!(["root", "pw", "2.0", "bench"]),
        )
        .await;
        let s = session.as_str().unwrap();
        let vms = rpc(&url, "VM.get_all_records", json!([s])).await;
        let vm = vms
            .as_object()
            .unwrap()
            .values()
            .find(|v| v["name_label"] == "bench")
            .unwrap();
        let vbds = vm["VBDs"].as_array().unwrap();
        let mut vdi = String::new();
        for vbd in vbds {
            let r = rpc(&url, "VBD.get_record", json!([s, vbd])).await;
            if r["type"] == "Disk" {
                vdi = r["VDI"].as_str().unwrap().to_owned();
            }
        }
        let task = rpc(&url, "task.create", json!([s, "curl", ""])).await;
        let out = tmp.path().join("curl.raw");
        let t = Instant::now();
        let st = Command::new("curl")
            .args(["-sSf", "-o"])
            .arg(&out)
            .arg(format!(
                "{url}/export_raw_vdi?session_id={s}&vdi={vdi}&format=raw&task_id={}",
                task.as_str().unwrap()
            ))
            .status()
            .unwrap();
        assert!(st.success());
        theirs = theirs.min(t.elapsed().as_secs_f64());
        std::fs::remove_file(&out).unwrap();
    }
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "raw VDI export, {gib} GiB over loopback: hype {ours:.2} s ({:.0} MiB/s), curl {theirs:.2} s ({:.0} MiB/s), hype/curl time ratio {:.2}",
        mibs(size, ours),
        mibs(size, theirs),
        ours / theirs
    );

    // XVA → raw.
    let xva = tmp.path().join("vm.xva");
    build_xva(&disk, &xva);
    std::fs::remove_file(&disk).unwrap();
    let dest = tmp.path().join("xva-ours");
    std::fs::create_dir(&dest).unwrap();
    let (tx, _rx) = watch::channel(Progress::default());
    let t = Instant::now();
    export(
        &Source::XvaFile(xva.clone()),
        &dest,
        tx,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let ours = t.elapsed().as_secs_f64();
    std::fs::remove_dir_all(&dest).unwrap();
    let unpacked = tmp.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    let t = Instant::now();
    assert!(Command::new("tar")
        .arg("-xf")
        .arg(&xva)
        .arg("-C")
        .arg(&unpacked)
        .status()
        .unwrap()
        .success());
    let untar = t.elapsed().as_secs_f64();
    let t = Instant::now();
    assert!(Command::new("xva-img")
        .args(["-s", "disk-export"])
        .arg(unpacked.join("Ref:2"))
        .arg(tmp.path().join("xva-img.raw"))
        .status()
        .unwrap()
        .success());
    let img = t.elapsed().as_secs_f64();
    println!(
        "XVA -> raw, {gib} GiB disk: hype {ours:.2} s ({:.0} MiB/s, straight from the .xva), xva-img {img:.2} s ({:.0} MiB/s; tar -x before it {untar:.2} s), hype/xva-img time ratio {:.2} ({:.2} counting tar)",
        mibs(size, ours),
        mibs(size, img),
        ours / img,
        ours / (img + untar)
    );
}
