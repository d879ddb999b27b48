//! The background work: following the event streams, refreshing the VM
//! list, the clock, and carrying out the app's commands. Every task sends
//! messages to the app and stops when the shutdown token is cancelled.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hype_client::{is_permanent, Backoff, Client, ClientError, Feed, Followed, Follower};
use hype_types::Event;
use time::OffsetDateTime;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::app::{Cmd, Msg};
use crate::jobs::{JobEvent, JobList};

/// How many past events the pane starts with.
const HISTORY: i64 = 50;
/// How long to wait before retrying after an error retrying cannot fix
/// (a wrong API key): the user may fix it on the server meanwhile.
const PERMANENT_RETRY: Duration = Duration::from_secs(5);

pub struct Runner {
    client: Client,
    tx: UnboundedSender<Msg>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    refresh: Arc<Notify>,
    logs: Option<CancellationToken>,
}

impl Runner {
    /// Starts the streams, the list refresh (every `every`, and at once
    /// when asked) and the clock.
    pub fn start(
        client: Client,
        tx: UnboundedSender<Msg>,
        shutdown: CancellationToken,
        every: Duration,
    ) -> Self {
        let r = Self {
            client,
            tx,
            shutdown,
            tracker: TaskTracker::new(),
            refresh: Arc::new(Notify::new()),
            logs: None,
        };
        r.spawn(None, vm_events(r.client.clone(), r.tx.clone()));
        r.spawn(None, jobs(r.client.clone(), r.tx.clone()));
        r.spawn(
            None,
            refresh(r.client.clone(), r.tx.clone(), r.refresh.clone(), every),
        );
        let tx = r.tx.clone();
        r.spawn(None, async move {
            while tx.send(Msg::Tick(OffsetDateTime::now_utc())).is_ok() {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        r
    }

    /// Runs `fut` until it ends or `token` (else the shutdown) is cancelled.
    pub fn spawn(
        &self,
        token: Option<CancellationToken>,
        fut: impl Future<Output = ()> + Send + 'static,
    ) {
        let token = token.unwrap_or_else(|| self.shutdown.clone());
        self.tracker.spawn(async move {
            tokio::select! {
                _ = token.cancelled() => {}
                _ = fut => {}
            }
        });
    }

    pub fn exec(&mut self, cmd: Cmd) {
        let client = self.client.clone();
        let tx = self.tx.clone();
        match cmd {
            Cmd::Refresh => self.refresh.notify_one(),
            Cmd::Create(req) => self.spawn(None, async move {
                let r = client.create_vm(&req).await;
                let _ = tx.send(Msg::Done(
                    r.map(|vm| format!("created {}: {}", vm.name, vm.state.as_str()))
                        .map_err(|e| e.to_string()),
                ));
            }),
            Cmd::Action { vm, action } => self.spawn(None, async move {
                let r = client.vm_action(&vm, action).await;
                let _ = tx.send(Msg::Done(
                    r.map(|v| format!("{action} {vm}: {}", v.state.as_str()))
                        .map_err(|e| e.to_string()),
                ));
            }),
            Cmd::Delete(vm) => self.spawn(None, async move {
                let r = client.delete_vm(&vm).await;
                let _ = tx.send(Msg::Done(
                    r.map(|()| format!("deleted {vm}"))
                        .map_err(|e| e.to_string()),
                ));
            }),
            Cmd::FollowLogs(vm) => {
                self.stop_logs();
                let token = self.shutdown.child_token();
                self.logs = Some(token.clone());
                self.spawn(Some(token), follow_logs(client, tx, vm));
            }
            Cmd::StopLogs => self.stop_logs(),
            Cmd::Inventory(source) => self.spawn(None, async move {
                let pw = password(&source);
                let r = client
                    .source_inventory(&source.inventory_body(pw.as_deref()))
                    .await;
                let _ = tx.send(Msg::Inventory(r.map_err(|e| e.to_string())));
            }),
            Cmd::Import { source, targets } => self.spawn(None, async move {
                let pw = password(&source);
                let jobs: Vec<_> = targets
                    .iter()
                    .map(|(vm, image)| source.job_body(pw.as_deref(), vm, image))
                    .collect();
                // One batch: hyped stores all the jobs or none.
                let r = match serde_json::to_vec(&serde_json::json!({ "jobs": jobs })) {
                    Ok(body) => client
                        .submit_jobs(body, "application/json")
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                let _ = tx.send(Msg::Done(r.map(|jobs| {
                    let images: Vec<&str> = jobs.iter().map(|j| j.image.as_str()).collect();
                    format!("importing {}", images.join(", "))
                })));
            }),
        }
    }

    fn stop_logs(&mut self) {
        if let Some(t) = self.logs.take() {
            t.cancel();
        }
    }

    /// Cancels every task and waits (briefly) for them to end.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.tracker.close();
        let _ = tokio::time::timeout(Duration::from_secs(2), self.tracker.wait()).await;
    }
}

/// The password typed in the form, else this shell's variable for the
/// kind (as `hype images import` reads it), else none: hyped's own rules.
fn password(source: &crate::form::Source) -> Option<String> {
    source.password.clone().or_else(|| {
        std::env::var(source.password_env())
            .ok()
            .filter(|p| !p.is_empty())
    })
}

/// Lifecycle events, from a little history on; reports the connection.
async fn vm_events(client: Client, tx: UnboundedSender<Msg>) {
    let mut backoff = Backoff::default();
    // Where to start: knowing the newest id now means a break before the
    // first event still resumes without a gap.
    let start = loop {
        match client.last_event_id().await {
            Ok(last) => break Some((last - HISTORY).max(0)),
            Err(e) if is_permanent(&e) => break None,
            Err(e) => {
                let retry_in = backoff.next_delay();
                let _ = tx.send(Msg::Lost {
                    why: e.to_string(),
                    retry_in,
                });
                tokio::time::sleep(retry_in).await;
            }
        }
    };
    let mut follower = Follower::new(client, Feed::Vms { vm: None }, start);
    loop {
        let msg = match follower.next().await {
            Ok(Followed::Connected) => Msg::Connected,
            Ok(Followed::Lost { why, retry_in }) => Msg::Lost { why, retry_in },
            Ok(Followed::Frame(frame)) => match serde_json::from_str::<Event>(&frame.data) {
                Ok(e) => Msg::Event(e),
                Err(_) => continue,
            },
            Err(e) => {
                let _ = tx.send(Msg::Lost {
                    why: e.to_string(),
                    retry_in: PERMANENT_RETRY,
                });
                tokio::time::sleep(PERMANENT_RETRY).await;
                continue;
            }
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

fn not_found(e: &ClientError) -> bool {
    matches!(e, ClientError::Api { status, .. } if status.as_u16() == 404)
}

/// Import jobs: the list on each (re)connect, then each job event. A
/// server without the jobs API (404) leaves the pane hidden.
async fn jobs(client: Client, tx: UnboundedSender<Msg>) {
    let mut follower = Follower::new(client.clone(), Feed::Jobs, None);
    loop {
        let msg = match follower.next().await {
            Ok(Followed::Connected) => match client.get_json::<JobList>("/api/v1/jobs").await {
                Ok(list) => Msg::Jobs(list.jobs),
                Err(e) if not_found(&e) => Msg::JobsUnavailable,
                Err(_) => continue,
            },
            Ok(Followed::Frame(frame)) => match serde_json::from_str::<JobEvent>(&frame.data) {
                Ok(e) => Msg::Job(Box::new(e.job)),
                Err(_) => continue,
            },
            // The VM stream reports the connection.
            Ok(Followed::Lost { .. }) => continue,
            Err(e) if not_found(&e) => {
                let _ = tx.send(Msg::JobsUnavailable);
                return;
            }
            Err(_) => {
                tokio::time::sleep(PERMANENT_RETRY).await;
                continue;
            }
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

/// The VM list, every `every` and whenever `now` is notified.
async fn refresh(client: Client, tx: UnboundedSender<Msg>, now: Arc<Notify>, every: Duration) {
    loop {
        let msg = match client.list_vms(None).await {
            Ok(vms) => Msg::Vms(vms),
            Err(e) => Msg::VmsFailed(e.to_string()),
        };
        if tx.send(msg).is_err() {
            return;
        }
        // A hyped without pools (or a failed read) shows none.
        let pools = client.list_pools().await.unwrap_or_default();
        if tx.send(Msg::Pools(pools)).is_err() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = now.notified() => {}
        }
    }
}

/// The VM's console: what it has, then new lines as they come.
async fn follow_logs(client: Client, tx: UnboundedSender<Msg>, vm: String) {
    let why = match client.follow_logs(&vm).await {
        Err(e) => e.to_string(),
        Ok(mut stream) => loop {
            match stream.next().await {
                None => break "the server closed the stream".to_owned(),
                Some(Err(e)) => break format!("the stream broke: {e}"),
                Some(Ok(frame)) if frame.event.as_deref() == Some("end") => break frame.data,
                Some(Ok(frame)) => {
                    let line = frame.data;
                    if tx
                        .send(Msg::Log {
                            vm: vm.clone(),
                            line,
                        })
                        .is_err()
                    {
                        return;
                    }
                }
            }
        },
    };
    let _ = tx.send(Msg::LogEnd { vm, why });
}
