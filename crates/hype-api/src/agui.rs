//! The AG-UI protocol's events as hyped sends them (`GET /api/v1/agui`),
//! and the shared state they describe: `{"vms": {NAME: Vm}}`, the users'
//! sandboxes as `GET /api/v1/vms` shows them, keyed by name so that a JSON
//! Patch path (`/vms/NAME/state`) stays the same VM whatever else comes
//! and goes. Field names are the protocol's (`@ag-ui/core` 1.0).

use hype_mcp::ToolCallRecord;
use hype_types::Vm;
use serde::Serialize;
use serde_json::{Map, Value};

/// One AG-UI event: `type` and the event's fields in camelCase.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    tag = "type",
    rename_all = "SCREAMING_SNAKE_CASE",
    rename_all_fields = "camelCase"
)]
pub(crate) enum AguiEvent {
    RunStarted {
        thread_id: String,
        run_id: String,
    },
    RunFinished {
        thread_id: String,
        run_id: String,
    },
    StateSnapshot {
        snapshot: Value,
    },
    StateDelta {
        delta: json_patch::Patch,
    },
    ToolCallStart {
        tool_call_id: String,
        tool_call_name: String,
    },
    ToolCallArgs {
        tool_call_id: String,
        delta: String,
    },
    ToolCallEnd {
        tool_call_id: String,
    },
    ToolCallResult {
        message_id: String,
        tool_call_id: String,
        content: String,
        role: &'static str,
    },
}

impl AguiEvent {
    /// The SSE `data:` line's JSON.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).expect("AG-UI events serialize")
    }
}

/// The state for these VMs.
pub(crate) fn state(vms: &[Vm]) -> Value {
    let by_name: Map<String, Value> = vms
        .iter()
        .map(|vm| {
            (
                vm.name.clone(),
                serde_json::to_value(vm).expect("VMs serialize"),
            )
        })
        .collect();
    serde_json::json!({ "vms": by_name })
}

/// The mirror of what one client holds: each new list of VMs becomes the
/// JSON Patch (add, replace, remove) from the state last sent to it, or
/// nothing when nothing it sees changed.
pub(crate) struct Mirror {
    sent: Value,
}

impl Mirror {
    /// Starts from `vms` and returns the snapshot to send first.
    pub(crate) fn new(vms: &[Vm]) -> (Self, AguiEvent) {
        let sent = state(vms);
        let snapshot = AguiEvent::StateSnapshot {
            snapshot: sent.clone(),
        };
        (Self { sent }, snapshot)
    }

    pub(crate) fn update(&mut self, vms: &[Vm]) -> Option<AguiEvent> {
        let next = state(vms);
        let delta = json_patch::diff(&self.sent, &next);
        self.sent = next;
        (!delta.0.is_empty()).then_some(AguiEvent::StateDelta { delta })
    }
}

/// A tool call's record as AG-UI events. `open` holds the calls whose
/// start this stream sent, so an end without one (the call began before
/// the client connected) sends nothing.
pub(crate) fn tool_call(
    rec: ToolCallRecord,
    open: &mut std::collections::HashSet<String>,
) -> Vec<AguiEvent> {
    match rec {
        ToolCallRecord::Started { id, tool, args } => {
            open.insert(id.clone());
            vec![
                AguiEvent::ToolCallStart {
                    tool_call_id: id.clone(),
                    tool_call_name: tool,
                },
                AguiEvent::ToolCallArgs {
                    tool_call_id: id.clone(),
                    delta: args.to_string(),
                },
                AguiEvent::ToolCallEnd { tool_call_id: id },
            ]
        }
        ToolCallRecord::Ended { id, error } => {
            if !open.remove(&id) {
                return vec![];
            }
            vec![AguiEvent::ToolCallResult {
                message_id: format!("{id}-result"),
                tool_call_id: id,
                content: match error {
                    None => "ok".into(),
                    Some(e) => format!("error: {e}"),
                },
                role: "tool",
            }]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vm(name: &str, state: &str) -> Vm {
        serde_json::from_value(json!({
            "name": name, "id": format!("id-{name}"), "state": state, "cpu_cores": 1,
            "memory_mb": 256, "image": "base", "kernel_cmdline": "console=ttyS0",
            "ip": null, "mac": null, "network": {"egress": false, "tap": null},
            "vmm": {"kind": "qemu", "version": null},
            "cdp_url": null, "live_url": null, "ttl_seconds": null,
            "idle_timeout_seconds": null, "persist": false, "record": false,
            "created_at": "2026-12-07T00:00:00Z", "updated_at": "2026-12-07T00:00:00Z"
        }))
        .unwrap_or_else(|e| panic!("a Vm: {e}"))
    }

    /// Applies the deltas the mirror sends to its snapshot and checks the
    /// result is the state of the latest list, as a client would.
    #[test]
    fn deltas_applied_to_the_snapshot_give_the_latest_state() {
        let steps = [
            vec![],
            vec![vm("a", "creating")],
            vec![vm("a", "running"), vm("b", "creating")],
            vec![vm("b", "running")],
            vec![vm("b", "paused")],
            vec![],
        ];
        let (mut mirror, first) = Mirror::new(&steps[0]);
        let AguiEvent::StateSnapshot { snapshot } = first else {
            panic!("a snapshot first: {first:?}")
        };
        assert_eq!(snapshot, json!({"vms": {}}));
        let mut client = snapshot;
        for vms in &steps[1..] {
            let Some(AguiEvent::StateDelta { delta }) = mirror.update(vms) else {
                panic!("a change gives a delta")
            };
            json_patch::patch(&mut client, &delta).unwrap();
            assert_eq!(client, state(vms));
        }
    }

    #[test]
    fn paths_name_the_vm_and_only_what_changed() {
        let (mut mirror, _) = Mirror::new(&[vm("a", "creating"), vm("b", "running")]);
        let Some(AguiEvent::StateDelta { delta }) =
            mirror.update(&[vm("a", "running"), vm("b", "running")])
        else {
            panic!("a delta")
        };
        assert_eq!(
            serde_json::to_value(&delta).unwrap(),
            json!([{"op": "replace", "path": "/vms/a/state", "value": "running"}])
        );
        let Some(AguiEvent::StateDelta { delta }) = mirror.update(&[vm("b", "running")]) else {
            panic!("a delta")
        };
        assert_eq!(
            serde_json::to_value(&delta).unwrap(),
            json!([{"op": "remove", "path": "/vms/a"}])
        );
        assert_eq!(mirror.update(&[vm("b", "running")]), None, "no change");
    }

    #[test]
    fn events_carry_the_protocols_field_names() {
        let e = AguiEvent::RunStarted {
            thread_id: "t".into(),
            run_id: "r".into(),
        };
        assert_eq!(
            e.to_json(),
            r#"{"type":"RUN_STARTED","threadId":"t","runId":"r"}"#
        );
        let mut open = Default::default();
        let started = tool_call(
            ToolCallRecord::Started {
                id: "call-1".into(),
                tool: "sandbox_get".into(),
                args: json!({"name": "a"}),
            },
            &mut open,
        );
        let json: Vec<Value> = started
            .iter()
            .map(|e| serde_json::from_str(&e.to_json()).unwrap())
            .collect();
        assert_eq!(
            json,
            [
                json!({"type": "TOOL_CALL_START", "toolCallId": "call-1", "toolCallName": "sandbox_get"}),
                json!({"type": "TOOL_CALL_ARGS", "toolCallId": "call-1", "delta": "{\"name\":\"a\"}"}),
                json!({"type": "TOOL_CALL_END", "toolCallId": "call-1"}),
            ]
        );
        let ended = tool_call(
            ToolCallRecord::Ended {
                id: "call-1".into(),
                error: Some("sandbox 'a' not found".into()),
            },
            &mut open,
        );
        assert_eq!(
            serde_json::from_str::<Value>(&ended[0].to_json()).unwrap(),
            json!({"type": "TOOL_CALL_RESULT", "messageId": "call-1-result", "toolCallId": "call-1",
                "content": "error: sandbox 'a' not found", "role": "tool"})
        );
    }

    #[test]
    fn an_end_whose_start_was_not_sent_sends_nothing() {
        let mut open = Default::default();
        let rec = ToolCallRecord::Ended {
            id: "call-9".into(),
            error: None,
        };
        assert!(tool_call(rec, &mut open).is_empty());
    }
}
