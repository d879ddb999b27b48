//! The sandbox tools: each maps to one core action (or REST call); the
//! only thing added is waiting for `VM_RUNNING` after a create.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use futures::StreamExt;
use hype_types::{CreateVm, EventType, Vm};
use rmcp::model::ContentBlock;
use serde_json::json;

use crate::args::{SandboxCreate, SandboxLogs, SandboxName, SandboxUse};
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

impl<B: Backend> HypeMcp<B> {
    pub(crate) async fn sandbox_create(&self, a: SandboxCreate) -> Output {
        let name = a.name.unwrap_or_else(generated_name);
        let req: CreateVm = serde_json::from_value(json!({
            "name": name,
            "cpu_cores": a.cpu.unwrap_or(2),
            "memory_mb": a.memory.unwrap_or(1536),
            "image": a.image.unwrap_or_else(|| "browser".into()),
            "ttl_seconds": a.ttl,
        }))
        .map_err(|e| ToolError::Invalid(e.to_string()))?;
        // Subscribe before creating, so VM_RUNNING cannot slip past.
        let mut events = self.backend.events().await?;
        self.backend.create(req).await?;
        self.set_current(Some(name.clone()));
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
                    "Sandbox '{name}' is running; it is now this session's current sandbox.\n{}",
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

    pub(crate) async fn sandbox_list(&self) -> Output {
        let vms = self.backend.list().await?;
        let rows: Vec<_> = vms
            .iter()
            .map(|v| {
                json!({"name": v.name, "state": v.state.as_str(), "image": v.image,
                    "cpu": v.cpu_cores, "memory": v.memory_mb, "created_at": v.created_at})
            })
            .collect();
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
}
