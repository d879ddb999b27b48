//! The sandbox tools: each maps to one core action (or REST call); the
//! only thing added is waiting for `VM_RUNNING` after a create that boots
//! (a fork is running when the create answers).

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use futures::StreamExt;
use hype_types::{CreateVm, EventType, ForkVm, Vm, VmState};
use rmcp::model::ContentBlock;
use serde_json::json;

use crate::args::{SandboxCreate, SandboxFork, SandboxLogs, SandboxName, SandboxUse};
use crate::backend::Backend;
use crate::error::ToolError;
use crate::server::{HypeMcp, Output};

const DEFAULT_WAIT: u32 = 300;
const DEFAULT_LINES: usize = 100;

/// A name nobody is likely to have taken: `sbx-` and six hex digits.
fn generated_name() -> String {
    let n = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("sbx-{:06x}", n & 0xff_ffff)
}

fn vm_json(vm: &Vm) -> String {
    serde_json::to_string_pretty(vm).unwrap_or_default()
}

/// A sandbox in a list: what a model picks one by.
fn row(v: &Vm) -> serde_json::Value {
    json!({"name": v.name, "state": v.state.as_str(), "image": v.image,
        "cpu": v.cpu_cores, "memory": v.memory_mb, "created_at": v.created_at})
}

/// The core's create for `a`, named `name`.
fn create_request(name: &str, a: &SandboxCreate) -> Result<CreateVm, ToolError> {
    let mut body = json!({"name": name, "ttl_seconds": a.ttl});
    if let Some(pool) = &a.pool {
        body["pool"] = json!(pool);
    }
    match (&a.snapshot, &a.pool) {
        // A fork (or a pool's sandbox) takes its image, CPUs and memory
        // from the snapshot (the pool): only what the caller gave is sent,
        // so that the core refuses a contradiction instead of this tool's
        // defaults making one.
        (Some(_), _) | (None, Some(_)) => {
            if let Some(snapshot) = &a.snapshot {
                body["snapshot"] = json!(snapshot);
            }
            for (field, v) in [("cpu_cores", a.cpu), ("memory_mb", a.memory)] {
                if let Some(v) = v {
                    body[field] = json!(v);
                }
            }
            if let Some(image) = &a.image {
                body["image"] = json!(image);
            }
        }
        (None, None) => {
            body["cpu_cores"] = json!(a.cpu.unwrap_or(2));
            body["memory_mb"] = json!(a.memory.unwrap_or(1536));
            body["image"] = json!(a.image.as_deref().unwrap_or("browser"));
        }
    }
    serde_json::from_value(body).map_err(|e| ToolError::Invalid(e.to_string()))
}

impl<B: Backend> HypeMcp<B> {
    pub(crate) async fn sandbox_create(&self, a: SandboxCreate) -> Output {
        let name = a.name.clone().unwrap_or_else(generated_name);
        let req = create_request(&name, &a)?;
        // Subscribe before creating, so VM_RUNNING cannot slip past.
        let mut events = self.backend.events().await?;
        let made = self.backend.create(req).await?;
        self.set_current(Some(name.clone()));
        let from = match (&a.snapshot, &a.pool) {
            (Some(s), _) => format!(" (forked from snapshot '{s}')"),
            (None, Some(p)) => format!(" (from warm pool '{p}')"),
            (None, None) => String::new(),
        };
        // A fork is answered once it runs (its agent took its identity).
        if made.state == VmState::Running {
            return Ok(vec![ContentBlock::text(format!(
                "Sandbox '{name}' is running{from}; it is now this session's current sandbox.\n{}",
                vm_json(&made)
            ))]);
        }
        let wait = Duration::from_secs(a.wait_seconds.unwrap_or(DEFAULT_WAIT).into());
        let outcome = tokio::time::timeout(wait, async {
            while let Some(e) = events.next().await {
                if e.vm != name {
                    continue;
                }
                match e.event_type {
                    EventType::VmRunning => return Ok(()),
                    EventType::VmCrashed | EventType::VmDeleted | EventType::VmStopped => {
                        return Err(e)
                    }
                    _ => {}
                }
            }
            Ok(())
        })
        .await;
        let vm = self.backend.get(&name).await;
        match outcome {
            Ok(Ok(())) => {
                let vm = vm?;
                Ok(vec![ContentBlock::text(format!(
                    "Sandbox '{name}' is running{from}; it is now this session's current sandbox.\n{}",
                    vm_json(&vm)
                ))])
            }
            Ok(Err(e)) => Err(ToolError::Invalid(format!(
                "sandbox '{name}' did not boot: {} ({}); sandbox_logs shows its console{}",
                e.event_type.as_str(),
                e.detail.unwrap_or_default(),
                if vm.is_ok() {
                    ", and sandbox_delete removes it"
                } else {
                    ""
                }
            ))),
            Err(_) => Ok(vec![ContentBlock::text(format!(
                "Sandbox '{name}' is not running yet after {} s (state {}); call sandbox_get to check on it.",
                wait.as_secs(),
                vm.map(|v| v.state.as_str().to_owned())
                    .unwrap_or_else(|e| e.message)
            ))]),
        }
    }

    /// The core's fork of a running sandbox (`POST /vms/{name}/fork`). The
    /// session's current sandbox stays: an agent forking usually goes on
    /// with the source and names a fork when it wants one.
    pub(crate) async fn sandbox_fork(&self, a: SandboxFork) -> Output {
        let req = ForkVm {
            name: a.name,
            count: a.count,
            ttl_seconds: a.ttl,
            idle_timeout_seconds: None,
        };
        let made = self.backend.fork(&a.sandbox, req).await?;
        let answer = json!({
            "forks": made.vms.iter().map(row).collect::<Vec<_>>(),
            "failed": made.failed.iter()
                .map(|f| json!({"name": f.name, "code": f.error.code, "message": f.error.message}))
                .collect::<Vec<_>>(),
        });
        let listed = serde_json::to_string_pretty(&answer).unwrap_or_default();
        // Nothing made is a failed call, whatever the reasons.
        if made.vms.is_empty() {
            return Err(ToolError::Invalid(format!(
                "no fork of '{}' was made; sandbox_get shows the source's state\n{listed}",
                a.sandbox
            )));
        }
        let failed = match made.failed.len() {
            0 => String::new(),
            n => format!(", {n} failed"),
        };
        Ok(vec![ContentBlock::text(format!(
            "{} fork(s) of '{}' running{failed}. Name one as `sandbox` in the browser tools, or make it current with sandbox_use.\n{listed}",
            made.vms.len(),
            a.sandbox
        ))])
    }

    pub(crate) async fn sandbox_list(&self) -> Output {
        let vms = self.backend.list().await?;
        let rows: Vec<_> = vms.iter().map(row).collect();
        let mut text = serde_json::to_string_pretty(&rows).unwrap_or_default();
        if let Some(c) = self.current() {
            text.push_str(&format!("\nCurrent sandbox of this session: {c}"));
        }
        Ok(vec![ContentBlock::text(text)])
    }

    pub(crate) async fn sandbox_get(&self, a: SandboxName) -> Output {
        let vm = self.backend.get(&a.name).await?;
        Ok(vec![ContentBlock::text(vm_json(&vm))])
    }

    /// Checks the sandbox exists (the core decides names) and makes it current.
    pub(crate) async fn sandbox_use(&self, a: SandboxUse) -> Output {
        let vm = self.backend.get(&a.name).await?;
        self.set_current(Some(vm.name.clone()));
        Ok(vec![ContentBlock::text(format!(
            "Sandbox '{}' ({:?}) is this session's current sandbox; browser tools without `sandbox` act on it.",
            vm.name, vm.state
        ))])
    }

    pub(crate) async fn sandbox_delete(&self, a: SandboxName) -> Output {
        self.backend.delete(&a.name).await?;
        if self.current().as_deref() == Some(a.name.as_str()) {
            self.set_current(None);
        }
        self.drop_monitor(&a.name).await;
        Ok(vec![ContentBlock::text(format!(
            "Sandbox '{}' deleted.",
            a.name
        ))])
    }

    pub(crate) async fn sandbox_logs(&self, a: SandboxLogs) -> Output {
        let text = self.backend.logs(&a.name).await?;
        let lines: Vec<&str> = text.lines().collect();
        let n = a.lines.unwrap_or(DEFAULT_LINES);
        let tail = lines[lines.len().saturating_sub(n)..].join("\n");
        Ok(vec![ContentBlock::text(if tail.is_empty() {
            format!("Sandbox '{}' has no console output yet.", a.name)
        } else {
            tail
        })])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_are_valid_vm_names() {
        let re = |s: &str| {
            s.len() <= 63
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        let (a, b) = (generated_name(), generated_name());
        assert!(re(&a) && a.starts_with("sbx-") && a.len() == 10, "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn a_fork_sends_only_what_was_asked() {
        let args = |v| serde_json::from_value::<SandboxCreate>(v).unwrap();
        let boot = create_request("b", &args(json!({}))).unwrap();
        assert_eq!(
            (boot.cpu_cores, boot.memory_mb, boot.image.as_deref()),
            (2, 1536, Some("browser"))
        );
        assert_eq!(boot.snapshot, None);
        // The core's own defaults, which its fork check reads as "not asked".
        let fork = create_request("f", &args(json!({"snapshot": "s1", "ttl": 60}))).unwrap();
        let plain: CreateVm = serde_json::from_value(json!({"name": "f"})).unwrap();
        assert_eq!(
            (fork.cpu_cores, fork.memory_mb),
            (plain.cpu_cores, plain.memory_mb)
        );
        assert_eq!(
            (fork.image, fork.snapshot.as_deref(), fork.ttl_seconds),
            (None, Some("s1"), Some(60))
        );
        let asked = create_request("f", &args(json!({"snapshot": "s1", "memory": 1024}))).unwrap();
        assert_eq!(asked.memory_mb, 1024);
        // From a pool: its name, and nothing of this tool's own defaults.
        let pooled = create_request("p", &args(json!({"pool": "warm"}))).unwrap();
        assert_eq!(
            (pooled.pool, pooled.image, pooled.memory_mb),
            (
                Some(hype_types::PoolChoice::Name("warm".into())),
                None,
                plain.memory_mb
            )
        );
    }
}
