//! hype's `/mcp` against the real `@playwright/mcp@0.0.83` (from npm, as
//! locked in tests/mcp/package-lock.json; `npm ci --ignore-scripts` there,
//! no browser needed to list tools): both catalogues read with
//! `@modelcontextprotocol/inspector --cli`, core tools alone and with every
//! capability group (`--caps` / `--mcp-caps`, and `/mcp?caps=` for one
//! session). Every playwright-mcp
//! tool must be in hype's, accept every argument playwright-mcp's does
//! with the same type (and every value of an enum), and require nothing
//! that playwright-mcp leaves optional, so an agent's call made for one
//! is accepted by the other.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Server;
use serde_json::Value;

const PLAYWRIGHT_MCP_VERSION: &str = "0.0.83";
/// Every group playwright-mcp has.
const GROUPS: &str = "vision,pdf,network,storage,devtools,testing";

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/mcp")
}

/// `tools/list` through the inspector's CLI; `target` is its arguments.
fn list(target: &[&str]) -> anyhow::Result<Vec<Value>> {
    let out = Command::new("npx")
        .current_dir(tests_dir())
        .args(["--no-install", "@modelcontextprotocol/inspector", "--cli"])
        .args(target)
        .args(["--method", "tools/list"])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "inspector {target:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)?;
    Ok(v["tools"].as_array().cloned().unwrap_or_default())
}

fn playwright_mcp(caps: Option<&str>) -> anyhow::Result<Vec<Value>> {
    let pkg = tests_dir().join("node_modules/@playwright/mcp");
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(pkg.join("package.json"))
            .map_err(|e| anyhow::anyhow!("{e}: run `npm ci --ignore-scripts` in tests/mcp"))?,
    )?;
    assert_eq!(
        manifest["version"], PLAYWRIGHT_MCP_VERSION,
        "the locked version"
    );
    let cli = pkg.join("cli.js").display().to_string();
    let mut args = vec!["node", cli.as_str()];
    if let Some(c) = caps {
        args.extend(["--caps", c]);
    }
    list(&args)
}

/// The JSON types a property schema admits (`anyOf` with null unwrapped),
/// and its enum values if it has some.
fn types(root: &Value, p: &Value) -> (Vec<String>, Option<Vec<Value>>) {
    let p = resolve(root, p);
    let mut ts = vec![];
    let mut en = p["enum"].as_array().cloned();
    match &p["type"] {
        Value::String(t) => ts.push(t.clone()),
        Value::Array(a) => ts.extend(a.iter().filter_map(|t| t.as_str().map(str::to_owned))),
        _ => {}
    }
    for alt in p["anyOf"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(p["oneOf"].as_array().into_iter().flatten())
    {
        let (t, e) = types(root, alt);
        ts.extend(t);
        if let Some(e) = e {
            en.get_or_insert_with(Vec::new).extend(e);
        }
    }
    // schemars writes a string enum as oneOf/enum of constants.
    if let Some(c) = p.get("const") {
        en.get_or_insert_with(Vec::new).push(c.clone());
    }
    ts.retain(|t| t != "null");
    ts.sort();
    ts.dedup();
    (ts, en)
}

/// A `$ref` of hype's schema resolved against its `$defs`.
fn resolve<'a>(schema: &'a Value, p: &'a Value) -> &'a Value {
    match p["$ref"].as_str().and_then(|r| r.strip_prefix("#/$defs/")) {
        Some(name) => &schema["$defs"][name],
        None => p,
    }
}

/// What is wrong with hype's version of one playwright-mcp tool.
fn mismatches(pw: &Value, hype: &Value) -> Vec<String> {
    let name = pw["name"].as_str().unwrap_or("?");
    let (ps, hs) = (&pw["inputSchema"], &hype["inputSchema"]);
    let mut out = vec![];
    let hreq: Vec<&str> = hs["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let preq: Vec<&str> = ps["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for r in &hreq {
        if !preq.contains(r) {
            out.push(format!(
                "{name}: hype requires `{r}`, playwright-mcp does not"
            ));
        }
    }
    for (arg, p) in ps["properties"].as_object().into_iter().flatten() {
        let Some(h) = hs["properties"].get(arg) else {
            let how = if preq.contains(&arg.as_str()) {
                "required"
            } else {
                "optional"
            };
            out.push(format!(
                "{name}: hype does not accept the {how} argument `{arg}`"
            ));
            continue;
        };
        let h = resolve(hs, h);
        let (pt, pe) = types(ps, p);
        let (ht, he) = types(hs, h);
        // An integer is a number; anything else must be the same type.
        let ok = pt
            .iter()
            .all(|t| ht.contains(t) || (t == "integer" && ht.iter().any(|x| x == "number")));
        if !ok {
            out.push(format!(
                "{name}.{arg}: playwright-mcp's type {pt:?}, hype's {ht:?}"
            ));
        }
        if let (Some(pe), Some(he)) = (&pe, &he) {
            for v in pe {
                if !he.contains(v) {
                    out.push(format!("{name}.{arg}: hype does not accept the value {v}"));
                }
            }
        } else if pe.is_some() && ht.iter().all(|t| t != "string") {
            out.push(format!(
                "{name}.{arg}: hype has no values for playwright-mcp's enum"
            ));
        }
        if pt.iter().any(|t| t == "array") {
            let (pi, hi) = (&p["items"], resolve(hs, &h["items"]));
            // Arrays of objects (fill_form's fields) compare as tools do.
            if pi["type"] == "object" {
                // Keep hype's definitions beside the item schema.
                let mut hi = hi.clone();
                hi["$defs"] = hs["$defs"].clone();
                let wrap = |s: &Value| serde_json::json!({"name": format!("{name}.{arg}[]"), "inputSchema": s});
                out.extend(mismatches(&wrap(pi), &wrap(&hi)));
            } else if types(ps, pi).0 != types(hs, hi).0 {
                out.push(format!(
                    "{name}.{arg}: items {:?} vs hype's {:?}",
                    types(ps, pi).0,
                    types(hs, hi).0
                ));
            }
        }
    }
    out
}

fn compare(pw: &[Value], hype: &[Value]) -> Vec<String> {
    let mut problems = vec![];
    for t in pw {
        let name = t["name"].as_str().unwrap_or("?");
        match hype.iter().find(|h| h["name"] == name) {
            None => problems.push(format!("{name}: missing from hype")),
            Some(h) => problems.extend(mismatches(t, h)),
        }
    }
    problems
}

fn hype_tools(s: &Server) -> anyhow::Result<Vec<Value>> {
    hype_tools_at(s, "/mcp")
}

fn hype_tools_at(s: &Server, path: &str) -> anyhow::Result<Vec<Value>> {
    list(&[&format!("{}{path}", s.base), "--transport", "http"])
}

#[test]
fn every_playwright_mcp_tool_is_in_hype_with_its_arguments() -> anyhow::Result<()> {
    // Core tools alone.
    let pw = playwright_mcp(None)?;
    assert_eq!(
        pw.len(),
        25,
        "playwright-mcp {PLAYWRIGHT_MCP_VERSION} lists 25 core tools"
    );
    let s = Server::start()?;
    let hype = hype_tools(&s)?;
    let problems = compare(&pw, &hype);
    assert!(problems.is_empty(), "core tools:\n{}", problems.join("\n"));
    // Beside them, hype's own sandbox tools, which playwright-mcp has not.
    let mut own: Vec<&str> = hype
        .iter()
        .filter_map(|t| t["name"].as_str())
        .filter(|n| n.starts_with("sandbox_"))
        .collect();
    own.sort();
    assert_eq!(
        own,
        [
            "sandbox_create",
            "sandbox_delete",
            "sandbox_exec",
            "sandbox_fork",
            "sandbox_get",
            "sandbox_get_download",
            "sandbox_list",
            "sandbox_list_downloads",
            "sandbox_logs",
            "sandbox_read_file",
            "sandbox_use",
            "sandbox_write_file"
        ]
    );
    assert!(!pw
        .iter()
        .any(|t| t["name"].as_str().unwrap_or("").starts_with("sandbox_")));
    // Groups hype was not started with are not listed.
    assert!(!hype
        .iter()
        .any(|t| t["name"] == "browser_pdf_save" || t["name"] == "browser_cdp"));

    // Every group, for one session that asks in its URL.
    let pw = playwright_mcp(Some(GROUPS))?;
    assert_eq!(
        pw.len(),
        71,
        "playwright-mcp {PLAYWRIGHT_MCP_VERSION} lists 71 tools with --caps {GROUPS}"
    );
    let session = hype_tools_at(&s, &format!("/mcp?caps={GROUPS}"))?;
    let problems = compare(&pw, &session);
    assert!(
        problems.is_empty(),
        "with /mcp?caps={GROUPS}:\n{}",
        problems.join("\n")
    );
    // Beside it, another session still has the core alone.
    assert_eq!(hype_tools(&s)?.len(), hype.len());
    drop(s);

    // And for every session, as each side spells the flag.
    let s = Server::start_with(&["--mcp-caps", GROUPS])?;
    let hype = hype_tools(&s)?;
    let problems = compare(&pw, &hype);
    assert!(
        problems.is_empty(),
        "with --caps {GROUPS}:\n{}",
        problems.join("\n")
    );
    assert!(
        !hype.iter().any(|t| t["name"] == "browser_cdp"),
        "cdp is its own opt-in group"
    );
    // Nothing beyond them but the sandbox tools and browser_screenshot
    // (the name of take_screenshot in earlier playwright-mcp versions).
    let names = |ts: &[Value]| -> std::collections::BTreeSet<String> {
        ts.iter()
            .filter_map(|t| t["name"].as_str())
            .filter(|n| !n.starts_with("sandbox_") && *n != "browser_screenshot")
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(names(&hype), names(&pw));
    drop(s);

    let s = Server::start_with(&["--mcp-caps", "cdp"])?;
    assert!(hype_tools(&s)?.iter().any(|t| t["name"] == "browser_cdp"));
    Ok(())
}

#[test]
fn the_comparison_catches_what_an_agent_would_trip_on() {
    // The check itself: a missing tool, a missing argument, a wrong type,
    // a narrower enum and an extra requirement are each reported.
    let pw = serde_json::json!([{"name": "browser_x", "inputSchema": {"type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "number"},
            "c": {"type": "string", "enum": ["p", "q"]}}, "required": ["a"]}},
        {"name": "browser_y", "inputSchema": {"type": "object", "properties": {}}}]);
    let hype = serde_json::json!([{"name": "browser_x", "inputSchema": {"type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"},
            "c": {"type": "string", "enum": ["p"]}, "d": {"type": "string"}},
        "required": ["a", "d"]}}]);
    let p = compare(pw.as_array().unwrap(), hype.as_array().unwrap());
    let all = p.join("\n");
    assert!(all.contains("browser_y: missing from hype"), "{all}");
    assert!(all.contains("browser_x.b: playwright-mcp's type"), "{all}");
    assert!(
        all.contains("hype does not accept the value \"q\""),
        "{all}"
    );
    assert!(all.contains("hype requires `d`"), "{all}");
    assert_eq!(p.len(), 4, "{all}");
    // And hype's real catalogue against itself has nothing to report.
    let own: Vec<Value> = hype_mcp::catalogue(&hype_mcp::Cap::ALL.into_iter().collect())
        .into_iter()
        .map(|t| serde_json::to_value(t).unwrap())
        .collect();
    assert!(compare(&own, &own).is_empty());
}
