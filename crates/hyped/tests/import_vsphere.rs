//! vSphere import jobs end to end: a real hyped, govmomi's vCenter
//! simulator with the project's `ExportVm` (tests/vsphere/vcsim) serving a
//! real stream-optimised VMDK, real qemu-img, and the job event stream.

mod common;

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use common::vcsim::{self, Sim};
use common::Server;
use hype_types::{JobEvent, JobEventType, JobState, NicModel, StorageBus};
use serde_json::json;
use sha2::{Digest, Sha256};

const USER: &str = "vc-admin";
const PASSWORD: &str = "vc-s3cret-pw";
/// The disk size govmomi's simulator declares for its VMs (1024 KB).
const CAPACITY: u64 = 1 << 20;

/// A raw disk of `CAPACITY` bytes with data in it, and the same disk as a
/// stream-optimised VMDK (what `ExportVm` hands out).
/// The simulator serving `disk` as every VM disk.
fn vcsim(disk: &Path, data: &Path) -> anyhow::Result<Sim> {
    vcsim::spawn(
        vcsim::command(USER, PASSWORD)?
            .arg("-data-dir")
            .arg(data)
            .arg("-disk-file")
            .arg(disk),
    )
}

fn make_disks(dir: &Path) -> anyhow::Result<(String, std::path::PathBuf)> {
    let raw = dir.join("src.raw");
    let data: Vec<u8> = (0..CAPACITY as u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&raw, &data)?;
    let vmdk = dir.join("src.vmdk");
    vcsim::stream_vmdk(&raw, &vmdk)?;
    Ok((hex::encode(Sha256::digest(&data)), vmdk))
}

#[tokio::test]
async fn a_vsphere_vm_becomes_an_image_and_a_wrong_password_fails_cleanly() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (sha, vmdk) = make_disks(tmp.path())?;
    let sim = vcsim(&vmdk, tmp.path())?;
    let s = Server::start()?;
    let mut events = s.client.job_events(None, Some(0)).await?;
    let body = json!({"kind": "vsphere_export", "name": "vc-web", "url": sim.1, "username": USER,
        "password": PASSWORD, "vm": "/DC0/vm/DC0_C0_RP0_VM0", "insecure": true});
    let job = s
        .client
        .submit_jobs(body.to_string().into_bytes(), "application/json")
        .await?
        .remove(0);
    assert!(
        !serde_json::to_string(&job)?.contains(PASSWORD),
        "the API never returns the password"
    );
    let mut seen: Vec<JobEvent> = vec![];
    while !seen.last().is_some_and(|e| e.job.state.is_final()) {
        let frame = tokio::time::timeout(Duration::from_secs(120), events.next())
            .await
            .context("a job event")?
            .context("stream open")??;
        seen.push(serde_json::from_str(&frame.data)?);
    }
    let last = seen.last().unwrap();
    assert_eq!(
        (last.event_type, last.job.state),
        (JobEventType::JobCompleted, JobState::Completed),
        "{:?}",
        last.job.error
    );
    // A 1 MiB disk goes too fast for throttled progress; the states show.
    let types: Vec<JobEventType> = seen.iter().map(|e| e.event_type).collect();
    assert!(types.contains(&JobEventType::JobStarted), "{types:?}");
    let image = s.client.get_image("vc-web").await?;
    assert_eq!(
        image.sha256.as_deref(),
        Some(sha.as_str()),
        "the VMDK's contents, as raw"
    );
    assert_eq!(image.size_bytes, CAPACITY);
    // The disk keeps its controller's bus (vcsim's LSI Logic: SCSI), the
    // NIC its model (vcsim's e1000).
    assert_eq!(image.disks.len(), 1);
    assert_eq!(image.disks[0].sha256, sha);
    assert_eq!(image.disks[0].bus, StorageBus::Scsi);
    assert_eq!(image.nic_model, Some(NicModel::E1000));

    // A wrong password: a failed job with the reason, no image, no files.
    let mut bad = body.clone();
    bad["password"] = json!("Bad-Pass-8841");
    bad["name"] = json!("vc-bad");
    let job = s
        .client
        .submit_jobs(bad.to_string().into_bytes(), "application/json")
        .await?
        .remove(0);
    let end = s.wait_job(&job.id).await?;
    assert_eq!(end.state, JobState::Failed);
    let why = end.error.unwrap_or_default();
    assert!(why.to_lowercase().contains("login"), "{why}");
    assert!(
        !why.contains("Bad-Pass-8841"),
        "the password is not echoed: {why}"
    );
    assert!(s.client.get_image("vc-bad").await.is_err());
    assert!(!s.data.join("imported/vc-bad").exists());
    let log = s.log()?;
    assert!(
        !log.contains(PASSWORD) && !log.contains("Bad-Pass-8841"),
        "passwords are never logged"
    );
    Ok(())
}

#[tokio::test]
async fn a_descriptor_vmdk_naming_a_host_file_fails_and_registers_nothing() -> anyhow::Result<()> {
    // A "VMDK" that is a text descriptor whose extent is a file of hyped's
    // host, of exactly the declared capacity: qemu-img (as root) would copy
    // that file into the image and the sizes would match.
    let tmp = tempfile::tempdir()?;
    let secret = tmp.path().join("host-secret");
    std::fs::write(&secret, vec![b'S'; CAPACITY as usize])?;
    let vmdk = tmp.path().join("evil.vmdk");
    std::fs::write(
        &vmdk,
        format!(
            "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n\
             createType=\"monolithicFlat\"\n\nRW {} FLAT \"{}\" 0\n",
            CAPACITY / 512,
            secret.display()
        ),
    )?;
    let sim = vcsim(&vmdk, tmp.path())?;
    let s = Server::start()?;
    let body = json!({"kind": "vsphere_export", "name": "vc-evil", "url": sim.1, "username": USER,
        "password": PASSWORD, "vm": "/DC0/vm/DC0_C0_RP0_VM0", "insecure": true});
    let job = s
        .client
        .submit_jobs(body.to_string().into_bytes(), "application/json")
        .await?
        .remove(0);
    let end = s.wait_job(&job.id).await?;
    assert_eq!(end.state, JobState::Failed, "{:?}", end.error);
    let why = end.error.unwrap_or_default();
    assert!(
        why.contains("disk DC0_C0_RP0_VM0-disk1.vmdk: refused") && why.contains("no KDMV magic"),
        "{why}"
    );
    assert!(s.client.get_image("vc-evil").await.is_err(), "no image row");
    for d in ["imports", "imported"] {
        let left: Vec<_> = std::fs::read_dir(s.data.join(d))
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{d}: {left:?}");
    }
    Ok(())
}

/// The sha256 of a file, as a manifest writes it.
fn sha256_of(p: &Path) -> anyhow::Result<String> {
    Ok(hex::encode(Sha256::digest(std::fs::read(p)?)))
}

#[tokio::test]
async fn an_export_only_job_keeps_ovf_disks_and_manifest_under_the_export_dir() -> anyhow::Result<()>
{
    let tmp = tempfile::tempdir()?;
    let (sha, vmdk) = make_disks(tmp.path())?;
    let sim = vcsim(&vmdk, tmp.path())?;
    let exports = tmp.path().join("exports");
    std::fs::create_dir(&exports)?;
    let s = Server::start_with(&["--export-dir", exports.to_str().unwrap()])?;
    let out = exports.join("vm0");
    let body = json!({"kind": "vsphere_export", "url": sim.1, "username": USER,
        "password": PASSWORD, "vm": "/DC0/vm/DC0_H0_VM0", "insecure": true,
        "export_only": true, "output": out});
    let job = s
        .client
        .submit_jobs(body.to_string().into_bytes(), "application/json")
        .await?
        .remove(0);
    assert!(job.source.export_only);
    assert_eq!(job.source.output.as_deref(), out.to_str());
    let end = s.wait_job(&job.id).await?;
    assert_eq!(end.state, JobState::Completed, "{:?}", end.error);
    // DC0_H0_VM0 has two disks: both are kept, with the OVF and manifest.
    let mut names: Vec<String> = std::fs::read_dir(&out)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "DC0_H0_VM0-disk1.vmdk",
            "DC0_H0_VM0-disk2.vmdk",
            "DC0_H0_VM0.mf",
            "DC0_H0_VM0.ovf"
        ]
    );
    let mf = std::fs::read_to_string(out.join("DC0_H0_VM0.mf"))?;
    for f in [
        "DC0_H0_VM0.ovf",
        "DC0_H0_VM0-disk1.vmdk",
        "DC0_H0_VM0-disk2.vmdk",
    ] {
        let line = format!("SHA256({f})= {}", sha256_of(&out.join(f))?);
        assert!(mf.contains(&line), "{line} not in {mf}");
    }
    assert_eq!(
        std::fs::read(out.join("DC0_H0_VM0-disk1.vmdk"))?,
        std::fs::read(&vmdk)?,
        "the disk as the source gave it"
    );
    // The job's result lists every file kept, with the size and digest
    // this test finds.
    let result = end.result.expect("an export-only job has a result");
    assert_eq!(result.output, out.to_str().unwrap());
    let listed: Vec<(String, u64, String)> = result
        .files
        .into_iter()
        .map(|f| (f.name, f.size_bytes, f.sha256))
        .collect();
    let mut seen = vec![];
    for f in &names {
        let p = out.join(f);
        seen.push((f.clone(), std::fs::metadata(&p)?.len(), sha256_of(&p)?));
    }
    assert_eq!(listed, seen);
    // No image is made, and nothing stays in staging.
    assert!(s
        .client
        .list_images()
        .await?
        .iter()
        .all(|i| i.source != "vsphere"));
    let staged: Vec<_> = std::fs::read_dir(s.data.join("imports"))
        .map(|r| r.flatten().collect())
        .unwrap_or_default();
    assert!(staged.is_empty(), "{staged:?}");

    // Refused at submission, nothing stored: outside --export-dir, an
    // existing folder, `..` climbing out, and `output` without export_only.
    let refused = |output: &str, export_only: bool| {
        let mut b = body.clone();
        b["output"] = json!(output);
        b["export_only"] = json!(export_only);
        b
    };
    let before = s.client.list_jobs().await?.len();
    for (b, code) in [
        (
            refused(tmp.path().join("elsewhere").to_str().unwrap(), true),
            "export_dir_refused",
        ),
        (refused(out.to_str().unwrap(), true), "export_dir_refused"),
        (
            refused(&format!("{}/../escape", exports.display()), true),
            "export_dir_refused",
        ),
        (
            refused(exports.join("x").to_str().unwrap(), false),
            "invalid_job",
        ),
    ] {
        let res = reqwest::Client::new()
            .post(format!("{}/api/v1/jobs", s.base))
            .json(&b)
            .send()
            .await?;
        assert_eq!(res.status(), 422);
        let e: serde_json::Value = res.json().await?;
        assert_eq!(e["error"]["code"], code, "{e}");
    }
    assert_eq!(s.client.list_jobs().await?.len(), before, "nothing stored");
    assert!(!tmp.path().join("elsewhere").exists() && !tmp.path().join("escape").exists());

    // An exported folder imports later as an image (`kind: ovf`): the same
    // bytes as a direct import, and the folder is left as it was. (A VM of
    // one disk: the simulator serves one file as every disk, which fits
    // only the first one's capacity.)
    let out = exports.join("vm1");
    let mut one = body.clone();
    one["vm"] = json!("/DC0/vm/DC0_C0_RP0_VM0");
    one["output"] = json!(out);
    let job = s
        .client
        .submit_jobs(one.to_string().into_bytes(), "application/json")
        .await?
        .remove(0);
    let end = s.wait_job(&job.id).await?;
    assert_eq!(end.state, JobState::Completed, "{:?}", end.error);
    let ovf = json!({"kind": "ovf", "path": out, "name": "vc-ovf"});
    let job = s
        .client
        .submit_jobs(ovf.to_string().into_bytes(), "application/json")
        .await?
        .remove(0);
    assert_eq!(job.source.path.as_deref(), out.to_str());
    let end = s.wait_job(&job.id).await?;
    assert_eq!(end.state, JobState::Completed, "{:?}", end.error);
    let image = s.client.get_image("vc-ovf").await?;
    assert_eq!(image.sha256.as_deref(), Some(sha.as_str()));
    assert_eq!((image.source.as_str(), image.size_bytes), ("ovf", CAPACITY));
    // The same bus and NIC, read back from the OVF hype wrote.
    assert_eq!(image.disks.len(), 1);
    assert_eq!(image.disks[0].bus, StorageBus::Scsi);
    assert_eq!(image.nic_model, Some(NicModel::E1000));
    assert_eq!(std::fs::read_dir(&out)?.count(), 3, "the folder is kept");
    // A folder whose disk no longer matches its manifest: the job fails
    // naming the file, and registers nothing.
    let bad = exports.join("tampered");
    std::fs::create_dir(&bad)?;
    for e in std::fs::read_dir(&out)?.flatten() {
        std::fs::copy(e.path(), bad.join(e.file_name()))?;
    }
    let disk2 = bad.join("DC0_C0_RP0_VM0-disk1.vmdk");
    let mut bytes = std::fs::read(&disk2)?;
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&disk2, bytes)?;
    let job = s
        .client
        .submit_jobs(
            json!({"kind": "ovf", "path": bad, "name": "vc-bad-ovf"})
                .to_string()
                .into_bytes(),
            "application/json",
        )
        .await?
        .remove(0);
    let end = s.wait_job(&job.id).await?;
    assert_eq!(end.state, JobState::Failed);
    let why = end.error.unwrap_or_default();
    assert!(
        why.contains("DC0_C0_RP0_VM0-disk1.vmdk") && why.contains("does not match"),
        "{why}"
    );
    assert!(s.client.get_image("vc-bad-ovf").await.is_err());
    // Only folders inside --export-dir or --import-dir are read.
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/jobs", s.base))
        .json(&json!({"kind": "ovf", "path": tmp.path(), "name": "vc-out"}))
        .send()
        .await?;
    assert_eq!(res.status(), 422);
    let e: serde_json::Value = res.json().await?;
    assert_eq!(e["error"]["code"], "file_source_refused", "{e}");

    // A hyped without --export-dir takes no export-only job.
    let plain = Server::start()?;
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/jobs", plain.base))
        .json(&refused(exports.join("y").to_str().unwrap(), true))
        .send()
        .await?;
    assert_eq!(res.status(), 422);
    let e: serde_json::Value = res.json().await?;
    assert_eq!(e["error"]["code"], "export_dir_refused", "{e}");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--export-dir"));
    Ok(())
}
