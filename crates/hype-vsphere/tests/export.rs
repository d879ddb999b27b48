//! Successful exports against govmomi's vCenter simulator.

mod common;

use std::path::Path;

use common::{listing, progress, sha256_file, Sim};
use hype_vsphere::export;
use tokio_util::sync::CancellationToken;

/// The OVF's References (href, size) and DiskSection capacities.
fn ovf_files(ovf: &Path) -> (Vec<(String, u64)>, Vec<u64>) {
    let text = std::fs::read_to_string(ovf).unwrap();
    let mut reader = quick_xml::Reader::from_str(&text);
    let (mut files, mut caps) = (Vec::new(), Vec::new());
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Empty(e) | quick_xml::events::Event::Start(e) => {
                let attr = |name: &str| {
                    e.attributes()
                        .map(|a| a.unwrap())
                        .find(|a| a.key.as_ref() == name.as_bytes())
                        .map(|a| String::from_utf8(a.value.to_vec()).unwrap())
                };
                match e.name().as_ref() {
                    b"File" => files.push((
                        attr("ovf:href").unwrap(),
                        attr("ovf:size").unwrap().parse().unwrap(),
                    )),
                    b"Disk" => caps.push(attr("ovf:capacity").unwrap().parse().unwrap()),
                    _ => {}
                }
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    (files, caps)
}

/// `.mf` lines as (file, sha256).
fn manifest(mf: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(mf)
        .unwrap()
        .lines()
        .map(|l| {
            let (name, sha) = l
                .strip_prefix("SHA256(")
                .unwrap()
                .split_once(")= ")
                .unwrap();
            (name.to_string(), sha.to_string())
        })
        .collect()
}

#[tokio::test]
async fn export_by_inventory_path_writes_disks_ovf_and_manifest() {
    let sim = Sim::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out");
    let (tx, rx) = progress();
    let out = export(
        &sim.spec("/DC0/vm/DC0_H0_VM0"),
        &dest,
        tx,
        CancellationToken::new(),
    )
    .await
    .unwrap();

    // Two disks (the simulator gives DC0_H0_VM0 a second one), byte for byte.
    assert_eq!(out.disks.len(), 2);
    for (i, d) in out.disks.iter().enumerate() {
        assert_eq!(
            std::fs::read(&d.path).unwrap(),
            sim.source("DC0_H0_VM0", i),
            "disk {i}"
        );
    }
    assert_eq!(out.disks[0].capacity_bytes, 1 << 20);
    assert_eq!(out.disks[1].capacity_bytes, 2 << 20);
    // Only the disks, the OVF and the manifest: the nvram (not a disk) is skipped.
    assert_eq!(
        listing(&dest),
        [
            "DC0_H0_VM0-disk1.vmdk",
            "DC0_H0_VM0-disk2.vmdk",
            "DC0_H0_VM0.mf",
            "DC0_H0_VM0.ovf"
        ]
    );

    let (files, caps) = ovf_files(&out.ovf);
    assert_eq!(files.len(), 2);
    for ((href, size), d) in files.iter().zip(&out.disks) {
        assert_eq!(dest.join(href), d.path);
        assert_eq!(*size, std::fs::metadata(&d.path).unwrap().len());
    }
    assert_eq!(caps, [1 << 20, 2 << 20]);

    let mf = manifest(&out.manifest);
    assert_eq!(mf.len(), 3);
    for (name, sha) in &mf {
        assert_eq!(sha, &sha256_file(&dest.join(name)), "{name}");
    }
    assert_eq!(mf[0].0, "DC0_H0_VM0.ovf");

    let p = rx.borrow().clone();
    assert_eq!(p.phase, "done");
    let total = (4 << 20) * 2 + 65536;
    assert_eq!((p.bytes_done, p.bytes_total), (total, Some(total)));
    assert_eq!((p.files_done, p.files_total), (2, Some(2)));

    let ev = sim.events().await;
    assert!(ev.iter().any(|e| e["kind"] == "complete"), "{ev:?}");
    assert!(!ev.iter().any(|e| e["kind"] == "abort"), "{ev:?}");
}

#[tokio::test]
async fn export_by_name() {
    let sim = Sim::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (tx, _rx) = progress();
    let out = export(
        &sim.spec("DC0_C0_RP0_VM0"),
        dir.path(),
        tx,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(out.disks.len(), 1);
    assert_eq!(
        std::fs::read(&out.disks[0].path).unwrap(),
        sim.source("DC0_C0_RP0_VM0", 0)
    );
    assert_eq!(out.ovf, dir.path().join("DC0_C0_RP0_VM0.ovf"));
}

/// The GETs of one file, in order.
async fn gets(sim: &Sim, file: &str) -> Vec<serde_json::Value> {
    sim.kinds("get")
        .await
        .into_iter()
        .filter(|e| e["file"] == file)
        .collect()
}

#[tokio::test]
async fn dropped_connection_resumes_with_a_range() {
    let sim = Sim::start(&["-drop-after", "1000000"]);
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = progress();
    let out = export(
        &sim.spec("DC0_C0_RP0_VM0"),
        dir.path(),
        tx,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read(&out.disks[0].path).unwrap(),
        sim.source("DC0_C0_RP0_VM0", 0)
    );
    let g = gets(&sim, "disk-0.vmdk").await;
    assert_eq!(g.len(), 2, "{g:?}");
    assert_eq!(
        (g[0]["status"].as_u64(), g[0]["dropped"].as_bool()),
        (Some(200), Some(true))
    );
    // The second request asks for the rest only, and gets 206.
    let got = g[0]["sent"].as_u64().unwrap();
    assert_eq!(g[1]["range"], format!("bytes={got}-"));
    assert_eq!(g[1]["status"], 206);
    assert_eq!(g[1]["sent"].as_u64().unwrap(), (4 << 20) - got);
    // Progress counts each byte once.
    assert_eq!(rx.borrow().bytes_done, 4 << 20);
}

#[tokio::test]
async fn server_ignoring_the_range_restarts_the_file() {
    let sim = Sim::start(&["-drop-after", "1000000", "-ignore-range"]);
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = progress();
    let out = export(
        &sim.spec("DC0_C0_RP0_VM0"),
        dir.path(),
        tx,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let g = gets(&sim, "disk-0.vmdk").await;
    assert_eq!(g.len(), 2, "{g:?}");
    assert!(g[1]["range"].as_str().unwrap().starts_with("bytes="));
    assert_eq!(
        (g[1]["status"].as_u64(), g[1]["sent"].as_u64()),
        (Some(200), Some(4 << 20))
    );
    // Appending the 200 to the partial file would have made it longer.
    let disk = std::fs::read(&out.disks[0].path).unwrap();
    assert_eq!(disk, sim.source("DC0_C0_RP0_VM0", 0));
    let mf = manifest(&out.manifest);
    assert_eq!(mf[1].1, sha256_file(&out.disks[0].path));
    assert_eq!(rx.borrow().bytes_done, 4 << 20);
}

/// Whether any two GETs of the list were in flight at the same time.
fn overlapping(g: &[serde_json::Value]) -> bool {
    let span = |e: &serde_json::Value| {
        (
            e["start_ms"].as_f64().unwrap(),
            e["end_ms"].as_f64().unwrap(),
        )
    };
    g.iter().enumerate().any(|(i, a)| {
        g[i + 1..].iter().any(|b| {
            let ((s1, e1), (s2, e2)) = (span(a), span(b));
            s1 < e2 && s2 < e1
        })
    })
}

#[tokio::test]
async fn disks_download_in_parallel_up_to_the_limit() {
    // 8 MiB/s per download: each 4 MiB disk takes about half a second.
    let sim = Sim::start(&["-rate", "8388608"]);
    for (parallel, expect_overlap) in [(2, true), (1, false)] {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = sim.spec("/DC0/vm/DC0_H0_VM0");
        spec.parallel_downloads = parallel;
        let (tx, _rx) = progress();
        let before = sim.kinds("get").await.len();
        export(&spec, dir.path(), tx, CancellationToken::new())
            .await
            .unwrap();
        let g: Vec<_> = sim.kinds("get").await.split_off(before);
        assert_eq!(g.len(), 2);
        assert_eq!(
            overlapping(&g),
            expect_overlap,
            "parallel {parallel}: {g:?}"
        );
    }
}

#[tokio::test]
async fn powered_on_vm_needs_shutdown() {
    let sim = Sim::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (tx, _rx) = progress();
    let err = export(
        &sim.spec("DC0_H0_VM1"),
        dir.path(),
        tx,
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, hype_vsphere::VsphereError::VmPoweredOn { vm } if vm == "DC0_H0_VM1"),
        "{err}"
    );
    assert!(sim.kinds("lease").await.is_empty(), "no export was started");
    assert!(listing(dir.path()).is_empty());

    let mut spec = sim.spec("DC0_H0_VM1");
    spec.shutdown = true;
    let (tx, _rx) = progress();
    let out = export(&spec, dir.path(), tx, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(&out.disks[0].path).unwrap(),
        sim.source("DC0_H0_VM1", 0)
    );
}

#[tokio::test]
async fn remove_cdrom_takes_the_drive_out_before_the_export() {
    let sim = Sim::start(&[]);
    let devices = |e: &serde_json::Value| -> Vec<String> {
        e["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_string())
            .collect()
    };
    // Without the option the VM keeps its drive.
    let dir = tempfile::tempdir().unwrap();
    let (tx, _rx) = progress();
    export(
        &sim.spec("DC0_C0_RP0_VM1"),
        dir.path(),
        tx,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let leases = sim.kinds("lease").await;
    assert!(
        devices(&leases[0]).contains(&"VirtualCdrom".to_string()),
        "{leases:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut spec = sim.spec("DC0_C0_RP0_VM1");
    spec.remove_cdrom = true;
    let (tx, _rx) = progress();
    export(&spec, dir.path(), tx, CancellationToken::new())
        .await
        .unwrap();
    let created: Vec<_> = sim
        .kinds("lease")
        .await
        .into_iter()
        .filter(|e| e["devices"].is_array())
        .collect();
    assert_eq!(created.len(), 2);
    let after = devices(&created[1]);
    assert!(!after.contains(&"VirtualCdrom".to_string()), "{after:?}");
    assert!(after.contains(&"VirtualDisk".to_string()));
}

#[tokio::test]
async fn progress_calls_keep_a_short_lease_alive() {
    // A 2 s lease and a download of about 4 s: only HttpNfcLeaseProgress
    // keeps the lease (and so the download) going.
    let sim = Sim::start(&["-lease-timeout", "2", "-rate", "1048576"]);
    let dir = tempfile::tempdir().unwrap();
    let (tx, _rx) = progress();
    let out = export(
        &sim.spec("DC0_C0_RP0_VM0"),
        dir.path(),
        tx,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read(&out.disks[0].path).unwrap(),
        sim.source("DC0_C0_RP0_VM0", 0)
    );
    let progress_calls = sim.kinds("progress").await;
    assert!(progress_calls.len() >= 4, "{progress_calls:?}");
    let last = progress_calls.last().unwrap();
    assert_eq!(last["percent"], 100);
}

#[tokio::test]
async fn without_announced_sizes_the_server_length_decides() {
    let sim = Sim::start(&["-no-file-size", "-drop-after", "500000"]);
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = progress();
    let out = export(
        &sim.spec("DC0_C0_RP0_VM0"),
        dir.path(),
        tx,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read(&out.disks[0].path).unwrap(),
        sim.source("DC0_C0_RP0_VM0", 0)
    );
    let p = rx.borrow().clone();
    assert_eq!((p.bytes_done, p.bytes_total), (4 << 20, None));
    assert_eq!(gets(&sim, "disk-0.vmdk").await[1]["status"], 206);
}
