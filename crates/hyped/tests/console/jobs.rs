//! The console's import jobs: an XCP-ng export-only job of the test XAPI
//! server (tests/xcpng/xapi_server.py) that completed shows the folder it
//! kept and each file with its size and sha256, as the API's result has
//! them; a job whose password is wrong shows the API's reason.

use std::time::Duration;

use hype_types::JobState;
use serde_json::json;

use super::{browser_with, turn, Server};
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
