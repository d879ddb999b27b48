//! VM networking for real, inside a network namespace this test makes:
//! the test thread unshares its network namespace, so hyped, its bridge,
//! taps and nftables table, and the QEMU guests all live there and vanish
//! with it. An "outside" host is a second namespace joined by a veth pair,
//! created and deleted here. No traffic leaves these namespaces.

mod common;

use std::process::Command;
use std::time::Duration;

use common::peer::Peer;
use common::{in_netns, sh, Server};
use hype_types::ProbeRequest;

/// The host's neighbour entry of `ip` on hyped's bridge, as `ip` shows it.
fn neighbour(ip: &str) -> anyhow::Result<String> {
    let out = Command::new("ip")
        .args(["neigh", "show", ip, "dev", "hypebr0"])
        .output()?;
    anyhow::ensure!(out.status.success(), "ip neigh");
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

async fn reach(s: &Server, vm: &str, target: &str) -> anyhow::Result<bool> {
    let r = s
        .client
        .guest_probe(
            vm,
            &ProbeRequest {
                target: target.parse()?,
                timeout_ms: 1500,
            },
        )
        .await?;
    anyhow::ensure!(
        r.error.is_none(),
        "probe from {vm} to {target}: {:?}",
        r.error
    );
    Ok(r.reachable)
}

#[test]
fn guests_get_addresses_reach_host_and_uplink_but_not_each_other() -> anyhow::Result<()> {
    in_netns(|| async {
        let _outside = Peer::new("hypeup", 250)?;
        let tmp = tempfile::tempdir()?;
        let s = Server::start_in(
            tmp.path(),
            &[
                "--network",
                "on",
                "--subnet",
                "10.77.0.0/24",
                "--bridge",
                "hypebr0",
            ],
        )?;
        let version = s.client.version().await?;
        assert!(version.network.enabled, "{:?}", version.network);

        let a = s.create_running("net-a").await?;
        let b_req =
            serde_json::json!({"name": "net-b", "memory_mb": 256, "network": {"egress": false}});
        let mut ev = s
            .client
            .vm_events(Some("net-b"), Some(s.last_event_id().await?))
            .await?;
        s.client.create_vm(&serde_json::from_value(b_req)?).await?;
        s.wait_event(&mut ev, Duration::from_secs(180), |e| {
            e.event_type == hype_types::EventType::VmRunning
        })
        .await?;
        let b = s.client.get_vm("net-b").await?;
        assert_eq!(a.ip.as_deref(), Some("10.77.0.2"), "lowest free address");
        assert_eq!(b.ip.as_deref(), Some("10.77.0.3"));
        assert!(!b.network.egress && a.network.egress);

        // The guest configured what hyped leased, as seen from inside.
        let inside = s.client.guest_network("net-a").await?;
        let eth0 = inside
            .interfaces
            .iter()
            .find(|i| i.name == "eth0")
            .expect("eth0");
        assert_eq!(eth0.addresses, ["10.77.0.2/24"]);
        assert_eq!(eth0.mac, a.mac);
        assert_eq!(inside.gateway.as_deref(), Some("10.77.0.1"));

        assert!(reach(&s, "net-a", "10.77.0.1").await?, "A pings the host");
        assert!(reach(&s, "net-b", "10.77.0.1").await?, "B pings the host");
        assert!(!reach(&s, "net-a", "10.77.0.3").await?, "A cannot reach B");
        assert!(!reach(&s, "net-b", "10.77.0.2").await?, "B cannot reach A");
        assert!(
            reach(&s, "net-a", "10.250.0.2").await?,
            "A's egress is forwarded"
        );
        assert!(
            !reach(&s, "net-b", "10.250.0.2").await?,
            "B's egress is blocked"
        );

        // The host knows each lease's MAC for good, not from ARP.
        let b_mac = b.mac.clone().expect("mac");
        assert!(
            neighbour("10.77.0.3")?.contains(&format!("lladdr {b_mac} PERMANENT")),
            "{}",
            neighbour("10.77.0.3")?
        );

        // Delete frees the tap, the lease and the host's neighbour entry;
        // the address is handed out again, and the host sends to the new
        // VM's MAC at once (a learned entry kept the old one for seconds).
        let tap_b = b.network.tap.clone().expect("tap");
        s.client.delete_vm("net-b").await?;
        let links = Command::new("ip").args(["-o", "link"]).output()?;
        assert!(
            !String::from_utf8_lossy(&links.stdout).contains(&tap_b),
            "tap gone"
        );
        assert_eq!(neighbour("10.77.0.3")?, "", "B's neighbour entry gone");
        let c = s.create_running("net-c").await?;
        assert_eq!(
            c.ip.as_deref(),
            Some("10.77.0.3"),
            "B's address is free again"
        );
        let c_mac = c.mac.clone().expect("mac");
        assert_ne!(c_mac, b_mac);
        assert!(
            neighbour("10.77.0.3")?.contains(&format!("lladdr {c_mac} PERMANENT")),
            "{}",
            neighbour("10.77.0.3")?
        );
        s.client.delete_vm("net-a").await?;
        s.client.delete_vm("net-c").await?;
        Ok(())
    })
}

#[test]
fn taps_without_a_vm_are_removed_at_start() -> anyhow::Result<()> {
    in_netns(|| async {
        let tmp = tempfile::tempdir()?;
        let args = ["--network", "on", "--subnet", "10.78.0.0/24"];
        let mut s = Server::start_in(tmp.path(), &args)?;
        s.stop();
        // A tap on hype's bridge that no lease accounts for.
        sh(&["ip", "tuntap", "add", "dev", "hypestray", "mode", "tap"])?;
        sh(&["ip", "link", "set", "hypestray", "master", "hypebr0"])?;
        let _s = Server::start_in(tmp.path(), &args)?;
        let links = Command::new("ip").args(["-o", "link"]).output()?;
        assert!(!String::from_utf8_lossy(&links.stdout).contains("hypestray"));
        Ok(())
    })
}

/// The firewall's deny set and the bridge pins, as nft lists them.
fn firewall() -> anyhow::Result<(String, String)> {
    let set = Command::new("nft")
        .args(["list", "set", "inet", "hype", "egress_deny"])
        .output()?;
    let pins = Command::new("nft")
        .args(["list", "table", "bridge", "hype"])
        .output()?;
    Ok((
        String::from_utf8_lossy(&set.stdout).into_owned(),
        String::from_utf8_lossy(&pins.stdout).into_owned(),
    ))
}

/// Issue 15, finding 6: concurrent creates (egress denied or not) and a
/// create that fails after its lease leave the firewall exactly as the
/// leases say: one refresh at a time, each from the leases it read, and a
/// refresh after every rollback.
#[test]
fn the_firewall_follows_the_leases_through_races_and_failed_creates() -> anyhow::Result<()> {
    in_netns(|| async {
        // An image whose kernel QEMU cannot load: its create fails after
        // the VM got a lease and a tap.
        let images = tempfile::tempdir()?;
        let real = common::images_dir().join("base");
        let base = images.path().join("base");
        std::fs::create_dir(&base)?;
        for f in ["vmlinux", "initramfs.img", "manifest.json"] {
            std::os::unix::fs::symlink(real.join(f), base.join(f))?;
        }
        let broken = images.path().join("broken");
        std::fs::create_dir(&broken)?;
        std::fs::write(broken.join("vmlinux"), b"not a kernel")?;
        std::os::unix::fs::symlink(real.join("initramfs.img"), broken.join("initramfs.img"))?;
        let manifest = std::fs::read_to_string(real.join("manifest.json"))?
            .replace("\"name\": \"base\"", "\"name\": \"broken\"")
            .replace("\"name\":\"base\"", "\"name\":\"broken\"");
        std::fs::write(broken.join("manifest.json"), manifest)?;
        let tmp = tempfile::tempdir()?;
        let images_arg = images.path().display().to_string();
        let s = Server::networked(
            tmp.path(),
            "10.78.0.0/24",
            &["--images-dir", &images_arg, "--rate-limit", "0"],
        )?;
        assert!(s.client.get_image("broken").await.is_ok());
        let creates = (0..6).map(|i| {
            let body = serde_json::json!({"name": format!("fw{i}"), "memory_mb": 128,
                "network": {"egress": i % 2 == 1}});
            let c = s.client.clone();
            let body = serde_json::from_value(body).expect("a create body");
            async move { c.create_vm(&body).await }
        });
        let bad_body = serde_json::from_value(serde_json::json!({
            "name": "bad", "image": "broken", "memory_mb": 128,
            "network": {"egress": false}
        }))?;
        let bad = s.client.create_vm(&bad_body);
        let (made, bad) = tokio::join!(futures::future::join_all(creates), bad);
        let err = bad.expect_err("a kernel QEMU cannot load");
        assert!(err.to_string().contains("boot"), "{err}");
        let vms: Vec<_> = made.into_iter().collect::<Result<_, _>>()?;
        let (set, pins) = firewall()?;
        for vm in &vms {
            let ip = vm.ip.clone().expect("a lease");
            let denied = !vm.network.egress;
            assert_eq!(
                set.contains(&format!("{ip},")) || set.contains(&format!("{ip} ")),
                denied,
                "{} ({ip}, egress {}):\n{set}",
                vm.name,
                vm.network.egress
            );
            assert!(
                pins.contains(vm.mac.as_deref().unwrap()),
                "{} not pinned:\n{pins}",
                vm.name
            );
        }
        // The failed create left no address behind: the set holds exactly
        // the three denied VMs.
        assert_eq!(set.matches("10.78.0.").count(), 3, "{set}");
        assert_eq!(pins.matches("ether saddr != ").count(), 6, "{pins}");
        for vm in &vms {
            s.client.delete_vm(&vm.name).await?;
        }
        let (set, pins) = firewall()?;
        assert!(!set.contains("10.78.0."), "{set}");
        assert!(!pins.contains("ether saddr"), "{pins}");
        Ok(())
    })
}
