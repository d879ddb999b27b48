//! Following lifecycle events: `hype vms watch`, which never gives up and
//! resumes after the last event it printed, and the wait of `hype vms
//! create` for its VM to be running.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{bail, Result};
use hype_client::{Client, ClientError, SseFrame};
use hype_types::{Event, EventType, Vm};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::output::{self, Format};

const MIN_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Reconnect delays: 250 ms, doubling, at most 5 s.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Self(MIN_BACKOFF)
    }

    fn reset(&mut self) {
        self.0 = MIN_BACKOFF;
    }

    /// The delay to wait now; the next one doubles.
    fn next_delay(&mut self) -> Duration {
        let d = self.0;
        self.0 = (self.0 * 2).min(MAX_BACKOFF);
        d
    }
}

fn human_delay(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} s", d.as_secs_f64())
    }
}

/// A client error that retrying cannot fix (the request itself is wrong).
fn is_permanent(e: &ClientError) -> bool {
    matches!(e, ClientError::Api { status, .. } if status.is_client_error())
}

/// Prints events as they arrive and never returns on its own, except for an
/// error a retry cannot fix (a bad VM name, a wrong API key).
pub async fn watch(client: &Client, out: Format, vm: Option<&str>) -> Result<()> {
    let mut last: Option<i64> = None;
    let mut backoff = Backoff::new();
    let mut down = false;
    let mut notice: Option<String> = None;
    let mut header = out == Format::Table && std::io::stdout().is_terminal();
    loop {
        let why = match client.vm_events(vm, last).await {
            Ok(mut stream) => {
                if down {
                    eprintln!("watch: reconnected to {}", client.base());
                    notice = None;
                }
                backoff.reset();
                if header {
                    output::print(&output::event_header())?;
                    header = false;
                }
                loop {
                    match stream.next().await {
                        None => break "the server closed the stream".to_owned(),
                        Some(Err(e)) => break format!("the event stream broke: {e}"),
                        Some(Ok(frame)) => {
                            if let Some(id) = print_event(out, &frame, last)? {
                                last = Some(id);
                            }
                        }
                    }
                }
            }
            Err(e) if is_permanent(&e) => return Err(e.into()),
            Err(e) => e.to_string(),
        };
        down = true;
        let delay = backoff.next_delay();
        // One notice per kind of trouble, not one per attempt.
        if notice.as_deref() != Some(why.as_str()) {
            eprintln!("watch: {why}; reconnecting in {}", human_delay(delay));
            notice = Some(why);
        }
        tokio::time::sleep(delay).await;
    }
}

/// Prints one frame unless it is not newer than `last`; returns its id.
fn print_event(out: Format, frame: &SseFrame, last: Option<i64>) -> Result<Option<i64>> {
    let id = frame
        .id
        .as_deref()
        .and_then(|i| i.trim().parse::<i64>().ok());
    if let (Some(id), Some(last)) = (id, last) {
        if id <= last {
            return Ok(None);
        }
    }
    match out {
        Format::Json => output::print(&format!("{}\n", frame.data))?,
        Format::Table => match serde_json::from_str::<Event>(&frame.data) {
            Ok(e) => output::print(&output::event_line(&e))?,
            Err(_) => output::print(&format!(
                "{}   {}   {}\n",
                id.map(|i| i.to_string()).unwrap_or_default(),
                frame.event.as_deref().unwrap_or("-"),
                frame.data
            ))?,
        },
    }
    Ok(id)
}

/// Whether `e` is the `VM_CREATED` of the VM created at `created_at`, and
/// not of an earlier VM of the same name: the store writes the event just
/// after the row, so its time is not earlier.
fn is_this_create(e: &Event, created_at: Option<OffsetDateTime>) -> bool {
    if e.event_type != EventType::VmCreated {
        return false;
    }
    match (created_at, OffsetDateTime::parse(&e.at, &Rfc3339)) {
        (Some(created), Ok(at)) => at >= created,
        _ => true,
    }
}

/// Replays the VM's events from the start and follows them until the VM
/// created as `created` is running (`Ok`), crashed or deleted (`Err` with
/// the event's detail). Reconnects where it left off if the stream breaks.
pub async fn until_running(client: &Client, created: &Vm, progress: bool) -> Result<()> {
    let name = created.name.as_str();
    let created_at = OffsetDateTime::parse(&created.created_at, &Rfc3339).ok();
    let mut ours = false;
    let mut last = 0;
    let mut backoff = Backoff::new();
    loop {
        match client.vm_events(Some(name), Some(last)).await {
            Ok(mut stream) => {
                backoff.reset();
                while let Some(Ok(frame)) = stream.next().await {
                    let Ok(e) = serde_json::from_str::<Event>(&frame.data) else {
                        continue;
                    };
                    last = last.max(e.id);
                    if e.vm != name {
                        continue;
                    }
                    if !ours {
                        ours = is_this_create(&e, created_at);
                        continue;
                    }
                    if progress && e.event_type != EventType::VmCreated {
                        eprintln!("{}", progress_line(&e));
                    }
                    let detail = e.detail.as_deref().unwrap_or("no detail given");
                    match e.event_type {
                        EventType::VmRunning => return Ok(()),
                        EventType::VmCrashed => bail!("{name} crashed: {detail}"),
                        EventType::VmDeleted => bail!("{name} was deleted: {detail}"),
                        EventType::VmStopped => bail!("{name} stopped before it was running"),
                        _ => {}
                    }
                }
            }
            Err(e) if is_permanent(&e) => return Err(e.into()),
            Err(_) => {}
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

/// `demo: starting`, `demo: running (guest ready: ...)`.
fn progress_line(e: &Event) -> String {
    match &e.detail {
        Some(d) => format!("{}: {} ({d})", e.vm, e.state),
        None => format!("{}: {}", e.vm, e.state),
    }
}

#[cfg(test)]
mod tests {
    use hype_types::VmState;

    use super::*;

    fn event(id: i64, t: EventType, at: &str) -> Event {
        Event {
            id,
            event_type: t,
            vm: "demo".into(),
            state: VmState::Creating,
            at: at.into(),
            detail: None,
        }
    }

    #[test]
    fn backoff_doubles_up_to_five_seconds() {
        let mut b = Backoff::new();
        let got: Vec<u128> = (0..8).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(got, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
        b.reset();
        assert_eq!(b.next_delay(), MIN_BACKOFF);
        assert_eq!(human_delay(MIN_BACKOFF), "250 ms");
        assert_eq!(human_delay(MAX_BACKOFF), "5 s");
    }

    #[test]
    fn an_earlier_vm_of_the_same_name_is_not_this_one() {
        let created = OffsetDateTime::parse("2026-11-22T01:00:00.5Z", &Rfc3339).ok();
        let old = event(3, EventType::VmCreated, "2026-11-21T23:00:00Z");
        let new = event(9, EventType::VmCreated, "2026-11-22T01:00:00.500100Z");
        assert!(!is_this_create(&old, created));
        assert!(is_this_create(&new, created));
        let running = event(10, EventType::VmRunning, "2026-11-22T01:00:03Z");
        assert!(!is_this_create(&running, created));
        assert!(
            is_this_create(&old, None),
            "unparsable times fall back to any create"
        );
    }

    #[test]
    fn frames_not_newer_than_the_last_are_skipped() {
        let frame = SseFrame {
            id: Some("5".into()),
            event: Some("VM_RUNNING".into()),
            data: String::new(),
        };
        assert_eq!(print_event(Format::Json, &frame, Some(5)).unwrap(), None);
        assert_eq!(print_event(Format::Json, &frame, Some(7)).unwrap(), None);
    }

    #[test]
    fn progress_lines() {
        let mut e = event(4, EventType::VmRunning, "2026-11-22T01:00:03Z");
        e.state = VmState::Running;
        e.detail = Some("guest ready: 900 ms".into());
        assert_eq!(progress_line(&e), "demo: running (guest ready: 900 ms)");
        e.state = VmState::Starting;
        e.detail = None;
        assert_eq!(progress_line(&e), "demo: starting");
    }
}
