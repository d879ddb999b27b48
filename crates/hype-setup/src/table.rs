//! hype's nftables table as `nft -j` lists it, and what setup records of
//! it: hyped rewrites the table's egress-deny set while it runs, so setup
//! compares the table's shape without the set's elements or handles.

use std::io::ErrorKind;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use hype_net::TABLE;

use crate::{Result, SetupConfig, SetupError};

/// `nft -j list table inet hype`, or `None` when there is no such table
/// (or no nft, or no right to ask: then setup cannot tell, and plans to
/// install it).
pub(crate) fn list_table() -> Result<Option<Value>> {
    let out = match Command::new("nft")
        .args(["-j", "list", "table", "inet", TABLE])
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SetupError::NftList(e.to_string())),
    };
    if !out.status.success() {
        return Ok(None);
    }
    serde_json::from_slice(&out.stdout)
        .map(Some)
        .map_err(|e| SetupError::NftList(e.to_string()))
}

/// What the state file records of an installed table: a fingerprint of the
/// ruleset setup wants and one of the table as listed, both without the
/// egress-deny elements (hyped's to change) or handles (renumbered each
/// time the table is replaced). `None` when there is no table.
pub(crate) fn firewall_record(cfg: &SetupConfig, listing: Option<&Value>) -> Option<Value> {
    let listing = listing?;
    Some(json!({
        "ruleset": fingerprint(&cfg.firewall(vec![]).ruleset()),
        "table": fingerprint(&shape(listing)),
    }))
}

/// The listing without its metainfo, handles and set elements.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "handle" | "elem"))
                .map(|(k, v)| (k.clone(), shape(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .filter(|v| v.get("metainfo").is_none())
                .map(shape)
                .collect(),
        ),
        other => other.clone(),
    }
}

fn fingerprint(v: &Value) -> String {
    Sha256::digest(v.to_string().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The addresses in the listed table's egress-deny set.
pub(crate) fn denied_guests(listing: &Value) -> Vec<Ipv4Addr> {
    let items = listing.get("nftables").and_then(Value::as_array);
    items
        .into_iter()
        .flatten()
        .filter_map(|item| item.get("set"))
        .filter_map(|set| set.get("elem").and_then(Value::as_array))
        .flatten()
        .filter_map(|e| e.as_str()?.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shape_ignores_handles_elements_and_metainfo() {
        let a = json!({"nftables": [{"metainfo": {"version": "1"}},
            {"set": {"name": "egress_deny", "handle": 3, "elem": ["10.0.0.3"]}}]});
        let b = json!({"nftables": [{"metainfo": {"version": "2"}},
            {"set": {"name": "egress_deny", "handle": 9}}]});
        assert_eq!(shape(&a), shape(&b));
        assert_eq!(denied_guests(&a), ["10.0.0.3".parse::<Ipv4Addr>().unwrap()]);
        assert!(denied_guests(&b).is_empty());
    }
}
