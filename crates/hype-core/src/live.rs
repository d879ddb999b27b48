//! The live view of a sandbox's browser: CDP's screencast of one tab,
//! handed to one viewer frame by frame, and the viewer's mouse and keys
//! sent back as CDP input events.
//!
//! The automation must never wait for a viewer: each frame is acked as
//! soon as it arrives (Chromium sends the next one only after an ack), and
//! only the newest frame not yet taken is kept, so a slow viewer gets
//! fewer frames, never older ones, and the browser never notices. The
//! screencast runs only while a [`LiveView`] exists; dropping it stops the
//! screencast and closes the connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use bytes::Bytes;
use hype_cdp::{CdpError, CdpEvent, Connection, Discovery};
use hype_types::{KeyAction, LiveInput, LiveNotice, LiveTab};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::watch::session::browser_target;
use crate::{CdpLease, CloseReason, CoreError, Hype, Result};

/// How often the tab list is read again.
const REFRESH: std::time::Duration = std::time::Duration::from_secs(1);
/// Close code when the browser's connection ends under a viewer.
const CLOSE_BROWSER_GONE: u16 = 1011;

/// Kernel measured the screencast at these settings costing almost
/// nothing; 1280x800 is a laptop screen, enough to read a page.
fn screencast_params() -> Value {
    json!({"format": "jpeg", "quality": 60, "maxWidth": 1280, "maxHeight": 800, "everyNthFrame": 1})
}

/// Counts over every live view of this hyped, for `/metrics`: what a
/// user can check to see that no screencast runs without a viewer, and
/// that a slow viewer makes frames drop rather than queue.
#[derive(Debug, Default)]
pub(crate) struct LiveCounters {
    screencasts: AtomicU64,
    frames: AtomicU64,
    dropped: AtomicU64,
}

/// A reading of [`LiveCounters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveFigures {
    /// Live views open now, each with its own screencast; 0 means no
    /// screencast runs.
    pub viewers: u64,
    /// Screencast frames the browsers sent (each acked at once).
    pub frames: u64,
    /// Frames replaced by a newer one before their viewer took them.
    pub dropped: u64,
}

/// What the viewer gets next.
#[derive(Debug)]
pub enum LiveEvent {
    /// One JPEG.
    Frame(Bytes),
    Notice(LiveNotice),
    /// The view is over (the sandbox expired, its browser went away).
    Closed(CloseReason),
}

struct Frame {
    jpeg: Bytes,
    /// The page's size in CSS pixels.
    viewport: (f64, f64),
}

#[derive(Default)]
struct State {
    /// The newest frame the viewer has not taken; a newer one replaces it.
    frame: Option<Frame>,
    /// Frames replaced before the viewer took them.
    dropped: u64,
    tabs: Vec<LiveTab>,
    tabs_changed: bool,
    /// The CDP session of the tab shown, which input goes to.
    session: Option<String>,
    ended: Option<String>,
}

impl State {
    /// Keeps `frame` as the one for the viewer, dropping any it has not
    /// taken yet; whether one was dropped.
    fn offer(&mut self, frame: Frame) -> bool {
        let dropped = self.frame.replace(frame).is_some();
        if dropped {
            self.dropped += 1;
        }
        dropped
    }
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the viewer: a frame, tabs, or the end.
    wake: Notify,
}

impl Shared {
    fn update(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state.lock().expect("live state lock"));
        self.wake.notify_one();
    }
}

/// A tab switch asked by the viewer, answered once done.
type Switch = (String, oneshot::Sender<std::result::Result<(), String>>);

/// One viewer's view of one sandbox's browser.
pub struct LiveView {
    name: String,
    conn: Connection,
    shared: Arc<Shared>,
    switches: mpsc::Sender<Switch>,
    lease: CdpLease,
    sent_viewport: Option<(f64, f64)>,
    _stop: DropGuard,
}

impl Hype {
    /// Starts watching `name`'s browser: its most recently used tab,
    /// screencast. Fails as the CDP proxy does (not found, not running, no
    /// browser, a browser that does not answer).
    pub async fn live_view(&self, name: &str) -> Result<LiveView> {
        let browser_err = |source: CdpError| CoreError::Browser {
            name: name.into(),
            source: Box::new(source),
        };
        let version = self.cdp_discovery(name, Discovery::Version).await?;
        let target = browser_target(&version)
            .ok_or_else(|| browser_err(CdpError::Protocol("the browser names no target".into())))?;
        // `/json/list` puts the most recently used tab first.
        let list = self.cdp_discovery(name, Discovery::List).await?;
        let first = list
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["id"].as_str())
            .map(str::to_owned);
        let socket = self.cdp_socket(name, &target).await?;
        let (conn, events) = Connection::open(socket);
        conn.call(None, "Target.setDiscoverTargets", json!({"discover": true}))
            .await
            .map_err(browser_err)?;
        let shared = Arc::new(Shared::default());
        let counters = self.inner.live.clone();
        let mut run = Run {
            conn: conn.clone(),
            shared: shared.clone(),
            current: None,
            counters: counters.clone(),
        };
        if let Some(first) = first {
            run.show(&first, false).await.map_err(browser_err)?;
        }
        let cancel = CancellationToken::new();
        let (switches, asked) = mpsc::channel(4);
        // Counted down by the task once the screencast is stopped.
        counters.screencasts.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(run.run(events, asked, cancel.clone()));
        Ok(LiveView {
            name: name.into(),
            conn,
            shared,
            switches,
            lease: self.cdp_lease(name),
            sent_viewport: None,
            _stop: cancel.drop_guard(),
        })
    }
}

impl Hype {
    /// What a live link to `name` binds to: the VM's id (a VM deleted and
    /// made again under its name is another VM) and its live page's URL.
    /// Only a VM with a browser has a live view; it need not be running
    /// yet.
    pub async fn live_target(&self, name: &str) -> Result<(String, String)> {
        let vm = self.get_vm(name).await?;
        let url = vm.live_url.ok_or_else(|| CoreError::NoBrowser {
            name: name.into(),
            why: format!("its image '{}' has no browser", vm.image),
        })?;
        Ok((vm.id, url))
    }

    /// The id of VM `name`, if it exists.
    pub async fn vm_id(&self, name: &str) -> Result<String> {
        Ok(self.get_vm(name).await?.id)
    }

    /// The live views' counts so far.
    pub fn live_figures(&self) -> LiveFigures {
        let c = &self.inner.live;
        LiveFigures {
            viewers: c.screencasts.load(Ordering::Relaxed),
            frames: c.frames.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
        }
    }
}

impl LiveView {
    /// The next thing to send the viewer: tabs when they changed, the
    /// page's size when it changed, else the newest frame. Waits for one.
    pub async fn next(&mut self) -> LiveEvent {
        let shared = self.shared.clone();
        loop {
            // Made before looking, so a wake in between is not lost.
            let wake = shared.wake.notified();
            if let Some(ev) = self.take() {
                return ev;
            }
            tokio::select! {
                _ = wake => {}
                _ = self.lease.closed.changed() => {
                    if let Some(why) = self.lease.closed.borrow().clone() {
                        return LiveEvent::Closed(why);
                    }
                }
            }
        }
    }

    fn take(&mut self) -> Option<LiveEvent> {
        let mut st = self.shared.state.lock().expect("live state lock");
        if st.tabs_changed {
            st.tabs_changed = false;
            return Some(LiveEvent::Notice(LiveNotice::Tabs {
                tabs: st.tabs.clone(),
            }));
        }
        if let Some(f) = &st.frame {
            if self.sent_viewport != Some(f.viewport) {
                // The frame stays: the size it is drawn at goes first.
                self.sent_viewport = Some(f.viewport);
                let (width, height) = f.viewport;
                return Some(LiveEvent::Notice(LiveNotice::Viewport { width, height }));
            }
            return st.frame.take().map(|f| LiveEvent::Frame(f.jpeg));
        }
        st.ended.as_ref().map(|why| {
            LiveEvent::Closed(CloseReason {
                code: CLOSE_BROWSER_GONE,
                reason: why.clone(),
            })
        })
    }

    /// Frames dropped so far because the viewer had not taken the
    /// previous one.
    pub fn dropped(&self) -> u64 {
        self.shared.state.lock().expect("live state lock").dropped
    }

    /// Sends the viewer's input to the tab shown, or switches tabs.
    pub async fn input(&self, input: LiveInput) -> Result<()> {
        input.validate().map_err(CoreError::InvalidRequest)?;
        let (method, params) = match input {
            LiveInput::Tab { id } => {
                let (tx, rx) = oneshot::channel();
                let gone = || self.gone("the live view ended");
                self.switches.send((id, tx)).await.map_err(|_| gone())?;
                return rx
                    .await
                    .map_err(|_| gone())?
                    .map_err(CoreError::InvalidRequest);
            }
            LiveInput::Mouse(m) => (
                "Input.dispatchMouseEvent",
                json!({"type": m.action, "x": m.x, "y": m.y, "button": m.button,
                    "clickCount": m.click_count, "deltaX": m.delta_x, "deltaY": m.delta_y,
                    "modifiers": m.modifiers}),
            ),
            LiveInput::Key(k) => {
                // A key that types nothing is a raw key down: with "keyDown"
                // Chromium would type its (empty) text.
                let kind = match k.action {
                    KeyAction::KeyDown if k.text.is_empty() => "rawKeyDown",
                    KeyAction::KeyDown => "keyDown",
                    KeyAction::KeyUp => "keyUp",
                    KeyAction::Char => "char",
                };
                let mut p = json!({"type": kind, "key": k.key, "code": k.code,
                    "modifiers": k.modifiers,
                    "windowsVirtualKeyCode": hype_cdp::virtual_key(&k.key)});
                if !k.text.is_empty() {
                    p["text"] = json!(k.text);
                    p["unmodifiedText"] = json!(k.text);
                }
                ("Input.dispatchKeyEvent", p)
            }
        };
        let session = self
            .shared
            .state
            .lock()
            .expect("live state lock")
            .session
            .clone()
            .ok_or_else(|| CoreError::InvalidRequest("no tab is shown to send input to".into()))?;
        self.conn
            .call(Some(&session), method, params)
            .await
            .map(drop)
            .map_err(|source| CoreError::Browser {
                name: self.name.clone(),
                source: Box::new(source),
            })
    }

    fn gone(&self, why: &str) -> CoreError {
        CoreError::Browser {
            name: self.name.clone(),
            source: Box::new(CdpError::Protocol(why.into())),
        }
    }
}

/// The task behind a [`LiveView`]: reads the browser's events, keeps the
/// tab list, acks frames, switches tabs.
struct Run {
    conn: Connection,
    shared: Arc<Shared>,
    /// The tab shown and its CDP session.
    current: Option<(String, String)>,
    counters: Arc<LiveCounters>,
}

impl Run {
    async fn run(
        mut self,
        mut events: mpsc::Receiver<CdpEvent>,
        mut asked: mpsc::Receiver<Switch>,
        cancel: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(REFRESH);
        let why = loop {
            tokio::select! {
                _ = cancel.cancelled() => break None,
                _ = tick.tick() => self.refresh().await,
                ev = events.recv() => match ev {
                    Some(ev) => self.event(ev).await,
                    None => break Some("the browser went away"),
                },
                Some((id, reply)) = asked.recv() => {
                    let known = self.shared.state.lock().expect("live state lock")
                        .tabs.iter().any(|t| t.id == id);
                    let r = if known {
                        self.show(&id, true).await.map_err(|e| e.to_string())
                    } else {
                        Err(format!("no tab {id:?} in this browser"))
                    };
                    let _ = reply.send(r);
                }
            }
        };
        match why {
            // The viewer left: no viewer, no screencast.
            None => {
                if let Some((_, session)) = &self.current {
                    self.conn
                        .send(Some(session), "Page.stopScreencast", json!({}))
                        .await;
                }
                self.conn.close().await;
            }
            Some(why) => self.shared.update(|st| st.ended = Some(why.into())),
        }
        self.counters.screencasts.fetch_sub(1, Ordering::Relaxed);
    }

    /// Shows `target`: stops the screencast of the tab shown, attaches to
    /// `target` and screencasts it; `front` brings it to the front too (a
    /// tab switched to, so the browser paints it).
    async fn show(&mut self, target: &str, front: bool) -> std::result::Result<(), CdpError> {
        if let Some((_, old)) = self.current.take() {
            self.conn
                .send(Some(&old), "Page.stopScreencast", json!({}))
                .await;
            self.conn
                .send(None, "Target.detachFromTarget", json!({"sessionId": old}))
                .await;
        }
        let r = self
            .conn
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target, "flatten": true}),
            )
            .await?;
        let session = r["sessionId"]
            .as_str()
            .ok_or_else(|| CdpError::Protocol("attachToTarget answered no session".into()))?
            .to_owned();
        if front {
            self.conn
                .call(Some(&session), "Page.bringToFront", json!({}))
                .await?;
        }
        self.conn
            .call(Some(&session), "Page.startScreencast", screencast_params())
            .await?;
        self.current = Some((target.to_owned(), session.clone()));
        self.shared.update(|st| {
            st.session = Some(session);
            st.frame = None;
            for t in &mut st.tabs {
                t.current = t.id == target;
            }
            st.tabs_changed = true;
        });
        Ok(())
    }

    async fn event(&mut self, ev: CdpEvent) {
        match ev.method.as_str() {
            "Page.screencastFrame" => {
                let ours = self.current.as_ref().map(|(_, s)| s.as_str());
                if ev.session.is_none() || ev.session.as_deref() != ours {
                    return;
                }
                // Acked first, whatever the viewer does.
                let ack = json!({"sessionId": ev.params["sessionId"]});
                self.conn
                    .send(ev.session.as_deref(), "Page.screencastFrameAck", ack)
                    .await;
                self.counters.frames.fetch_add(1, Ordering::Relaxed);
                if let Some(frame) = frame(&ev.params) {
                    let mut dropped = false;
                    self.shared.update(|st| dropped = st.offer(frame));
                    if dropped {
                        self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            "Target.targetCreated" | "Target.targetInfoChanged" => {
                let Some(id) = self.upsert(&ev.params["targetInfo"]) else {
                    return;
                };
                // A browser that had no tab shows its first new one.
                if self.current.is_none() {
                    self.show_or_log(&id).await;
                }
            }
            "Target.targetDestroyed" => {
                let id = ev.params["targetId"].as_str().unwrap_or_default();
                let mut next = None;
                self.shared.update(|st| {
                    st.tabs.retain(|t| t.id != id);
                    st.tabs_changed = true;
                    next = st.tabs.first().map(|t| t.id.clone());
                });
                if self.current.as_ref().is_some_and(|(t, _)| t == id) {
                    self.current = None;
                    self.shared.update(|st| st.session = None);
                    if let Some(next) = next {
                        self.show_or_log(&next).await;
                    }
                }
            }
            _ => {}
        }
    }

    /// Adds or updates the tab `info` describes (a `TargetInfo`), saying
    /// so to the viewer only if something changed; its id if a page.
    fn upsert(&self, info: &Value) -> Option<String> {
        if info["type"] != "page" {
            return None;
        }
        let id = info["targetId"].as_str()?.to_owned();
        let tab = LiveTab {
            id: id.clone(),
            title: info["title"].as_str().unwrap_or_default().to_owned(),
            url: info["url"].as_str().unwrap_or_default().to_owned(),
            current: self.current.as_ref().is_some_and(|(t, _)| *t == id),
        };
        let mut st = self.shared.state.lock().expect("live state lock");
        match st.tabs.iter_mut().find(|t| t.id == id) {
            Some(t) if *t == tab => return Some(id),
            Some(t) => *t = tab,
            None => st.tabs.push(tab),
        }
        st.tabs_changed = true;
        drop(st);
        self.shared.wake.notify_one();
        Some(id)
    }

    /// Reads the tabs again: Chromium does not always announce a new
    /// title (a page's `<title>` set after its navigation).
    async fn refresh(&self) {
        let Ok(r) = self.conn.call(None, "Target.getTargets", json!({})).await else {
            return;
        };
        for info in r["targetInfos"].as_array().into_iter().flatten() {
            self.upsert(info);
        }
    }

    async fn show_or_log(&mut self, target: &str) {
        if let Err(e) = self.show(target, true).await {
            tracing::debug!(target, error = %e, "live view could not show a tab");
        }
    }
}

/// A screencast frame's JPEG and the page size it shows.
fn frame(params: &Value) -> Option<Frame> {
    let jpeg = base64::engine::general_purpose::STANDARD
        .decode(params["data"].as_str()?)
        .ok()?;
    let meta = &params["metadata"];
    Some(Frame {
        jpeg: jpeg.into(),
        viewport: (
            meta["deviceWidth"].as_f64()?,
            meta["deviceHeight"].as_f64()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_carries_its_jpeg_and_page_size() {
        let p = json!({"data": "/9j/AA==", "sessionId": 3,
            "metadata": {"deviceWidth": 800, "deviceHeight": 600.5, "offsetTop": 0}});
        let f = frame(&p).unwrap();
        assert_eq!(&f.jpeg[..], &[0xff, 0xd8, 0xff, 0x00]);
        assert_eq!(f.viewport, (800.0, 600.5));
        assert!(frame(&json!({"data": "!!", "metadata": {}})).is_none());
    }

    #[test]
    fn a_slow_viewer_gets_the_newest_frame_and_the_rest_are_counted_dropped() {
        let mut st = State::default();
        for i in 0..5u8 {
            let dropped = st.offer(Frame {
                jpeg: Bytes::from(vec![i]),
                viewport: (1.0, 1.0),
            });
            assert_eq!(dropped, i > 0);
        }
        assert_eq!(st.dropped, 4);
        assert_eq!(&st.frame.as_ref().unwrap().jpeg[..], &[4]);
    }
}
