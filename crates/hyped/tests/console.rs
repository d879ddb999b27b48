//! The web console in a real browser: hyped serves it at `/`, and
//! Playwright (tests/console, as locked) drives Debian's Chromium against
//! it as a person would: rows follow lifecycle events within a second,
//! create and delete work from the page, the serial log follows; with a
//! key, the login comes first, its cookie is HttpOnly and SameSite=Strict
//! and holds no key, pages of other origins can change nothing, logout
//! ends the session. Sessions expire. The committed bundle is what its
//! sources build. The live view shows a browser sandbox's page as an
//! automation client changes it, and a click in it reaches the sandbox;
//! live links share it view-only or not (`console/links.rs`). Import jobs
//! show why they failed and what an export kept, and one a restart left
//! waiting for its password is resumed from the page (`console/jobs.rs`).

mod common;
#[path = "console/jobs.rs"]
mod jobs;
#[path = "console/links.rs"]
mod links;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::Server;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const KEY: &str = "console-test-key-0123456789";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The browser tests take turns: Chromium and booting guests side by side
/// on two cores starve each other.
async fn turn() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

/// Where screenshots go: HYPE_CONSOLE_SHOTS (docs/ when refreshing the
/// documentation's), else a directory of the test run's.
fn shots() -> PathBuf {
    let dir = std::env::var_os("HYPE_CONSOLE_SHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-shots"));
    std::fs::create_dir_all(&dir).expect("a screenshot directory");
    dir
}

/// Runs a scenario of tests/console/console-check.mjs and parses its report.
fn browser(scenario: &str, base: &str, vm: &str, key: Option<&str>) -> anyhow::Result<Value> {
    browser_with(scenario, base, vm, key, &[])
}

/// [`browser`], with more environment for the scenario.
fn browser_with(
    scenario: &str,
    base: &str,
    vm: &str,
    key: Option<&str>,
    env: &[(&str, &str)],
) -> anyhow::Result<Value> {
    let dir = repo().join("tests/console");
    anyhow::ensure!(
        dir.join("node_modules/playwright-core").is_dir(),
        "run `npm ci` in tests/console first (scripts/test.sh does)"
    );
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("console-check.mjs"))
        .arg(scenario)
        .env("HYPE_BASE", base)
        .env("HYPE_VM", vm)
        .env("HYPE_SHOTS", shots());
    if let Some(k) = key {
        cmd.env("HYPE_KEY", k);
    }
    cmd.envs(env.iter().copied());
    let run = cmd.output()?;
    anyhow::ensure!(
        run.status.success(),
        "console-check {scenario}: {}\n{}",
        String::from_utf8_lossy(&run.stderr),
        String::from_utf8_lossy(&run.stdout)
    );
    Ok(serde_json::from_slice(&run.stdout)?)
}

fn millis(at: &str) -> i128 {
    OffsetDateTime::parse(at, &Rfc3339)
        .expect("RFC 3339")
        .unix_timestamp_nanos()
        / 1_000_000
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_follows_vms_live_and_creates_and_deletes_them() -> anyhow::Result<()> {
    let _turn = turn().await;
    let s = Server::start()?;
    s.create_running("c1").await?;
    let from = s.last_event_id().await?;
    let base = s.base.clone();
    let seen =
        tokio::task::spawn_blocking(move || browser("lifecycle", &base, "c1", None)).await??;

    // Every lifecycle event of c1 while the page was open showed in its
    // row within a second.
    let events: Value = reqwest::get(format!(
        "{}/api/v1/events?vm=c1&after={from}&limit=1000",
        s.base
    ))
    .await?
    .json()
    .await?;
    let events = events["events"].as_array().expect("events").clone();
    let changes = seen["seen"].as_array().expect("row changes");
    let mut checked = 0;
    for e in &events {
        let at = millis(e["at"].as_str().unwrap());
        let shown = changes
            .iter()
            .filter(|c| c["vm"] == "c1" && c["state"] == e["state"])
            .map(|c| c["t"].as_i64().unwrap() as i128)
            .find(|t| *t >= at - 5);
        let shown = shown.unwrap_or_else(|| panic!("{e} never showed: {changes:?}"));
        let lag = shown - at;
        eprintln!("{} → row {} after {lag} ms", e["type"], e["state"]);
        assert!(lag < 1000, "{e} showed after {lag} ms");
        checked += 1;
    }
    assert!(checked >= 5, "pause, resume, stop, start: {events:?}");

    // The serial log shows the guest's console, as the API has it (which
    // has grown since the page read it).
    let log = seen["log_text"].as_str().unwrap_or("");
    let api_log = reqwest::get(format!("{}/api/v1/vms/c1/logs", s.base))
        .await?
        .text()
        .await?;
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() > 5, "{log:?}");
    for l in [lines[0], lines[lines.len() - 1]] {
        assert!(api_log.contains(l.trim()), "{l:?} is not in the VM's log");
    }

    // The host's figures show the running VM.
    assert!(
        seen["host_text"].as_str().unwrap().contains("1 running"),
        "{}",
        seen["host_text"]
    );
    // A taken name is refused with the API's own message.
    let taken = seen["taken_error"].as_str().unwrap();
    assert!(taken.contains("c1"), "{taken}");
    // The VM made from the page is what the form asked for, then gone.
    let made = &seen["created"];
    assert_eq!(made["image"], "base");
    assert_eq!(
        (made["cpu_cores"].as_u64(), made["memory_mb"].as_u64()),
        (Some(1), Some(256))
    );
    assert_eq!(made["ttl_seconds"], 3600);
    assert_eq!(seen["deleted_status"], 404);
    assert!(s.client.get_vm("from-page").await.is_err());
    s.client.delete_vm("c1").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_key_the_console_logs_in_and_other_origins_change_nothing() -> anyhow::Result<()> {
    let _turn = turn().await;
    let tmp = tempfile::tempdir()?;
    let s = Server::start_in(tmp.path(), &["--api-key", KEY])?;
    s.client
        .create_vm(&serde_json::from_value(
            serde_json::json!({"name": "k1", "cpu_cores": 1, "memory_mb": 256}),
        )?)
        .await?;
    s.wait_running("k1", Duration::from_secs(180)).await?;
    let before = refusals(&s).await?;
    let base = s.base.clone();
    let seen =
        tokio::task::spawn_blocking(move || browser("auth", &base, "k1", Some(KEY))).await??;

    assert_eq!(seen["login_shown"], true);
    assert_eq!(seen["vms_before_login"], 0);
    let wrong = seen["wrong_key_error"].as_str().unwrap();
    assert!(wrong.contains("not this hyped"), "{wrong}");
    assert_eq!(seen["logged_in"], true);
    // The session cookie: HttpOnly, SameSite=Strict, an opaque id, not the key.
    let cookies = seen["cookies"].as_array().unwrap();
    let c = cookies
        .iter()
        .find(|c| c["name"] == "hype_session")
        .unwrap_or_else(|| panic!("no session cookie: {cookies:?}"));
    assert_eq!(c["httpOnly"], true);
    assert_eq!(c["sameSite"], "Strict");
    assert_eq!(c["secure"], false, "served over plain HTTP");
    let id = c["value"].as_str().unwrap();
    assert_eq!(id.len(), 64);
    assert!(!id.contains(KEY) && !cookies.iter().any(|c| c.to_string().contains(KEY)));
    assert!(!seen["document_cookie"]
        .as_str()
        .unwrap()
        .contains("hype_session"));
    assert!(!seen["url_after_login"].as_str().unwrap().contains(KEY));

    // The hostile pages got nowhere, from the same site or another.
    for site in ["same_site", "cross_site"] {
        let r = &seen[site];
        eprintln!("{site}: {r}");
        assert_eq!(r["done"], true, "{site}: {r}");
        let cors = r["cors_post"].as_str().unwrap();
        assert!(
            cors.starts_with("failed"),
            "{site}: the POST's answer was readable: {cors}"
        );
        assert!(
            r["read"].as_str().unwrap().starts_with("failed"),
            "{site}: {r}"
        );
        assert_eq!(r["ws"], "refused", "{site}: {r}");
        let form = r["form_post"].as_str().unwrap();
        assert!(form.contains("origin_not_allowed"), "{site}: {form}");
    }
    let vm = s.client.get_vm("k1").await?;
    assert_eq!(
        vm.state.as_str(),
        "running",
        "a foreign page paused or stopped it"
    );
    assert!(
        s.client.get_vm("evil").await.is_err(),
        "a foreign page made a VM"
    );
    // hyped refused each: two POSTs, a read, a WebSocket and a form, twice.
    let after = refusals(&s).await?;
    assert!(after - before >= 10, "{before} → {after} refusals");

    // Logged out: the cookie is gone, and the old id no longer works.
    let left = seen["cookies_after_logout"].as_array().unwrap();
    assert!(
        !left.iter().any(|c| c["name"] == "hype_session"),
        "{left:?}"
    );
    assert_eq!(seen["old_session_after_logout"]["status"], 401);
    assert!(seen["old_session_after_logout"]["body"]
        .as_str()
        .unwrap()
        .contains("session_expired"));

    // Neither the key nor the session id is in hyped's log.
    let log = s.log()?;
    assert!(!log.contains(KEY) && !log.contains(id));
    s.client.delete_vm("k1").await?;
    Ok(())
}

/// The 403s hyped counted (`hype_http_requests_total`).
async fn refusals(s: &Server) -> anyhow::Result<u64> {
    let text = reqwest::Client::new()
        .get(format!("{}/metrics", s.base))
        .bearer_auth(KEY)
        .send()
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with("hype_http_requests_total{") && l.contains("status=\"403\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum())
}

fn session_cookie(r: &reqwest::Response) -> String {
    let set = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a Set-Cookie")
        .to_owned();
    set.split(';').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_expire_and_need_an_origin_to_change_anything() -> anyhow::Result<()> {
    let s = Server::start_with(&["--api-key", KEY, "--session-ttl", "2"])?;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", s.base);
    let own = s.base.clone();

    // Not logged in: the console is told so, and the API refuses.
    let info: Value = http
        .get(url("/api/v1/session"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        (
            info["key_required"].as_bool(),
            info["authenticated"].as_bool()
        ),
        (Some(true), Some(false))
    );
    // A wrong key, and a body that is not a login, are refused precisely.
    let r = http
        .post(url("/api/v1/session"))
        .json(&serde_json::json!({"key": "nope"}))
        .send()
        .await?;
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("set-cookie").is_none());
    let r = http
        .post(url("/api/v1/session"))
        .json(&serde_json::json!({"key": KEY, "remember": true}))
        .send()
        .await?;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await?;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("remember"),
        "{body}"
    );

    let r = http
        .post(url("/api/v1/session"))
        .json(&serde_json::json!({"key": KEY}))
        .send()
        .await?;
    assert_eq!(r.status(), 201);
    let cookie = session_cookie(&r);
    let info: Value = r.json().await?;
    assert!(info["expires_at"].is_string(), "{info}");
    let r = http
        .get(url("/api/v1/vms"))
        .header("cookie", &cookie)
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    // With the cookie alone, a change needs the page's own Origin.
    let r = http
        .post(url("/api/v1/vms/nosuch/pause"))
        .header("cookie", &cookie)
        .send()
        .await?;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await?;
    assert_eq!(body["error"]["code"], "origin_required");
    let r = http
        .post(url("/api/v1/vms/nosuch/pause"))
        .header("cookie", &cookie)
        .header("origin", &own)
        .send()
        .await?;
    assert_eq!(r.status(), 404, "past auth, to the VM that does not exist");
    let r = http
        .post(url("/api/v1/vms/nosuch/pause"))
        .header("cookie", &cookie)
        .header("origin", "http://127.0.0.1:1")
        .send()
        .await?;
    assert_eq!(r.status(), 403);
    // So does a WebSocket (the live view takes input): the cookie alone is
    // refused, with the page's Origin it gets past auth.
    let live = format!(
        "{}/api/v1/vms/nosuch/live/ws",
        own.replacen("http://", "ws://", 1)
    );
    let with_cookie = [("cookie", cookie.as_str())];
    assert_eq!(upgrade_status(&live, &with_cookie).await?, 403);
    let with_origin = [("cookie", cookie.as_str()), ("origin", own.as_str())];
    assert_eq!(upgrade_status(&live, &with_origin).await?, 404);
    // A forged id is no session.
    let r = http
        .get(url("/api/v1/vms"))
        .header("cookie", format!("hype_session={}", "a".repeat(64)))
        .send()
        .await?;
    assert_eq!(r.status(), 401);

    tokio::time::sleep(Duration::from_millis(2500)).await;
    let r = http
        .get(url("/api/v1/vms"))
        .header("cookie", &cookie)
        .send()
        .await?;
    assert_eq!(r.status(), 401, "the session outlived its TTL");
    let body: Value = r.json().await?;
    assert_eq!(body["error"]["code"], "session_expired");

    // A key-less hyped has nothing to log in to.
    let open = Server::start()?;
    let r = http
        .post(format!("{}/api/v1/session", open.base))
        .json(&serde_json::json!({"key": KEY}))
        .send()
        .await?;
    assert_eq!(r.status(), 409);
    let info: Value = http
        .get(format!("{}/api/v1/session", open.base))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        (
            info["key_required"].as_bool(),
            info["authenticated"].as_bool()
        ),
        (Some(false), Some(true))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_is_served_with_its_policy_and_only_to_hyped_own_hosts() -> anyhow::Result<()> {
    let s = Server::start_with(&["--api-key", KEY])?;
    let http = reqwest::Client::new();
    let r = http.get(format!("{}/", s.base)).send().await?;
    assert_eq!(r.status(), 200, "the page needs no key: its data does");
    let h = r.headers().clone();
    assert!(h["content-type"].to_str()?.starts_with("text/html"));
    assert!(h["content-security-policy"]
        .to_str()?
        .contains("script-src 'self'"));
    assert_eq!(h["x-frame-options"], "DENY");
    let page = r.text().await?;
    assert!(page.contains("/assets/app.js"));
    for asset in ["/assets/app.js", "/assets/app.css"] {
        let r = http.get(format!("{}{asset}", s.base)).send().await?;
        assert_eq!(r.status(), 200, "{asset}");
    }
    let r = http
        .get(format!("{}/assets/nope.js", s.base))
        .send()
        .await?;
    assert_eq!(r.status(), 404);
    // A rebound name gets nothing, the page included.
    let r = http
        .get(format!("{}/", s.base))
        .header("host", "attacker.example:7777")
        .send()
        .await?;
    assert_eq!(r.status(), 403);
    Ok(())
}

/// The status a WebSocket upgrade to `url` gets (101 when it is taken).
async fn upgrade_status(url: &str, headers: &[(&'static str, &str)]) -> anyhow::Result<u16> {
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Error};
    let mut req = url.into_client_request()?;
    for (name, value) in headers {
        req.headers_mut().insert(*name, value.parse()?);
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((_, resp)) => Ok(resp.status().as_u16()),
        Err(Error::Http(resp)) => Ok(resp.status().as_u16()),
        Err(e) => Err(e.into()),
    }
}

/// One browser sandbox (they boot for minutes under TCG) for every live
/// view check: the page follows what an automation client does to the
/// sandbox's page, a click and typing in the live page reach it, and the
/// WebSocket refuses what cannot be watched.
#[test]
fn the_live_view_shows_a_sandbox_and_takes_it_over() -> anyhow::Result<()> {
    let _browsers = common::browser_turn();
    if !common::images_dir().join("browser/manifest.json").is_file() {
        panic!("no browser image: run scripts/build-images.sh");
    }
    common::in_netns(|| async {
        let _turn = turn().await;
        let tmp = tempfile::tempdir()?;
        let s = Server::networked(tmp.path(), "10.91.0.0/24", &[])?;
        s.client
            .create_vm(&serde_json::from_value(serde_json::json!({
                "name": "lv", "image": "browser", "cpu_cores": 2, "memory_mb": 1536
            }))?)
            .await?;
        let vm = s.wait_running("lv", Duration::from_secs(420)).await?;
        assert_eq!(vm.live_url, Some(format!("{}/vms/lv/live", s.base)));

        // Blocking, on this thread: the node client must run in this
        // thread's network namespace, where hyped is.
        let seen = browser("live", &s.base, "lv", None)?;
        eprintln!("live view: {seen}");
        assert_eq!(seen["canvas_changed"], true, "{seen}");
        assert_eq!(seen["title_after_click"], "clicked", "{seen}");
        assert_eq!(seen["typed"], "hi", "{seen}");
        assert_eq!(seen["tabs"], "live test", "{seen}");

        let ws = s.base.replacen("http://", "ws://", 1);
        // Another site's page may not watch.
        let foreign = upgrade_status(
            &format!("{ws}/api/v1/vms/lv/live/ws"),
            &[("origin", "http://evil.example")],
        )
        .await?;
        assert_eq!(foreign, 403);
        assert_eq!(
            upgrade_status(&format!("{ws}/api/v1/vms/lv/live/ws"), &[]).await?,
            101
        );
        // What cannot be watched is refused before the upgrade.
        assert_eq!(
            upgrade_status(&format!("{ws}/api/v1/vms/nope/live/ws"), &[]).await?,
            404
        );

        let (ro, rw) = links::live_links(&s).await?;
        links::screencast_stops_with_its_last_viewer(&s, &rw).await?;

        s.client.vm_action("lv", "stop").await?;
        assert_eq!(
            upgrade_status(&format!("{ws}/api/v1/vms/lv/live/ws"), &[]).await?,
            409
        );
        // A good link gets past auth to the same answer.
        assert_eq!(
            upgrade_status(&links::link_ws(&s, "lv", &ro), &[]).await?,
            409
        );
        s.client.delete_vm("lv").await?;
        // The VM is gone, and so is every link to it.
        assert_eq!(
            upgrade_status(&links::link_ws(&s, "lv", &ro), &[]).await?,
            401
        );
        assert_eq!(reqwest::get(&ro.url).await?.status(), 401);
        Ok(())
    })
}

#[test]
fn the_committed_console_is_what_its_sources_build() -> anyhow::Result<()> {
    let out = Command::new(repo().join("scripts/build-console.sh"))
        .arg("--check")
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
