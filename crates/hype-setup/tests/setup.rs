//! `hype setup` for real, in a network namespace of each test's own and
//! with every file in a temporary directory: the bridge, the nftables table
//! and ip_forward it changes vanish with the namespace, and neither /etc nor
//! the host's network is touched.

mod common;

use common::in_netns;

use std::path::Path;
use std::process::Command;

use hype_net::{FirewallPlan, Net};
use hype_setup::{self as setup, SetupConfig, SetupPaths, Step};

const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

fn config(dir: &Path) -> SetupConfig {
    SetupConfig {
        bridge: "hypebr0".into(),
        subnet: "10.77.0.0/24".parse().unwrap(),
        paths: SetupPaths {
            sysctl_conf: dir.join("etc/sysctl.d/90-hype.conf"),
            unit: dir.join("etc/systemd/system/hyped.service"),
            state: dir.join("var/lib/hype/setup-state.json"),
            hyped_binary: "/opt/hype/bin/hyped".into(),
        },
    }
}

fn forwarding() -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(IP_FORWARD)?.trim().to_owned())
}

fn nft_table() -> anyhow::Result<Option<String>> {
    let out = Command::new("nft")
        .args(["list", "table", "inet", "hype"])
        .output()?;
    Ok(out
        .status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned()))
}

fn said(steps: &[Step]) -> Vec<String> {
    steps.iter().map(ToString::to_string).collect()
}

fn setup_steps(cfg: &SetupConfig) -> Vec<String> {
    let p = &cfg.paths;
    vec![
        "create bridge hypebr0 with 10.77.0.1/24".into(),
        "set net.ipv4.ip_forward=1 (now 0)".into(),
        format!(
            "write {} (net.ipv4.ip_forward = 1)",
            p.sysctl_conf.display()
        ),
        "install nftables table inet hype (forward, masquerade, egress policy)".into(),
        format!("write {}", p.unit.display()),
    ]
}

#[test]
fn the_default_unit_keeps_vmms_alive_and_names_the_network() {
    let cfg = SetupConfig::new("hypebr0", "192.168.127.0/24".parse().unwrap());
    assert_eq!(cfg.paths, SetupPaths::default());
    let unit = setup::unit_text(&cfg);
    for line in [
        "KillMode=process",
        "Restart=on-failure",
        "UMask=0077",
        "After=network-online.target",
        "WantedBy=multi-user.target",
        "ExecStart=/usr/local/bin/hyped --bridge hypebr0 --subnet 192.168.127.0/24",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} missing:\n{unit}");
    }
    let step = Step::WriteFile {
        path: cfg.paths.sysctl_conf.clone(),
        contents: setup::sysctl_text(),
        kind: setup::FileKind::Sysctl,
    };
    assert_eq!(
        step.to_string(),
        "write /etc/sysctl.d/90-hype.conf (net.ipv4.ip_forward = 1)"
    );
}

#[test]
fn a_dry_run_plans_everything_and_changes_nothing() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let cfg = config(dir.path());
    in_netns(move || async move {
        std::fs::write(IP_FORWARD, "0")?;
        let steps = setup::plan(&cfg).await?;
        assert_eq!(said(&steps), setup_steps(&cfg));
        let unit = steps[4].detail().unwrap();
        assert!(unit.contains("\nKillMode=process\n"), "{unit}");
        assert!(unit
            .contains("\nExecStart=/opt/hype/bin/hyped --bridge hypebr0 --subnet 10.77.0.0/24\n"));
        // The ruleset shown is the JSON nft gets.
        let shown: serde_json::Value = serde_json::from_str(&steps[3].detail().unwrap())?;
        let Step::InstallFirewall { plan } = &steps[3] else {
            panic!("{:?}", steps[3]);
        };
        assert_eq!(shown, plan.ruleset());

        let net = Net::connect(&cfg.bridge, cfg.subnet)?;
        assert!(!net.has_bridge().await?, "no bridge");
        assert_eq!(forwarding()?, "0");
        assert!(nft_table()?.is_none(), "no table");
        for p in [&cfg.paths.sysctl_conf, &cfg.paths.unit, &cfg.paths.state] {
            assert!(!p.exists(), "{} written", p.display());
        }
        assert!(setup::undo_plan(&cfg).await?.is_empty(), "nothing to undo");
        Ok(())
    })
}

#[test]
fn setup_applies_is_idempotent_and_undoes() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let cfg = config(dir.path());
    in_netns(move || async move {
        std::fs::write(IP_FORWARD, "0")?;
        let steps = setup::plan(&cfg).await?;
        assert_eq!(steps.len(), 5);
        setup::apply(&cfg, &steps).await?;

        let net = Net::connect(&cfg.bridge, cfg.subnet)?;
        assert!(net.bridge_ready().await?, "bridge up with 10.77.0.1");
        let routes = std::fs::read_to_string("/proc/thread-self/net/route")?;
        assert!(routes.contains("hypebr0"), "{routes}");
        let table = nft_table()?.expect("table installed");
        assert!(table.contains("masquerade"), "{table}");
        assert_eq!(forwarding()?, "1");
        let unit = std::fs::read_to_string(&cfg.paths.unit)?;
        assert!(unit.contains("\nKillMode=process\n"), "{unit}");
        let sysctl = std::fs::read_to_string(&cfg.paths.sysctl_conf)?;
        assert!(sysctl.contains("net.ipv4.ip_forward = 1"), "{sysctl}");
        let state = std::fs::read_to_string(&cfg.paths.state)?;
        assert!(state.contains("\"ip_forward_before\": \"0\""), "{state}");

        // Nothing left to do, the firewall included: it is compared, not
        // blindly reinstalled.
        assert_eq!(said(&setup::plan(&cfg).await?), Vec::<String>::new());

        // hyped rewrites the table with its egress denials: still in place.
        let hyped = FirewallPlan {
            bridge: cfg.bridge.clone(),
            subnet: cfg.subnet,
            egress_deny: vec!["10.77.0.3".parse()?],
            pins: vec![],
        };
        hyped.apply()?;
        assert!(setup::plan(&cfg).await?.is_empty());

        // Undo everything, then nothing is left to undo.
        let undo = setup::undo_plan(&cfg).await?;
        let p = &cfg.paths;
        assert_eq!(
            said(&undo),
            [
                "delete bridge hypebr0".to_owned(),
                "remove nftables table inet hype".into(),
                format!("remove {}", p.sysctl_conf.display()),
                "restore net.ipv4.ip_forward=0 (now 1)".into(),
                format!("remove {}", p.unit.display()),
                format!("remove {}", p.state.display()),
            ]
        );
        setup::apply(&cfg, &undo).await?;
        assert!(!net.has_bridge().await?, "bridge deleted");
        assert!(nft_table()?.is_none(), "table removed");
        assert_eq!(forwarding()?, "0");
        for p in [&p.sysctl_conf, &p.unit, &p.state] {
            assert!(!p.exists(), "{} left", p.display());
        }
        assert!(setup::undo_plan(&cfg).await?.is_empty());
        // Undoing what is absent is a no-op.
        setup::apply(&cfg, &undo).await?;
        assert_eq!(said(&setup::plan(&cfg).await?), setup_steps(&cfg));
        Ok(())
    })
}

#[test]
fn a_changed_table_is_reinstalled_keeping_egress_denials() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let cfg = config(dir.path());
    in_netns(move || async move {
        std::fs::write(IP_FORWARD, "1")?;
        let steps = setup::plan(&cfg).await?;
        assert!(!said(&steps).iter().any(|s| s.contains("ip_forward=")));
        setup::apply(&cfg, &steps).await?;
        // A table for another bridge, with a guest denied egress.
        FirewallPlan {
            bridge: "otherbr0".into(),
            subnet: cfg.subnet,
            egress_deny: vec!["10.77.0.9".parse()?],
            pins: vec![],
        }
        .apply()?;
        let steps = setup::plan(&cfg).await?;
        let [Step::InstallFirewall { plan }] = steps.as_slice() else {
            panic!("only the firewall: {steps:?}");
        };
        assert_eq!(
            plan.egress_deny,
            ["10.77.0.9".parse::<std::net::Ipv4Addr>()?]
        );
        assert!(steps[0]
            .to_string()
            .ends_with("keeping 1 guest denied egress"));
        setup::apply(&cfg, &steps).await?;
        let table = nft_table()?.expect("table installed");
        assert!(
            table.contains("10.77.0.9") && table.contains("hypebr0"),
            "{table}"
        );
        assert!(!table.contains("otherbr0"), "{table}");
        assert!(setup::plan(&cfg).await?.is_empty());

        // Forwarding was on before setup: undo leaves it on.
        let undo = setup::undo_plan(&cfg).await?;
        assert!(
            !said(&undo).iter().any(|s| s.contains("ip_forward")),
            "{undo:?}"
        );
        setup::apply(&cfg, &undo).await?;
        assert_eq!(forwarding()?, "1");
        Ok(())
    })
}

#[test]
fn a_bridge_without_its_address_is_completed() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let cfg = config(dir.path());
    in_netns(move || async move {
        // The same bridge name, set up for another subnet.
        Net::connect(&cfg.bridge, "10.88.0.0/24".parse()?)?
            .ensure_bridge()
            .await?;
        let steps = setup::plan(&cfg).await?;
        assert_eq!(
            steps[0].to_string(),
            "configure bridge hypebr0 with 10.77.0.1/24"
        );
        setup::apply(&cfg, &steps[..1]).await?;
        let net = Net::connect(&cfg.bridge, cfg.subnet)?;
        assert!(net.bridge_ready().await?);
        assert!(!setup::plan(&cfg)
            .await?
            .iter()
            .any(|s| matches!(s, Step::CreateBridge { .. })));
        Ok(())
    })
}
