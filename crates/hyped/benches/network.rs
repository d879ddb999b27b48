//! Create and destroy of a VM's tap with its address lease, as hyped does
//! them (SQLite lease + TUNSETIFF + rtnetlink attach with port isolation),
//! measured inside a network namespace of the benchmark's own.
//!
//! `cargo bench -p hyped --bench network`

mod figures;

use std::time::Instant;

use hype_net::Net;
use hype_store::{ImageRecord, NewVm, Store};
use hype_types::VmmKind;

use figures::pct;

const N: usize = 200;

async fn run() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let store = Store::open(&tmp.path().join("hype.db")).await?;
    store
        .upsert_image(&ImageRecord {
            name: "base".into(),
            kind: "kernel".into(),
            source: "build".into(),
            dir: "/nowhere".into(),
            vmlinuz: None,
            vmlinux: None,
            initramfs: None,
            rootfs: None,
            kernel_version: None,
            size_bytes: 0,
            sha256: None,
            boot_mode: "kernel".into(),
            disk: None,
            format: None,
            firmware: None,
            disks: vec![],
            nic_model: None,
            created_at: "2026-01-01T00:00:00Z".into(),
        })
        .await?;
    let subnet: ipnet::Ipv4Net = "10.90.0.0/16".parse()?;
    let net = Net::connect("hypebr0", subnet)?;
    net.ensure_bridge().await?;
    let (mut create, mut destroy) = (vec![], vec![]);
    for i in 0..N {
        let name = format!("vm{i}");
        let id = format!("bench-{i}");
        store
            .insert_vm(
                NewVm {
                    id: id.clone(),
                    name: name.clone(),
                    cpu_cores: 1,
                    memory_mb: 256,
                    image: "base".into(),
                    kernel_cmdline: String::new(),
                    user_cmdline: None,
                    vmm_kind: VmmKind::Qemu,
                    egress: true,
                    ttl_seconds: None,
                    idle_timeout_seconds: None,
                    persist: false,
                    record: false,
                    has_agent: true,
                    snapshot: None,
                    pool: None,
                    created_detail: None,
                },
                None,
            )
            .await?;
        let tap = hype_net::tap_name(&id);
        let t = Instant::now();
        store
            .allocate_lease(
                &name,
                hype_net::usable_hosts(subnet).map(|a| a.to_string()),
                "10.90.0.0/16",
                &hype_net::mac_for(&id),
                &tap,
            )
            .await?;
        net.create_tap(&tap).await?;
        create.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        net.delete_tap(&tap).await?;
        store.delete_vm(&name, None).await?;
        destroy.push(t.elapsed().as_secs_f64() * 1e3);
    }
    for (what, v) in [
        ("create tap + lease", &mut create),
        ("destroy tap + lease", &mut destroy),
    ] {
        println!(
            "{what:<22} n={N}  p50={:>7.2} ms  p99={:>7.2} ms  max={:>7.2} ms",
            pct(v, 0.5),
            pct(v, 0.99),
            pct(v, 1.0)
        );
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    std::thread::spawn(|| {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)?;
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(run())
    })
    .join()
    .map_err(|_| anyhow::anyhow!("benchmark thread panicked"))?
}
