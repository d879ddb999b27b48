//! Which VMs the table shows and in what order: the filter (fuzzy on the
//! name, exact on the state), the sort column, and the derived cells
//! (uptime, address, VMM) both the sort and the renderer use.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use hype_types::{Vm, VmState, VmmKind};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Name,
    State,
    Address,
    Vmm,
    Uptime,
    Cpu,
    Memory,
}

impl Column {
    pub const ALL: [Column; 7] = [
        Column::Name,
        Column::State,
        Column::Address,
        Column::Vmm,
        Column::Uptime,
        Column::Cpu,
        Column::Memory,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Column::Name => "NAME",
            Column::State => "STATE",
            Column::Address => "ADDRESS",
            Column::Vmm => "VMM",
            Column::Uptime => "UPTIME",
            Column::Cpu => "CPU",
            Column::Memory => "MEM",
        }
    }

    pub fn next(self) -> Column {
        let i = Self::ALL.iter().position(|c| *c == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub column: Column,
    pub reverse: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Self {
            column: Column::Name,
            reverse: false,
        }
    }
}

/// Whether `needle`'s characters appear in `hay` in order (case-insensitive).
pub fn fuzzy(needle: &str, hay: &str) -> bool {
    let mut hay = hay.chars().flat_map(char::to_lowercase);
    needle
        .chars()
        .flat_map(char::to_lowercase)
        .all(|n| hay.any(|h| h == n))
}

/// Every whitespace-separated term must match: `state:running` (or
/// `state:run`, a prefix) matches the state only; a plain term matches a
/// name holding its letters in order, or a state of exactly that name.
pub fn matches(filter: &str, vm: &Vm) -> bool {
    filter.split_whitespace().all(|term| {
        let state = vm.state.as_str();
        match term.strip_prefix("state:") {
            Some(s) => state.starts_with(&s.to_lowercase()),
            None => state == term.to_lowercase() || fuzzy(term, &vm.name),
        }
    })
}

/// When the VM last booted: the dashboard's record of its `VM_STARTING` or
/// `VM_RESTORED`, else (for a VM it saw boot before it started) the time
/// its state last changed. `None` when it is not up.
pub fn uptime(
    vm: &Vm,
    boots: &HashMap<String, OffsetDateTime>,
    now: OffsetDateTime,
) -> Option<i64> {
    if !matches!(
        vm.state,
        VmState::Starting | VmState::Running | VmState::Paused
    ) {
        return None;
    }
    let since = boots
        .get(&vm.name)
        .copied()
        .or_else(|| OffsetDateTime::parse(&vm.updated_at, &Rfc3339).ok())?;
    Some((now - since).whole_seconds().max(0))
}

/// `42s`, `3m`, `5h`, `2d`.
pub fn human_age(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// `qemu 8.2.2`, `ch v53.0` (cloud-hypervisor, shortened to fit), or the
/// kind alone when the version is unknown.
pub fn vmm_label(vm: &Vm) -> String {
    let kind = match vm.vmm.kind {
        VmmKind::Qemu => "qemu",
        VmmKind::CloudHypervisor => "ch",
    };
    match &vm.vmm.version {
        Some(v) => format!("{kind} {v}"),
        None => kind.to_owned(),
    }
}

fn address_key(vm: &Vm) -> (bool, u32) {
    match vm.ip.as_deref().and_then(|i| i.parse::<Ipv4Addr>().ok()) {
        Some(ip) => (false, u32::from(ip)),
        None => (true, 0),
    }
}

/// The VMs matching `filter`, sorted; ties keep name order.
pub fn visible<'a>(
    vms: &'a [Vm],
    filter: &str,
    sort: Sort,
    boots: &HashMap<String, OffsetDateTime>,
    now: OffsetDateTime,
) -> Vec<&'a Vm> {
    let mut out: Vec<&Vm> = vms.iter().filter(|v| matches(filter, v)).collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.sort_by(|a, b| {
        let o = match sort.column {
            Column::Name => a.name.cmp(&b.name),
            Column::State => a.state.as_str().cmp(b.state.as_str()),
            Column::Address => address_key(a).cmp(&address_key(b)),
            Column::Vmm => vmm_label(a).cmp(&vmm_label(b)),
            Column::Uptime => uptime(a, boots, now)
                .unwrap_or(-1)
                .cmp(&uptime(b, boots, now).unwrap_or(-1)),
            Column::Cpu => a.cpu_cores.cmp(&b.cpu_cores),
            Column::Memory => a.memory_mb.cmp(&b.memory_mb),
        };
        if sort.reverse {
            o.reverse()
        } else {
            o
        }
    });
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn vm(name: &str, state: &str, ip: Option<&str>, mem: u32) -> Vm {
        serde_json::from_value(serde_json::json!({
            "name": name, "id": format!("id-{name}"), "state": state,
            "cpu_cores": 1, "memory_mb": mem, "image": "base", "kernel_cmdline": "",
            "ip": ip, "mac": null, "network": {"egress": true, "tap": null},
            "vmm": {"kind": "qemu", "version": "7.2.19", "pid": 42, "accel": "tcg"},
            "cdp_url": null, "ttl_seconds": null, "idle_timeout_seconds": null,
            "persist": false,
            "record": false,
            "created_at": "2026-11-22T01:00:00Z", "updated_at": "2026-11-22T01:00:05Z"
        }))
        .expect("a VM as the API shows it")
    }

    fn names(v: &[&Vm]) -> Vec<String> {
        v.iter().map(|v| v.name.clone()).collect()
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse("2026-11-22T01:10:05Z", &Rfc3339).unwrap()
    }

    #[test]
    fn fuzzy_is_an_ordered_subsequence() {
        assert!(fuzzy("wb1", "web-01"));
        assert!(fuzzy("WEB", "web-01"));
        assert!(fuzzy("", "anything"));
        assert!(!fuzzy("1bw", "web-01"));
        assert!(!fuzzy("webb", "web-01"));
    }

    #[test]
    fn filter_terms_for_names_and_states() {
        let vms = [
            vm("web-01", "running", None, 512),
            vm("web-02", "paused", None, 512),
            vm("db", "running", None, 512),
        ];
        let all = HashMap::new();
        let f = |q: &str| names(&visible(&vms, q, Sort::default(), &all, now()));
        assert_eq!(f("wb"), ["web-01", "web-02"]);
        assert_eq!(f("state:run"), ["db", "web-01"]);
        assert_eq!(f("running"), ["db", "web-01"]);
        assert_eq!(f("web state:paused"), ["web-02"]);
        assert_eq!(f("nothing"), Vec::<String>::new());
        assert_eq!(f(""), ["db", "web-01", "web-02"]);
    }

    #[test]
    fn sorts_by_each_column_and_reverses() {
        let vms = [
            vm("a", "running", Some("192.168.127.10"), 256),
            vm("b", "stopped", Some("192.168.127.9"), 1024),
            vm("c", "paused", None, 512),
        ];
        let all = HashMap::new();
        let f = |column, reverse| names(&visible(&vms, "", Sort { column, reverse }, &all, now()));
        assert_eq!(
            f(Column::Address, false),
            ["b", "a", "c"],
            "numeric, missing last"
        );
        assert_eq!(f(Column::Memory, false), ["a", "c", "b"]);
        assert_eq!(f(Column::Memory, true), ["b", "c", "a"]);
        assert_eq!(f(Column::State, false), ["c", "a", "b"]);
        assert_eq!(Column::Memory.next(), Column::Name);
    }

    #[test]
    fn uptime_from_the_seen_boot_else_the_state_change() {
        let mut boots = HashMap::new();
        let running = vm("a", "running", None, 256);
        assert_eq!(uptime(&running, &boots, now()), Some(600));
        boots.insert("a".into(), now() - time::Duration::seconds(7200));
        assert_eq!(uptime(&running, &boots, now()), Some(7200));
        assert_eq!(uptime(&vm("a", "stopped", None, 256), &boots, now()), None);
        assert_eq!(
            [
                human_age(5),
                human_age(600),
                human_age(7200),
                human_age(200000)
            ],
            ["5s", "10m", "2h", "2d"]
        );
        assert_eq!(vmm_label(&running), "qemu 7.2.19");
    }
}
