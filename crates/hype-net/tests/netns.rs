//! The real thing, in a network namespace of the test's own: the test
//! thread unshares its network namespace, so the bridge, taps and nftables
//! table it makes vanish with it and nothing touches the host's network.

mod common;

use common::in_netns;

use hype_net::{FirewallPlan, Net};

#[test]
fn bridge_taps_isolation_and_firewall() -> anyhow::Result<()> {
    in_netns(|| async {
        let net = Net::connect("hypebr0", "10.77.0.0/24".parse()?)?;
        let idx = net.ensure_bridge().await?;
        assert_eq!(net.ensure_bridge().await?, idx, "idempotent");
        let routes = std::fs::read_to_string("/proc/thread-self/net/route")?;
        assert!(
            routes.contains("hypebr0"),
            "bridge has its subnet route:\n{routes}"
        );

        net.create_tap("hypetest0").await?;
        net.create_tap("hypetest1").await?;
        net.create_tap("hypetest1").await?; // again: reused
        let mut taps = net.taps().await?;
        taps.sort();
        assert_eq!(taps, ["hypetest0", "hypetest1"]);
        assert!(net.is_isolated_port("hypetest0").await?);

        let plan = FirewallPlan {
            bridge: "hypebr0".into(),
            subnet: "10.77.0.0/24".parse()?,
            egress_deny: vec!["10.77.0.3".parse()?],
        };
        plan.apply()?;
        plan.apply()?; // replacing is atomic and idempotent
        let listed = std::process::Command::new("nft")
            .args(["list", "table", "inet", "hype"])
            .output()?;
        let text = String::from_utf8_lossy(&listed.stdout);
        assert!(text.contains("10.77.0.3"), "{text}");
        assert!(text.contains("masquerade"), "{text}");
        FirewallPlan::remove()?;
        let listed = std::process::Command::new("nft")
            .args(["list", "table", "inet", "hype"])
            .output()?;
        assert!(!listed.status.success(), "table removed");

        net.delete_tap("hypetest0").await?;
        net.delete_tap("hypetest0").await?; // already gone: fine
        assert_eq!(net.taps().await?, ["hypetest1"]);
        Ok(())
    })
}

#[test]
fn a_subnet_without_room_for_guests_is_refused() -> anyhow::Result<()> {
    in_netns(|| async {
        let err = Net::connect("hypebr0", "10.0.0.0/32".parse()?)
            .err()
            .unwrap();
        assert!(err.to_string().contains("too small"), "{err}");
        Ok(())
    })
}
