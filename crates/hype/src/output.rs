//! How things look: aligned plain-text tables, human sizes and ages, JSON,
//! and writing to stdout with a flush after every write, since `hype` is
//! read through pipes (watchers especially).

use std::io::Write;

use hype_types::{Event, Image, VersionInfo, Vm};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// `-o table|json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Columns padded to their widest cell, separated by three spaces.
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Self {
            rows: vec![header.iter().map(|h| h.to_string()).collect()],
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..cols)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c > 0 {
                    line.push_str("   ");
                }
                line.push_str(cell);
                let pad = widths[c] - cell.chars().count();
                line.extend(std::iter::repeat_n(' ', pad));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Binary units with one decimal: `512 B`, `66.6 MiB`, `1.0 GiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1023.95 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// A duration in its largest whole unit, as `docker ps` shortens it:
/// `42s`, `3m`, `5h`, `12d`.
pub fn age(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..172_800 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// The age of an RFC 3339 timestamp at `now`; `-` when it does not parse.
pub fn age_since(at: &str, now: OffsetDateTime) -> String {
    match OffsetDateTime::parse(at, &Rfc3339) {
        Ok(t) => age((now - t).whole_seconds()),
        Err(_) => "-".into(),
    }
}

/// An RFC 3339 timestamp shortened to whole seconds in UTC.
pub fn short_time(at: &str) -> String {
    let Ok(t) = OffsetDateTime::parse(at, &Rfc3339) else {
        return at.to_owned();
    };
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn or_dash(v: Option<impl ToString>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

pub fn vm_table(vms: &[Vm], now: OffsetDateTime) -> String {
    let mut t = Table::new(&[
        "NAME", "STATE", "CPU", "MEM(MiB)", "IMAGE", "IP", "VMM", "PID", "AGE",
    ]);
    for vm in vms {
        t.row(vec![
            vm.name.clone(),
            vm.state.to_string(),
            vm.cpu_cores.to_string(),
            vm.memory_mb.to_string(),
            vm.image.clone(),
            or_dash(vm.ip.as_deref()),
            vm.vmm.kind.as_str().to_owned(),
            or_dash(vm.vmm.pid),
            age_since(&vm.created_at, now),
        ]);
    }
    t.render()
}

/// One VM, field by field, for `hype vms get`.
pub fn vm_detail(vm: &Vm, now: OffsetDateTime) -> String {
    let vmm = match &vm.vmm.version {
        Some(v) => format!("{} {v}", vm.vmm.kind.as_str()),
        None => vm.vmm.kind.as_str().to_owned(),
    };
    let fields = [
        ("Name", vm.name.clone()),
        ("ID", vm.id.clone()),
        ("State", vm.state.to_string()),
        ("CPUs", vm.cpu_cores.to_string()),
        ("Memory", format!("{} MiB", vm.memory_mb)),
        ("Image", vm.image.clone()),
        ("IP", or_dash(vm.ip.as_deref())),
        ("MAC", or_dash(vm.mac.as_deref())),
        ("VMM", vmm),
        ("PID", or_dash(vm.vmm.pid)),
        ("Accel", or_dash(vm.vmm.accel.as_deref())),
        ("CDP URL", or_dash(vm.cdp_url.as_deref())),
        ("Live view", or_dash(vm.live_url.as_deref())),
        ("Cmdline", vm.kernel_cmdline.clone()),
        (
            "Created",
            format!("{} ({} ago)", vm.created_at, age_since(&vm.created_at, now)),
        ),
        ("Updated", vm.updated_at.clone()),
    ];
    key_values(&fields)
}

pub fn image_table(images: &[Image], now: OffsetDateTime) -> String {
    let mut t = Table::new(&["NAME", "KIND", "SIZE", "KERNEL", "SOURCE", "CREATED"]);
    for i in images {
        t.row(vec![
            i.name.clone(),
            i.kind.clone(),
            human_size(i.size_bytes),
            or_dash(i.kernel_version.as_deref()),
            i.source.clone(),
            format!("{} ago", age_since(&i.created_at, now)),
        ]);
    }
    t.render()
}

/// One line of `hype vms watch`; widths are fixed because rows arrive one
/// by one.
fn event_row(cells: [&str; 6]) -> String {
    let [time, id, kind, vm, state, detail] = cells;
    let line = format!("{time:<20}   {id:<5}   {kind:<14}   {vm:<16}   {state:<8}   {detail}");
    format!("{}\n", line.trim_end())
}

/// The header of `hype vms watch`.
pub fn event_header() -> String {
    event_row(["TIME", "ID", "TYPE", "VM", "STATE", "DETAIL"])
}

/// One event as a line of `hype vms watch`.
pub fn event_line(e: &Event) -> String {
    event_row([
        &short_time(&e.at),
        &e.id.to_string(),
        e.event_type.as_str(),
        &e.vm,
        e.state.as_str(),
        e.detail.as_deref().unwrap_or(""),
    ])
}

/// `hype version`; without the server's answer, only the client's line.
pub fn version_text(client: &str, server: Option<&VersionInfo>) -> String {
    let mut fields = vec![("Client", client.to_owned())];
    if let Some(v) = server {
        let ch = match &v.cloud_hypervisor.default {
            _ if v.cloud_hypervisor.available.is_empty() => "not available".to_owned(),
            Some(d) => format!(
                "{d} (available: {})",
                v.cloud_hypervisor.available.join(", ")
            ),
            None => v.cloud_hypervisor.available.join(", "),
        };
        let kvm = if v.accel.kvm_usable {
            "usable"
        } else {
            "not usable"
        };
        fields.extend([
            ("Server", v.server.clone()),
            ("API", v.api.clone()),
            ("Default VMM", v.default_vmm.clone()),
            ("QEMU", or_dash(v.qemu.as_deref())),
            ("Cloud Hypervisor", ch),
            (
                "Accel",
                format!("{} (KVM {kvm}: {})", v.accel.mode, v.accel.reason),
            ),
        ]);
    }
    key_values_width(&fields, "Cloud Hypervisor:".len())
}

fn key_values(fields: &[(&str, String)]) -> String {
    let w = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    key_values_width(fields, w)
}

fn key_values_width(fields: &[(&str, String)], w: usize) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{:<w$} {v}\n", format!("{k}:")))
        .collect()
}

/// Writes `s` to stdout and flushes it.
pub fn print(s: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(s.as_bytes())?;
    out.flush()
}

/// Pretty JSON on stdout, ending in a newline.
pub fn print_json<T: Serialize>(v: &T) -> anyhow::Result<()> {
    let mut s = serde_json::to_string_pretty(v)?;
    s.push('\n');
    Ok(print(&s)?)
}

/// One compact JSON document per line, for streams.
pub fn print_json_line<T: Serialize>(v: &T) -> anyhow::Result<()> {
    let mut s = serde_json::to_string(v)?;
    s.push('\n');
    Ok(print(&s)?)
}

#[cfg(test)]
mod tests {
    use hype_types::{EventType, VmState, VmmInfo, VmmKind};
    use time::macros::datetime;

    use super::*;

    fn sample_vm() -> Vm {
        Vm {
            name: "demo".into(),
            id: "0190-abc".into(),
            state: VmState::Running,
            cpu_cores: 2,
            memory_mb: 1024,
            image: "base".into(),
            kernel_cmdline: "console=ttyS0".into(),
            ip: Some("192.168.127.2".into()),
            mac: Some("02:00:00:00:00:02".into()),
            network: hype_types::VmNetwork {
                egress: true,
                tap: Some("hype0123456789".into()),
            },
            vmm: VmmInfo {
                kind: VmmKind::Qemu,
                version: Some("8.2.2".into()),
                pid: Some(4242),
                accel: Some("tcg".into()),
            },
            cdp_url: None,
            live_url: None,
            ttl_seconds: None,
            idle_timeout_seconds: None,
            persist: false,
            record: false,
            created_at: "2026-11-22T01:00:00Z".into(),
            updated_at: "2026-11-22T01:00:03Z".into(),
        }
    }

    #[test]
    fn ages() {
        assert_eq!(age(0), "0s");
        assert_eq!(age(59), "59s");
        assert_eq!(age(60), "1m");
        assert_eq!(age(3599), "59m");
        assert_eq!(age(3600), "1h");
        assert_eq!(age(47 * 3600 + 59), "47h");
        assert_eq!(age(2 * 86_400), "2d");
        assert_eq!(age(-5), "0s", "clock skew is not a negative age");
        let now = datetime!(2026-11-22 01:03:10 UTC);
        assert_eq!(age_since("2026-11-22T01:00:00Z", now), "3m");
        assert_eq!(age_since("2026-11-22T01:03:09.5+00:00", now), "0s");
        assert_eq!(age_since("yesterday", now), "-");
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(69_835_571), "66.6 MiB");
        assert_eq!(human_size(1024 * 1024 * 1024), "1.0 GiB");
        assert_eq!(human_size(1024 * 1024 - 1), "1.0 MiB");
        assert_eq!(human_size(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn vm_table_renders_aligned_columns() {
        let mut stopped = sample_vm();
        stopped.name = "a-much-longer-name".into();
        stopped.state = VmState::Stopped;
        stopped.ip = None;
        stopped.vmm.pid = None;
        let now = datetime!(2026-11-22 01:03:00 UTC);
        let got = vm_table(&[sample_vm(), stopped], now);
        let want = "\
NAME                 STATE     CPU   MEM(MiB)   IMAGE   IP              VMM    PID    AGE
demo                 running   2     1024       base    192.168.127.2   qemu   4242   3m
a-much-longer-name   stopped   2     1024       base    -               qemu   -      3m
";
        assert_eq!(got, want);
    }

    #[test]
    fn vm_detail_names_every_field() {
        let got = vm_detail(&sample_vm(), datetime!(2026-11-22 01:00:42 UTC));
        // Values align after the longest label ("Live view:").
        assert!(got.contains("Name:      demo\n"), "{got}");
        assert!(got.contains("VMM:       qemu 8.2.2\n"), "{got}");
        assert!(got.contains("CDP URL:   -\n"), "{got}");
        assert!(got.contains("Live view: -\n"), "{got}");
        assert!(got.contains("(42s ago)"), "{got}");
    }

    #[test]
    fn image_table_uses_human_sizes() {
        let img = Image {
            name: "base".into(),
            kind: "kernel".into(),
            source: "build".into(),
            size_bytes: 69_835_571,
            kernel_version: Some("6.12.1".into()),
            sha256: None,
            boot_mode: "kernel".into(),
            format: None,
            firmware: None,
            disks: vec![],
            nic_model: None,
            created_at: "2026-11-20T01:00:00Z".into(),
        };
        let got = image_table(&[img], datetime!(2026-11-22 01:00:00 UTC));
        assert_eq!(
            got,
            "NAME   KIND     SIZE       KERNEL   SOURCE   CREATED\n\
             base   kernel   66.6 MiB   6.12.1   build    2d ago\n"
        );
    }

    #[test]
    fn event_lines_line_up_with_the_header() {
        let e = Event {
            id: 17,
            event_type: EventType::VmRunning,
            vm: "demo".into(),
            state: VmState::Running,
            at: "2026-11-22T01:00:03.123456Z".into(),
            detail: Some("guest ready".into()),
        };
        let line = event_line(&e);
        assert_eq!(
            line,
            "2026-11-22T01:00:03Z   17      VM_RUNNING       demo               running    guest ready\n"
        );
        let header = event_header();
        assert_eq!(header.find("DETAIL"), line.find("guest ready"));
        assert_eq!(header.find("STATE"), line.find("running "));
    }
}
