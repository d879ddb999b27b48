//! Sandbox lifetimes: `ttl_seconds` counts from creation, and
//! `idle_timeout_seconds` from the moment the last CDP client left (or the
//! VM was first seen running without one). On expiry, open CDP WebSockets
//! are closed with a close frame that says why, then the VM is stopped and
//! deleted, with events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hype_types::VmState;
use tokio::sync::watch;

use crate::{Hype, Result};

/// Close code for CDP clients of an expired sandbox (application range).
pub const CLOSE_EXPIRED: u16 = 4000;
const TICK: Duration = Duration::from_secs(1);

/// Why the CDP connections of a VM are being closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReason {
    pub code: u16,
    pub reason: String,
}

struct CdpState {
    active: usize,
    idle_since: Instant,
    close: watch::Sender<Option<CloseReason>>,
}

impl CdpState {
    fn new() -> Self {
        Self {
            active: 0,
            idle_since: Instant::now(),
            close: watch::channel(None).0,
        }
    }
}

/// The CDP connections open to each VM's browser: what idle timeouts
/// count, and how an expiring VM's connections are told to close.
#[derive(Clone, Default)]
pub(crate) struct Lifetimes {
    cdp: Arc<Mutex<HashMap<String, CdpState>>>,
}

impl Lifetimes {
    /// Registers an open CDP connection to `name`'s browser.
    pub fn lease(&self, name: &str) -> CdpLease {
        let mut map = self.cdp.lock().expect("cdp lock");
        let st = map.entry(name.to_owned()).or_insert_with(CdpState::new);
        st.active += 1;
        CdpLease {
            lifetimes: self.clone(),
            name: name.to_owned(),
            closed: st.close.subscribe(),
        }
    }

    /// Whether `name` has had no CDP client for `idle`; a VM first seen
    /// here starts its idle time now.
    fn idle_for(&self, name: &str, idle: Duration) -> bool {
        let mut map = self.cdp.lock().expect("cdp lock");
        let st = map.entry(name.to_owned()).or_insert_with(CdpState::new);
        st.active == 0 && st.idle_since.elapsed() >= idle
    }

    /// Forgets `name` (it is deleted), closing its open connections with
    /// `why` if given. Returns whether any were open.
    pub fn forget(&self, name: &str, why: Option<CloseReason>) -> bool {
        let st = self.cdp.lock().expect("cdp lock").remove(name);
        match st {
            Some(st) => {
                if let Some(why) = why {
                    let _ = st.close.send(Some(why));
                }
                st.active > 0
            }
            None => false,
        }
    }
}

/// Held by the CDP proxy for as long as one client connection is open.
pub struct CdpLease {
    lifetimes: Lifetimes,
    name: String,
    /// Becomes `Some` when the connection must close.
    pub closed: watch::Receiver<Option<CloseReason>>,
}

impl Drop for CdpLease {
    fn drop(&mut self) {
        let mut map = self.lifetimes.cdp.lock().expect("cdp lock");
        if let Some(st) = map.get_mut(&self.name) {
            st.active = st.active.saturating_sub(1);
            if st.active == 0 {
                st.idle_since = Instant::now();
            }
        }
    }
}

impl Hype {
    /// Registers an open CDP connection to `name`'s browser.
    pub fn cdp_lease(&self, name: &str) -> CdpLease {
        self.inner.lifetimes.lease(name)
    }

    /// Runs until shutdown, expiring VMs whose lifetime is over.
    pub(crate) async fn reap_expired(&self) {
        let shutdown = self.inner.shutdown.clone();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(TICK) => {}
            }
            if let Err(e) = self.reap_once().await {
                tracing::warn!(error = %e, "lifetime check failed");
            }
        }
    }

    async fn reap_once(&self) -> Result<()> {
        let now = time::OffsetDateTime::now_utc();
        for vm in self.inner.store.list_vms_with_lifetimes().await? {
            let mut why = None;
            if let Some(ttl) = vm.ttl_seconds {
                let created = time::OffsetDateTime::parse(
                    &vm.created_at,
                    &time::format_description::well_known::Rfc3339,
                )
                .unwrap_or(now);
                if now - created >= time::Duration::seconds(ttl.into()) {
                    why = Some(format!("ttl of {ttl} s expired"));
                }
            }
            if let (None, Some(idle), VmState::Running) = (&why, vm.idle_timeout_seconds, vm.state)
            {
                if self
                    .inner
                    .lifetimes
                    .idle_for(&vm.name, Duration::from_secs(idle.into()))
                {
                    why = Some(format!("idle for {idle} s without a CDP client"));
                }
            }
            if let Some(why) = why {
                self.expire(&vm.name, why).await;
            }
        }
        Ok(())
    }

    /// Closes the VM's CDP connections with `why`, then stops and deletes it.
    async fn expire(&self, name: &str, why: String) {
        tracing::info!(vm = name, why, "sandbox expired");
        let reason = CloseReason {
            code: CLOSE_EXPIRED,
            reason: format!("sandbox {why}"),
        };
        if self.inner.lifetimes.forget(name, Some(reason)) {
            // Let the proxies put their close frames on the wire.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        if let Ok(vm) = self.inner.store.get_vm(name).await {
            if vm.state.has_vmm() {
                let _ = self.stop_vm(name).await;
            }
        }
        if let Err(e) = self
            .delete_vm_because(name, Some(format!("expired: {why}")))
            .await
        {
            tracing::warn!(vm = name, error = %e, "cannot delete an expired VM");
        }
    }
}
