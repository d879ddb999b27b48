//! `hype jobs submit|list|get|cancel` and `hype images import vsphere|xcpng`:
//! jobs are submitted as they are written (JSON or YAML); an import follows
//! the job's events with a progress bar until it ends, unless `--detach`.

use std::io::Read;
use std::time::Duration;

use anyhow::{Context, Result};
use hype_client::Client;
use hype_types::{Job, JobKind, JobList, JobResult, JobState};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::cli::{ImportCommand, JobsCommand};
use crate::output::{self, Format, Table};
use crate::system::Exit;

/// Exit status of an import that failed or was cancelled.
const JOB_FAILED: u8 = 4;

pub async fn run(client: &Client, out: Format, cmd: JobsCommand) -> Result<()> {
    match cmd {
        JobsCommand::Submit { file } => {
            let (body, ct) = read_job_file(&file)?;
            let jobs = client.submit_jobs(body, ct).await?;
            show(out, &jobs)
        }
        JobsCommand::List => show(out, &client.list_jobs().await?),
        JobsCommand::Get { id } => {
            let job = client.get_job(&id).await?;
            match out {
                Format::Table => {
                    let mut text = job_table(std::slice::from_ref(&job), OffsetDateTime::now_utc());
                    if let Some(r) = &job.result {
                        text.push_str(&result_table(r));
                    }
                    Ok(output::print(&text)?)
                }
                Format::Json => output::print_json(&job),
            }
        }
        JobsCommand::Cancel { id } => {
            let job = client.cancel_job(&id).await?;
            match out {
                Format::Table => Ok(output::print(&format!("{} {}\n", job.id, job.state))?),
                Format::Json => output::print_json(&job),
            }
        }
        JobsCommand::Resume { id } => {
            let kind = client.get_job(&id).await?.kind;
            let env = kind.password_env();
            anyhow::ensure!(
                !env.is_empty(),
                "a {} job needs no password and never waits for one",
                kind.as_str()
            );
            let password = std::env::var(env)
                .ok()
                .filter(|p| !p.is_empty())
                .with_context(|| format!("set {env} to the job's password (never a flag)"))?;
            let job = client.resume_job(&id, &password).await?;
            match out {
                Format::Table => Ok(output::print(&format!(
                    "{} {} ({})\n",
                    job.id, job.state, job.progress.phase
                ))?),
                Format::Json => output::print_json(&job),
            }
        }
    }
}

fn show(out: Format, jobs: &[Job]) -> Result<()> {
    match out {
        Format::Table => Ok(output::print(&job_table(jobs, OffsetDateTime::now_utc()))?),
        Format::Json => output::print_json(&JobList {
            jobs: jobs.to_vec(),
            next: None,
        }),
    }
}

/// The file's bytes and content type: by extension, else by its first byte.
fn read_job_file(path: &str) -> Result<(Vec<u8>, &'static str)> {
    let mut body = vec![];
    if path == "-" {
        std::io::stdin().read_to_end(&mut body)?;
    } else {
        body = std::fs::read(path).with_context(|| format!("cannot read {path}"))?;
    }
    let lower = path.to_ascii_lowercase();
    let ct = if lower.ends_with(".json") {
        "application/json"
    } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        "application/yaml"
    } else if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        "application/json"
    } else {
        "application/yaml"
    };
    Ok((body, ct))
}

pub fn job_table(jobs: &[Job], now: OffsetDateTime) -> String {
    let mut t = Table::new(&[
        "ID", "KIND", "STATE", "IMAGE", "PHASE", "PROGRESS", "AGE", "ERROR",
    ]);
    for j in jobs {
        let progress = match (j.progress.percent, j.progress.bytes_done) {
            (Some(p), _) => format!("{p:.0}%"),
            (None, Some(b)) if b > 0 => output::human_size(b),
            _ => "-".into(),
        };
        t.row(vec![
            j.id.clone(),
            j.kind.as_str().into(),
            j.state.as_str().into(),
            j.image.clone(),
            j.progress.phase.clone(),
            progress,
            output::age_since(&j.created_at, now),
            j.error.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    t.render()
}

/// What an export-only job kept: the folder, then a row per file.
pub fn result_table(r: &JobResult) -> String {
    let mut t = Table::new(&["FILE", "SIZE", "BYTES", "SHA256"]);
    for f in &r.files {
        t.row(vec![
            f.name.clone(),
            output::human_size(f.size_bytes),
            f.size_bytes.to_string(),
            f.sha256.clone(),
        ]);
    }
    format!("\nkept in {}:\n{}", r.output, t.render())
}

/// The job body `hype images import` sends. The password comes from this
/// shell's environment (never a flag); without it hyped uses its own.
pub fn import_body(cmd: &ImportCommand) -> Value {
    let (mut body, env) = match cmd {
        ImportCommand::Vsphere(a) => (
            json!({"kind": "vsphere_export", "url": a.common.url, "username": a.common.username,
                "vm": a.common.vm.clone().unwrap_or_default(), "insecure": a.common.insecure, "shutdown": a.shutdown,
                "remove_cdrom": a.remove_cdrom, "boot": a.common.boot}),
            JobKind::VsphereExport.password_env(),
        ),
        ImportCommand::Xcpng(a) => (
            json!({"kind": "xcpng_export", "url": a.common.url, "username": a.common.username,
                "vm": a.common.vm.clone().unwrap_or_default(), "insecure": a.common.insecure, "transport": a.transport,
                "boot": a.common.boot}),
            JobKind::XcpngExport.password_env(),
        ),
    };
    let common = match cmd {
        ImportCommand::Vsphere(a) => &a.common,
        ImportCommand::Xcpng(a) => &a.common,
    };
    let m = body.as_object_mut().expect("an object");
    if let Some(n) = &common.name {
        m.insert("name".into(), json!(n));
    }
    if let Some(f) = &common.firmware {
        m.insert("firmware".into(), json!(f));
    }
    if let Some(b) = common.disk_bus {
        m.insert("disk_bus".into(), json!(hype_types::StorageBus::from(b)));
    }
    if let Some(n) = common.nic_model {
        m.insert("nic_model".into(), json!(hype_types::NicModel::from(n)));
    }
    if let ImportCommand::Vsphere(a) = cmd {
        if let Some(p) = a.parallel_downloads {
            m.insert("parallel_downloads".into(), json!(p));
        }
    }
    let export_only = match cmd {
        ImportCommand::Vsphere(a) => &a.export_only,
        ImportCommand::Xcpng(a) => &a.export_only,
    };
    if let Some(dir) = export_only {
        m.insert("export_only".into(), json!(true));
        m.insert("output".into(), json!(dir));
    }
    if let Ok(p) = std::env::var(env) {
        if !p.is_empty() {
            m.insert("password".into(), json!(p));
        }
    }
    body
}

pub async fn import(client: &Client, out: Format, cmd: ImportCommand) -> Result<()> {
    let common = match &cmd {
        ImportCommand::Vsphere(a) => &a.common,
        ImportCommand::Xcpng(a) => &a.common,
    };
    if common.list {
        return crate::sources::list(client, out, &cmd).await;
    }
    let detach = common.detach;
    let bodies = if common.pick {
        match crate::sources::pick(client, &cmd).await? {
            Some(b) => b,
            None => {
                eprintln!("cancelled: no job submitted");
                return Ok(());
            }
        }
    } else {
        vec![import_body(&cmd)]
    };
    // Several jobs go as one batch: all stored or none.
    let body = match bodies.as_slice() {
        [one] => serde_json::to_vec(one)?,
        _ => serde_json::to_vec(&json!({ "jobs": bodies }))?,
    };
    let jobs = client.submit_jobs(body, "application/json").await?;
    anyhow::ensure!(!jobs.is_empty(), "hyped accepted no job");
    if detach {
        return match out {
            Format::Table => Ok(output::print(
                &jobs
                    .iter()
                    .map(|j| format!("{}\n", j.id))
                    .collect::<String>(),
            )?),
            Format::Json if jobs.len() == 1 => output::print_json(&jobs[0]),
            Format::Json => output::print_json(&JobList { jobs, next: None }),
        };
    }
    // Followed one after the other: each stream starts from the job's
    // first event, so nothing of a job that ran meanwhile is missed.
    let mut ended = Vec::with_capacity(jobs.len());
    for job in &jobs {
        let last = follow(client, job).await?;
        let made = match &last.source.output {
            Some(dir) if last.source.export_only => format!("exported to {dir}"),
            _ => format!("image {}", last.image),
        };
        if out == Format::Table {
            output::print(&format!("job {} {}: {made}\n", last.id, last.state))?;
            if let Some(r) = &last.result {
                output::print(&result_table(r))?;
            }
        }
        ended.push(last);
    }
    let failed: Vec<String> = ended
        .iter()
        .filter(|j| j.state != JobState::Completed)
        .map(|j| {
            let why = j.error.as_deref().unwrap_or("no reason given");
            match ended.len() {
                1 => format!("import {}: {why}", j.state),
                _ => format!("import of {} {}: {why}", j.image, j.state),
            }
        })
        .collect();
    if out == Format::Json {
        if ended.len() == 1 {
            output::print_json(&ended[0])?;
        } else {
            output::print_json(&JobList {
                jobs: ended,
                next: None,
            })?;
        }
    }
    if !failed.is_empty() {
        return Err(Exit {
            code: JOB_FAILED,
            message: failed.join("; "),
        }
        .into());
    }
    Ok(())
}

/// Follows the job's events (reconnecting from the last id) with a progress
/// bar on stderr until the job ends.
async fn follow(client: &Client, job: &Job) -> Result<Job> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} {spinner} {msg:<12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(job.image.clone());
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut last_id = 0i64;
    loop {
        let mut events = match client.job_events(Some(&job.id), Some(last_id)).await {
            Ok(e) => e,
            Err(e) => {
                bar.suspend(|| eprintln!("reconnecting: {e}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        while let Some(frame) = events.next().await {
            let Ok(frame) = frame else { break };
            let Ok(ev) = serde_json::from_str::<hype_types::JobEvent>(&frame.data) else {
                continue;
            };
            last_id = ev.id;
            let current = ev.job;
            let p = &current.progress;
            bar.set_message(p.phase.clone());
            if let Some(t) = p.bytes_total {
                bar.set_length(t);
            }
            if let Some(d) = p.bytes_done {
                bar.set_position(d);
            }
            if current.state.is_final() {
                bar.finish_and_clear();
                return Ok(current);
            }
        }
        // The stream ended (hyped restarted?): the job itself says where it is.
        if let Ok(j) = client.get_job(&job.id).await {
            if j.state.is_final() {
                bar.finish_and_clear();
                return Ok(j);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command, ImagesCommand};

    fn body_of(args: &[&str]) -> Value {
        let cli = Cli::try_parse_from(args).unwrap();
        let Command::Images(ImagesCommand::Import(cmd)) = cli.command else {
            panic!("not an import");
        };
        import_body(&cmd)
    }

    #[test]
    fn the_firmware_is_sent_only_when_given() {
        let base = [
            "hype",
            "images",
            "import",
            "xcpng",
            "--url",
            "https://x",
            "--username",
            "root",
            "--vm",
            "web",
        ];
        assert!(body_of(&base).get("firmware").is_none());
        let forced: Vec<&str> = base.iter().copied().chain(["--firmware", "uefi"]).collect();
        assert_eq!(body_of(&forced)["firmware"], "uefi");
        let bad: Vec<&str> = base.iter().copied().chain(["--firmware", "efi"]).collect();
        assert!(Cli::try_parse_from(bad).is_err());
        // The same for the disk bus and the NIC model.
        assert!(body_of(&base).get("disk_bus").is_none());
        assert!(body_of(&base).get("nic_model").is_none());
        let legacy: Vec<&str> = base
            .iter()
            .copied()
            .chain(["--disk-bus", "sata", "--nic-model", "e1000"])
            .collect();
        let body = body_of(&legacy);
        assert_eq!(
            (body["disk_bus"].as_str(), body["nic_model"].as_str()),
            (Some("sata"), Some("e1000"))
        );
        let bad: Vec<&str> = base.iter().copied().chain(["--disk-bus", "nvme"]).collect();
        assert!(Cli::try_parse_from(bad).is_err());
    }

    #[test]
    fn pick_needs_no_vm_and_refuses_what_names_one() {
        let base = [
            "hype",
            "images",
            "import",
            "xcpng",
            "--url",
            "https://x",
            "--username",
            "root",
        ];
        let with =
            |extra: &[&str]| Cli::try_parse_from(base.iter().copied().chain(extra.iter().copied()));
        assert!(with(&[]).is_err(), "--vm, --list or --pick is needed");
        assert!(with(&["--pick", "--insecure", "--detach"]).is_ok());
        for extra in [["--vm", "a"], ["--name", "a"]] {
            let e = with(&[&["--pick"], &extra[..]].concat()).unwrap_err();
            assert!(e.to_string().contains(extra[0]), "{e}");
        }
        assert!(with(&["--pick", "--list"]).is_err());
        let v = [
            "hype",
            "images",
            "import",
            "vsphere",
            "--url",
            "https://v",
            "--username",
            "a",
            "--pick",
            "--export-only",
            "/srv/x",
        ];
        assert!(Cli::try_parse_from(v).is_err());
    }

    #[test]
    fn export_only_sends_the_folder() {
        let base = [
            "hype",
            "images",
            "import",
            "vsphere",
            "--url",
            "https://vc/sdk",
            "--username",
            "a",
            "--vm",
            "/dc/vm/x",
        ];
        assert!(body_of(&base).get("export_only").is_none());
        let args: Vec<&str> = base
            .iter()
            .copied()
            .chain(["--export-only", "/srv/x"])
            .collect();
        let b = body_of(&args);
        assert_eq!(
            (b["export_only"].as_bool(), b["output"].as_str()),
            (Some(true), Some("/srv/x"))
        );
        let xcp = body_of(&[
            "hype",
            "images",
            "import",
            "xcpng",
            "--url",
            "https://xcp",
            "--username",
            "root",
            "--vm",
            "Web 01",
            "--transport",
            "xva",
            "--export-only",
            "/srv/y",
        ]);
        assert_eq!(
            (
                xcp["export_only"].as_bool(),
                xcp["output"].as_str(),
                xcp["transport"].as_str()
            ),
            (Some(true), Some("/srv/y"), Some("xva"))
        );
    }

    #[test]
    fn a_result_lists_each_file_with_its_size_and_digest() {
        let text = result_table(&JobResult {
            output: "/srv/e/web01".into(),
            files: vec![hype_types::JobFile {
                name: "disk0.raw".into(),
                size_bytes: 25_165_824,
                sha256: "ab".repeat(32),
            }],
        });
        assert!(text.contains("kept in /srv/e/web01:"), "{text}");
        let row = text.lines().find(|l| l.starts_with("disk0.raw")).unwrap();
        assert!(
            row.contains("25165824") && row.contains(&"ab".repeat(32)),
            "{row}"
        );
    }

    #[test]
    fn job_files_are_typed_by_extension_or_content() {
        let dir = tempfile::tempdir().unwrap();
        let y = dir.path().join("job");
        std::fs::write(&y, "kind: xcpng_export\n").unwrap();
        assert_eq!(
            read_job_file(y.to_str().unwrap()).unwrap().1,
            "application/yaml"
        );
        let j = dir.path().join("job.txt");
        std::fs::write(&j, "  {\"kind\":\"xcpng_export\"}").unwrap();
        assert_eq!(
            read_job_file(j.to_str().unwrap()).unwrap().1,
            "application/json"
        );
    }
}
