//! `hyped`: parses its settings, binds the listener, wires signals to a
//! cancellation token and hands all three to `hype_api::run`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use hype_core::{AccelChoice, CoreConfig, JailSettings, NetworkConfig};
use hype_types::VmmChoice;
use ipnet::IpNet;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Accel {
    Auto,
    Kvm,
    Tcg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum VmmArg {
    Auto,
    Qemu,
    #[value(name = "cloud-hypervisor")]
    CloudHypervisor,
}

/// The hype server: microVMs for browser sandboxes.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    #[arg(long, env = "HYPE_LISTEN", default_value = "127.0.0.1:7777")]
    listen: String,
    /// Default: /var/lib/hype as root, else $XDG_DATA_HOME/hype.
    #[arg(long, env = "HYPE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Where built images live. Default: <data-dir>/images.
    #[arg(long, env = "HYPE_IMAGES_DIR")]
    images_dir: Option<PathBuf>,
    #[arg(long, env = "HYPE_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Comma-separated CIDRs allowed to connect.
    #[arg(long, env = "HYPE_API_ALLOW_CIDR", value_delimiter = ',')]
    allow_cidr: Vec<IpNet>,
    /// A host name (NAME or NAME:PORT) browsers may reach hyped by, besides
    /// its IP addresses and localhost; repeatable. Pages served under it may
    /// use the API (the web console behind a proxy).
    #[arg(long, env = "HYPE_PUBLIC_HOST", value_delimiter = ',')]
    public_host: Vec<hype_api::PublicHost>,
    /// Seconds a web console login lasts before the console asks for the
    /// key again.
    #[arg(long, env = "HYPE_SESSION_TTL", default_value_t = hype_api::DEFAULT_SESSION_TTL.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=30 * 24 * 3600))]
    session_ttl: u64,
    /// Requests per second each client may make (bursts of twice that);
    /// 0 turns the limit off.
    #[arg(long, env = "HYPE_RATE_LIMIT", default_value_t = 100)]
    rate_limit: u32,
    #[arg(long, env = "HYPE_VMM", value_enum, default_value = "auto")]
    vmm: VmmArg,
    /// MCP tool groups beyond the core for every session, comma-separated:
    /// vision, pdf, network, storage, devtools, testing (as playwright-mcp's
    /// --caps) and cdp (raw CDP).
    #[arg(long, env = "HYPE_MCP_CAPS", value_delimiter = ',')]
    mcp_caps: Vec<hype_mcp::Cap>,
    /// The groups an MCP session may add for itself (`/mcp?caps=pdf,vision`),
    /// comma-separated, or `none`. cdp is left out unless named here.
    #[arg(long, env = "HYPE_MCP_SESSION_CAPS",
          default_value = "vision,pdf,network,storage,devtools,testing",
          value_parser = hype_mcp::parse_caps)]
    mcp_session_caps: std::collections::BTreeSet<hype_mcp::Cap>,
    /// Lets browser_run_code_unsafe run agents' code in sandbox pages.
    #[arg(long, env = "HYPE_MCP_ALLOW_UNSAFE_CODE")]
    mcp_allow_unsafe_code: bool,
    /// The most characters of page snapshot one MCP tool answer carries.
    #[arg(long, env = "HYPE_MCP_SNAPSHOT_BUDGET", default_value_t = hype_mcp::DEFAULT_SNAPSHOT_BUDGET)]
    mcp_snapshot_budget: usize,
    #[arg(long, env = "HYPE_CH_BINARY")]
    ch_binary: Option<PathBuf>,
    /// cloud-hypervisor's UEFI firmware for imported disks (default
    /// /usr/share/cloud-hypervisor/CLOUDHV.fd).
    #[arg(long, env = "HYPE_CH_FIRMWARE")]
    ch_firmware: Option<PathBuf>,
    /// OVMF's code (QEMU's read-only flash) for imported disks that boot
    /// UEFI; Debian package ovmf.
    #[arg(long, env = "HYPE_OVMF_CODE", default_value = hype_core::OVMF_CODE)]
    ovmf_code: PathBuf,
    /// OVMF's empty variable store, copied for each UEFI VM; it must match
    /// --ovmf-code.
    #[arg(long, env = "HYPE_OVMF_VARS", default_value = hype_core::OVMF_VARS)]
    ovmf_vars: PathBuf,
    #[arg(long, env = "HYPE_QEMU_BINARY")]
    qemu_binary: Option<PathBuf>,
    #[arg(long, env = "HYPE_ACCEL", value_enum, default_value = "auto")]
    accel: Accel,
    /// `off` boots VMs without a network (no bridge, taps or firewall).
    #[arg(long, env = "HYPE_NETWORK", value_enum, default_value = "on")]
    network: OnOff,
    #[arg(long, env = "HYPE_BRIDGE", default_value = "hypebr0")]
    bridge: String,
    #[arg(long, env = "HYPE_SUBNET", default_value = "192.168.127.0/24")]
    subnet: ipnet::Ipv4Net,
    #[arg(long, env = "HYPE_DEFAULT_IMAGE", default_value = "base")]
    default_image: String,
    /// At most this many VMs at once; a create beyond gets 429.
    #[arg(long, env = "HYPE_MAX_VMS")]
    max_vms: Option<u32>,
    /// Execs (and interactive sessions) one VM may run at once; one more
    /// gets 429.
    #[arg(long, env = "HYPE_MAX_EXECS_PER_VM", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    max_execs_per_vm: u16,
    /// Seconds a guest gets to shut down before it is killed.
    #[arg(long, env = "HYPE_STOP_TIMEOUT", default_value_t = 10)]
    stop_timeout: u64,
    /// Seconds a guest gets to report ready before it counts as crashed.
    #[arg(long, env = "HYPE_BOOT_TIMEOUT", default_value_t = 120)]
    boot_timeout: u64,
    /// `off` runs VMMs as hyped's own user with the host's filesystem (for
    /// an unprivileged hyped); `on` confines each in its own uid,
    /// namespaces, root, cgroup and seccomp filter.
    #[arg(long, env = "HYPE_JAIL", value_enum, default_value = "on")]
    jail: OnOff,
    /// The jailer binary. Default: `hype-jailer` beside hyped.
    #[arg(long, env = "HYPE_JAILER")]
    jailer: Option<PathBuf>,
    /// The first uid (and gid) VMMs run as; each VM gets its own.
    #[arg(long, env = "HYPE_JAIL_UID_BASE", default_value_t = hype_core::JailSettings::DEFAULT_UID_BASE)]
    jail_uid_base: u32,
    /// Import jobs running at once; further jobs wait in the queue.
    #[arg(long, env = "HYPE_IMPORT_WORKERS", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    import_workers: u16,
    /// A host import jobs may send HYPE_XCPNG_PASSWORD / HYPE_VSPHERE_PASSWORD
    /// to (over https only); repeatable. With none, a job must carry its
    /// own password.
    #[arg(long = "import-allow-host", value_name = "HOST")]
    import_allow_host: Vec<String>,
    /// The directory file sources (`xva:`) must lie in, symlinks followed.
    /// Without it, no file source is accepted.
    #[arg(long, env = "HYPE_IMPORT_DIR", value_name = "DIR")]
    import_dir: Option<PathBuf>,
    /// A warm pool that exists from start, NAME:IMAGE:CPUS:MEMORY_MIB:SIZE
    /// (such as browsers:browser:2:1536:4); repeatable. A pool of that name
    /// with another shape is remade.
    #[arg(long = "pool", value_name = "SPEC", value_parser = hype_types::CreatePool::from_spec)]
    pool: Vec<hype_types::CreatePool>,
    /// The directory export-only jobs (`export_only: true`) write their
    /// `output` under. Without it, no export-only job is accepted.
    #[arg(long, env = "HYPE_EXPORT_DIR", value_name = "DIR")]
    export_dir: Option<PathBuf>,
    /// Record every browser sandbox (rrweb DOM events of every page), not
    /// only those created with `record: true`.
    #[arg(long, env = "HYPE_RECORD")]
    record: bool,
    /// Recordings are deleted this many hours after they end.
    #[arg(long, env = "HYPE_RECORDINGS_RETENTION_HOURS", default_value_t = 168, value_parser = clap::value_parser!(u32).range(1..=87_600))]
    recordings_retention_hours: u32,
    /// A recording stops, with a note, once its events reach this size.
    #[arg(long, env = "HYPE_RECORDING_MAX_MB", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    recording_max_mb: u32,
}

fn default_data_dir() -> PathBuf {
    if nix_is_root() {
        return PathBuf::from("/var/lib/hype");
    }
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("hype")
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The log goes to stderr: stdout carries only the line that says where
    // hyped listens, which a supervisor (or a test) may read and then close.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let data_dir = args.data_dir.unwrap_or_else(default_data_dir);
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    let core = CoreConfig {
        images_dir: args.images_dir.unwrap_or_else(|| data_dir.join("images")),
        data_dir,
        default_image: args.default_image,
        default_vmm: match args.vmm {
            VmmArg::Auto => VmmChoice::Auto,
            VmmArg::Qemu => VmmChoice::Qemu,
            VmmArg::CloudHypervisor => VmmChoice::CloudHypervisor,
        },
        accel: match args.accel {
            Accel::Auto => AccelChoice::Auto,
            Accel::Kvm => AccelChoice::Kvm,
            Accel::Tcg => AccelChoice::Tcg,
        },
        qemu_binary: args.qemu_binary,
        ch_binary: args.ch_binary,
        ch_firmware: args.ch_firmware,
        ovmf_code: args.ovmf_code,
        ovmf_vars: args.ovmf_vars,
        stop_timeout: Duration::from_secs(args.stop_timeout),
        boot_timeout: Duration::from_secs(args.boot_timeout),
        public_url: format!("http://{local}"),
        host: CoreConfig::detect_host(),
        max_vms: args.max_vms,
        max_execs_per_vm: args.max_execs_per_vm.into(),
        import_workers: args.import_workers as usize,
        import_allow_hosts: args.import_allow_host,
        import_dir: args.import_dir,
        pools: args.pool,
        export_dir: args.export_dir,
        record_all: args.record,
        recordings_retention: Duration::from_secs(
            u64::from(args.recordings_retention_hours) * 3600,
        ),
        recording_max_bytes: u64::from(args.recording_max_mb) << 20,
        record_script: hype_console::RECORD_SCRIPT,
        network: (args.network == OnOff::On).then(|| NetworkConfig {
            bridge: args.bridge,
            subnet: args.subnet.trunc(),
        }),
        jail: match args.jail {
            OnOff::Off => None,
            OnOff::On => Some(JailSettings {
                jailer: match args.jailer {
                    Some(j) => j,
                    None => std::env::current_exe()
                        .context("cannot find hyped's own path (for the jailer beside it)")?
                        .with_file_name("hype-jailer"),
                },
                uid_base: args.jail_uid_base,
                uid_count: JailSettings::DEFAULT_UID_COUNT,
            }),
        },
    };
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down; VMs keep running");
        on_signal.cancel();
    });
    // The address goes to stdout too, so scripts using port 0 can find it.
    println!("hyped listening on http://{local}");
    hype_api::run(
        hype_api::ServerConfig {
            core,
            api_key: args.api_key,
            allow_cidrs: args.allow_cidr,
            public_hosts: args.public_host,
            rate_limit: args.rate_limit,
            mcp: hype_mcp::McpConfig {
                caps: args.mcp_caps.into_iter().collect(),
                session_caps: args.mcp_session_caps,
                allow_unsafe_code: args.mcp_allow_unsafe_code,
                snapshot_budget: args.mcp_snapshot_budget.max(1000),
            },
            session_ttl: Duration::from_secs(args.session_ttl),
        },
        listener,
        shutdown,
    )
    .await?;
    Ok(())
}
