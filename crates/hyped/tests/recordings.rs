//! Session recordings of a real browser sandbox: created with `record:
//! true`, an automation client (Playwright over hyped's CDP proxy) visits
//! two pages of a site in a namespace of its own, and the console's replay
//! page, in Debian's Chromium, plays the recording to its last event and
//! shows the last page's text. The recording is listed with its counts,
//! ends with its VM's run, outlives the VM, and goes when deleted; unknown
//! ids are 404 and `record` on an image without a browser is 422.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::peer::Peer;
use common::{in_netns, Server};
use serde_json::{json, Value};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs a scenario of tests/console/recording-check.mjs; its JSON report.
fn node(scenario: &str, env: &[(&str, &str)]) -> anyhow::Result<Value> {
    let dir = repo().join("tests/console");
    anyhow::ensure!(
        dir.join("node_modules/playwright-core").is_dir(),
        "run `npm ci` in tests/console first (scripts/test.sh does)"
    );
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-shots");
    std::fs::create_dir_all(&shots)?;
    let run = Command::new("node")
        .arg(dir.join("recording-check.mjs"))
        .arg(scenario)
        .env(
            "HYPE_SHOTS",
            std::env::var_os("HYPE_CONSOLE_SHOTS").unwrap_or(shots.into()),
        )
        .envs(env.iter().copied())
        .output()?;
    anyhow::ensure!(
        run.status.success(),
        "recording-check {scenario}: {}\n{}",
        String::from_utf8_lossy(&run.stderr),
        String::from_utf8_lossy(&run.stdout)
    );
    Ok(serde_json::from_slice(&run.stdout)?)
}

const PAGE_ONE: &str = r#"<!doctype html><title>page one</title>
<h1>The first page</h1><input id="q"><button id="go">go</button><p id="out"></p>
<p id="tick">0</p>
<script>
  document.getElementById('go').onclick = () => {
    document.getElementById('out').textContent = 'clicked: ' + document.getElementById('q').value;
  };
  let n = 0;
  setInterval(() => { document.getElementById('tick').textContent = String(++n); }, 200);
</script>"#;

const PAGE_TWO: &str = r#"<!doctype html><title>page two</title>
<h1>The second page</h1><p id="last">Recorded to the very end</p>"#;

/// PAGE_ONE and PAGE_TWO served from a peer namespace (10.252.0.2).
const SITE: &str = "http://10.252.0.2:8000";

fn site(dir: &Path) -> anyhow::Result<Peer> {
    std::fs::write(dir.join("one.html"), PAGE_ONE)?;
    std::fs::write(dir.join("two.html"), PAGE_TWO)?;
    let args = [
        "-m".as_ref(),
        "http.server".as_ref(),
        "8000".as_ref(),
        "--bind".as_ref(),
        "10.252.0.2".as_ref(),
        "--directory".as_ref(),
        dir.as_os_str(),
    ];
    Peer::new("recsite", 252)?.serve("python3", &args, 8000)
}

async fn get(s: &Server, path: &str) -> anyhow::Result<(u16, Value)> {
    let r = reqwest::get(format!("{}{path}", s.base)).await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

#[test]
fn a_recorded_session_replays_in_the_console_and_outlives_its_vm() -> anyhow::Result<()> {
    let _browsers = common::browser_turn();
    assert!(
        common::images_dir().join("browser/manifest.json").is_file(),
        "no browser image: run scripts/build-images.sh"
    );
    in_netns(|| async {
        let pages = tempfile::tempdir()?;
        let _site = site(pages.path())?;
        let tmp = tempfile::tempdir()?;
        let s = Server::networked(tmp.path(), "10.92.0.0/24", &[])?;

        // Nothing to record without a browser: refused, nothing made.
        let (status, body) = s
            .post(
                "/api/v1/vms",
                json!({"name": "plain", "image": "base", "record": true}),
            )
            .await?;
        assert_eq!(status, 422, "{body}");
        let err = body;
        assert_eq!(err["error"]["code"], "invalid_request");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("record needs a browser image"),
            "{err}"
        );
        assert_eq!(get(&s, "/api/v1/vms/plain").await?.0, 404);

        let (status, body) = s
            .post(
                "/api/v1/vms",
                json!({"name": "rec", "image": "browser", "cpu_cores": 2, "memory_mb": 1536, "record": true}),
            )
            .await?;
        assert_eq!(status, 201, "{body}");
        s.wait_running("rec", Duration::from_secs(420)).await?;
        let (_, vm) = get(&s, "/api/v1/vms/rec").await?;
        assert_eq!(vm["record"], true, "{vm}");

        // Blocking, on this thread: node must run in this namespace.
        let drove = node(
            "drive",
            &[
                ("HYPE_BASE", &s.base),
                ("HYPE_VM", "rec"),
                ("HYPE_SITE", SITE),
            ],
        )?;
        eprintln!("drive: {drove}");
        assert_eq!(drove["second"], "page two");

        let (status, list) = get(&s, "/api/v1/vms/rec/recordings").await?;
        assert_eq!(status, 200, "{list}");
        let items = list["items"].as_array().expect("items").clone();
        assert_eq!(items.len(), 1, "{list}");
        let id = items[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(items[0]["vm"], "rec");
        assert_eq!(items[0]["vm_id"], vm["id"]);
        assert!(items[0]["ended_at"].is_null(), "still recording: {list}");

        // The run ends: so does its recording, with its counts.
        s.client.vm_action("rec", "stop").await?;
        let until = std::time::Instant::now() + Duration::from_secs(30);
        let rec = loop {
            let (_, rec) = get(&s, &format!("/api/v1/recordings/{id}")).await?;
            if rec["ended_at"].is_string() || std::time::Instant::now() > until {
                break rec;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        eprintln!("recording: {rec}");
        assert!(rec["ended_at"].is_string(), "{rec}");
        assert!(rec["events"].as_u64().unwrap() >= 4, "{rec}");
        assert!(rec["pages"].as_u64().unwrap() >= 1, "{rec}");
        assert!(rec["note"].is_null(), "{rec}");
        assert_eq!(rec["replay_url"], format!("{}/recordings/{id}", s.base));
        // The same recording under its VM's name; not under another's.
        let (status, of_vm) = get(&s, &format!("/api/v1/vms/rec/recordings/{id}")).await?;
        assert_eq!((status, &of_vm), (200, &rec));
        let (status, body) = get(&s, &format!("/api/v1/vms/other/recordings/{id}")).await?;
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["error"]["code"], "recording_not_found");

        let (status, events) = get(&s, &format!("/api/v1/recordings/{id}/events")).await?;
        assert_eq!(status, 200);
        let events = events.as_array().expect("an array of events").clone();
        assert_eq!(events.len() as u64, rec["events"].as_u64().unwrap());
        let text = serde_json::to_string(&events)?;
        for seen in [
            "The first page",
            "clicked: typed in page one",
            "Recorded to the very end",
        ] {
            assert!(text.contains(seen), "{seen:?} is not in the events");
        }
        // Two documents: each starts with rrweb's meta and full snapshot.
        let metas = events.iter().filter(|e| e["type"] == 4).count();
        assert!(metas >= 2, "{metas} meta events");
        let size: u64 = rec["size_bytes"].as_u64().unwrap();
        let file = tmp.path().join(format!("recordings/{id}.ndjson"));
        assert_eq!(std::fs::metadata(&file)?.len(), size);

        // The recording outlives its VM.
        s.client.delete_vm("rec").await?;
        assert_eq!(get(&s, "/api/v1/vms/rec").await?.0, 404);
        let (status, list) = get(&s, "/api/v1/vms/rec/recordings").await?;
        assert_eq!(
            (status, list["items"].as_array().map(Vec::len)),
            (200, Some(1))
        );

        // The console replays it to the end, the last page's text shown.
        let seen = node("replay", &[("HYPE_BASE", &s.base), ("HYPE_RECORDING", &id)])?;
        eprintln!("replay: {seen}");
        let total = seen["total_ms"].as_f64().unwrap();
        assert!(total > 3000.0, "{seen}");
        assert!(seen["at_ms"].as_f64().unwrap() >= total - 250.0, "{seen}");
        assert!(
            seen["last_text"]
                .as_str()
                .unwrap()
                .contains("Recorded to the very end"),
            "{seen}"
        );
        assert_eq!(seen["errors"], json!([]), "{seen}");

        // Unknown ids, and deletion.
        for path in [
            "/api/v1/recordings/rec_nope".to_owned(),
            "/api/v1/recordings/rec_nope/events".to_owned(),
            "/api/v1/recordings/..%2F..%2Fhype.db".to_owned(),
        ] {
            let (status, body) = get(&s, &path).await?;
            assert_eq!(status, 404, "{path}: {body}");
            assert_eq!(body["error"]["code"], "recording_not_found", "{path}");
        }
        let (status, body) = s.delete("/api/v1/recordings/rec_nope").await?;
        assert_eq!(status, 404, "{body}");
        let (status, _) = s.delete(&format!("/api/v1/recordings/{id}")).await?;
        assert_eq!(status, 204);
        assert_eq!(get(&s, &format!("/api/v1/recordings/{id}")).await?.0, 404);
        assert!(!file.exists(), "its events are gone too");
        // The VM is gone and so are its recordings: an unknown name again.
        let (status, body) = get(&s, "/api/v1/vms/rec/recordings").await?;
        assert_eq!(
            (status, &body["error"]["code"]),
            (404, &json!("vm_not_found"))
        );
        Ok(())
    })
}

/// CPU time (user + system) of process `pid` so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command's closing parenthesis; utime and stime are
    // the 14th and 15th of the whole line.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    f.iter().sum::<u64>() as f64 / ticks
}

/// A page that changes all the time: a counter ten times a second and a
/// list whose rows come and go.
const CHURN: &str = "<!doctype html><title>churn</title><h1 id=c>0</h1><ul id=l></ul><script>\
let n=0;setInterval(()=>{c.textContent=++n;const li=document.createElement('li');\
li.textContent='row '+n+' '+Math.random();l.prepend(li);if(l.children.length>20)l.lastChild.remove();},100);\
</script>";

/// What a recording costs, for docs/console.md: a browser sandbox shows
/// [`CHURN`] for `HYPE_REC_SECONDS` (default 120) recorded, then another
/// one the same time unrecorded; prints the recording's size per minute
/// and the CPU time hyped and the guest's QEMU used in each window.
/// `cargo test -p hyped --test recordings -- --ignored --nocapture`
#[test]
#[ignore = "a measurement of several minutes, for the docs"]
fn what_a_recording_costs() -> anyhow::Result<()> {
    let _browsers = common::browser_turn();
    let secs: u64 = std::env::var("HYPE_REC_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    in_netns(move || async move {
        let tmp = tempfile::tempdir()?;
        let s = Server::networked(tmp.path(), "10.93.0.0/24", &[])?;
        let hyped = s.hyped_pid().expect("hyped's pid");
        for record in [true, false] {
            let name = if record { "costrec" } else { "costplain" };
            let (status, body) = s
                .post(
                    "/api/v1/vms",
                    json!({"name": name, "image": "browser", "cpu_cores": 2, "memory_mb": 1536, "record": record}),
                )
                .await?;
            assert_eq!(status, 201, "{body}");
            let vm = s.wait_running(name, Duration::from_secs(420)).await?;
            let qemu = vm.vmm.pid.expect("a VMM pid");
            let mut page = common::cdp::Cdp::first_page(vm.cdp_url.as_deref().unwrap()).await?;
            let url = format!("data:text/html,{}", urlencode(CHURN));
            page.call("Page.navigate", json!({"url": url})).await?;
            tokio::time::sleep(Duration::from_secs(5)).await;
            let size = |s: &Server| {
                let base = s.base.clone();
                let name = name.to_owned();
                async move {
                    let r: Value = reqwest::get(format!("{base}/api/v1/vms/{name}/recordings"))
                        .await?
                        .json()
                        .await?;
                    anyhow::Ok(r["items"][0]["size_bytes"].as_u64().unwrap_or(0))
                }
            };
            let (b0, h0, q0) = (size(&s).await?, cpu_seconds(hyped), cpu_seconds(qemu));
            tokio::time::sleep(Duration::from_secs(secs)).await;
            // The counts reach the store every 2 s.
            tokio::time::sleep(Duration::from_secs(3)).await;
            let (b1, h1, q1) = (size(&s).await?, cpu_seconds(hyped), cpu_seconds(qemu));
            let (count, per_min) = (
                page.eval("Number(document.getElementById('c').textContent)")
                    .await?,
                (b1 - b0) as f64 * 60.0 / secs as f64,
            );
            println!(
                "{name}: {secs} s of a changing page ({count} changes): recording {:.0} KiB/min; \
                 CPU over the window: hyped {:.2} s ({:.1}%), guest QEMU {:.1} s ({:.1}% of one core)",
                per_min / 1024.0,
                h1 - h0,
                (h1 - h0) * 100.0 / secs as f64,
                q1 - q0,
                (q1 - q0) * 100.0 / secs as f64,
            );
            s.client.delete_vm(name).await?;
        }
        Ok(())
    })
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
