//! Browser watch: one CDP connection from hyped to each running browser
//! sandbox, kept from the moment it runs until it stops, so that what its
//! pages do is known whether or not a client is connected: console
//! messages and network requests (bounded, see [`log`]) today; it is also
//! the one place where hyped acts on every page a sandbox opens, including
//! pages and contexts an automation client creates (the page hooks in
//! [`session`]).
//!
//! The connection attaches to every target (flat mode, waiting for each new
//! one until its hooks ran, as Playwright does), never takes input focus
//! and never sends a command a page would see, except in a recorded
//! sandbox: there its pages get the recorder's binding and script
//! ([`record`]). It only reaches the VM's own relay, resolved by the core.

mod log;
pub(crate) mod record;
pub(crate) mod session;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hype_types::{ConsoleMessage, EventType, NetworkRequest, VmState};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::{CoreError, Hype, Result};

pub(crate) use log::PageLog;

struct Watch {
    /// Ends the connection task (the log stays until the VM is deleted).
    cancel: Option<CancellationToken>,
    log: Arc<Mutex<PageLog>>,
}

/// The watched browsers, by VM name.
#[derive(Clone, Default)]
pub(crate) struct Watches {
    map: Arc<Mutex<HashMap<String, Watch>>>,
}

impl Watches {
    fn log(&self, name: &str) -> Option<Arc<Mutex<PageLog>>> {
        self.map
            .lock()
            .expect("watches lock")
            .get(name)
            .map(|w| w.log.clone())
    }

    /// Marks `name` watched; returns its log and the token of a new
    /// connection task, or `None` if one runs already.
    fn begin(
        &self,
        name: &str,
        parent: &CancellationToken,
    ) -> Option<(Arc<Mutex<PageLog>>, CancellationToken)> {
        let mut map = self.map.lock().expect("watches lock");
        let w = map.entry(name.to_owned()).or_insert_with(|| Watch {
            cancel: None,
            log: Arc::default(),
        });
        if w.cancel.as_ref().is_some_and(|c| !c.is_cancelled()) {
            return None;
        }
        let token = parent.child_token();
        w.cancel = Some(token.clone());
        Some((w.log.clone(), token))
    }

    /// Ends `name`'s connection; with `forget`, its log goes too.
    fn end(&self, name: &str, forget: bool) {
        let mut map = self.map.lock().expect("watches lock");
        if let Some(w) = map.get_mut(name) {
            if let Some(c) = w.cancel.take() {
                c.cancel();
            }
        }
        if forget {
            map.remove(name);
        }
    }
}

impl Hype {
    /// Starts the watch of every browser VM that runs now and of every one
    /// that comes to run; ends each when its VM stops.
    pub(crate) fn start_watching(&self) {
        let hype = self.clone();
        let mut events = self.subscribe_events();
        let shutdown = self.inner.shutdown.clone();
        self.inner.tracker.spawn(async move {
            match hype.inner.store.list_vms().await {
                Ok(vms) => {
                    for vm in vms {
                        if vm.state == VmState::Running {
                            hype.watch(&vm);
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot list VMs to watch"),
            }
            loop {
                let e = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    e = events.recv() => e,
                };
                let e = match e {
                    Ok(e) => e,
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                };
                match e.event_type {
                    EventType::VmRunning | EventType::VmRestored | EventType::VmResumed => {
                        if let Ok(rec) = hype.inner.store.get_vm(&e.vm).await {
                            hype.watch(&rec);
                        }
                    }
                    EventType::VmStopped | EventType::VmCrashed | EventType::VmSnapshotted => {
                        hype.inner.watches.end(&e.vm, false)
                    }
                    EventType::VmDeleted => hype.inner.watches.end(&e.vm, true),
                    EventType::VmCreated
                    | EventType::VmStarting
                    | EventType::VmPaused
                    | EventType::SnapshotCreated
                    | EventType::SnapshotDeleted
                    | EventType::DownloadCompleted => {}
                }
            }
        });
    }

    fn watch(&self, vm: &hype_store::VmRecord) {
        if !self.inner.is_browser_image(&vm.image) || self.inner.net.is_none() {
            return;
        }
        let Some((log, cancel)) = self.inner.watches.begin(&vm.name, &self.inner.shutdown) else {
            return;
        };
        let hype = self.clone();
        let vm = vm.clone();
        self.inner.tracker.spawn(async move {
            // One recording per run of a recorded sandbox.
            let recorder = match vm.record {
                true => record::Recorder::start(&hype, &vm).await,
                false => None,
            };
            session::run(hype, vm.name, log, cancel, recorder).await
        });
    }

    fn page_log(&self, name: &str, image: &str) -> Result<Arc<Mutex<PageLog>>> {
        if !self.inner.is_browser_image(image) {
            return Err(CoreError::NoBrowser {
                name: name.into(),
                why: format!("its image '{image}' has no browser"),
            });
        }
        Ok(self.inner.watches.log(name).unwrap_or_default())
    }

    /// The console messages of a browser sandbox's pages since it started
    /// (the newest 1,000), after the sequence number `after`.
    pub async fn console_messages(&self, name: &str, after: u64) -> Result<Vec<ConsoleMessage>> {
        let rec = self.inner.store.get_vm(name).await?;
        let log = self.page_log(name, &rec.image)?;
        let out = log.lock().expect("page log lock").console_after(after);
        Ok(out)
    }

    /// The network requests of a browser sandbox's pages since it started
    /// (the newest 1,000), after the sequence number `after`.
    pub async fn network_requests(&self, name: &str, after: u64) -> Result<Vec<NetworkRequest>> {
        let rec = self.inner.store.get_vm(name).await?;
        let log = self.page_log(name, &rec.image)?;
        let out = log.lock().expect("page log lock").network_after(after);
        Ok(out)
    }
}
