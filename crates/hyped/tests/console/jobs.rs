//! The console's import jobs: an XCP-ng export-only job of the test XAPI
//! server (tests/xcpng/xapi_server.py) that completed shows the folder it
//! kept and each file with its size and sha256, as the API's result has
//! them; a job whose password is wrong shows the API's reason. A job a
//! restart left waiting for its password is resumed from the page.

use std::time::Duration;

use hype_types::JobState;
use serde_json::json;

use super::{browser_with, turn, Server};
use crate::common::vcsim::resume::{
    self, awaits_password, job_with_password, source, wait_bytes, USER,
};
use crate::common::xapi::{xapi, PASSWORD};

#[tokio::test(flavor = "multi_thread")]
async fn the_console_shows_what_an_export_kept_and_why_a_job_failed() -> anyhow::Result<()> {
    let _turn = turn().await;
    let tmp = tempfile::tempdir()?;
    let disk = tmp.path().join("web.raw");
    std::fs::write(&disk, vec![7u8; 3 << 20])?;
    let x = xapi(&disk, &[])?;
    let exports = tmp.path().join("exports");
    std::fs::create_dir(&exports)?;
    let s = Server::start_with(&["--export-dir", exports.to_str().unwrap()])?;
    let output = exports.join("web");
    let submit = |password: &str, output: Option<&std::path::Path>| {
        let mut body = json!({"kind": "xcpng_export", "url": x.url, "username": "root",
            "password": password, "vm": "Web 01"});
        match output {
            Some(o) => {
                body["export_only"] = json!(true);
                body["output"] = json!(o);
            }
            None => body["name"] = json!("refused"),
        }
        body.to_string().into_bytes()
    };
    let kept = s
        .client
        .submit_jobs(submit(PASSWORD, Some(&output)), "application/json")
        .await?
        .remove(0);
    let failed = s
        .client
        .submit_jobs(submit("not-the-password", None), "application/json")
        .await?
        .remove(0);
    let kept = s.wait_job(&kept.id).await?;
    let failed = s.wait_job(&failed.id).await?;
    assert_eq!(kept.state, JobState::Completed, "{kept:?}");
    assert_eq!(failed.state, JobState::Failed, "{failed:?}");
    let result = kept.result.clone().expect("an export-only job's result");

    let base = s.base.clone();
    let ids = format!("{},{}", kept.id, failed.id);
    let seen = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::task::spawn_blocking(move || {
            browser_with("jobs", &base, "", None, &[("HYPE_JOBS", &ids)])
        }),
    )
    .await???;

    // The completed job: how many files, where, each with its size and
    // the start of its digest (the whole one in the title).
    let row = seen["rows"][&kept.id].as_str().unwrap();
    assert!(row.contains("completed"), "{row}");
    assert!(
        row.contains(&format!("kept {} files", result.files.len())),
        "{row}"
    );
    assert!(row.contains(output.to_str().unwrap()), "{row}");
    assert_eq!(seen["kept_open_before"], false, "the list opens on a click");
    let files = seen["files"].as_array().unwrap();
    assert_eq!(files.len(), result.files.len(), "{files:?}");
    for (f, want) in files.iter().zip(&result.files) {
        assert_eq!(f["name"], want.name.as_str());
        let text = f["text"].as_str().unwrap();
        assert!(text.contains(&want.sha256[..16]), "{text} {want:?}");
        assert_eq!(f["title"], want.sha256.as_str());
    }
    assert!(files.iter().any(|f| f["name"]
        .as_str()
        .is_some_and(|n| n.ends_with(".raw") && f["text"].as_str().unwrap().contains("3.0 MiB"))));

    // The failed job says why, in the API's words.
    let row = seen["rows"][&failed.id].as_str().unwrap();
    let why = failed.error.as_deref().unwrap();
    assert!(row.contains("failed") && row.contains(why), "{row} / {why}");
    assert!(!row.contains("not-the-password"), "{row}");
    Ok(())
}

/// As `tests/import_resume.rs` makes them: two vSphere jobs (vcsim) with
/// the password in their body, hyped stopped mid-download and restarted:
/// both wait for their password. In the page, an empty submit is refused
/// and sends nothing; one job, cancelled by another client while the
/// page's resume is on its way, shows hyped's 409; the other, given its
/// password, goes on and completes with the source disk's bytes. The field
/// is empty while the request is in flight, and the password is nowhere
/// else: not in a URL, the page's storage or hyped's log.
#[tokio::test(flavor = "multi_thread")]
async fn the_console_resumes_a_job_waiting_for_its_password() -> anyhow::Result<()> {
    let _turn = turn().await;
    let tmp = tempfile::tempdir()?;
    let (sha, _, sim) = source(tmp.path())?;
    let data = tmp.path().join("data");
    std::fs::create_dir(&data)?;
    let mut s = Server::start_in(&data, &[])?;
    let body = |name: &str| job_with_password(&sim.1, name);
    let ok = s
        .client
        .submit_jobs(body("resumed"), "application/json")
        .await?
        .remove(0);
    let raced = s
        .client
        .submit_jobs(body("raced"), "application/json")
        .await?
        .remove(0);
    wait_bytes(&s, &ok.id, 36 << 20).await?;
    s.stop();
    let s = Server::start_in(&data, &[])?;
    awaits_password(&s, &ok.id).await?;
    awaits_password(&s, &raced.id).await?;

    let base = s.base.clone();
    let ids = format!("{},{}", ok.id, raced.id);
    let seen = tokio::time::timeout(
        Duration::from_secs(420),
        tokio::task::spawn_blocking(move || {
            browser_with(
                "resume",
                &base,
                "",
                None,
                &[("HYPE_JOBS", &ids), ("HYPE_JOB_PASSWORD", resume::PASSWORD)],
            )
        }),
    )
    .await???;
    assert_eq!(seen["page_errors"], json!([]), "{seen}");

    // The field: a password input that no browser keeps or fills.
    let row = seen["waiting_row"].as_str().unwrap();
    assert!(
        row.contains("awaiting_password") && row.contains(USER),
        "{row}"
    );
    assert_eq!(
        seen["field"],
        json!({"type": "password", "autocomplete": "off", "name": ""})
    );

    // Empty: refused in the page, before anything is sent.
    let refusal = seen["empty_refusal"].as_str().unwrap();
    assert!(refusal.contains("nothing was sent"), "{refusal}");
    assert_eq!(seen["empty_invalid"], "true");
    assert_eq!(seen["sent_after_empty"], 0, "{seen}");
    assert_eq!(seen["phase_after_empty"], hype_types::AWAITING_PASSWORD);

    // Cancelled by another client meanwhile: hyped's 409, code and message.
    assert_eq!(seen["cancelled"], 200);
    assert_eq!(seen["raced_field_in_flight"], "");
    let refusal = seen["raced_refusal"].as_str().unwrap();
    assert!(
        refusal.starts_with("job_not_awaiting_password: job ")
            && refusal.contains("not waiting for its password")
            && refusal.contains(&raced.id),
        "{refusal}"
    );
    assert_eq!(seen["raced_form_left"], 0, "a cancelled job has no form");

    // The right password: in the body only, the field already empty.
    assert_eq!(seen["ok_field_in_flight"], "");
    assert_eq!(seen["ok_body"], json!({"password": resume::PASSWORD}));
    let requests = seen["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 2, "{requests:?}");
    for r in requests {
        assert_eq!(r["method"], "POST");
        let url = r["url"].as_str().unwrap();
        assert!(
            url.ends_with("/resume") && !url.contains(resume::PASSWORD),
            "{url}"
        );
    }
    for at in ["in_flight", "after"] {
        let page = seen[at].to_string();
        assert!(!page.contains(resume::PASSWORD), "{at}: {page}");
    }
    assert_eq!(seen["ok_refusals"], 0, "the empty submit's refusal is gone");
    let row = seen["resumed_row"].as_str().unwrap();
    assert!(!row.contains("awaiting_password"), "{row}");
    let row = seen["final_row"].as_str().unwrap();
    assert!(row.contains("completed"), "{row}");

    // What the API says: one completed with the source's bytes, one cancelled.
    let done = s.wait_job(&ok.id).await?;
    assert_eq!(done.state, JobState::Completed, "{done:?}");
    let image = s.client.get_image("resumed").await?;
    assert_eq!(image.sha256.as_deref(), Some(sha.as_str()));
    let gone = s.client.get_job(&raced.id).await?;
    assert_eq!(gone.state, JobState::Cancelled, "{gone:?}");
    assert!(s.client.get_image("raced").await.is_err());
    let log = s.log()?;
    assert!(
        !log.contains(resume::PASSWORD),
        "the password is never logged"
    );
    Ok(())
}
