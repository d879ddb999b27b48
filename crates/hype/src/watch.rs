//! Following lifecycle events: `hype vms watch`, which never gives up and
//! resumes after the last event it printed, and the wait of `hype vms
//! create` for its VM to be running.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{bail, Result};
use hype_client::{frame_id, Client, Feed, Followed, Follower, SseFrame};
use hype_types::{Event, EventType, Vm};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::output::{self, Format};

fn human_delay(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} s", d.as_secs_f64())
    }
}

/// Prints events as they arrive and never returns on its own, except for an
/// error a retry cannot fix (a bad VM name, a wrong API key).
pub async fn watch(client: &Client, out: Format, vm: Option<&str>) -> Result<()> {
    let feed = Feed::Vms {
        vm: vm.map(str::to_owned),
    };
    let mut follower = Follower::new(client.clone(), feed, None);
    let mut down = false;
    let mut notice: Option<String> = None;
    let mut header = out == Format::Table && std::io::stdout().is_terminal();
    loop {
        match follower.next().await? {
            Followed::Connected => {
                if down {
                    eprintln!("watch: reconnected to {}", client.base());
                    notice = None;
                }
                if header {
                    output::print(&output::event_header())?;
                    header = false;
                }
            }
            Followed::Frame(frame) => print_event(out, &frame)?,
            Followed::Lost { why, retry_in } => {
                down = true;
                // One notice per kind of trouble, not one per attempt.
                if notice.as_deref() != Some(why.as_str()) {
                    eprintln!("watch: {why}; reconnecting in {}", human_delay(retry_in));
                    notice = Some(why);
                }
            }
        }
    }
}

fn print_event(out: Format, frame: &SseFrame) -> Result<()> {
    match out {
        Format::Json => output::print(&format!("{}\n", frame.data))?,
        Format::Table => match serde_json::from_str::<Event>(&frame.data) {
            Ok(e) => output::print(&output::event_line(&e))?,
            Err(_) => output::print(&format!(
                "{}   {}   {}\n",
                frame_id(frame).map(|i| i.to_string()).unwrap_or_default(),
                frame.event.as_deref().unwrap_or("-"),
                frame.data
            ))?,
        },
    }
    Ok(())
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
    let feed = Feed::Vms {
        vm: Some(name.to_owned()),
    };
    let mut follower = Follower::new(client.clone(), feed, Some(0));
    loop {
        let Followed::Frame(frame) = follower.next().await? else {
            continue;
        };
        let Ok(e) = serde_json::from_str::<Event>(&frame.data) else {
            continue;
        };
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
    fn delays_read_as_people_say_them() {
        assert_eq!(human_delay(Duration::from_millis(250)), "250 ms");
        assert_eq!(human_delay(Duration::from_secs(5)), "5 s");
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
