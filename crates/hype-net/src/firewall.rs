//! hype's own nftables table (`inet hype`), replaced whole and atomically
//! through nft's JSON interface each time it changes. It forwards guest
//! traffic out and masquerades it, denies egress for VMs that asked for
//! none, lets nothing in from outside but replies, keeps guests apart even
//! when routed, and keeps them off the host's own services (hyped's API!)
//! except for ping.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use ipnet::Ipv4Net;
use serde_json::{json, Value};

use crate::{NetError, Result};

pub const TABLE: &str = "hype";
const SET: &str = "egress_deny";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallPlan {
    pub bridge: String,
    pub subnet: Ipv4Net,
    /// Guest addresses whose traffic may not leave the host.
    pub egress_deny: Vec<Ipv4Addr>,
}

fn meta(key: &str, op: &str, value: &str) -> Value {
    json!({"match": {"op": op, "left": {"meta": {"key": key}}, "right": value}})
}

fn table() -> Value {
    json!({"family": "inet", "name": TABLE})
}

impl FirewallPlan {
    fn rule(&self, chain: &str, expr: Vec<Value>) -> Value {
        json!({"add": {"rule": {"family": "inet", "table": TABLE, "chain": chain, "expr": expr}}})
    }

    /// The whole table as one nft JSON transaction.
    pub fn ruleset(&self) -> Value {
        let br = self.bridge.as_str();
        let from_br = || meta("iifname", "==", br);
        let to_br = || meta("oifname", "==", br);
        let established = json!({"match": {"op": "in", "left": {"ct": {"key": "state"}},
            "right": ["established", "related"]}});
        let mut cmds = vec![
            // add-then-delete: the delete needs the table to exist.
            json!({"add": {"table": table()}}),
            json!({"delete": {"table": table()}}),
            json!({"add": {"table": table()}}),
            json!({"add": {"set": {"family": "inet", "table": TABLE, "name": SET, "type": "ipv4_addr"}}}),
        ];
        if !self.egress_deny.is_empty() {
            let elems: Vec<String> = self.egress_deny.iter().map(|a| a.to_string()).collect();
            cmds.push(json!({"add": {"element": {"family": "inet", "table": TABLE, "name": SET, "elem": elems}}}));
        }
        for (name, ty, hook, prio) in [
            ("forward", "filter", "forward", 0),
            ("input", "filter", "input", 0),
            ("postrouting", "nat", "postrouting", 100),
        ] {
            cmds.push(
                json!({"add": {"chain": {"family": "inet", "table": TABLE, "name": name,
                "type": ty, "hook": hook, "prio": prio, "policy": "accept"}}}),
            );
        }
        // Guests never talk to each other, even through the host.
        cmds.push(self.rule("forward", vec![from_br(), to_br(), json!({"drop": null})]));
        cmds.push(self.rule(
            "forward",
            vec![
                from_br(),
                json!({"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                    "right": format!("@{SET}")}}),
                json!({"drop": null}),
            ],
        ));
        cmds.push(self.rule("forward", vec![from_br(), json!({"accept": null})]));
        cmds.push(self.rule(
            "forward",
            vec![to_br(), established.clone(), json!({"accept": null})],
        ));
        cmds.push(self.rule("forward", vec![to_br(), json!({"drop": null})]));
        cmds.push(self.rule(
            "input",
            vec![from_br(), established, json!({"accept": null})],
        ));
        cmds.push(self.rule(
            "input",
            vec![
                from_br(),
                json!({"match": {"op": "==", "left": {"payload": {"protocol": "icmp", "field": "type"}},
                    "right": "echo-request"}}),
                json!({"accept": null}),
            ],
        ));
        cmds.push(self.rule("input", vec![from_br(), json!({"drop": null})]));
        cmds.push(self.rule(
            "postrouting",
            vec![
                json!({"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                    "right": {"prefix": {"addr": self.subnet.network().to_string(), "len": self.subnet.prefix_len()}}}}),
                meta("oifname", "!=", br),
                json!({"masquerade": null}),
            ],
        ));
        json!({"nftables": cmds})
    }

    /// Replaces the table in the calling thread's network namespace.
    pub fn apply(&self) -> Result<()> {
        run_nft(&self.ruleset())
    }

    /// Removes the table (for `hype setup --undo`).
    pub fn remove() -> Result<()> {
        run_nft(&json!({"nftables": [
            {"add": {"table": table()}},
            {"delete": {"table": table()}},
        ]}))
    }
}

fn run_nft(doc: &Value) -> Result<()> {
    let mut child = Command::new("nft")
        .args(["-j", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(NetError::NftSpawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(doc.to_string().as_bytes())
            .map_err(NetError::NftSpawn)?;
    }
    let out = child.wait_with_output().map_err(NetError::NftSpawn)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NetError::Nft(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deny_set_holds_exactly_the_denied_guests() {
        let mut plan = FirewallPlan {
            bridge: "hypebr0".into(),
            subnet: "192.168.127.0/24".parse().unwrap(),
            egress_deny: vec![],
        };
        let text = plan.ruleset().to_string();
        assert!(!text.contains("\"element\""));
        assert!(text.contains("\"masquerade\":null"));
        plan.egress_deny = vec!["192.168.127.3".parse().unwrap()];
        let text = plan.ruleset().to_string();
        assert!(text.contains("\"elem\":[\"192.168.127.3\"]"), "{text}");
    }
}
