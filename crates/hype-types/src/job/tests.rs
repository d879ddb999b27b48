//! Unit tests of the module above.

use super::*;
use serde_json::json;

fn parse(v: serde_json::Value) -> Result<Vec<JobSpec>, InvalidJob> {
    parse_submission(v)
}

#[test]
fn one_job_and_a_batch_parse() {
    let one = parse(
        json!({"kind":"xcpng_export","url":"https://h","username":"root",
        "vm":"Web 01","insecure":true}),
    )
    .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].image_name().as_deref(), Some("web-01"));
    let two = parse(json!({"jobs":[
        {"kind":"xcpng_export","xva":"/tmp/a.xva","name":"a"},
        {"kind":"vsphere_export","url":"https://vc/sdk","username":"u","vm":"/dc/vm/web01"}]}))
    .unwrap();
    assert_eq!(two[1].image_name().as_deref(), Some("web01"));
}

#[test]
fn a_stored_job_comes_back_as_submitted_less_its_password() {
    let jobs = parse(json!({"jobs":[
        {"kind":"vsphere_export","url":"https://vc/sdk","username":"u","password":"pw",
         "vm":"/dc/vm/web01","insecure":true,"parallel_downloads":2,"export_only":true,
         "output":"/srv/x"},
        {"kind":"xcpng_export","url":"https://h","username":"root","vm":"w","transport":"xva"},
        {"kind":"ovf","path":"/srv/x","boot":"kernel"}]}))
    .unwrap();
    for j in jobs {
        let image = j.image_name().unwrap();
        let back = JobSpec::from_stored(j.kind(), &image, &j.source()).unwrap();
        assert_eq!(back.source(), j.source());
        assert_eq!(back.image_name(), Some(image));
        assert_eq!(back.password(), None);
    }
    let mut broken = parse(json!({"kind":"ovf","path":"/srv/x"})).unwrap()[0].source();
    broken.path = None;
    assert!(JobSpec::from_stored(JobKind::Ovf, "x", &broken).is_none());
}

#[test]
fn bad_jobs_are_refused_with_their_index() {
    let e = parse(json!({"jobs":[
        {"kind":"xcpng_export","xva":"/tmp/a.xva"},
        {"kind":"xcpng_export","xva":"/tmp/b.xva","colour":"red"}]}))
    .unwrap_err();
    assert_eq!(e.index, Some(1));
    assert!(e.to_string().contains("unknown field `colour`"), "{e}");
    let e =
        parse(json!({"kind":"xcpng_export","url":"ftp://h","username":"u","vm":"v"})).unwrap_err();
    assert_eq!(e.code, "invalid_url");
    let e = parse(json!({"kind":"xcpng_export","url":"https://h","vm":"v"})).unwrap_err();
    assert!(e.message.contains("username"), "{e}");
    // Each source takes only its own options.
    let e = parse(
        json!({"kind":"xcpng_export","url":"https://h","username":"u","vm":"v",
        "shutdown":true}),
    )
    .unwrap_err();
    assert!(e.message.contains("unknown field `shutdown`"), "{e}");
    let e = parse(
        json!({"kind":"vsphere_export","url":"https://vc/sdk","username":"u",
        "vm":"v","xva":"/a.xva"}),
    )
    .unwrap_err();
    assert!(e.message.contains("unknown field `xva`"), "{e}");
    let e =
        parse(json!({"kind":"vsphere_export","url":"https://vc/sdk","username":"u"})).unwrap_err();
    assert!(e.message.contains("missing field `vm`"), "{e}");
    let e = parse(json!({"kind":"docker_export"})).unwrap_err();
    assert!(e.message.contains("unknown variant"), "{e}");
    let e = parse(json!({"kind":"xcpng_export","xva":"rel.xva"})).unwrap_err();
    assert!(e.message.contains("absolute"), "{e}");
    let e = parse(json!({"kind":"xcpng_export","xva":"/a.xva","name":"Bad_Name"})).unwrap_err();
    assert_eq!(e.code, "invalid_name");
    assert!(parse(json!({"jobs":[]})).is_err());
    assert!(parse(json!([1])).is_err());
}

#[test]
fn the_password_is_never_shown() {
    let s = parse(
        json!({"kind":"xcpng_export","url":"https://h","username":"root",
        "password":"hunter2","vm":"v"}),
    )
    .unwrap()
    .remove(0);
    assert!(!format!("{s:?}").contains("hunter2"));
    assert!(!serde_json::to_string(&s.source())
        .unwrap()
        .contains("hunter2"));
}

#[test]
fn firmware_defaults_to_the_source_and_may_be_forced() {
    let job = |extra: serde_json::Value| {
        let mut v = json!({"kind":"xcpng_export","xva":"/tmp/a.xva"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        parse(v).map(|mut s| s.remove(0))
    };
    let plain = job(json!({})).unwrap();
    assert_eq!(plain.source().firmware, None);
    assert!(!serde_json::to_value(plain.source())
        .unwrap()
        .as_object()
        .unwrap()
        .contains_key("firmware"));
    let uefi = job(json!({"firmware":"uefi"})).unwrap();
    assert_eq!(uefi.source().firmware, Some(Firmware::Uefi));
    assert_eq!(
        serde_json::to_value(uefi.source()).unwrap()["firmware"],
        "uefi"
    );
    let bios = job(json!({"firmware":"bios","boot":"firmware"})).unwrap();
    assert_eq!(bios.source().firmware, Some(Firmware::Bios));
    let e = job(json!({"firmware":"efi"})).unwrap_err();
    assert!(e.message.contains("unknown variant `efi`"), "{e}");
    let e = job(json!({"firmware":"uefi","boot":"kernel"})).unwrap_err();
    assert!(e.message.contains("`firmware`"), "{e}");
    // Stored sources from before the field read back as "the source's".
    let old: JobSource = serde_json::from_value(json!({"url":null,"username":null,
        "vm":null,"insecure":false}))
    .unwrap();
    assert_eq!(old.firmware, None);
}

#[test]
fn disk_bus_and_nic_model_are_checked_and_shown() {
    let job = |extra: serde_json::Value| {
        let mut v = json!({"kind":"ovf","path":"/srv/x"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        parse(v).map(|mut s| s.remove(0))
    };
    let plain = job(json!({})).unwrap();
    assert_eq!(
        (plain.source().disk_bus, plain.source().nic_model),
        (None, None)
    );
    let sata = job(json!({"disk_bus":"sata","nic_model":"e1000"})).unwrap();
    let shown = serde_json::to_value(sata.source()).unwrap();
    assert_eq!(
        (shown["disk_bus"].as_str(), shown["nic_model"].as_str()),
        (Some("sata"), Some("e1000"))
    );
    let e = job(json!({"disk_bus":"nvme"})).unwrap_err();
    assert!(e.message.contains("unknown variant `nvme`"), "{e}");
    let e = job(json!({"nic_model":"vmxnet3"})).unwrap_err();
    assert!(e.message.contains("unknown variant `vmxnet3`"), "{e}");
    // hype's kernel boots a microvm, which has virtio only.
    let e = job(json!({"disk_bus":"ide","boot":"kernel"})).unwrap_err();
    assert!(e.message.contains("`disk_bus`"), "{e}");
    let e = job(json!({"nic_model":"e1000","boot":"kernel"})).unwrap_err();
    assert!(e.message.contains("`nic_model`"), "{e}");
    let e = parse(
        json!({"kind":"vsphere_export","url":"https://vc/sdk","username":"u",
        "password":"p","vm":"v","export_only":true,"output":"/srv/e/x","disk_bus":"sata"}),
    )
    .unwrap_err();
    assert!(e.message.contains("export_only"), "{e}");
}

#[test]
fn names_are_sanitised() {
    assert_eq!(
        sanitize_image_name("/dc/vm/My VM").as_deref(),
        Some("my-vm")
    );
    assert_eq!(sanitize_image_name("debian.xva").as_deref(), Some("debian"));
    assert_eq!(sanitize_image_name("___"), None);
}

#[test]
fn xcpng_jobs_export_only_to_an_absolute_output() {
    let base = json!({"kind":"xcpng_export","url":"https://h","username":"root","vm":"w"});
    let with = |extra: serde_json::Value| {
        let mut b = base.clone();
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        parse(b)
    };
    let ok = with(json!({"export_only":true,"output":"/srv/e/w","transport":"xva"})).unwrap();
    assert_eq!(ok[0].export_output(), Some("/srv/e/w"));
    let shown = ok[0].source();
    assert!(shown.export_only);
    let back = JobSpec::from_stored(JobKind::XcpngExport, "w", &shown).unwrap();
    assert_eq!(back.export_output(), Some("/srv/e/w"));
    let mut moved = back.clone();
    moved.set_export_output("/real/e/w".into());
    assert_eq!(moved.export_output(), Some("/real/e/w"));
    for (extra, want) in [
        (json!({"export_only":true}), "`output` is required"),
        (json!({"output":"/srv/e/w"}), "export_only: true"),
        (json!({"export_only":true,"output":"e/w"}), "absolute path"),
        (
            json!({"export_only":true,"output":"/srv/e/w","boot":"firmware","nic_model":"e1000"}),
            "not to `export_only`",
        ),
    ] {
        let e = with(extra.clone()).unwrap_err();
        assert_eq!((e.unprocessable, e.code), (true, "invalid_job"), "{extra}");
        assert!(e.message.contains(want), "{extra}: {e}");
    }
    let e = parse(
        json!({"kind":"xcpng_export","xva":"/srv/i/w.xva","export_only":true,
        "output":"/srv/e/w"}),
    )
    .unwrap_err();
    assert!(e.message.contains("not to a local `xva`"), "{e}");
    // Without export_only, nothing is kept: no output.
    assert_eq!(with(json!({})).unwrap()[0].export_output(), None);
}

#[test]
fn a_job_s_result_is_shown_only_when_it_has_one() {
    let r = JobResult {
        output: "/srv/e/w".into(),
        files: vec![JobFile {
            name: "w.mf".into(),
            size_bytes: 3,
            sha256: "ab".into(),
        }],
    };
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(
        v,
        json!({"output":"/srv/e/w","files":[{"name":"w.mf","size_bytes":3,"sha256":"ab"}]})
    );
    assert_eq!(serde_json::from_value::<JobResult>(v).unwrap(), r);
}

#[test]
fn a_resume_takes_only_a_password_and_never_prints_it() {
    let r: ResumeJob = serde_json::from_value(json!({"password": "s3cret-pw"})).unwrap();
    assert_eq!(r.password, "s3cret-pw");
    assert!(!format!("{r:?}").contains("s3cret"));
    assert!(serde_json::from_value::<ResumeJob>(json!({"password": "x", "url": "u"})).is_err());
    assert!(serde_json::from_value::<ResumeJob>(json!({})).is_err());
    assert_eq!(JobProgress::awaiting_password().phase, AWAITING_PASSWORD);
}
