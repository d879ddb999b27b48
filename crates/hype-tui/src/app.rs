//! The dashboard's state and how messages change it. Nothing here does I/O:
//! `update` turns a message into state changes and the commands the runner
//! carries out (API calls, following a log), so tests drive it directly.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use hype_types::{CreateVm, Event, EventType, Vm};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::form::{CreateForm, ImportForm, Source};
use crate::jobs::{Job, JobBoard};
use crate::picker::Picker;
use crate::table::{self, Sort};

/// How many events the pane keeps.
const EVENTS_KEPT: usize = 500;
/// How many console lines the log view keeps.
const LOG_LINES_KEPT: usize = 5000;

#[derive(Debug)]
pub enum Msg {
    Key(crossterm::event::KeyEvent),
    /// The terminal changed size; only a redraw is needed.
    Resize,
    Vms(Vec<Vm>),
    VmsFailed(String),
    /// The warm pools (empty from a hyped without them).
    Pools(Vec<hype_types::Pool>),
    Event(Event),
    /// The event stream is open.
    Connected,
    /// The event stream broke; the next attempt is in `retry_in`.
    Lost {
        why: String,
        retry_in: Duration,
    },
    Jobs(Vec<Job>),
    Job(Box<Job>),
    /// The server has no jobs API.
    JobsUnavailable,
    /// A line of a VM's console.
    Log {
        vm: String,
        line: String,
    },
    /// A VM's console stream ended (deleted VM, broken connection).
    LogEnd {
        vm: String,
        why: String,
    },
    /// The source's VMs for the picker, or why they could not be read.
    Inventory(Result<hype_types::Inventory, String>),
    /// An action finished: what it did, or the API's message.
    Done(Result<String, String>),
    Tick(OffsetDateTime),
}

/// What the runner does for the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    Create(CreateVm),
    /// `start`, `stop`, `pause`, `resume`, `snapshot` or `restore`.
    Action {
        vm: String,
        action: &'static str,
    },
    Delete(String),
    FollowLogs(String),
    StopLogs,
    Refresh,
    /// Read the source's VMs for the picker.
    Inventory(Source),
    /// Submit one batch: a job per `(vm, image)`.
    Import {
        source: Source,
        targets: Vec<(String, String)>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conn {
    /// Not connected yet.
    Connecting,
    Connected,
    Lost {
        why: String,
        retry_in: Duration,
    },
}

#[derive(Debug, Default)]
pub struct LogView {
    pub vm: String,
    pub lines: VecDeque<String>,
    /// Lines scrolled back from the end; 0 follows new output.
    pub back: usize,
    pub ended: Option<String>,
}

#[derive(Debug)]
pub enum Mode {
    Normal,
    /// Typing a filter; the table filters as it is typed.
    Filter,
    Help,
    ConfirmDelete(String),
    Create(CreateForm),
    /// The import form: which source to pick VMs from.
    Import(ImportForm),
    /// The picker over a source's VMs (`None` while they are read).
    Pick(Box<PickView>),
    Logs(LogView),
}

#[derive(Debug)]
pub struct PickView {
    pub source: Source,
    pub picker: Option<Picker>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub error: bool,
}

pub struct App {
    pub base: String,
    pub color: bool,
    pub now: OffsetDateTime,
    pub vms: Vec<Vm>,
    /// When each VM last booted, from the events seen.
    pub boots: HashMap<String, OffsetDateTime>,
    pub events: VecDeque<Event>,
    pub jobs: JobBoard,
    /// The warm pools, shown in the header.
    pub pools: Vec<hype_types::Pool>,
    pub conn: Conn,
    /// The selected VM, by name, so a refresh or re-sort keeps it.
    pub selected: Option<String>,
    pub sort: Sort,
    pub filter: String,
    pub mode: Mode,
    pub status: Option<Status>,
    /// Whether the VM list has arrived at least once.
    pub loaded: bool,
    pub quit: bool,
}

impl App {
    pub fn new(base: &str, color: bool, now: OffsetDateTime) -> Self {
        Self {
            base: base.to_owned(),
            color,
            now,
            vms: vec![],
            boots: HashMap::new(),
            events: VecDeque::new(),
            jobs: JobBoard::default(),
            pools: vec![],
            conn: Conn::Connecting,
            selected: None,
            sort: Sort::default(),
            filter: String::new(),
            mode: Mode::Normal,
            status: None,
            loaded: false,
            quit: false,
        }
    }

    /// The VMs the table shows, in order.
    pub fn visible(&self) -> Vec<&Vm> {
        table::visible(&self.vms, &self.filter, self.sort, &self.boots, self.now)
    }

    /// The selected VM if it is shown, else the first shown.
    pub fn selected_vm(&self) -> Option<&Vm> {
        let vis = self.visible();
        let sel = self.selected.as_deref();
        vis.iter()
            .find(|v| Some(v.name.as_str()) == sel)
            .or(vis.first())
            .copied()
    }

    pub fn selected_index(&self) -> Option<usize> {
        let name = self.selected_vm()?.name.clone();
        self.visible().iter().position(|v| v.name == name)
    }

    /// Moves the selection by `delta` rows, staying within the table.
    pub fn move_selection(&mut self, delta: isize) {
        let vis = self.visible();
        if vis.is_empty() {
            return;
        }
        let at = self.selected_index().unwrap_or(0) as isize;
        let to = (at + delta).clamp(0, vis.len() as isize - 1) as usize;
        self.selected = Some(vis[to].name.clone());
    }

    pub fn say(&mut self, text: impl Into<String>, error: bool) {
        self.status = Some(Status {
            text: text.into(),
            error,
        });
    }

    pub fn update(&mut self, msg: Msg) -> Vec<Cmd> {
        match msg {
            Msg::Key(k) => return crate::input::on_key(self, k),
            Msg::Resize => {}
            Msg::Vms(vms) => {
                self.vms = vms;
                self.loaded = true;
            }
            Msg::VmsFailed(why) => {
                // While the stream is down the banner already says so.
                if self.conn == Conn::Connected {
                    self.say(format!("listing VMs failed: {why}"), true);
                }
            }
            Msg::Event(e) => {
                self.note_event(e);
                return vec![Cmd::Refresh];
            }
            Msg::Connected => {
                self.conn = Conn::Connected;
                // A console cut off by the outage starts over (the server
                // sends it whole again).
                if let Mode::Logs(view) = &mut self.mode {
                    if view.ended.is_some() {
                        let vm = view.vm.clone();
                        *view = LogView {
                            vm: vm.clone(),
                            ..LogView::default()
                        };
                        return vec![Cmd::Refresh, Cmd::FollowLogs(vm)];
                    }
                }
                return vec![Cmd::Refresh];
            }
            Msg::Lost { why, retry_in } => self.conn = Conn::Lost { why, retry_in },
            Msg::Pools(pools) => self.pools = pools,
            Msg::Jobs(jobs) => self.jobs.replace(jobs),
            Msg::Job(job) => self.jobs.upsert(*job),
            Msg::JobsUnavailable => self.jobs.available = false,
            Msg::Log { vm, line } => {
                if let Mode::Logs(view) = &mut self.mode {
                    if view.vm == vm {
                        view.lines.push_back(printable(&line));
                        if view.lines.len() > LOG_LINES_KEPT {
                            view.lines.pop_front();
                        }
                        if view.back > 0 {
                            view.back += 1; // stay on the lines being read
                        }
                    }
                }
            }
            Msg::LogEnd { vm, why } => {
                if let Mode::Logs(view) = &mut self.mode {
                    if view.vm == vm {
                        view.ended = Some(why);
                    }
                }
            }
            Msg::Inventory(r) => {
                // Only for a picker still waiting: Esc may have closed it.
                if let Mode::Pick(view) = &mut self.mode {
                    if view.picker.is_none() {
                        match r {
                            Ok(inv) => {
                                let title = format!("{} {}", inv.kind.as_str(), inv.url);
                                view.picker = Some(Picker::new(title, inv.vms));
                                self.status = None;
                            }
                            Err(why) => {
                                self.mode = Mode::Normal;
                                self.say(why, true);
                            }
                        }
                    }
                }
            }
            Msg::Done(Ok(text)) => {
                self.say(text, false);
                return vec![Cmd::Refresh];
            }
            Msg::Done(Err(text)) => self.say(text, true),
            Msg::Tick(now) => self.now = now,
        }
        vec![]
    }

    fn note_event(&mut self, e: Event) {
        let at = OffsetDateTime::parse(&e.at, &Rfc3339).ok();
        match (e.event_type, at) {
            (EventType::VmStarting | EventType::VmRestored, Some(at)) => {
                self.boots.insert(e.vm.clone(), at);
            }
            (
                EventType::VmStopped
                | EventType::VmCrashed
                | EventType::VmDeleted
                | EventType::VmSnapshotted,
                _,
            ) => {
                self.boots.remove(&e.vm);
            }
            _ => {}
        }
        self.events.push_back(e);
        if self.events.len() > EVENTS_KEPT {
            self.events.pop_front();
        }
    }
}

/// A console line without what would steer the terminal: ANSI escape
/// sequences and other control characters go, tabs become spaces.
pub fn printable(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                // CSI (`ESC [ ... final`) or a two-character escape.
                if chars.next_if_eq(&'[').is_some() {
                    while chars.next().is_some_and(|c| !('@'..='~').contains(&c)) {}
                } else {
                    chars.next();
                }
            }
            '\t' => out.push_str("    "),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::tests::vm;

    pub(crate) fn now() -> OffsetDateTime {
        OffsetDateTime::parse("2026-11-22T01:10:05Z", &Rfc3339).unwrap()
    }

    fn event(id: i64, t: EventType, vm: &str, at: &str) -> Event {
        serde_json::from_value(serde_json::json!({
            "id": id, "type": t.as_str(), "vm": vm, "state": "running", "at": at, "detail": null
        }))
        .unwrap()
    }

    #[test]
    fn events_track_boots_and_ask_for_a_refresh() {
        let mut app = App::new("http://x", true, now());
        let cmds = app.update(Msg::Event(event(
            1,
            EventType::VmStarting,
            "a",
            "2026-11-22T01:00:05Z",
        )));
        assert_eq!(cmds, [Cmd::Refresh]);
        app.update(Msg::Vms(vec![vm("a", "running", None, 256)]));
        assert_eq!(
            table::uptime(app.selected_vm().unwrap(), &app.boots, app.now),
            Some(600)
        );
        app.update(Msg::Event(event(
            2,
            EventType::VmStopped,
            "a",
            "2026-11-22T01:05:00Z",
        )));
        assert!(app.boots.is_empty());
        assert_eq!(app.events.len(), 2);
    }

    #[test]
    fn selection_follows_the_name_and_stays_in_bounds() {
        let mut app = App::new("http://x", true, now());
        app.update(Msg::Vms(vec![
            vm("b", "running", None, 256),
            vm("a", "running", None, 256),
            vm("c", "running", None, 256),
        ]));
        assert_eq!(app.selected_vm().unwrap().name, "a");
        app.move_selection(1);
        assert_eq!(app.selected.as_deref(), Some("b"));
        app.move_selection(10);
        assert_eq!(app.selected.as_deref(), Some("c"));
        app.update(Msg::Vms(vec![vm("c", "running", None, 256)]));
        assert_eq!(app.selected_index(), Some(0));
        app.move_selection(-5);
        assert_eq!(app.selected.as_deref(), Some("c"));
    }

    #[test]
    fn a_console_cut_by_an_outage_follows_again_on_reconnect() {
        let mut app = App::new("http://x", true, now());
        app.mode = Mode::Logs(LogView {
            vm: "a".into(),
            ..LogView::default()
        });
        app.update(Msg::Log {
            vm: "a".into(),
            line: "boot".into(),
        });
        assert_eq!(app.update(Msg::Connected), [Cmd::Refresh], "not cut off");
        app.update(Msg::LogEnd {
            vm: "a".into(),
            why: "the stream broke".into(),
        });
        assert_eq!(
            app.update(Msg::Connected),
            [Cmd::Refresh, Cmd::FollowLogs("a".into())]
        );
        let Mode::Logs(view) = &app.mode else {
            panic!("left the log view");
        };
        assert!(view.lines.is_empty() && view.ended.is_none());
    }

    #[test]
    fn console_lines_cannot_steer_the_terminal() {
        assert_eq!(
            printable("\x1b[1;32m[ OK ]\x1b[0m up\r\x07\tdone\x1bc!"),
            "[ OK ] up    done!"
        );
    }

    #[test]
    fn connection_state_and_action_results() {
        let mut app = App::new("http://x", true, now());
        assert_eq!(app.conn, Conn::Connecting);
        app.update(Msg::Lost {
            why: "refused".into(),
            retry_in: Duration::from_secs(1),
        });
        app.update(Msg::VmsFailed("refused".into()));
        assert_eq!(app.status, None, "the banner says it already");
        assert_eq!(app.update(Msg::Connected), [Cmd::Refresh]);
        app.update(Msg::Done(Err("VM 'a' is not running".into())));
        assert_eq!(
            app.status,
            Some(Status {
                text: "VM 'a' is not running".into(),
                error: true
            })
        );
    }
}
