//! The accessibility tree as text, in the shape of Playwright's ARIA
//! snapshots: one `- role "name" [attrs] [ref=eN]` line per node, children
//! indented under a trailing `:`. A ref names the node's backend DOM node
//! id, which stays valid for as long as the element lives in the page, so
//! a later click needs no state kept between calls.

use std::collections::HashMap;
use std::fmt::Write;

use serde_json::Value;

/// Roles that carry nothing for a reader: their children take their place.
const TRANSPARENT: &[&str] = &["none", "presentation", "RootWebArea", "WebArea"];
/// Roles that are dropped with their subtree.
const HIDDEN: &[&str] = &["InlineTextBox", "LineBreak"];
/// Boolean states shown as `[name]` when true.
const FLAGS: &[&str] = &[
    "checked", "disabled", "expanded", "selected", "pressed", "required",
];

/// `eN` for the element with backend node id N.
pub fn node_ref(backend_id: u64) -> String {
    format!("e{backend_id}")
}

/// The backend node id in a ref, if it is one.
pub fn parse_ref(r: &str) -> Option<u64> {
    r.strip_prefix('e')?.parse().ok()
}

struct Node<'a> {
    raw: &'a Value,
    children: Vec<&'a str>,
}

fn str_of<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]["value"].as_str().unwrap_or("")
}

/// Renders the `nodes` of `Accessibility.getFullAXTree`.
pub fn render(nodes: &[Value]) -> String {
    let mut by_id: HashMap<&str, Node> = HashMap::new();
    let mut has_parent = std::collections::HashSet::new();
    for n in nodes {
        let Some(id) = n["nodeId"].as_str() else {
            continue;
        };
        let children: Vec<&str> = n["childIds"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        has_parent.extend(children.iter().copied());
        by_id.insert(id, Node { raw: n, children });
    }
    let mut out = String::new();
    for n in nodes {
        if let Some(id) = n["nodeId"].as_str() {
            if !has_parent.contains(id) {
                emit(&by_id, id, 0, None, &mut out);
            }
        }
    }
    out
}

fn emit(
    by_id: &HashMap<&str, Node>,
    id: &str,
    depth: usize,
    parent_name: Option<&str>,
    out: &mut String,
) {
    let Some(node) = by_id.get(id) else { return };
    let raw = node.raw;
    let role = str_of(raw, "role");
    if HIDDEN.contains(&role) {
        return;
    }
    let name = str_of(raw, "name").trim();
    let ignored = raw["ignored"].as_bool().unwrap_or(false);
    let transparent = ignored
        || TRANSPARENT.contains(&role)
        || (role == "generic" && name.is_empty())
        || role.is_empty();
    if transparent {
        for c in &node.children {
            emit(by_id, c, depth, parent_name, out);
        }
        return;
    }
    let pad = "  ".repeat(depth);
    if role == "StaticText" {
        // A button's label already names it.
        if !name.is_empty() && parent_name != Some(name) {
            let _ = writeln!(out, "{pad}- text: {}", quote(name));
        }
        return;
    }
    let mut line = format!("{pad}- {role}");
    if !name.is_empty() {
        let _ = write!(line, " {}", quote(name));
    }
    for p in raw["properties"].as_array().into_iter().flatten() {
        let pname = p["name"].as_str().unwrap_or("");
        let v = &p["value"]["value"];
        if FLAGS.contains(&pname) && (v == true || v == "true") {
            let _ = write!(line, " [{pname}]");
        } else if pname == "checked" && v == "mixed" {
            line.push_str(" [checked=mixed]");
        } else if pname == "level" {
            let _ = write!(line, " [level={v}]");
        }
    }
    if let Some(b) = raw["backendDOMNodeId"].as_u64() {
        let _ = write!(line, " [ref={}]", node_ref(b));
    }
    let value = match &raw["value"]["value"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    // An input's inner editor repeats its value.
    if !value.is_empty() && matches!(role, "textbox" | "searchbox" | "combobox" | "spinbutton") {
        let _ = writeln!(out, "{line}: {}", quote(&value));
        return;
    }
    let mut children = String::new();
    for c in &node.children {
        emit(by_id, c, depth + 1, Some(name), &mut children);
    }
    if children.is_empty() {
        let _ = writeln!(out, "{line}");
    } else {
        let _ = writeln!(out, "{line}:");
        out.push_str(&children);
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(id: &str, role: &str, name: &str, backend: u64, children: &[&str]) -> Value {
        json!({"nodeId": id, "ignored": false, "role": {"type": "role", "value": role},
            "name": {"type": "computedString", "value": name}, "childIds": children,
            "backendDOMNodeId": backend})
    }

    #[test]
    fn a_page_reads_like_an_aria_snapshot() {
        let mut heading = node("3", "heading", "Hello", 7, &["4"]);
        heading["properties"] =
            json!([{"name": "level", "value": {"type": "integer", "value": 1}}]);
        let mut ignored = node("5", "generic", "", 8, &["6"]);
        ignored["ignored"] = json!(true);
        let nodes = vec![
            node("1", "RootWebArea", "t", 1, &["2"]),
            node("2", "generic", "", 2, &["3", "5", "9"]),
            heading,
            node("4", "StaticText", "Hello", 9, &["10"]),
            ignored,
            node("6", "button", "Go", 11, &["7"]),
            node("7", "StaticText", "Go", 12, &[]),
            node("10", "InlineTextBox", "Hello", 13, &[]),
            node("9", "paragraph", "", 14, &["11"]),
            node("11", "StaticText", "some \"text\"", 15, &[]),
        ];
        assert_eq!(
            render(&nodes),
            "- heading \"Hello\" [level=1] [ref=e7]\n\
             - button \"Go\" [ref=e11]\n\
             - paragraph [ref=e14]:\n  - text: \"some \\\"text\\\"\"\n"
        );
    }

    #[test]
    fn refs_round_trip() {
        assert_eq!(parse_ref(&node_ref(42)), Some(42));
        assert_eq!(parse_ref("x42"), None);
        assert_eq!(parse_ref("e"), None);
    }
}
