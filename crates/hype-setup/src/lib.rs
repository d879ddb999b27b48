//! `hype setup`: prepares a host for hyped, idempotently and reversibly.
//! This crate owns what outlives a hyped process (the sysctl.d file, the
//! systemd unit, the state file undo reads); what hyped does to the network
//! while it runs is `hype-net`'s, which this crate calls and must not
//! duplicate.
//!
//! [`plan`] compares the host with what hyped needs and returns only the
//! [`Step`]s still missing: the bridge with the gateway address, IPv4
//! forwarding (now and, through a sysctl.d file, after a reboot), hype's
//! nftables table and a systemd unit for hyped. [`apply`] performs steps;
//! [`undo_plan`] lists what undoes them, and [`apply`] performs those too.
//!
//! What undo needs to know and the host cannot tell, setup records in a
//! small JSON state file: ip_forward's value before setup changed it, and
//! fingerprints of the nftables table it installed.
//!
//! The firewall table is hyped's to rewrite while it runs (it fills the
//! egress-deny set from its leases), so setup compares the table's shape
//! without the set's elements, and when it does reinstall the table it keeps
//! the guests that are denied egress. Everything here (netlink, nft, and
//! `/proc/sys/net`) acts in the calling thread's network namespace: no work
//! moves to another thread.

use std::fmt;
use std::io::{ErrorKind, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use serde_json::{Map, Value};

use hype_net::{FirewallPlan, Net, NetError, TABLE};

mod table;

use table::{denied_guests, firewall_record, list_table};

/// The runtime switch for IPv4 forwarding, per network namespace.
const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";
/// The line the sysctl.d file holds.
const SYSCTL_LINE: &str = "net.ipv4.ip_forward = 1";

/// Where setup writes its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupPaths {
    /// Keeps forwarding on across reboots.
    pub sysctl_conf: PathBuf,
    /// The systemd unit for hyped.
    pub unit: PathBuf,
    /// What setup changed and undo restores.
    pub state: PathBuf,
    /// The hyped the unit starts.
    pub hyped_binary: PathBuf,
}

impl Default for SetupPaths {
    fn default() -> Self {
        Self {
            sysctl_conf: "/etc/sysctl.d/90-hype.conf".into(),
            unit: "/etc/systemd/system/hyped.service".into(),
            state: "/var/lib/hype/setup-state.json".into(),
            hyped_binary: "/usr/local/bin/hyped".into(),
        }
    }
}

/// What to set up: hyped's bridge and subnet, and where the files go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupConfig {
    pub bridge: String,
    pub subnet: Ipv4Net,
    pub paths: SetupPaths,
}

impl SetupConfig {
    /// `bridge` and `subnet` with the default paths.
    pub fn new(bridge: impl Into<String>, subnet: Ipv4Net) -> Self {
        Self {
            bridge: bridge.into(),
            subnet: subnet.trunc(),
            paths: SetupPaths::default(),
        }
    }

    fn firewall(&self, egress_deny: Vec<Ipv4Addr>) -> FirewallPlan {
        FirewallPlan {
            bridge: self.bridge.clone(),
            subnet: self.subnet,
            egress_deny,
            pins: vec![],
        }
    }
}

/// Which file a [`Step::WriteFile`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// The sysctl.d file that keeps forwarding on.
    Sysctl,
    /// The systemd unit for hyped.
    Unit,
}

/// One change to the host. Its `Display` says what it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Create the bridge (or complete one that exists), give it the
    /// gateway address and bring it up.
    CreateBridge {
        bridge: String,
        /// The gateway with the subnet's prefix, e.g. 192.168.127.1/24.
        address: Ipv4Net,
        exists: bool,
    },
    /// Turn ip_forward on, recording its value first.
    EnableForwarding {
        now: String,
    },
    WriteFile {
        path: PathBuf,
        contents: String,
        kind: FileKind,
    },
    /// Replace table inet hype; `plan.egress_deny` holds the guests the
    /// current table denies egress.
    InstallFirewall {
        plan: FirewallPlan,
    },
    DeleteBridge {
        bridge: String,
    },
    RemoveFirewall,
    RemoveFile {
        path: PathBuf,
    },
    /// Put ip_forward back to the value setup recorded.
    RestoreForwarding {
        to: String,
        now: String,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::CreateBridge {
                bridge,
                address,
                exists,
            } => {
                let verb = if *exists { "configure" } else { "create" };
                write!(f, "{verb} bridge {bridge} with {address}")
            }
            Step::EnableForwarding { now } => {
                write!(f, "set net.ipv4.ip_forward=1 (now {now})")
            }
            Step::WriteFile {
                path,
                kind: FileKind::Sysctl,
                ..
            } => write!(f, "write {} ({SYSCTL_LINE})", path.display()),
            Step::WriteFile { path, .. } => write!(f, "write {}", path.display()),
            Step::InstallFirewall { plan } => {
                write!(
                    f,
                    "install nftables table inet {TABLE} (forward, masquerade, egress policy)"
                )?;
                match plan.egress_deny.len() {
                    0 => Ok(()),
                    1 => write!(f, ", keeping 1 guest denied egress"),
                    n => write!(f, ", keeping {n} guests denied egress"),
                }
            }
            Step::DeleteBridge { bridge } => write!(f, "delete bridge {bridge}"),
            Step::RemoveFirewall => write!(f, "remove nftables table inet {TABLE}"),
            Step::RemoveFile { path } => write!(f, "remove {}", path.display()),
            Step::RestoreForwarding { to, now } => {
                write!(f, "restore net.ipv4.ip_forward={to} (now {now})")
            }
        }
    }
}

impl Step {
    /// What a dry run shows under the step: the unit's text, the ruleset.
    pub fn detail(&self) -> Option<String> {
        match self {
            Step::WriteFile {
                contents,
                kind: FileKind::Unit,
                ..
            } => Some(contents.clone()),
            Step::InstallFirewall { plan } => Some(ruleset_text(&plan.ruleset())),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{step}")]
    Net {
        step: String,
        #[source]
        source: Box<NetError>,
    },
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot remove {}", path.display())]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a state file hype setup wrote", path.display())]
    State {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("nft -j list table inet {TABLE}: {0}")]
    NftList(String),
}

pub type Result<T, E = SetupError> = std::result::Result<T, E>;

fn net_err(step: impl fmt::Display) -> impl FnOnce(NetError) -> SetupError {
    let step = step.to_string();
    move |source| SetupError::Net {
        step,
        source: Box::new(source),
    }
}

fn connect(cfg: &SetupConfig) -> Result<Net> {
    Net::connect(&cfg.bridge, cfg.subnet).map_err(net_err(format_args!(
        "bridge {} with subnet {}",
        cfg.bridge, cfg.subnet
    )))
}

/// The steps that bring the host to what hyped needs; empty when it is
/// there already.
pub async fn plan(cfg: &SetupConfig) -> Result<Vec<Step>> {
    let mut steps = vec![];
    let net = connect(cfg)?;
    let inspect = format!("inspect bridge {}", cfg.bridge);
    if !net.bridge_ready().await.map_err(net_err(&inspect))? {
        let gw = hype_net::gateway(cfg.subnet).unwrap_or(cfg.subnet.network());
        steps.push(Step::CreateBridge {
            bridge: cfg.bridge.clone(),
            address: Ipv4Net::new(gw, cfg.subnet.prefix_len()).unwrap_or(cfg.subnet),
            exists: net.has_bridge().await.map_err(net_err(&inspect))?,
        });
    }
    let now = read_forwarding()?;
    if now != "1" {
        steps.push(Step::EnableForwarding { now });
    }
    let sysctl = sysctl_text();
    if read_opt(&cfg.paths.sysctl_conf)?.as_deref() != Some(sysctl.as_str()) {
        steps.push(Step::WriteFile {
            path: cfg.paths.sysctl_conf.clone(),
            contents: sysctl,
            kind: FileKind::Sysctl,
        });
    }
    let state = read_state(&cfg.paths.state)?;
    let listing = list_table()?;
    let wanted = firewall_record(cfg, listing.as_ref());
    if wanted.is_none() || state.get("firewall") != wanted.as_ref() {
        let deny = listing.as_ref().map(denied_guests).unwrap_or_default();
        steps.push(Step::InstallFirewall {
            plan: cfg.firewall(deny),
        });
    }
    let unit = unit_text(cfg);
    if read_opt(&cfg.paths.unit)?.as_deref() != Some(unit.as_str()) {
        steps.push(Step::WriteFile {
            path: cfg.paths.unit.clone(),
            contents: unit,
            kind: FileKind::Unit,
        });
    }
    Ok(steps)
}

/// The steps that undo setup; empty when nothing of it is left. Undo only
/// restores ip_forward when setup recorded its earlier value.
pub async fn undo_plan(cfg: &SetupConfig) -> Result<Vec<Step>> {
    let mut steps = vec![];
    let net = connect(cfg)?;
    if net
        .has_bridge()
        .await
        .map_err(net_err(format_args!("inspect bridge {}", cfg.bridge)))?
    {
        steps.push(Step::DeleteBridge {
            bridge: cfg.bridge.clone(),
        });
    }
    if list_table()?.is_some() {
        steps.push(Step::RemoveFirewall);
    }
    if read_opt(&cfg.paths.sysctl_conf)?.is_some() {
        steps.push(Step::RemoveFile {
            path: cfg.paths.sysctl_conf.clone(),
        });
    }
    let state = read_state(&cfg.paths.state)?;
    if let Some(before) = state.get("ip_forward_before").and_then(Value::as_str) {
        let now = read_forwarding()?;
        if now != before {
            steps.push(Step::RestoreForwarding {
                to: before.to_owned(),
                now,
            });
        }
    }
    if read_opt(&cfg.paths.unit)?.is_some() {
        steps.push(Step::RemoveFile {
            path: cfg.paths.unit.clone(),
        });
    }
    if read_opt(&cfg.paths.state)?.is_some() {
        steps.push(Step::RemoveFile {
            path: cfg.paths.state.clone(),
        });
    }
    Ok(steps)
}

/// Performs `steps` in order (from [`plan`] or [`undo_plan`]), stopping at
/// the first that fails.
pub async fn apply(cfg: &SetupConfig, steps: &[Step]) -> Result<()> {
    for step in steps {
        apply_step(cfg, step).await?;
    }
    Ok(())
}

/// Performs one step.
pub async fn apply_step(cfg: &SetupConfig, step: &Step) -> Result<()> {
    match step {
        Step::CreateBridge { .. } => {
            let net = connect(cfg)?;
            net.ensure_bridge().await.map_err(net_err(step))?;
        }
        Step::EnableForwarding { .. } => {
            let mut state = read_state(&cfg.paths.state)?;
            if !state.contains_key("ip_forward_before") {
                state.insert("ip_forward_before".into(), read_forwarding()?.into());
                write_state(&cfg.paths.state, &state)?;
            }
            write_forwarding("1")?;
        }
        Step::RestoreForwarding { to, .. } => write_forwarding(to)?,
        Step::WriteFile { path, contents, .. } => write_file(path, contents)?,
        Step::RemoveFile { path } => match std::fs::remove_file(path) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                return Err(SetupError::Remove {
                    path: path.clone(),
                    source: e,
                })
            }
            _ => {}
        },
        Step::InstallFirewall { plan } => {
            plan.apply().map_err(net_err(step))?;
            let listing = list_table()?;
            let mut state = read_state(&cfg.paths.state)?;
            match firewall_record(cfg, listing.as_ref()) {
                Some(record) => state.insert("firewall".into(), record),
                None => state.remove("firewall"),
            };
            write_state(&cfg.paths.state, &state)?;
        }
        Step::DeleteBridge { .. } => {
            let net = connect(cfg)?;
            net.delete_bridge().await.map_err(net_err(step))?;
        }
        Step::RemoveFirewall => FirewallPlan::remove().map_err(net_err(step))?,
    }
    Ok(())
}

/// The nft JSON document with one command a line: still JSON, and
/// shorter to read than pretty-printed.
fn ruleset_text(doc: &Value) -> String {
    let cmds = doc.get("nftables").and_then(Value::as_array);
    let lines: Vec<String> = cmds
        .into_iter()
        .flatten()
        .map(|c| format!("  {c}"))
        .collect();
    format!("{{\"nftables\": [\n{}\n]}}", lines.join(",\n"))
}

/// The sysctl.d file's text.
pub fn sysctl_text() -> String {
    format!("# Written by `hype setup`; `hype setup --undo` removes it.\n{SYSCTL_LINE}\n")
}

/// The systemd unit that runs hyped.
pub fn unit_text(cfg: &SetupConfig) -> String {
    let exec = [
        cfg.paths.hyped_binary.to_string_lossy().into_owned(),
        "--bridge".into(),
        cfg.bridge.clone(),
        "--subnet".into(),
        cfg.subnet.to_string(),
    ]
    .iter()
    .map(|a| unit_word(a))
    .collect::<Vec<_>>()
    .join(" ");
    format!(
        "# Written by `hype setup`; `hype setup --undo` removes it.
[Unit]
Description=hype microVM orchestrator (hyped)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart={exec}
# Each VMM runs in its own process group and outlives a restart of hyped,
# which adopts it again: stopping the service stops hyped alone.
KillMode=process
Restart=on-failure
RestartSec=2s
# hyped's data (the database, consoles, disks with browser profiles) is
# private: every file it or a VMM creates is 0600.
UMask=0077

[Install]
WantedBy=multi-user.target
"
    )
}

/// One word of an ExecStart= line: specifiers and variables escaped,
/// quoted when it holds a space or a quote.
fn unit_word(s: &str) -> String {
    let s = s.replace('%', "%%").replace('$', "$$");
    if s.chars()
        .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ';'))
    {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        s
    }
}

fn read_opt(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SetupError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Writes through a temporary file and a rename, so a reader sees the old
/// contents or the new, never half.
fn write_file(path: &Path, contents: &str) -> Result<()> {
    let err = |source| SetupError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(contents.as_bytes())?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    Ok(())
}

fn read_forwarding() -> Result<String> {
    std::fs::read_to_string(IP_FORWARD)
        .map(|s| s.trim().to_owned())
        .map_err(|source| SetupError::Read {
            path: IP_FORWARD.into(),
            source,
        })
}

fn write_forwarding(value: &str) -> Result<()> {
    std::fs::write(IP_FORWARD, format!("{value}\n")).map_err(|source| SetupError::Write {
        path: IP_FORWARD.into(),
        source,
    })
}

fn read_state(path: &Path) -> Result<Map<String, Value>> {
    let Some(text) = read_opt(path)? else {
        return Ok(Map::new());
    };
    serde_json::from_str(&text).map_err(|source| SetupError::State {
        path: path.to_owned(),
        source,
    })
}

fn write_state(path: &Path, state: &Map<String, Value>) -> Result<()> {
    let text = serde_json::to_string_pretty(state).map_err(|source| SetupError::State {
        path: path.to_owned(),
        source,
    })?;
    write_file(path, &(text + "\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_words_are_escaped() {
        assert_eq!(unit_word("/opt/hype/hyped"), "/opt/hype/hyped");
        assert_eq!(unit_word("/opt/my hype/hyped"), "\"/opt/my hype/hyped\"");
        assert_eq!(unit_word("50%$x"), "50%%$$x");
    }
}
