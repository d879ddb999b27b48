//! Following an SSE stream that outlives connections: after a break it
//! reconnects with backoff and `Last-Event-ID`, and drops any frame whose id
//! is not newer than the last one handed out, so a follower neither misses
//! nor repeats an event across a restart of hyped. `hype vms watch` and the
//! TUI share this.

use std::time::Duration;

use crate::{Client, ClientError, SseFrame, SseStream};

const MIN_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Reconnect delays: 250 ms, doubling, at most 5 s.
#[derive(Debug, Clone)]
pub struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Self(MIN_BACKOFF)
    }
}

impl Backoff {
    pub fn reset(&mut self) {
        self.0 = MIN_BACKOFF;
    }

    /// The delay to wait now; the next one doubles.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.0;
        self.0 = (self.0 * 2).min(MAX_BACKOFF);
        d
    }
}

/// Which stream to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// `/api/v1/events/vms`, optionally one VM's.
    Vms { vm: Option<String> },
    /// `/api/v1/events/jobs`.
    Jobs,
}

/// What a follower sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    /// A stream is open (the first time, or again after a break).
    Connected,
    /// A frame newer than every one before it.
    Frame(SseFrame),
    /// The connection broke or could not be made; the next attempt comes
    /// after `retry_in`.
    Lost { why: String, retry_in: Duration },
}

/// A client error that retrying cannot fix (the request itself is wrong:
/// a bad VM name, a wrong API key, a route this server lacks).
pub fn is_permanent(e: &ClientError) -> bool {
    matches!(e, ClientError::Api { status, .. } if status.is_client_error())
}

/// The id of a frame, when it has a numeric one.
pub fn frame_id(frame: &SseFrame) -> Option<i64> {
    frame.id.as_deref().and_then(|i| i.trim().parse().ok())
}

/// Whether a frame with `id` comes after `last`; frames without an id
/// cannot be checked and pass.
fn is_fresh(id: Option<i64>, last: Option<i64>) -> bool {
    match (id, last) {
        (Some(id), Some(last)) => id > last,
        _ => true,
    }
}

pub struct Follower {
    client: Client,
    feed: Feed,
    last: Option<i64>,
    stream: Option<SseStream>,
    wait: Option<Duration>,
    backoff: Backoff,
}

impl Follower {
    /// Follows `feed` after event `last` (from now when `None`).
    pub fn new(client: Client, feed: Feed, last: Option<i64>) -> Self {
        Self {
            client,
            feed,
            last,
            stream: None,
            wait: None,
            backoff: Backoff::default(),
        }
    }

    /// The id of the last frame handed out (or the one it started after).
    pub fn last_id(&self) -> Option<i64> {
        self.last
    }

    /// The next thing that happens. `Err` only for an error a retry cannot
    /// fix; everything else is retried for ever. Dropping the future while
    /// it waits loses nothing but the wait.
    pub async fn next(&mut self) -> Result<Followed, ClientError> {
        loop {
            let Some(stream) = self.stream.as_mut() else {
                if let Some(d) = self.wait.take() {
                    tokio::time::sleep(d).await;
                }
                return match open(&self.client, &self.feed, self.last).await {
                    Ok(s) => {
                        self.stream = Some(s);
                        self.backoff.reset();
                        Ok(Followed::Connected)
                    }
                    Err(e) if is_permanent(&e) => Err(e),
                    Err(e) => Ok(self.lost(e.to_string())),
                };
            };
            match stream.next().await {
                None => return Ok(self.lost("the server closed the stream".into())),
                Some(Err(e)) => return Ok(self.lost(format!("the event stream broke: {e}"))),
                Some(Ok(frame)) => {
                    let id = frame_id(&frame);
                    if !is_fresh(id, self.last) {
                        continue;
                    }
                    if id.is_some() {
                        self.last = id;
                    }
                    return Ok(Followed::Frame(frame));
                }
            }
        }
    }

    fn lost(&mut self, why: String) -> Followed {
        self.stream = None;
        let retry_in = self.backoff.next_delay();
        self.wait = Some(retry_in);
        Followed::Lost { why, retry_in }
    }
}

// A free function, so the future borrows the client and not the follower,
// whose stream is Send but not Sync.
async fn open(client: &Client, feed: &Feed, last: Option<i64>) -> Result<SseStream, ClientError> {
    match feed {
        Feed::Vms { vm } => client.vm_events(vm.as_deref(), last).await,
        Feed::Jobs => client.job_events(None, last).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_seconds() {
        let mut b = Backoff::default();
        let got: Vec<u128> = (0..8).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(got, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
        b.reset();
        assert_eq!(b.next_delay(), MIN_BACKOFF);
    }

    #[test]
    fn frames_not_newer_than_the_last_are_dropped() {
        assert!(!is_fresh(Some(5), Some(5)));
        assert!(!is_fresh(Some(5), Some(7)));
        assert!(is_fresh(Some(8), Some(7)));
        assert!(is_fresh(Some(1), None));
        assert!(is_fresh(None, Some(7)));
    }

    #[test]
    fn only_client_errors_of_the_api_are_permanent() {
        let api = |status: u16| ClientError::Api {
            status: reqwest::StatusCode::from_u16(status).unwrap(),
            code: "x".into(),
            message: "x".into(),
        };
        assert!(is_permanent(&api(404)));
        assert!(is_permanent(&api(401)));
        assert!(!is_permanent(&api(503)));
    }
}
