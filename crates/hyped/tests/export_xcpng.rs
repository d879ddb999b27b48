//! XCP-ng export-only jobs end to end: a real hyped with `--export-dir`,
//! the test XAPI server (tests/xcpng/xapi_server.py) as the pool, the
//! folder the job leaves checked byte for byte by this test, then imported
//! again as an `ovf` job.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::xapi::{xapi, PASSWORD};
use common::Server;
use hype_types::{Firmware, Job, JobEvent, JobEventType, JobFile, JobState, StorageBus};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A sparse disk of `mib` MiB with `seed`'s bytes every third MiB.
fn make_disk(path: &Path, mib: u64, seed: u8) -> String {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::create(path).unwrap();
    f.set_len(mib << 20).unwrap();
    for i in (0..mib).step_by(3) {
        let data: Vec<u8> = (0..300_000u32)
            .map(|j| (j as u8) ^ (i as u8) ^ seed)
            .collect();
        f.write_all_at(&data, (i << 20) + 512).unwrap();
    }
    sha256_of(path)
}

fn sha256_of(p: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

/// Every file of `dir` as this test sees it: name → (size, sha256).
fn files_of(dir: &Path) -> BTreeMap<String, (u64, String)> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let p = e.path();
            let size = std::fs::metadata(&p).unwrap().len();
            (
                e.file_name().to_string_lossy().into_owned(),
                (size, sha256_of(&p)),
            )
        })
        .collect()
}

fn as_map(files: &[JobFile]) -> BTreeMap<String, (u64, String)> {
    files
        .iter()
        .map(|f| (f.name.clone(), (f.size_bytes, f.sha256.clone())))
        .collect()
}

fn body(url: &str, output: &Path, extra: Value) -> Value {
    let mut b = json!({"kind": "xcpng_export", "url": url, "username": "root",
        "password": PASSWORD, "vm": "Two", "export_only": true, "output": output});
    b.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    b
}

async fn submit(s: &Server, body: &Value) -> anyhow::Result<Job> {
    Ok(s.client
        .submit_jobs(body.to_string().into_bytes(), "application/json")
        .await?
        .remove(0))
}

async fn post(s: &Server, body: &Value) -> anyhow::Result<(u16, Value)> {
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/jobs", s.base))
        .json(body)
        .send()
        .await?;
    Ok((res.status().as_u16(), res.json().await?))
}

/// The job's last event, once it has ended.
async fn final_event(s: &Server, id: &str) -> anyhow::Result<JobEvent> {
    let end = s.wait_job(id).await?;
    let mut events = s.client.job_events(Some(id), Some(0)).await?;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await?
            .ok_or_else(|| anyhow::anyhow!("the job event stream ended"))??;
        let ev: JobEvent = serde_json::from_str(&frame.data)?;
        if ev.job.state == end.state {
            return Ok(ev);
        }
    }
}

fn staged(s: &Server) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(s.data.join("imports"))
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn an_export_only_job_keeps_raw_disks_an_ovf_and_a_manifest_that_import_again(
) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (a, b) = (tmp.path().join("a.raw"), tmp.path().join("b.raw"));
    let sha_a = make_disk(&a, 24, 1);
    let sha_b = make_disk(&b, 5, 7);
    let vm = format!("Two={},{}", a.display(), b.display());
    let x = xapi(&a, &["--vm", &vm, "--uefi", "Two"])?;
    let exports = tmp.path().join("exports");
    std::fs::create_dir(&exports)?;
    let s = Server::start_with(&["--export-dir", exports.to_str().unwrap()])?;
    let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", s.base))
        .await?
        .json()
        .await?;

    let out = exports.join("two");
    let job = submit(&s, &body(&x.url, &out, json!({}))).await?;
    assert!(job.source.export_only);
    assert_eq!(job.source.output.as_deref(), out.to_str());
    let done = final_event(&s, &job.id).await?;
    assert_eq!(
        done.event_type,
        JobEventType::JobCompleted,
        "{:?}",
        done.job.error
    );

    // The folder: both disks, the OVF and the manifest, nothing else.
    let seen = files_of(&out);
    let names: Vec<&str> = seen.keys().map(String::as_str).collect();
    assert_eq!(names, ["disk0.raw", "disk1.raw", "two.mf", "two.ovf"]);
    // The disks are the source's VDIs byte for byte.
    assert_eq!(seen["disk0.raw"], ((24 << 20), sha_a.clone()));
    assert_eq!(seen["disk1.raw"], ((5 << 20), sha_b.clone()));
    assert_eq!(std::fs::read(out.join("disk0.raw"))?, std::fs::read(&a)?);
    // The manifest lists every other file with the digest this test computed.
    let mf = std::fs::read_to_string(out.join("two.mf"))?;
    let mut lines: Vec<&str> = mf.lines().collect();
    lines.sort_unstable();
    let want: Vec<String> = ["disk0.raw", "disk1.raw", "two.ovf"]
        .iter()
        .map(|f| format!("SHA256({f})= {}", seen[*f].1))
        .collect();
    assert_eq!(lines, want);
    // The OVF has the VM's CPUs and memory (the server's VCPUs_max 2,
    // memory_static_max 1 GiB) and its firmware.
    let ovf = std::fs::read_to_string(out.join("two.ovf"))?;
    for want in [
        "<rasd:VirtualQuantity>2</rasd:VirtualQuantity>",
        "<rasd:VirtualQuantity>1024</rasd:VirtualQuantity>",
        r#"vmw:key="firmware" vmw:value="efi""#,
    ] {
        assert!(ovf.contains(want), "{want} not in {ovf}");
    }

    // The job's result lists the same files, sizes and digests, in the API
    // (as the OpenAPI document describes it) and in JOB_COMPLETED.
    let got = s.client.get_job(&job.id).await?;
    let result = got.result.clone().expect("an export-only job has a result");
    assert_eq!(result.output, out.to_str().unwrap());
    assert_eq!(as_map(&result.files), seen);
    assert_eq!(done.job.result, Some(result));
    let raw: Value = reqwest::get(format!("{}/api/v1/jobs/{}", s.base, job.id))
        .await?
        .json()
        .await?;
    let mut schema = doc["paths"]["/api/v1/jobs/{id}"]["get"]["responses"]["200"]["content"]
        ["application/json"]["schema"]
        .clone();
    schema["components"] = doc["components"].clone();
    let v = jsonschema::validator_for(&schema).expect("the schema compiles");
    assert!(v.is_valid(&raw), "{raw:#}");
    let props = &doc["components"]["schemas"]["JobFile"]["properties"];
    assert!(
        ["name", "size_bytes", "sha256"]
            .iter()
            .all(|p| props[p].is_object()),
        "{props}"
    );
    // No image is made and staging is empty.
    assert!(s.client.get_image("two").await.is_err());
    assert!(staged(&s).is_empty(), "{:?}", staged(&s));

    // transport: xva keeps the disks the XVA holds, described the same way.
    let out_xva = exports.join("two-xva");
    let job = submit(&s, &body(&x.url, &out_xva, json!({"transport": "xva"}))).await?;
    let end = s.wait_job(&job.id).await?;
    assert_eq!(end.state, JobState::Completed, "{:?}", end.error);
    let seen_xva = files_of(&out_xva);
    assert_eq!(seen_xva, seen, "the same disks, OVF and manifest");
    assert_eq!(as_map(&end.result.expect("a result").files), seen_xva);

    // The folder imports again: the same bytes, disks and firmware.
    let job = submit(&s, &json!({"kind": "ovf", "path": out, "name": "two-ovf"})).await?;
    let end = s.wait_job(&job.id).await?;
    assert_eq!(end.state, JobState::Completed, "{:?}", end.error);
    assert_eq!(end.result, None, "an import has an image, not a result");
    let image = s.client.get_image("two-ovf").await?;
    assert_eq!(image.source, "ovf");
    assert_eq!(image.sha256.as_deref(), Some(sha_a.as_str()));
    let disks: Vec<_> = image
        .disks
        .iter()
        .map(|d| (d.size_bytes, d.sha256.as_str(), d.bus))
        .collect();
    assert_eq!(
        disks,
        [
            (24 << 20, sha_a.as_str(), StorageBus::Virtio),
            (5 << 20, sha_b.as_str(), StorageBus::Virtio)
        ]
    );
    let raw: Value = reqwest::get(format!("{}/api/v1/images/two-ovf", s.base))
        .await?
        .json()
        .await?;
    assert_eq!(raw["firmware"], Firmware::Uefi.as_str(), "{raw}");
    assert_eq!(files_of(&out), seen, "the folder is read, never changed");
    Ok(())
}

#[tokio::test]
async fn a_refused_or_cancelled_export_leaves_nothing_in_the_export_dir() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let disk = tmp.path().join("slow.raw");
    make_disk(&disk, 64, 3);
    // 0.1 s per MiB: the 64 MiB disk takes over 6 s.
    let vm = format!("Two={}", disk.display());
    let x = xapi(&disk, &["--vm", &vm, "--delay", "0.1"])?;
    let exports = tmp.path().join("exports");
    std::fs::create_dir(&exports)?;
    let s = Server::start_with(&["--export-dir", exports.to_str().unwrap()])?;

    // Refused at submission, nothing stored or made.
    let elsewhere = tmp.path().join("elsewhere");
    for (b, code) in [
        (body(&x.url, &elsewhere, json!({})), "export_dir_refused"),
        (
            body(&x.url, &exports.join("../escape"), json!({})),
            "export_dir_refused",
        ),
        (
            body(&x.url, Path::new("relative/out"), json!({})),
            "invalid_job",
        ),
        (
            body(&x.url, &exports.join("x"), json!({"export_only": false})),
            "invalid_job",
        ),
    ] {
        let (status, e) = post(&s, &b).await?;
        assert_eq!(
            (status, e["error"]["code"].as_str()),
            (422, Some(code)),
            "{e}"
        );
    }
    assert!(s.client.list_jobs().await?.is_empty(), "nothing stored");
    assert!(!elsewhere.exists() && !tmp.path().join("escape").exists());

    // Cancelled while the disk downloads: the export dir stays empty.
    let job = submit(&s, &body(&x.url, &exports.join("slow"), json!({}))).await?;
    let mut events = s.client.job_events(Some(&job.id), Some(0)).await?;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(30), events.next())
            .await?
            .ok_or_else(|| anyhow::anyhow!("the job event stream ended"))??;
        let ev: JobEvent = serde_json::from_str(&frame.data)?;
        assert!(!ev.job.state.is_final(), "{:?}", ev.job);
        if ev.job.progress.bytes_done.unwrap_or(0) > 0 {
            break;
        }
    }
    let cancelled = s.client.cancel_job(&job.id).await?;
    assert_eq!(cancelled.state, JobState::Cancelled);
    assert_eq!(cancelled.result, None);
    let left: Vec<_> = std::fs::read_dir(&exports)?
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(staged(&s).is_empty(), "{:?}", staged(&s));
    Ok(())
}
