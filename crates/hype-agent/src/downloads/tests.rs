//! The watcher's CDP handling on made-up events and real files, and (run
//! by hand, `--ignored`) against the host's own Chromium.

use std::fs;
use std::sync::Mutex;

use serde_json::json;

use super::*;

static REPORTED: Mutex<Vec<Download>> = Mutex::new(Vec::new());

fn watcher(dir: &Path) -> Watcher {
    let mut w = Watcher::new(dir.to_path_buf(), None);
    w.report = |d| REPORTED.lock().unwrap().push(d);
    w
}

fn reported(url: &str) -> Option<Download> {
    for _ in 0..200 {
        if let Some(d) = REPORTED.lock().unwrap().iter().find(|d| d.url == url) {
            return Some(d.clone());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[test]
fn names_are_made_safe() {
    assert_eq!(safe_name("report.pdf"), "report.pdf");
    assert_eq!(safe_name("../../etc/passwd"), "passwd");
    assert_eq!(safe_name("a\\b\\c.txt"), "c.txt");
    assert_eq!(safe_name(".bashrc"), "bashrc");
    assert_eq!(safe_name("..."), "download");
    assert_eq!(safe_name("x\0y\n.txt"), "xy.txt");
    assert_eq!(safe_name(""), "download");
    let long = format!("{}.tar.gz", "é".repeat(300));
    let name = safe_name(&long);
    assert!(name.len() <= MAX_NAME && name.ends_with(".gz"), "{name}");
    let suffixed = fit(&name, " (12)");
    assert!(
        suffixed.len() <= MAX_NAME && suffixed.ends_with(" (12).gz"),
        "{suffixed}"
    );
}

#[test]
fn every_context_downloads_into_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = watcher(dir.path());
    let first = w.on_connect();
    assert_eq!(first[0]["method"], "Browser.setDownloadBehavior");
    assert_eq!(first[0]["params"]["behavior"], "allowAndName");
    assert!(first[0]["params"].get("browserContextId").is_none());
    let contexts_id = first[2]["id"].as_u64().unwrap();
    let answer = w.on_message(&json!({"id": contexts_id, "result": {"browserContextIds": ["C1"]}}));
    assert_eq!(answer[0]["params"]["browserContextId"], "C1");

    // A new target of a context (re)applies it; the default context's id,
    // refused once, is not tried again.
    let created = |ctx: &str| {
        json!({"method": "Target.targetCreated", "params": {"targetInfo": {
            "targetId": "T", "type": "page", "url": "https://a.example/", "browserContextId": ctx}}})
    };
    let again = w.on_message(&created("C2"));
    assert_eq!(again[0]["params"]["browserContextId"], "C2");
    let dflt = w.on_message(&created("D"));
    let refused = dflt[0]["id"].as_u64().unwrap();
    w.on_message(&json!({"id": refused, "error": {"code": -32000, "message": "no such context"}}));
    let later = w.on_message(&created("D"));
    assert!(later[0]["params"].get("browserContextId").is_none());
}

#[test]
fn a_finished_download_is_named_hashed_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = watcher(dir.path());
    w.on_message(
        &json!({"method": "Target.targetCreated", "params": {"targetInfo": {
        "targetId": "F1", "type": "page", "url": "https://site.example/page"}}}),
    );
    fs::write(dir.path().join("report.pdf"), b"taken").unwrap();
    let guid = "0f6c6f3e-1111-2222-3333-444455556666";
    w.on_message(&json!({"method": "Browser.downloadWillBegin", "params": {
        "frameId": "F1", "guid": guid, "url": "https://site.example/r.pdf",
        "suggestedFilename": "report.pdf"}}));
    fs::write(dir.path().join(guid), b"abc").unwrap();
    w.on_message(&json!({"method": "Browser.downloadProgress", "params": {
        "guid": guid, "state": "completed", "receivedBytes": 3, "totalBytes": 3}}));
    let d = reported("https://site.example/r.pdf").expect("reported");
    assert_eq!(d.name, "report (1).pdf");
    assert_eq!(d.size, 3);
    assert_eq!(
        d.sha256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(d.page_url.as_deref(), Some("https://site.example/page"));
    assert_eq!(fs::read(dir.path().join("report (1).pdf")).unwrap(), b"abc");
    assert!(!dir.path().join(guid).exists());

    // A canceled one leaves nothing.
    let other = "aaaaaaaa-1111-2222-3333-444455556666";
    fs::write(dir.path().join(other), b"par").unwrap();
    w.on_message(&json!({"method": "Browser.downloadProgress", "params": {
        "guid": other, "state": "canceled"}}));
    assert!(!dir.path().join(other).exists());
}

/// A page server for the real test: `/file` is an attachment.
fn serve_attachment() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        // A thread per connection: Chromium opens spare ones it may never use.
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut conn = conn;
                let mut head = [0u8; 4096];
                let _ = std::io::Read::read(&mut conn, &mut head);
                let body = b"hello from the page\n";
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                     Content-Disposition: attachment; filename=\"../hello.txt\"\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = std::io::Write::write_all(&mut conn, answer.as_bytes());
                let _ = std::io::Write::write_all(&mut conn, body);
            });
        }
    });
    port
}

/// The watcher against a real Chromium (the host's), in the default
/// context and in one a client created, as Playwright does.
#[test]
#[ignore = "starts the host's Chromium"]
fn a_real_chromium_downloads_in_every_context() {
    const PORT: u16 = 9339;
    let dir = tempfile::tempdir().unwrap();
    let profile = tempfile::tempdir().unwrap();
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _chromium = Killed(
        std::process::Command::new("chromium")
            .args([
                "--headless=new",
                "--no-sandbox",
                &format!("--remote-debugging-port={PORT}"),
                &format!("--user-data-dir={}", profile.path().display()),
                "about:blank",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let site = serve_attachment();
    let w = watcher(dir.path());
    std::thread::spawn(move || serve(PORT, w));
    // A client of its own, as Playwright would be.
    let url = loop {
        if let Some(body) = browser::version_body(PORT) {
            let v: Value = serde_json::from_str(&body).unwrap();
            break v["webSocketDebuggerUrl"].as_str().unwrap().to_string();
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    std::thread::sleep(Duration::from_secs(1));
    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, PORT)).unwrap();
    let (mut ws, _) = tungstenite::client(url.as_str(), stream).unwrap();
    let mut call = |msg: Value| -> Value {
        ws.send(tungstenite::Message::text(msg.to_string()))
            .unwrap();
        loop {
            if let tungstenite::Message::Text(t) = ws.read().unwrap() {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["id"] == msg["id"] {
                    return v;
                }
            }
        }
    };
    let ctx = call(json!({"id": 1, "method": "Target.createBrowserContext", "params": {}}));
    let ctx = ctx["result"]["browserContextId"]
        .as_str()
        .unwrap()
        .to_string();
    // As Playwright does for each context it makes: its own behaviour and
    // directory, which the watcher overrides at the context's next target.
    let theirs = tempfile::tempdir().unwrap();
    call(
        json!({"id": 2, "method": "Browser.setDownloadBehavior", "params": {
        "behavior": "allowAndName", "browserContextId": ctx,
        "downloadPath": theirs.path().to_string_lossy(), "eventsEnabled": true}}),
    );
    for (i, context) in [None, Some(ctx)].into_iter().enumerate() {
        let file = format!("http://127.0.0.1:{site}/file{i}");
        let mut params = json!({"url": "about:blank"});
        if let Some(c) = &context {
            params["browserContextId"] = json!(c);
        }
        let target = call(json!({"id": 10 + i, "method": "Target.createTarget", "params": params}));
        assert!(target.get("result").is_some(), "{target}");
        // Give the watcher the new target's event before navigating.
        std::thread::sleep(Duration::from_millis(500));
        let target = target["result"]["targetId"].as_str().unwrap().to_string();
        let session = call(json!({"id": 20 + i, "method": "Target.attachToTarget",
            "params": {"targetId": target, "flatten": true}}));
        let session = session["result"]["sessionId"].as_str().unwrap().to_string();
        call(
            json!({"id": 30 + i, "sessionId": session, "method": "Page.navigate",
            "params": {"url": file}}),
        );
        let d = (0..100)
            .find_map(|_| reported(&file))
            .unwrap_or_else(|| panic!("no download reported for {file}"));
        // Chromium makes `../hello.txt` `_hello.txt` itself.
        assert!(
            d.name.starts_with("_hello") && d.name.ends_with(".txt"),
            "{}",
            d.name
        );
        assert_eq!(
            fs::read(dir.path().join(&d.name)).unwrap(),
            b"hello from the page\n"
        );
    }
}

#[test]
fn urls_are_clipped_to_what_the_host_takes() {
    let data = format!(
        "data:application/octet-stream;base64,{}",
        "A".repeat(400_000)
    );
    assert_eq!(clip(data).len(), MAX_URL);
    let wide = "é".repeat(MAX_URL);
    let cut = clip(wide);
    assert!(cut.len() <= MAX_URL && cut.chars().all(|c| c == 'é'));
    assert_eq!(clip("http://x/".into()), "http://x/");
}
