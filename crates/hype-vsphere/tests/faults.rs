//! Failed exports against govmomi's vCenter simulator: each a precise
//! error, the lease aborted when there was one, and nothing left behind.

mod common;

use std::time::Duration;

use common::{listing, progress, Sim};
use hype_vsphere::{export, ExportSpec, VsphereError};
use tokio_util::sync::CancellationToken;

/// Runs an export into a fresh `out` directory and returns the error; the
/// directory must not exist afterwards (the export created and removed it).
async fn fails(spec: &ExportSpec) -> VsphereError {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out");
    let (tx, _rx) = progress();
    let err = export(spec, &dest, tx, CancellationToken::new())
        .await
        .expect_err("the export should fail");
    assert!(!dest.exists(), "{err}: left {:?}", listing(&dest));
    err
}

async fn aborted(sim: &Sim) -> bool {
    !sim.kinds("abort").await.is_empty()
}

#[tokio::test]
async fn wrong_password_is_login_failed() {
    let sim = Sim::start(&[]);
    let mut spec = sim.spec("/DC0/vm/DC0_H0_VM0");
    spec.password = "not-the-password".into();
    let err = fails(&spec).await;
    assert!(
        matches!(&err, VsphereError::LoginFailed { username } if username == common::USER),
        "{err:?}"
    );
    // The message names the user, never the password.
    assert!(!err.to_string().contains("not-the-password"));
}

#[tokio::test]
async fn unknown_vm_is_vm_not_found_by_path_and_by_name() {
    let sim = Sim::start(&[]);
    for vm in ["/DC0/vm/nope", "nope", "/DC0/host/DC0_H0"] {
        let err = fails(&sim.spec(vm)).await;
        assert!(
            matches!(&err, VsphereError::VmNotFound { vm: v } if v == vm),
            "{vm}: {err:?}"
        );
    }
    assert!(sim.kinds("lease").await.is_empty());
}

#[tokio::test]
async fn lease_error_is_reported_with_its_message() {
    let sim = Sim::start(&[
        "-lease-error",
        "Unable to access file disk1.vmdk since it is locked",
    ]);
    let err = fails(&sim.spec("DC0_C0_RP0_VM0")).await;
    match &err {
        VsphereError::LeaseError { message } => assert!(message.contains("locked"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn truncated_download_fails_and_aborts_the_lease() {
    // Every response stops at half the file, resumed or not.
    let sim = Sim::start(&["-truncate"]);
    let err = fails(&sim.spec("DC0_C0_RP0_VM0")).await;
    match &err {
        VsphereError::Truncated {
            file,
            expected,
            got,
        } => {
            assert_eq!(file, "DC0_C0_RP0_VM0-disk1.vmdk");
            assert_eq!((*expected, *got), (4 << 20, 2 << 20));
        }
        other => panic!("{other:?}"),
    }
    assert!(aborted(&sim).await);
    assert!(sim.kinds("complete").await.is_empty());
    // It resumed from the cut rather than starting over each time.
    let gets = sim.kinds("get").await;
    assert!(
        gets.len() >= 2 && gets[1]["range"] == format!("bytes={}-", 2 << 20),
        "{gets:?}"
    );
}

#[tokio::test]
async fn absurd_size_is_refused_before_any_download() {
    let sim = Sim::start(&["-absurd-size"]);
    let err = fails(&sim.spec("DC0_C0_RP0_VM0")).await;
    assert!(
        matches!(&err, VsphereError::AbsurdSize { size, .. } if *size == 1 << 62),
        "{err:?}"
    );
    assert!(aborted(&sim).await);
    assert!(sim.kinds("get").await.is_empty());
}

#[tokio::test]
async fn a_download_of_no_announced_length_is_bounded_by_its_disk() {
    // No fileSize in the lease, no Content-Length on the wire, and 32 MiB
    // for a disk of 1 MiB: the download stops at the disk's bound and the
    // partial file is removed (`fails` checks nothing is left).
    let sim = Sim::start(&["-no-file-size", "-no-length", "-disk-size", "33554432"]);
    let err = fails(&sim.spec("DC0_C0_RP0_VM0")).await;
    match &err {
        VsphereError::TooLong { file, limit } => {
            assert_eq!(file, "DC0_C0_RP0_VM0-disk1.vmdk");
            assert_eq!(*limit, hype_vsphere::download_limit(1 << 20));
            assert!(*limit < 32 << 20);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("no length was announced"), "{err}");
    assert!(aborted(&sim).await);
}

#[tokio::test]
async fn cancel_mid_download_aborts_the_lease_and_removes_the_files() {
    // 1 MiB/s: the 4 MiB disk is still downloading when the cancel comes.
    let sim = Sim::start(&["-rate", "1048576"]);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out");
    let (tx, mut rx) = progress();
    let cancel = CancellationToken::new();
    let spec = sim.spec("DC0_C0_RP0_VM0");
    let task = tokio::spawn({
        let (dest, cancel) = (dest.clone(), cancel.clone());
        async move { export(&spec, &dest, tx, cancel).await }
    });
    tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|p| p.bytes_done > 0))
        .await
        .expect("download started")
        .unwrap();
    assert!(dest.join("DC0_C0_RP0_VM0-disk1.vmdk").exists());
    cancel.cancel();
    let err = task.await.unwrap().unwrap_err();
    assert!(matches!(err, VsphereError::Cancelled), "{err:?}");
    assert!(!dest.exists(), "left {:?}", listing(&dest));
    assert!(aborted(&sim).await);
}

#[tokio::test]
async fn self_signed_certificate_is_refused_unless_insecure() {
    let sim = Sim::start(&[]);
    let mut spec = sim.spec("DC0_C0_RP0_VM0");
    spec.insecure = false;
    let err = fails(&spec).await;
    assert!(matches!(err, VsphereError::Certificate { .. }), "{err:?}");
    assert!(err.to_string().contains("insecure"), "{err}");
}

#[tokio::test]
async fn existing_files_in_the_destination_are_not_touched() {
    let sim = Sim::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let mine = dir.path().join("DC0_C0_RP0_VM0.ovf");
    std::fs::write(&mine, "my own descriptor").unwrap();
    let (tx, _rx) = progress();
    let err = export(
        &sim.spec("DC0_C0_RP0_VM0"),
        dir.path(),
        tx,
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, VsphereError::DestinationExists { path } if *path == mine),
        "{err:?}"
    );
    assert_eq!(listing(dir.path()), ["DC0_C0_RP0_VM0.ovf"]);
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "my own descriptor");
    assert!(aborted(&sim).await);
}

#[tokio::test]
async fn bad_specs_are_refused_before_connecting() {
    let mut spec = ExportSpec::new("vc.example/sdk", "u", "p", "vm");
    assert!(matches!(
        fails(&spec).await,
        VsphereError::InvalidSpec { .. }
    ));
    spec.url = "https://127.0.0.1:1/sdk".into();
    spec.parallel_downloads = 1000;
    assert!(matches!(
        fails(&spec).await,
        VsphereError::InvalidSpec { .. }
    ));
    spec.parallel_downloads = 0;
    spec.vm = " ".into();
    assert!(matches!(
        fails(&spec).await,
        VsphereError::InvalidSpec { .. }
    ));
    // A valid spec to a closed port: a connection error naming the URL.
    spec.vm = "x".into();
    let err = fails(&spec).await;
    assert!(
        matches!(&err, VsphereError::Connect { url, .. } if url.contains("127.0.0.1:1")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_name_shared_by_two_vms_asks_for_the_path() {
    let sim = Sim::start(&["-twins"]);
    let err = fails(&sim.spec("twin")).await;
    assert!(
        matches!(&err, VsphereError::AmbiguousVm { vm, count: 2 } if vm == "twin"),
        "{err:?}"
    );
    assert!(err.to_string().contains("inventory path"), "{err}");
    assert!(sim.kinds("lease").await.is_empty());
}
