//! The command line: every command, flag and default, as clap derives.

use clap::{Args, Parser, Subcommand, ValueEnum};
use hype_types::VmmChoice;

use crate::output::Format;

#[derive(Debug, Parser)]
#[command(
    name = "hype",
    version,
    about = "Run and manage microVMs on a hyped server"
)]
pub struct Cli {
    /// Output format.
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// Where hyped listens.
    #[arg(
        long,
        global = true,
        env = "HYPE_API_BASE",
        default_value = "http://127.0.0.1:7777"
    )]
    pub api_base: String,
    /// Bearer token for hyped, when it requires one.
    #[arg(long, global = true, env = "HYPE_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, inspect and control microVMs.
    #[command(subcommand)]
    Vms(VmsCommand),
    /// Boot images.
    #[command(subcommand)]
    Images(ImagesCommand),
    /// This client's version and the server's.
    Version,
    /// hyped's uptime, VMs and jobs by state, free memory and disk, the
    /// accelerator and the network's problems.
    Status,
    /// Prepare this host for hyped: bridge, forwarding, NAT, systemd unit.
    Setup(SetupArgs),
    /// Serve MCP over stdio for AI agents (sandbox and browser tools),
    /// calling hyped's REST API at --api-base.
    Mcp {
        /// Tool groups beyond the core, comma-separated, as playwright-mcp's
        /// --caps: vision, pdf, network, storage, devtools, testing, and cdp
        /// (raw CDP).
        #[arg(long, default_value = "none", value_parser = hype_mcp::parse_caps)]
        caps: std::collections::BTreeSet<hype_mcp::Cap>,
    },
    /// Live dashboard: VMs, events and import jobs; `?` inside for keys.
    Tui,
    /// Import jobs: submit, list, inspect, cancel.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// VMs saved for forks: create, list, get, delete.
    #[command(subcommand)]
    Snapshots(SnapshotsCommand),
    /// Warm pools: sandboxes of one shape kept ready for creates.
    #[command(subcommand)]
    Pools(PoolsCommand),
    /// Session recordings of browser sandboxes (`vms create --record`).
    #[command(subcommand)]
    Recordings(RecordingsCommand),
}

#[derive(Debug, Subcommand)]
pub enum RecordingsCommand {
    /// List the recordings of VM VM (one deleted since too).
    #[command(visible_alias = "ls")]
    List { vm: String },
    /// Show one recording, with the console's URL that replays it.
    Get { id: String },
    /// Delete a recording and its events.
    #[command(visible_alias = "rm")]
    Delete { id: String },
}

#[derive(Debug, Subcommand)]
pub enum PoolsCommand {
    /// Keep SIZE sandboxes of this shape ready (filled in the background).
    Create {
        name: String,
        /// An image booted on hype's kernel, such as browser.
        #[arg(long)]
        image: String,
        /// Virtual CPUs of each sandbox.
        #[arg(long, default_value_t = hype_types::vm::DEFAULT_CPU_CORES)]
        cpu: u32,
        /// Memory of each sandbox in MiB.
        #[arg(long, default_value_t = hype_types::vm::DEFAULT_MEMORY_MB)]
        memory: u32,
        /// How many to keep ready.
        #[arg(long)]
        size: u32,
    },
    /// List pools with what is ready in each.
    #[command(visible_alias = "ls")]
    List,
    /// Show one pool and the VMs waiting in it.
    Get { name: String },
    /// Delete a pool and the VMs waiting in it (VMs handed out stay).
    #[command(visible_alias = "rm")]
    Delete { name: String },
}

#[derive(Debug, Subcommand)]
pub enum SnapshotsCommand {
    /// Save running VM VM as snapshot NAME (it goes on running).
    Create { vm: String, name: String },
    /// List snapshots.
    #[command(visible_alias = "ls")]
    List,
    /// Show one snapshot.
    Get { name: String },
    /// Delete a snapshot no VM was forked from.
    #[command(visible_alias = "rm")]
    Delete { name: String },
}

/// `hype setup`: runs on this host, not through hyped.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Print what would change, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Undo what setup did: bridge, nftables table, forwarding, files.
    #[arg(long)]
    pub undo: bool,
    /// The bridge hyped attaches VMs to.
    #[arg(long, env = "HYPE_BRIDGE", default_value = "hypebr0")]
    pub bridge: String,
    /// The guests' subnet; the bridge takes its first address.
    #[arg(long, env = "HYPE_SUBNET", default_value = "192.168.127.0/24")]
    pub subnet: ipnet::Ipv4Net,
    /// The hyped the systemd unit starts [default: /usr/local/bin/hyped].
    #[arg(long)]
    pub hyped_binary: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum VmsCommand {
    /// List VMs.
    #[command(visible_alias = "ls")]
    List {
        /// Only VMs in this state.
        #[arg(long, value_parser = STATES)]
        state: Option<String>,
    },
    /// Create a VM and wait until its guest is ready.
    Create(CreateArgs),
    /// Show one VM.
    Get { name: String },
    /// Stop and destroy a VM.
    #[command(visible_alias = "rm")]
    Delete { name: String },
    /// Boot a stopped or crashed VM.
    Start { name: String },
    /// Stop a VM.
    Stop { name: String },
    /// Pause a running VM.
    Pause { name: String },
    /// Resume a paused VM.
    Resume { name: String },
    /// Write a VM's memory and devices to disk and stop its VMM.
    Snapshot { name: String },
    /// Boot a VM from its snapshot.
    Restore { name: String },
    /// Snapshot running VM VM and start NAME from it (or NAME-1..NAME-K).
    Fork {
        vm: String,
        name: String,
        /// Make this many forks, NAME-1 .. NAME-K.
        #[arg(long)]
        count: Option<u32>,
        /// Stop and delete each fork this many seconds after creation.
        #[arg(long)]
        ttl: Option<u32>,
    },
    /// Print lifecycle events as they happen; reconnects on its own.
    Watch {
        /// Only this VM's events.
        name: Option<String>,
    },
    /// Run a command in a running VM, as `docker exec`; exits with the
    /// command's status (128+N when signal N ended it).
    Exec(ExecArgs),
    /// Copy a file or directory between a VM and here, as `docker cp`:
    /// `hype vms cp NAME:PATH LOCAL` or `hype vms cp LOCAL NAME:PATH`
    /// (LOCAL `-` writes to stdout: a file's bytes, a directory as tar).
    Cp { source: String, destination: String },
    /// Make a link to a browser sandbox's live view for someone without
    /// the key, and print its URL (view-only unless --interactive).
    LiveLink {
        name: String,
        /// Seconds until the link stops working (1 to 86400).
        #[arg(long, default_value_t = hype_types::live::DEFAULT_LINK_SECONDS)]
        expires_in: u64,
        /// Let the link's viewer use the mouse and keyboard.
        #[arg(long)]
        interactive: bool,
    },
    /// Print a VM's serial console.
    Logs {
        name: String,
        /// Keep following new output.
        #[arg(short, long)]
        follow: bool,
    },
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    pub name: String,
    /// Send this terminal's stdin to the command.
    #[arg(short, long)]
    pub interactive: bool,
    /// Give the command a terminal (this one goes raw; its size follows).
    #[arg(short, long)]
    pub tty: bool,
    /// Set an environment variable, KEY=VALUE (repeatable).
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// The guest directory to run in [default: the user's home].
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// `name`, `uid` or `uid:gid` [default: the guest's unprivileged user].
    #[arg(short, long)]
    pub user: Option<String>,
    /// Kill the command after this many seconds.
    #[arg(long)]
    pub timeout: Option<u32>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub cmd: Vec<String>,
}

const STATES: [&str; 8] = [
    "creating", "starting", "running", "paused", "stopping", "stopped", "crashed", "standby",
];

#[derive(Debug, Args)]
pub struct CreateArgs {
    pub name: String,
    /// Virtual CPUs.
    #[arg(long, default_value_t = hype_types::vm::DEFAULT_CPU_CORES)]
    pub cpu: u32,
    /// Guest memory in MiB.
    #[arg(long, default_value_t = hype_types::vm::DEFAULT_MEMORY_MB)]
    pub memory: u32,
    /// Boot image (the server's default when absent).
    #[arg(long)]
    pub image: Option<String>,
    /// Which VMM runs the VM.
    #[arg(long, value_enum, default_value_t = VmmArg::Auto)]
    pub vmm: VmmArg,
    /// Appended to the kernel command line.
    #[arg(long)]
    pub kernel_cmdline: Option<String>,
    /// Stop and delete the VM this many seconds after creation.
    #[arg(long)]
    pub ttl: Option<u32>,
    /// Stop and delete the VM after this many seconds without a CDP client.
    #[arg(long)]
    pub idle_timeout: Option<u32>,
    /// Browser images: keep the VM's writes across stop and start.
    #[arg(long)]
    pub persist: bool,
    /// Browser images: record every page of the session, replayable in the
    /// console (`hype recordings ls NAME`).
    #[arg(long)]
    pub record: bool,
    /// Keep the VM from reaching anything beyond the host.
    #[arg(long)]
    pub no_egress: bool,
    /// Fork the VM from this snapshot (its image, CPUs and memory).
    #[arg(long, conflicts_with_all = ["image", "kernel_cmdline", "persist", "no_egress"])]
    pub snapshot: Option<String>,
    /// Take a ready sandbox from this warm pool (its image, CPUs and
    /// memory). Without it, a pool of the same shape serves the create.
    #[arg(long, conflicts_with_all = ["snapshot", "image", "kernel_cmdline", "persist", "no_egress"])]
    pub pool: Option<String>,
    /// Boot cold even when a warm pool of the same shape exists.
    #[arg(long, conflicts_with_all = ["snapshot", "pool"])]
    pub no_pool: bool,
    /// Return once the server accepted the VM, without waiting for it to run.
    #[arg(long)]
    pub no_wait: bool,
    /// Seconds to wait for the VM to be running.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
}

/// `--disk-bus` (a byte, not a string: it keeps `ImagesCommand` small).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiskBusArg {
    Virtio,
    Scsi,
    Sata,
    Ide,
}

impl From<DiskBusArg> for hype_types::StorageBus {
    fn from(b: DiskBusArg) -> Self {
        match b {
            DiskBusArg::Virtio => Self::Virtio,
            DiskBusArg::Scsi => Self::Scsi,
            DiskBusArg::Sata => Self::Sata,
            DiskBusArg::Ide => Self::Ide,
        }
    }
}

/// `--nic-model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NicModelArg {
    Virtio,
    E1000,
}

impl From<NicModelArg> for hype_types::NicModel {
    fn from(m: NicModelArg) -> Self {
        match m {
            NicModelArg::Virtio => Self::Virtio,
            NicModelArg::E1000 => Self::E1000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VmmArg {
    Auto,
    Qemu,
    CloudHypervisor,
}

impl From<VmmArg> for VmmChoice {
    fn from(v: VmmArg) -> Self {
        match v {
            VmmArg::Auto => VmmChoice::Auto,
            VmmArg::Qemu => VmmChoice::Qemu,
            VmmArg::CloudHypervisor => VmmChoice::CloudHypervisor,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// List boot images.
    #[command(visible_alias = "ls")]
    List,
    /// Show one image.
    Get { name: String },
    /// Delete an image.
    #[command(visible_alias = "rm")]
    Delete { name: String },
    /// Import a VM's disk from vSphere or XCP-ng as an image.
    #[command(subcommand)]
    Import(ImportCommand),
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Submit one job or a batch (`jobs: [...]`) from a YAML or JSON file (`-` for stdin).
    Submit {
        #[arg(short = 'f', long = "file")]
        file: String,
    },
    /// List jobs, newest first.
    #[command(visible_alias = "ls")]
    List,
    /// Show one job.
    Get { id: String },
    /// Cancel a pending or running job.
    Cancel { id: String },
    /// Give a job a restart left waiting for its password (phase
    /// awaiting_password) the password again, from HYPE_VSPHERE_PASSWORD or
    /// HYPE_XCPNG_PASSWORD (by the job's kind), never a flag.
    Resume { id: String },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// From vCenter or ESXi; password from HYPE_VSPHERE_PASSWORD.
    Vsphere(VsphereImport),
    /// From an XCP-ng (or XenServer) pool; password from HYPE_XCPNG_PASSWORD.
    Xcpng(XcpngImport),
}

#[derive(Debug, Args)]
pub struct ImportCommon {
    /// The server: https://HOST/sdk (vSphere) or https://HOST (XCP-ng).
    #[arg(long)]
    pub url: String,
    #[arg(long)]
    pub username: String,
    /// vSphere: inventory path or name; XCP-ng: name label or uuid.
    #[arg(long, required_unless_present_any = ["list", "pick"])]
    pub vm: Option<String>,
    /// List the source's VMs and templates instead of importing one.
    #[arg(long, conflicts_with_all = ["vm", "name", "detach", "firmware", "pick", "disk_bus", "nic_model"])]
    pub list: bool,
    /// Pick VMs from the source's list, fuzzy-searched as you type (needs a
    /// terminal); each becomes a job of one batch, named after its VM.
    #[arg(long, conflicts_with_all = ["vm", "name"])]
    pub pick: bool,
    /// The image's name [default: the VM's name, sanitised].
    #[arg(long)]
    pub name: Option<String>,
    /// Accept a self-signed certificate.
    #[arg(long)]
    pub insecure: bool,
    /// Print the job's id and return instead of following it.
    #[arg(long)]
    pub detach: bool,
    /// How the image boots: its own boot loader through firmware, or hype's kernel.
    #[arg(long, value_parser = ["firmware", "kernel"], default_value = "firmware")]
    pub boot: String,
    /// The firmware the disk boots with [default: what the source VM used].
    #[arg(long, value_parser = ["bios", "uefi"])]
    pub firmware: Option<String>,
    /// The bus of every disk on QEMU (sata or ide for guests without virtio
    /// drivers) [default: each disk's own on the source].
    #[arg(long, value_enum)]
    pub disk_bus: Option<DiskBusArg>,
    /// The NIC on QEMU [default: e1000 for a source's e1000, or its
    /// vmxnet3 beside SATA/IDE disks; else virtio].
    #[arg(long, value_enum)]
    pub nic_model: Option<NicModelArg>,
}

#[derive(Debug, Args)]
pub struct VsphereImport {
    #[command(flatten)]
    pub common: ImportCommon,
    /// Shut the guest down gracefully first.
    #[arg(long)]
    pub shutdown: bool,
    /// Remove CD-ROM drives before exporting.
    #[arg(long)]
    pub remove_cdrom: bool,
    /// Disks downloaded at once.
    #[arg(long)]
    pub parallel_downloads: Option<u32>,
    /// Keep the .ovf, disks and .mf in DIR (under hyped's --export-dir)
    /// instead of making an image.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["list", "name", "firmware", "pick", "disk_bus", "nic_model"])]
    pub export_only: Option<String>,
}

#[derive(Debug, Args)]
pub struct XcpngImport {
    #[command(flatten)]
    pub common: ImportCommon,
    /// `raw` (one export per disk) or `xva` (the whole VM, checksummed).
    #[arg(long, value_parser = ["raw", "xva"], default_value = "raw")]
    pub transport: String,
    /// Keep the raw disks, an OVF descriptor and a .mf in DIR (under
    /// hyped's --export-dir) instead of making an image.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["list", "name", "firmware", "pick", "disk_bus", "nic_model"])]
    pub export_only: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_create_with_defaults() {
        let cli = Cli::try_parse_from(["hype", "vms", "create", "demo", "-o", "json"]).unwrap();
        assert_eq!(cli.output, Format::Json);
        let Command::Vms(VmsCommand::Create(c)) = cli.command else {
            panic!("not a create");
        };
        assert_eq!(
            (c.cpu, c.memory, c.timeout, c.no_wait),
            (1, 512, 300, false)
        );
        assert_eq!(VmmChoice::from(c.vmm), VmmChoice::Auto);
    }

    #[test]
    fn parses_setup() {
        let cli =
            Cli::try_parse_from(["hype", "setup", "--dry-run", "--subnet", "10.9.0.0/16"]).unwrap();
        let Command::Setup(s) = cli.command else {
            panic!("not setup");
        };
        assert!(s.dry_run && !s.undo);
        assert_eq!(s.subnet, "10.9.0.0/16".parse().unwrap());
        assert!(Cli::try_parse_from(["hype", "setup", "--subnet", "nonsense"]).is_err());
    }

    #[test]
    fn parses_live_link() {
        let cli = Cli::try_parse_from(["hype", "vms", "live-link", "lv"]).unwrap();
        let Command::Vms(VmsCommand::LiveLink {
            name,
            expires_in,
            interactive,
        }) = cli.command
        else {
            panic!("not live-link");
        };
        assert_eq!(
            (name.as_str(), expires_in, interactive),
            ("lv", 3600, false)
        );
        let cli = Cli::try_parse_from([
            "hype",
            "vms",
            "live-link",
            "lv",
            "--expires-in",
            "60",
            "--interactive",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Vms(VmsCommand::LiveLink {
                expires_in: 60,
                interactive: true,
                ..
            })
        ));
        assert!(
            Cli::try_parse_from(["hype", "vms", "live-link", "lv", "--expires-in", "-1"]).is_err()
        );
    }
}
