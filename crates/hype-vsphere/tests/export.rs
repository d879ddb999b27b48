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
