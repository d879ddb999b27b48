//! Questions to a running guest, answered by its agent: its network as it
//! sees it, and whether it can reach an address. They are how users (and
//! the networking tests) check isolation and egress from the inside.

use std::time::Duration;

use hype_agent_proto::{GuestMessage, HostMessage};
use hype_types::{
    GuestInterface, GuestNetwork, ProbeRequest, ProbeResult, VmState, MAX_PROBE_TIMEOUT_MS,
};

use crate::runtimes::AgentUnanswered;
use crate::{CoreError, Hype, Result};

/// Slack on top of the probe's own timeout for the round trip to the agent.
const ANSWER_SLACK: Duration = Duration::from_secs(3);

impl Hype {
    async fn ask(
        &self,
        name: &str,
        make: impl FnOnce(u64) -> HostMessage,
        wait: Duration,
    ) -> Result<GuestMessage> {
        let rec = self.inner.store.get_vm(name).await?;
        if rec.state != VmState::Running {
            return Err(CoreError::InvalidState {
                name: name.into(),
                state: rec.state,
                action: "ask the guest agent of",
            });
        }
        let rt = self
            .inner
            .runtimes
            .get(name)
            .ok_or_else(|| CoreError::AgentUnavailable {
                name: name.into(),
                why: "is not connected",
            })?;
        if !rt.has_agent {
            return Err(CoreError::Unsupported {
                name: name.into(),
                what: "it has no guest agent to ask (it runs its own system from an imported disk)"
                    .into(),
            });
        }
        rt.request(make, wait).await.map_err(|e| match e {
            AgentUnanswered::Gone => CoreError::AgentUnavailable {
                name: name.into(),
                why: "went away before answering",
            },
            AgentUnanswered::Timeout => CoreError::AgentTimeout { name: name.into() },
        })
    }

    pub async fn guest_network(&self, name: &str) -> Result<GuestNetwork> {
        match self
            .ask(name, |id| HostMessage::NetInfo { id }, ANSWER_SLACK)
            .await?
        {
            GuestMessage::NetInfo {
                interfaces,
                gateway,
                ..
            } => Ok(GuestNetwork {
                interfaces: interfaces
                    .into_iter()
                    .map(|i| GuestInterface {
                        name: i.name,
                        mac: i.mac,
                        up: i.up,
                        addresses: i.addresses,
                    })
                    .collect(),
                gateway,
            }),
            _ => Err(CoreError::AgentUnavailable {
                name: name.into(),
                why: "answered something else",
            }),
        }
    }

    pub async fn guest_probe(&self, name: &str, req: ProbeRequest) -> Result<ProbeResult> {
        if req.timeout_ms == 0 || req.timeout_ms > MAX_PROBE_TIMEOUT_MS {
            return Err(CoreError::InvalidRequest(format!(
                "timeout_ms must be between 1 and {MAX_PROBE_TIMEOUT_MS}"
            )));
        }
        let target = req.target.to_string();
        let wait = Duration::from_millis(req.timeout_ms.into()) + ANSWER_SLACK;
        let t = target.clone();
        match self
            .ask(
                name,
                |id| HostMessage::Probe {
                    id,
                    target: t,
                    timeout_ms: req.timeout_ms,
                },
                wait,
            )
            .await?
        {
            GuestMessage::ProbeResult {
                target,
                reachable,
                rtt_ms,
                error,
                ..
            } => Ok(ProbeResult {
                target,
                reachable,
                rtt_ms,
                error,
            }),
            _ => Err(CoreError::AgentUnavailable {
                name: name.into(),
                why: "answered something else",
            }),
        }
    }
}
