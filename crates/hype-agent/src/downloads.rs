//! The browser's downloads. A browser-level CDP client of the guest's own
//! (Chromium's loopback port, reconnected whenever Chromium restarts) has
//! every browser context download into [`DOWNLOADS_DIR`]: the default one
//! at connect, and each other as its targets appear (Playwright creates
//! contexts and may set its own download behaviour, so it is set again on
//! each new target of a context). Chromium names a download by its guid
//! while it runs; when it completes, the file is renamed to a safe unique
//! name from the page's suggested one, given to the `browser` user, hashed,
//! and reported to the host as `downloaded` (queued while no host is
//! connected). A canceled download's partial file is removed.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hype_agent_proto::{Download, GuestMessage, DOWNLOADS_DIR};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::users::Accounts;
use crate::{browser, channel, log};

/// How long to wait between tries to reach Chromium.
const RETRY: Duration = Duration::from_secs(2);
/// Longest name a download gets (bytes), well under NAME_MAX.
const MAX_NAME: usize = 200;

/// Starts the watcher thread for Chromium on loopback `port`.
pub fn spawn(port: u16) -> Result<(), Error> {
    let dir = PathBuf::from(DOWNLOADS_DIR);
    let owner = Accounts::default()
        .resolve(Some("browser"))
        .ok()
        .map(|u| (u.uid, u.gid));
    std::thread::Builder::new()
        .name("downloads".into())
        .spawn(move || loop {
            if let Err(e) = prepare_dir(&dir, owner) {
                log!("downloads: {e}");
            }
            match serve(port, Watcher::new(dir.clone(), owner)) {
                Ok(()) => log!("downloads: chromium closed the connection; reconnecting"),
                Err(e) => log!("downloads: {e}; reconnecting"),
            }
            std::thread::sleep(RETRY);
        })
        .map(drop)
        .map_err(|source| Error::Thread {
            what: "the download watcher",
            source,
        })
}

fn prepare_dir(dir: &Path, owner: Option<(u32, u32)>) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(dir, Some(uid), Some(gid))?;
    }
    Ok(())
}

/// One connection to Chromium, until it ends.
fn serve(port: u16, mut watcher: Watcher) -> Result<(), String> {
    let url = loop {
        let found = browser::version_body(port)
            .and_then(|body| serde_json::from_str::<Value>(&body).ok())
            .and_then(|v| Some(v.get("webSocketDebuggerUrl")?.as_str()?.to_string()));
        match found {
            Some(url) => break url,
            None => std::thread::sleep(RETRY),
        }
    };
    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).map_err(|e| e.to_string())?;
    let (mut ws, _) = tungstenite::client(url.as_str(), stream).map_err(|e| e.to_string())?;
    log!("downloads: connected to {url}");
    for command in watcher.on_connect() {
        ws.send(tungstenite::Message::text(command.to_string()))
            .map_err(|e| e.to_string())?;
    }
    loop {
        let text = match ws.read().map_err(|e| e.to_string())? {
            tungstenite::Message::Text(text) => text,
            tungstenite::Message::Close(_) => return Ok(()),
            _ => continue,
        };
        let Ok(msg) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        for command in watcher.on_message(&msg) {
            ws.send(tungstenite::Message::text(command.to_string()))
                .map_err(|e| e.to_string())?;
        }
    }
}

/// A download as it began.
#[derive(Debug, Clone)]
struct Begun {
    url: String,
    suggested: String,
    page_url: Option<String>,
}

/// The CDP side of the watcher, without the socket: messages in, commands
/// out, downloads finished in `dir`.
pub struct Watcher {
    dir: PathBuf,
    owner: Option<(u32, u32)>,
    next_id: u64,
    /// Commands whose answers matter: getBrowserContexts, and the download
    /// behaviour of a context (an error means it is the default one).
    pending: HashMap<u64, Pending>,
    /// Context ids that turned out to be the default context's.
    defaults: HashSet<String>,
    /// Page targets' URLs by target id (a main frame's id is its target's).
    pages: HashMap<String, String>,
    begun: HashMap<String, Begun>,
    /// Where finished downloads are reported (the host; a test's list).
    report: fn(Download),
}

#[derive(Debug)]
enum Pending {
    Contexts,
    Behaviour(String),
}

impl Watcher {
    pub fn new(dir: PathBuf, owner: Option<(u32, u32)>) -> Self {
        Self {
            dir,
            owner,
            next_id: 0,
            pending: HashMap::new(),
            defaults: HashSet::new(),
            pages: HashMap::new(),
            begun: HashMap::new(),
            report: |d| channel::unsolicited(&GuestMessage::Downloaded(d)),
        }
    }

    fn command(&mut self, method: &str, params: Value, pending: Option<Pending>) -> Value {
        self.next_id += 1;
        if let Some(p) = pending {
            self.pending.insert(self.next_id, p);
        }
        json!({"id": self.next_id, "method": method, "params": params})
    }

    fn behaviour(&mut self, context: Option<&str>) -> Value {
        let mut params = json!({
            "behavior": "allowAndName",
            "downloadPath": self.dir.to_string_lossy(),
            "eventsEnabled": true,
        });
        match context {
            Some(id) => {
                params["browserContextId"] = json!(id);
                self.command(
                    "Browser.setDownloadBehavior",
                    params,
                    Some(Pending::Behaviour(id.to_string())),
                )
            }
            None => self.command("Browser.setDownloadBehavior", params, None),
        }
    }

    /// What to send once connected.
    pub fn on_connect(&mut self) -> Vec<Value> {
        vec![
            self.behaviour(None),
            self.command("Target.setDiscoverTargets", json!({"discover": true}), None),
            self.command(
                "Target.getBrowserContexts",
                json!({}),
                Some(Pending::Contexts),
            ),
        ]
    }

    /// Handles one message from Chromium; returns the commands to send.
    pub fn on_message(&mut self, msg: &Value) -> Vec<Value> {
        if let Some(id) = msg.get("id").and_then(Value::as_u64) {
            return self.on_answer(id, msg);
        }
        let params = &msg["params"];
        let text = |v: &Value| v.as_str().map(str::to_string);
        match msg["method"].as_str().unwrap_or("") {
            "Target.targetCreated" | "Target.targetInfoChanged" => {
                let info = &params["targetInfo"];
                if let (Some(id), Some(url)) = (text(&info["targetId"]), text(&info["url"])) {
                    if info["type"] == "page" {
                        self.pages.insert(id, clip(url));
                    }
                }
                if msg["method"] == "Target.targetCreated" {
                    if let Some(ctx) = text(&info["browserContextId"]) {
                        let ctx = (!self.defaults.contains(&ctx)).then_some(ctx);
                        return vec![self.behaviour(ctx.as_deref())];
                    }
                }
            }
            "Target.targetDestroyed" => {
                if let Some(id) = params["targetId"].as_str() {
                    self.pages.remove(id);
                }
            }
            "Browser.downloadWillBegin" => {
                if let Some(guid) = text(&params["guid"]) {
                    let page_url = params["frameId"]
                        .as_str()
                        .and_then(|f| self.pages.get(f).cloned());
                    self.begun.insert(
                        guid,
                        Begun {
                            url: clip(text(&params["url"]).unwrap_or_default()),
                            suggested: text(&params["suggestedFilename"]).unwrap_or_default(),
                            page_url,
                        },
                    );
                }
            }
            "Browser.downloadProgress" => {
                let Some(guid) = params["guid"].as_str() else {
                    return Vec::new();
                };
                match params["state"].as_str() {
                    Some("completed") => self.completed(guid),
                    Some("canceled") => {
                        self.begun.remove(guid);
                        if safe_guid(guid) {
                            let _ = fs::remove_file(self.dir.join(guid));
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn on_answer(&mut self, id: u64, msg: &Value) -> Vec<Value> {
        match self.pending.remove(&id) {
            Some(Pending::Contexts) => {
                let ids: Vec<String> = msg["result"]["browserContextIds"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                ids.iter().map(|ctx| self.behaviour(Some(ctx))).collect()
            }
            Some(Pending::Behaviour(ctx)) if msg.get("error").is_some() => {
                // Chromium knows the default context by no id at all; it was
                // set at connect.
                self.defaults.insert(ctx);
                Vec::new()
            }
            _ => {
                if let Some(e) = msg.get("error") {
                    log!("downloads: chromium answered {e}");
                }
                Vec::new()
            }
        }
    }

    /// Renames the finished file, then hashes and reports it on a thread
    /// of its own (a big file would otherwise hold up the events).
    fn completed(&mut self, guid: &str) {
        let begun = self.begun.remove(guid).unwrap_or_else(|| Begun {
            url: String::new(),
            suggested: String::new(),
            page_url: None,
        });
        if !safe_guid(guid) {
            log!("downloads: odd guid {guid:?}; ignored");
            return;
        }
        let from = self.dir.join(guid);
        let (name, to) = match place(&self.dir, &from, &safe_name(&begun.suggested)) {
            Ok(placed) => placed,
            Err(e) => {
                log!("downloads: {}: {e}", from.display());
                return;
            }
        };
        if let Some((uid, gid)) = self.owner {
            if let Err(e) = std::os::unix::fs::chown(&to, Some(uid), Some(gid)) {
                log!("downloads: chown {}: {e}", to.display());
            }
        }
        let report = self.report;
        let spawned = std::thread::Builder::new()
            .name("download-hash".into())
            .spawn(move || match hash(&to) {
                Ok((size, sha256)) => {
                    log!("downloads: {name} ({size} bytes) from {}", begun.url);
                    report(Download {
                        name,
                        size,
                        sha256,
                        url: begun.url,
                        page_url: begun.page_url,
                        finished_ms: now_ms(),
                    });
                }
                Err(e) => log!("downloads: {}: {e}", to.display()),
            });
        if let Err(e) = spawned {
            log!("downloads: no thread to hash a download: {e}");
        }
    }
}

/// Chromium's guids are UUIDs; anything else is not trusted as a file name.
fn safe_guid(guid: &str) -> bool {
    !guid.is_empty() && guid.len() <= 64 && guid.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// A name a download can have in the directory: the last part of the
/// suggested one, without control characters or leading dots, at most
/// [`MAX_NAME`] bytes (its extension kept), never empty.
pub fn safe_name(suggested: &str) -> String {
    let last = suggested.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = last.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim().trim_start_matches('.').trim();
    let name = if clean.is_empty() { "download" } else { clean };
    fit(name, "")
}

/// `name` with `suffix` before its extension, cut to [`MAX_NAME`] bytes.
fn fit(name: &str, suffix: &str) -> String {
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && ext.len() <= 16 => (stem, format!(".{ext}")),
        _ => (name, String::new()),
    };
    let room = MAX_NAME.saturating_sub(suffix.len() + ext.len());
    let mut cut = stem.len().min(room);
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}{ext}", &stem[..cut])
}

/// Moves `from` to a free name in `dir` (`name`, `name (1).ext`, ...);
/// a hard link claims the name, so a name taken meanwhile is never
/// overwritten.
fn place(dir: &Path, from: &Path, name: &str) -> io::Result<(String, PathBuf)> {
    for n in 0..10_000u32 {
        let candidate = if n == 0 {
            name.to_string()
        } else {
            fit(name, &format!(" ({n})"))
        };
        let to = dir.join(&candidate);
        match fs::hard_link(from, &to) {
            Ok(()) => {
                fs::remove_file(from)?;
                return Ok((candidate, to));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no free name"))
}

fn hash(path: &Path) -> io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    let digest = hasher.finalize();
    Ok((size, digest.iter().map(|b| format!("{b:02x}")).collect()))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests;

/// Longest URL kept for a download: a `data:` URL holds the whole file, and
/// the host takes lines of at most 256 KiB.
const MAX_URL: usize = 2048;

/// `url` cut to [`MAX_URL`] bytes at a character boundary.
fn clip(mut url: String) -> String {
    if url.len() > MAX_URL {
        let mut end = MAX_URL;
        while !url.is_char_boundary(end) {
            end -= 1;
        }
        url.truncate(end);
    }
    url
}
