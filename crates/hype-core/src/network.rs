//! VMs on the host network: a lease, a tap on the bridge, the guest's
//! address on its kernel command line, and the firewall kept in step with
//! every VM's egress policy. Without a working network (no config, or the
//! host failed its preflight), VMs boot without a NIC and `/version` says
//! why.

use std::net::Ipv4Addr;

use hype_net::{FirewallPlan, Net};
use hype_store::VmRecord;
use hype_types::NetworkStatus;

use crate::{CoreConfig, CoreError, Hype, Result};

/// What a VM's boot needs from the network.
pub(crate) struct Attachment {
    pub tap: String,
    pub mac: String,
    /// `hype.ip=`, `hype.gw=`, `hype.dns=` for the agent.
    pub cmdline: Vec<String>,
}

/// Checks the host, creates the bridge and installs the firewall.
pub(crate) async fn setup(cfg: &CoreConfig) -> (Option<Net>, NetworkStatus) {
    let Some(nc) = &cfg.network else {
        return (
            None,
            NetworkStatus {
                enabled: false,
                bridge: None,
                subnet: None,
                problems: vec!["networking is off (--network off)".into()],
            },
        );
    };
    let mut problems = vec![];
    for f in hype_net::preflight::run(&nc.bridge, nc.subnet) {
        if !f.ok {
            let line = format!(
                "{}: {}; fix: {}",
                f.check,
                f.detail,
                f.fix.unwrap_or_default()
            );
            tracing::warn!(check = f.check, "{line}");
            problems.push(line);
        }
    }
    let net = match Net::connect(&nc.bridge, nc.subnet) {
        Ok(net) => match net.ensure_bridge().await {
            Ok(_) => Some(net),
            Err(e) => {
                problems.push(format!("bridge {}: {}", nc.bridge, chain(&e)));
                None
            }
        },
        Err(e) => {
            problems.push(chain(&e));
            None
        }
    };
    if net.is_none() {
        tracing::error!(
            ?problems,
            "VM networking is unavailable; VMs boot without a NIC"
        );
    }
    let status = NetworkStatus {
        enabled: net.is_some(),
        bridge: Some(nc.bridge.clone()),
        subnet: Some(nc.subnet.to_string()),
        problems,
    };
    (net, status)
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

fn net_err(name: &str, source: hype_net::NetError) -> CoreError {
    CoreError::Network {
        name: name.into(),
        source: Box::new(source),
    }
}

impl Hype {
    /// Leases an address (or finds the VM's lease), creates its tap and
    /// applies the firewall (the tap pinned to the lease, the egress
    /// policy) before anything can send on it. `None` when networking is
    /// off.
    pub(crate) async fn attach_network(&self, rec: &VmRecord) -> Result<Option<Attachment>> {
        let Some(net) = &self.inner.net else {
            return Ok(None);
        };
        let store = &self.inner.store;
        let subnet = net.subnet();
        let existing = store.leases().await?.into_iter().find(|l| l.vm == rec.name);
        let (ip, mac, tap) = match existing {
            Some(l) => (l.ip, l.mac, l.tap),
            None => {
                let mac = hype_net::mac_for(&rec.id);
                let tap = hype_net::tap_name(&rec.id);
                let ip = store
                    .allocate_lease(
                        &rec.name,
                        hype_net::usable_hosts(subnet).map(|a| a.to_string()),
                        &subnet.to_string(),
                        &mac,
                        &tap,
                    )
                    .await?;
                (ip, mac, tap)
            }
        };
        net.create_tap(&tap)
            .await
            .map_err(|e| net_err(&rec.name, e))?;
        if let Err(e) = self.refresh_firewall().await {
            let _ = net.delete_tap(&tap).await;
            return Err(e);
        }
        if let Err(e) = pin(net, &ip, &mac).await {
            let _ = net.delete_tap(&tap).await;
            return Err(net_err(&rec.name, e));
        }
        let gw = hype_net::gateway(subnet).expect("Net::connect checked the subnet");
        let mut cmdline = vec![
            format!("hype.ip={ip}/{}", subnet.prefix_len()),
            format!("hype.gw={gw}"),
        ];
        if let Some(dns) = hype_net::dns_for_guests() {
            cmdline.push(format!("hype.dns={dns}"));
        }
        Ok(Some(Attachment { tap, mac, cmdline }))
    }

    /// Removes the VM's tap and the host's neighbour entry of its address;
    /// its lease goes with its row.
    pub(crate) async fn detach_network(&self, rec: &VmRecord) {
        let Some(net) = &self.inner.net else { return };
        let tap = hype_net::tap_name(&rec.id);
        if let Err(e) = net.delete_tap(&tap).await {
            tracing::warn!(vm = %rec.name, tap, error = %e, "cannot delete tap");
        }
        if let Some(ip) = rec.ip.as_deref().and_then(|ip| ip.parse().ok()) {
            if let Err(e) = net.unpin_neighbour(ip).await {
                tracing::warn!(vm = %rec.name, %ip, error = %e, "cannot remove neighbour entry");
            }
        }
    }

    /// Rewrites the firewall from the leases: denied egress for exactly the
    /// VMs that asked for none. The lease read and the apply are one step
    /// under one lock, so a refresh that read older leases never lands
    /// after one that read newer ones.
    pub(crate) async fn refresh_firewall(&self) -> Result<()> {
        let Some(net) = &self.inner.net else {
            return Ok(());
        };
        let _one_at_a_time = self.inner.firewall.lock().await;
        let leases = self.inner.store.leases().await?;
        let deny: Vec<Ipv4Addr> = leases
            .iter()
            .filter(|l| !l.egress)
            .filter_map(|l| l.ip.parse().ok())
            .collect();
        let pins = leases
            .into_iter()
            .filter_map(|l| {
                Some(hype_net::Pin {
                    ip: l.ip.parse().ok()?,
                    tap: l.tap,
                    mac: l.mac,
                })
            })
            .collect();
        let plan = FirewallPlan {
            bridge: net.bridge().to_owned(),
            subnet: net.subnet(),
            egress_deny: deny,
            pins,
        };
        tokio::task::spawn_blocking(move || plan.apply())
            .await
            .expect("the firewall apply does not panic")
            .map_err(|e| net_err("*", e))
    }

    /// Start-up: the firewall and the neighbour entries as the store says,
    /// and no tap without a lease.
    pub(crate) async fn reconcile_network(&self) -> Result<()> {
        let Some(net) = &self.inner.net else {
            return Ok(());
        };
        self.refresh_firewall().await?;
        let leases = self.inner.store.leases().await?;
        // Neighbour entries do not outlive a reboot of the host.
        for l in &leases {
            if let Err(e) = pin(net, &l.ip, &l.mac).await {
                tracing::warn!(vm = %l.vm, ip = %l.ip, error = %e, "cannot pin neighbour entry");
            }
        }
        let leased: Vec<String> = leases.into_iter().map(|l| l.tap).collect();
        for tap in net.taps().await.map_err(|e| net_err("*", e))? {
            if !leased.contains(&tap) {
                tracing::info!(tap, "removing a tap no VM holds");
                net.delete_tap(&tap).await.map_err(|e| net_err("*", e))?;
            }
        }
        Ok(())
    }
}

/// The host's neighbour entry of a lease: its address at its MAC.
async fn pin(net: &hype_net::Net, ip: &str, mac: &str) -> hype_net::Result<()> {
    match ip.parse() {
        Ok(ip) => net.pin_neighbour(ip, mac).await,
        // Leases are written from parsed addresses.
        Err(_) => Ok(()),
    }
}
