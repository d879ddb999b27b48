//! What the operator allows import jobs: hyped's own password
//! (`HYPE_XCPNG_PASSWORD`) only over https to hosts given with
//! `--import-allow-host`, and file sources only inside `--import-dir`,
//! symlinks followed. A real hyped and the test XAPI server, over TLS.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::xapi::{xapi, PASSWORD};
use common::Server;
use hype_types::JobState;
use serde_json::{json, Value};

const ENV: &str = "HYPE_XCPNG_PASSWORD";

/// Submits `body`: the status and the answer.
async fn submit(s: &Server, body: &Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/jobs", s.base))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("hyped answers");
    let st = res.status().as_u16();
    (st, res.json().await.unwrap_or(Value::Null))
}

/// The error code and message of a refusal, after checking it is a 422.
fn refused(answer: (u16, Value)) -> (String, String) {
    let (st, v) = answer;
    assert_eq!(st, 422, "{v}");
    let e = &v["error"];
    (
        e["code"].as_str().unwrap_or_default().to_owned(),
        e["message"].as_str().unwrap_or_default().to_owned(),
    )
}

fn self_signed(dir: &Path) -> (String, String) {
    let (cert, key) = (dir.join("c.pem"), dir.join("k.pem"));
    let ok = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs")
        .success();
    assert!(ok, "openssl makes a certificate");
    (cert.display().to_string(), key.display().to_string())
}

#[tokio::test]
async fn the_env_password_and_file_sources_need_the_operators_flags() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let disk = tmp.path().join("d.raw");
    std::fs::write(&disk, vec![3u8; 2 << 20])?;
    let (cert, key) = self_signed(tmp.path());
    let tls = xapi(&disk, &["--tls", &cert, &key])?;
    let https = tls.url.replace("http://", "https://");
    let plain = xapi(&disk, &[])?;
    let dir = tmp.path().join("drop");
    std::fs::create_dir(&dir)?;
    let inside = dir.join("in.xva");
    std::fs::write(&inside, "not an XVA")?;
    let outside = tmp.path().join("out.xva");
    std::fs::write(&outside, "not an XVA either")?;
    let link = dir.join("link.xva");
    std::os::unix::fs::symlink(&outside, &link)?;
    let remote = |url: &str, name: &str| {
        json!({"kind": "xcpng_export", "name": name, "url": url, "username": "root",
            "vm": "Web 01", "insecure": true})
    };
    let file = |p: &Path, name: &str| json!({"kind": "xcpng_export", "name": name, "xva": p});

    // No flags: the environment password goes nowhere, no file is read.
    let s = Server::start_with_env(&[], &[(ENV, PASSWORD)])?;
    let (code, msg) = refused(submit(&s, &remote(&https, "a")).await);
    assert_eq!(code, "env_password_refused");
    assert!(
        msg.contains("--import-allow-host") && msg.contains(ENV),
        "{msg}"
    );
    assert!(!msg.contains(PASSWORD), "{msg}");
    let (code, msg) = refused(submit(&s, &file(&inside, "b")).await);
    assert_eq!(code, "file_source_refused");
    assert!(msg.contains("--import-dir"), "{msg}");
    assert!(
        s.client.list_jobs().await?.is_empty(),
        "refusals store nothing"
    );
    // A password in the job is the user's own choice, to any URL.
    let mut own = remote(&plain.url, "own");
    own["password"] = json!(PASSWORD);
    let (st, v) = submit(&s, &own).await;
    assert_eq!(st, 202, "{v}");
    let id = v["jobs"][0]["id"].as_str().unwrap_or_default().to_owned();
    let j = s.wait_job(&id).await?;
    assert_eq!(j.state, JobState::Completed, "{:?}", j.error);
    drop(s);

    // Listed host and an import directory.
    let d = dir.to_str().unwrap();
    let s = Server::start_with_env(
        &["--import-allow-host", "127.0.0.1", "--import-dir", d],
        &[(ENV, PASSWORD)],
    )?;
    // Over http even a listed host does not get it.
    let (code, msg) = refused(submit(&s, &remote(&plain.url, "c")).await);
    assert_eq!(code, "env_password_refused");
    assert!(msg.contains("https"), "{msg}");
    // Another host does not either.
    let (code, _) = refused(submit(&s, &remote("https://localhost:1", "d")).await);
    assert_eq!(code, "env_password_refused");
    // Outside the directory, directly or through a symlink inside it.
    for p in [&outside, &link, Path::new("/etc/hostname")] {
        let (code, msg) = refused(submit(&s, &file(p, "e")).await);
        assert_eq!(code, "file_source_refused", "{}", p.display());
        assert!(msg.contains("not inside --import-dir"), "{msg}");
    }
    assert!(
        s.client.list_jobs().await?.is_empty(),
        "refusals store nothing"
    );
    // https to the listed host: the environment password is used.
    let (st, v) = submit(&s, &remote(&https, "env")).await;
    assert_eq!(st, 202, "{v}");
    let id = v["jobs"][0]["id"].as_str().unwrap_or_default().to_owned();
    let j = s.wait_job(&id).await?;
    assert_eq!(j.state, JobState::Completed, "{:?}", j.error);
    // A file inside the directory is read (and, no XVA, fails as such).
    let (st, v) = submit(&s, &file(&inside, "f")).await;
    assert_eq!(st, 202, "{v}");
    let id = v["jobs"][0]["id"].as_str().unwrap_or_default().to_owned();
    let j = s.wait_job(&id).await?;
    assert_eq!(j.state, JobState::Failed);
    assert!(j.error.unwrap_or_default().contains("XVA"));
    let log = s.log()?;
    assert!(!log.contains(PASSWORD), "the password is never logged");
    Ok(())
}
