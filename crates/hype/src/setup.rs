//! `hype setup [--dry-run] [--undo]`: prepares this host for hyped (or
//! undoes that) through `hype_setup`, in this process's network
//! namespace. The preflight findings come first, then each step as it is
//! done (`done: ...`) or, on a dry run, as it would be (`would: ...`, with
//! the unit's text and the nftables ruleset under their steps).

use anyhow::{Context, Result};
use hype_net::preflight::{self, Finding};
use hype_setup::{self as setup, SetupConfig, Step};
use serde_json::{json, Value};

use crate::cli::SetupArgs;
use crate::output::{self, Format};

pub async fn run(out: Format, args: SetupArgs) -> Result<()> {
    let mut cfg = SetupConfig::new(args.bridge, args.subnet);
    if let Some(hyped) = args.hyped_binary {
        cfg.paths.hyped_binary = hyped;
    }
    // Undo has nothing to check the host for.
    let findings = if args.undo {
        vec![]
    } else {
        preflight::run(&cfg.bridge, cfg.subnet)
    };
    if out == Format::Table && !findings.is_empty() {
        output::print(&findings_text(&findings))?;
    }
    let steps = if args.undo {
        setup::undo_plan(&cfg).await
    } else {
        setup::plan(&cfg).await
    }
    .context("cannot inspect the host")?;

    let mut report = Report {
        out,
        dry_run: args.dry_run,
        undo: args.undo,
        findings,
        steps: vec![],
    };
    if steps.is_empty() && out == Format::Table {
        output::print("nothing to do\n")?;
    }
    for step in &steps {
        if args.dry_run {
            report.step(step, false)?;
            continue;
        }
        if let Err(e) = setup::apply_step(&cfg, step).await {
            report.finish(Some(&e))?;
            return Err(e).context("setup stopped; the steps before this one are done");
        }
        report.step(step, true)?;
    }
    report.finish(None)?;
    if out == Format::Table && !args.dry_run {
        output::print(&hints(&steps, args.undo))?;
    }
    Ok(())
}

/// What is printed, as it happens for a table and at the end for JSON.
struct Report {
    out: Format,
    dry_run: bool,
    undo: bool,
    findings: Vec<Finding>,
    steps: Vec<Value>,
}

impl Report {
    fn step(&mut self, step: &Step, done: bool) -> Result<()> {
        match self.out {
            Format::Table => output::print(&step_text(step, done))?,
            Format::Json => self.steps.push(json!({
                "step": step.to_string(),
                "detail": step.detail(),
                "done": done,
            })),
        }
        Ok(())
    }

    fn finish(&self, error: Option<&setup::SetupError>) -> Result<()> {
        if self.out != Format::Json {
            return Ok(());
        }
        let findings: Vec<Value> = self
            .findings
            .iter()
            .map(|f| json!({"check": f.check, "ok": f.ok, "detail": f.detail, "fix": f.fix}))
            .collect();
        let mut doc = json!({
            "dry_run": self.dry_run,
            "undo": self.undo,
            "preflight": findings,
            "steps": self.steps,
        });
        if let Some(e) = error {
            doc["error"] = json!(chain(e));
        }
        output::print_json(&doc)
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        s.push_str(": ");
        s.push_str(&c.to_string());
        source = c.source();
    }
    s
}

/// Every check, a failed one with its fix under it.
fn findings_text(findings: &[Finding]) -> String {
    let mut s = String::from("preflight:\n");
    for f in findings {
        let mark = if f.ok { "ok  " } else { "FAIL" };
        s.push_str(&format!("  {mark}  {}: {}\n", f.check, f.detail));
        if let Some(fix) = &f.fix {
            s.push_str(&format!("        fix: {fix}\n"));
        }
    }
    s
}

/// `done: ...`, or `would: ...` with the step's detail indented under it.
fn step_text(step: &Step, done: bool) -> String {
    if done {
        return format!("done: {step}\n");
    }
    let mut s = format!("would: {step}\n");
    if let Some(detail) = step.detail() {
        for line in detail.lines() {
            if !line.is_empty() {
                s.push_str("    ");
                s.push_str(line);
            }
            s.push('\n');
        }
    }
    s
}

/// What is left for the user once the steps are done.
fn hints(steps: &[Step], undo: bool) -> String {
    let unit = |s: &&Step| {
        matches!(
            s,
            Step::WriteFile {
                kind: setup::FileKind::Unit,
                ..
            }
        ) || (undo
            && matches!(s, Step::RemoveFile { path } if path.extension().is_some_and(|e| e == "service")))
    };
    match (steps.iter().any(|s| unit(&s)), undo) {
        (true, false) => "next: systemctl daemon-reload && systemctl enable --now hyped\n".into(),
        (true, true) => "next: systemctl daemon-reload\n".into(),
        (false, _) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_checks_carry_their_fix() {
        let text = findings_text(&[
            Finding {
                check: "tun",
                ok: true,
                detail: "/dev/net/tun opens".into(),
                fix: None,
            },
            Finding {
                check: "forwarding",
                ok: false,
                detail: "net.ipv4.ip_forward is 0".into(),
                fix: Some("sysctl -w net.ipv4.ip_forward=1".into()),
            },
        ]);
        assert_eq!(
            text,
            "preflight:\n  ok    tun: /dev/net/tun opens\n  FAIL  forwarding: net.ipv4.ip_forward is 0\n        fix: sysctl -w net.ipv4.ip_forward=1\n"
        );
    }

    #[test]
    fn dry_run_steps_show_their_detail() {
        let step = Step::WriteFile {
            path: "/etc/systemd/system/hyped.service".into(),
            contents: "[Unit]\nAfter=x\n\n[Install]\n".into(),
            kind: setup::FileKind::Unit,
        };
        assert_eq!(
            step_text(&step, false),
            "would: write /etc/systemd/system/hyped.service\n    [Unit]\n    After=x\n\n    [Install]\n"
        );
        assert_eq!(
            step_text(&step, true),
            "done: write /etc/systemd/system/hyped.service\n"
        );
        assert!(hints(&[step], false).contains("enable --now hyped"));
        assert_eq!(hints(&[], false), "");
    }
}
