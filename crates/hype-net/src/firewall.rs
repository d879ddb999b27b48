//! hype's own nftables tables, replaced whole and atomically (both in one
//! transaction) through nft's JSON interface each time they change.
//!
//! `inet hype` forwards guest traffic out and masquerades it, denies egress
//! for VMs that asked for none, lets nothing in from outside but replies,
//! keeps guests apart even when routed, and keeps them off the host's own
//! services (hyped's API!) except for ping.
//!
//! `bridge hype` pins each guest to its lease: a frame from a VM's tap must
//! carry the VM's MAC, and its IPv4 and ARP must carry the VM's address, so
//! a guest can neither leave the egress deny by changing its address nor
//! poison the host's ARP cache for another VM's address. IPv6 (hype does
//! not configure it) and every other protocol from guests are dropped, and
//! so is everything from a hype tap without a lease.

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
    /// Each leased guest: what its tap may send from.
    pub pins: Vec<Pin>,
}

/// A guest's lease as the bridge enforces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub tap: String,
    pub mac: String,
    pub ip: Ipv4Addr,
}

/// Taps of VMs are named `hype` + a hash (see `tap_name`).
const TAP_PATTERN: &str = "hype*";

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

    fn bridge_rule(&self, chain: &str, expr: Vec<Value>) -> Value {
        json!({"add": {"rule": {"family": "bridge", "table": TABLE, "chain": chain, "expr": expr}}})
    }

    /// `bridge hype`: each tap pinned to its lease.
    fn bridge_table(&self) -> Vec<Value> {
        let t = json!({"family": "bridge", "name": TABLE});
        let payload = |protocol: &str, field: &str| json!({"payload": {"protocol": protocol, "field": field}});
        let ne =
            |left: Value, right: &str| json!({"match": {"op": "!=", "left": left, "right": right}});
        let eq = |left: Value, right: Value| json!({"match": {"op": "==", "left": left, "right": right}});
        let mut cmds = vec![
            json!({"add": {"table": t.clone()}}),
            json!({"delete": {"table": t.clone()}}),
            json!({"add": {"table": t}}),
            json!({"add": {"chain": {"family": "bridge", "table": TABLE, "name": "prerouting",
                "type": "filter", "hook": "prerouting", "prio": -200, "policy": "accept"}}}),
        ];
        for (i, pin) in self.pins.iter().enumerate() {
            let chain = format!("guest{i}");
            let ip = pin.ip.to_string();
            cmds.push(
                json!({"add": {"chain": {"family": "bridge", "table": TABLE, "name": chain}}}),
            );
            cmds.push(self.bridge_rule(
                "prerouting",
                vec![
                    meta("iifname", "==", &pin.tap),
                    json!({"jump": {"target": chain}}),
                ],
            ));
            for expr in [
                vec![
                    ne(payload("ether", "saddr"), &pin.mac),
                    json!({"drop": null}),
                ],
                vec![
                    ne(payload("arp", "saddr ether"), &pin.mac),
                    json!({"drop": null}),
                ],
                vec![ne(payload("arp", "saddr ip"), &ip), json!({"drop": null})],
                vec![ne(payload("ip", "saddr"), &ip), json!({"drop": null})],
                vec![
                    eq(payload("ether", "type"), json!({"set": ["ip", "arp"]})),
                    json!({"accept": null}),
                ],
                vec![json!({"drop": null})],
            ] {
                cmds.push(self.bridge_rule(&chain, expr));
            }
        }
        // A hype tap without a lease sends nothing.
        cmds.push(self.bridge_rule(
            "prerouting",
            vec![meta("iifname", "==", TAP_PATTERN), json!({"drop": null})],
        ));
        cmds
    }

    /// Both tables as one nft JSON transaction.
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
        cmds.extend(self.bridge_table());
        json!({"nftables": cmds})
    }

    /// Replaces the table in the calling thread's network namespace.
    pub fn apply(&self) -> Result<()> {
        run_nft(&self.ruleset())
    }

    /// Removes both tables (for `hype setup --undo`).
    pub fn remove() -> Result<()> {
        let bridge = json!({"family": "bridge", "name": TABLE});
        run_nft(&json!({"nftables": [
            {"add": {"table": table()}},
            {"delete": {"table": table()}},
            {"add": {"table": bridge}},
            {"delete": {"table": bridge}},
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
            pins: vec![],
        };
        let text = plan.ruleset().to_string();
        assert!(!text.contains("\"element\""));
        assert!(text.contains("\"masquerade\":null"));
        plan.egress_deny = vec!["192.168.127.3".parse().unwrap()];
        let text = plan.ruleset().to_string();
        assert!(text.contains("\"elem\":[\"192.168.127.3\"]"), "{text}");
    }
}
