//! Exports stopped by their caller's shutdown and taken up again against
//! govmomi's vCenter simulator: the kept bytes are verified (checkpoints on
//! disk, the source's bytes before the offset) and the download continues
//! after them on a new lease, or starts over when the source differs.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{listing, progress, Sim};
use hype_vsphere::{export, resume, ExportSpec, VsphereError};
use tokio_util::sync::CancellationToken;

const VM: &str = "DC0_C0_RP0_VM0";
const DISK: &str = "DC0_C0_RP0_VM0-disk1.vmdk";
/// Past the first checkpoint (32 MiB), not the file's end.
const SIZE: u64 = 40 << 20;

/// Starts an export of `spec` into `dest` with `keep_on_stop` set, stops it
/// (as hyped's shutdown does) once `at` bytes are down, and returns the
/// offset of the last checkpoint it wrote.
async fn stop_at(spec: &ExportSpec, dest: &Path, at: u64) -> u64 {
    let stop = CancellationToken::new();
    let mut spec = spec.clone();
    spec.keep_on_stop = Some(stop.clone());
    let (tx, mut rx) = progress();
    let task = tokio::spawn({
        let (dest, stop) = (dest.to_path_buf(), stop.clone());
        async move { export(&spec, &dest, tx, stop).await }
    });
    tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|p| p.bytes_done >= at))
        .await
        .expect("the download got there")
        .unwrap();
    stop.cancel();
    let err = task.await.unwrap().unwrap_err();
    assert!(matches!(err, VsphereError::Cancelled), "{err:?}");
    let disk = dest.join(DISK);
    assert!(disk.exists(), "kept: {:?}", listing(dest));
    let marks = std::fs::read_to_string(resume::sidecar(&disk)).unwrap();
    let last = marks.lines().last().expect("a checkpoint was written");
    last.split(' ').next().unwrap().parse().unwrap()
}

/// The disk requests the simulator saw: (range, status, bytes sent).
async fn gets(sim: &Sim) -> Vec<(String, u64, u64)> {
    sim.kinds("get")
        .await
        .into_iter()
        .filter(|e| e["file"].as_str().is_some_and(|f| f.ends_with(".vmdk")))
        .map(|e| {
            (
                e["range"].as_str().unwrap_or_default().to_owned(),
                e["status"].as_u64().unwrap_or(0),
                e["sent"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

async fn resume_into(spec: &ExportSpec, dest: &Path) -> PathBuf {
    let mut spec = spec.clone();
    spec.resume = true;
    let (tx, rx) = progress();
    let out = export(&spec, dest, tx, CancellationToken::new())
        .await
        .expect("the resumed export completes");
    assert_eq!(rx.borrow().bytes_done, SIZE, "kept bytes count as done");
    assert_eq!(
        listing(dest),
        [DISK, "DC0_C0_RP0_VM0.mf", "DC0_C0_RP0_VM0.ovf"],
        "no sidecar left"
    );
    out.disks[0].path.clone()
}

#[tokio::test]
async fn a_stopped_export_continues_after_its_verified_bytes() {
    let size = SIZE.to_string();
    // 16 MiB/s: about 2.5 s for the file, time to stop it past 32 MiB.
    let sim = Sim::start(&["-disk-size", &size, "-rate", "16777216"]);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out");
    let offset = stop_at(&sim.spec(VM), &dest, 34 << 20).await;
    assert!((32 << 20..SIZE).contains(&offset), "{offset}");
    assert!(
        !sim.kinds("abort").await.is_empty(),
        "the old lease is aborted"
    );
    let before = gets(&sim).await.len();

    let disk = resume_into(&sim.spec(VM), &dest).await;
    assert_eq!(std::fs::read(&disk).unwrap(), sim.source(VM, 0));
    // One request, from 64 KiB before the kept offset: the rest was kept.
    let after = gets(&sim).await.split_off(before);
    assert_eq!(
        after,
        [(
            format!("bytes={}-", offset - (64 << 10)),
            206,
            SIZE - offset + (64 << 10)
        )]
    );
}

#[tokio::test]
async fn a_source_serving_other_bytes_before_the_offset_restarts_the_file() {
    let size = SIZE.to_string();
    let first = Sim::start(&["-disk-size", &size, "-rate", "16777216"]);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out");
    let offset = stop_at(&first.spec(VM), &dest, 34 << 20).await;
    // The disk changed between the two leases, just before the offset.
    let mut changed = first.source(VM, 0);
    changed[offset as usize - 100] ^= 0xff;
    let file = dir.path().join("changed.bin");
    std::fs::write(&file, &changed).unwrap();
    let second = Sim::start(&["-disk-file", file.to_str().unwrap()]);

    let disk = resume_into(&second.spec(VM), &dest).await;
    assert_eq!(
        std::fs::read(&disk).unwrap(),
        changed,
        "not two streams spliced"
    );
    let seen = gets(&second).await;
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].0, format!("bytes={}-", offset - (64 << 10)));
    assert_eq!(
        (seen[1].0.as_str(), seen[1].1),
        ("", 200),
        "then the whole file"
    );
}

#[tokio::test]
async fn a_flipped_byte_in_the_kept_file_is_fetched_again() {
    let size = SIZE.to_string();
    let sim = Sim::start(&["-disk-size", &size, "-rate", "16777216"]);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out");
    let offset = stop_at(&sim.spec(VM), &dest, 34 << 20).await;
    // Damage on disk, inside the checkpointed prefix, length unchanged.
    let path = dest.join(DISK);
    let mut kept = std::fs::read(&path).unwrap();
    kept[1 << 20] ^= 0x01;
    std::fs::write(&path, &kept).unwrap();
    let before = gets(&sim).await.len();

    let disk = resume_into(&sim.spec(VM), &dest).await;
    assert_eq!(std::fs::read(&disk).unwrap(), sim.source(VM, 0));
    // The only checkpoint failed: nothing was kept, the file came whole.
    let after = gets(&sim).await.split_off(before);
    assert_eq!(after, [(String::new(), 200, SIZE)], "offset was {offset}");
}
