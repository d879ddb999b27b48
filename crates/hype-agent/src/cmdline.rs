//! The agent's configuration, read from the kernel command line: hyped has no
//! other way to talk to the guest before the agent's channel is up, and the
//! command line costs nothing to pass. Dotted names (`hype.x=`) are kept away
//! from init's argv/environment by the kernel but stay in /proc/cmdline.

use std::net::Ipv4Addr;
use std::path::PathBuf;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Config {
    /// `hype.name=`: the VM's name, used as the hostname.
    pub name: Option<String>,
    /// `hype.id=`: hyped's id of the VM, for log lines.
    pub id: Option<String>,
    /// `hype.probe=1`: print a marker and power off right after the mounts.
    pub probe: bool,
    /// `hype.ip=` (with `hype.gw=`, `hype.dns=`): static IPv4 on eth0.
    pub net: Option<NetConfig>,
    /// `hype.rootfs=/dev/vda`: a read-only root filesystem image to boot
    /// into (under a tmpfs overlay), which also means "run the browser".
    pub rootfs: Option<PathBuf>,
    /// `hype.persist=/dev/vdb`: a per-VM ext4 disk that takes the root's
    /// writes instead of a tmpfs, so they outlive a reboot.
    pub persist: Option<PathBuf>,
    /// `hype.root=/dev/vda`: an imported disk (or one of its partitions)
    /// whose own system to start: its root filesystem is mounted read-write
    /// and its init becomes PID 1, while the agent stays beside it.
    pub root: Option<PathBuf>,
    /// `init=`: that system's init, as the kernel would take it without an
    /// initramfs; unset means the kernel's own search order.
    pub init: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConfig {
    pub addr: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Option<Ipv4Addr>,
    pub dns: Option<Ipv4Addr>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmdlineError {
    #[error("hype.ip={0:?} is not A.B.C.D/NN")]
    BadIp(String),
    #[error("{key}={value:?} is not an IPv4 address")]
    BadAddr { key: &'static str, value: String },
    #[error("{key}= is ignored without hype.ip=")]
    NeedsIp { key: &'static str },
    #[error("hype.probe={0:?} is not a boolean")]
    BadBool(String),
    #[error("{key}={value:?} is not a device under /dev/")]
    BadDevice { key: &'static str, value: String },
    #[error("init={0:?} is not an absolute path")]
    BadInit(String),
}

/// Parses a whole command line. Bad values are reported and skipped rather
/// than failing the boot: a VM without network still answers its agent.
pub fn parse(cmdline: &str) -> (Config, Vec<CmdlineError>) {
    let mut config = Config::default();
    let mut errors = Vec::new();
    let (mut ip, mut gw, mut dns) = (None, None, None);

    for word in hype_agent_proto::split_cmdline(cmdline) {
        // Everything after "--" is init's argv, not kernel parameters.
        if word == "--" {
            break;
        }
        let Some((key, value)) = word.split_once('=') else {
            continue;
        };
        match key {
            "hype.name" => config.name = non_empty(value),
            "hype.id" => config.id = non_empty(value),
            "hype.probe" => match parse_bool(value) {
                Some(b) => config.probe = b,
                None => errors.push(CmdlineError::BadBool(value.to_string())),
            },
            "hype.ip" => match parse_cidr(value) {
                Some(cidr) => ip = Some(cidr),
                None => errors.push(CmdlineError::BadIp(value.to_string())),
            },
            "hype.gw" => gw = parse_addr("hype.gw", value, &mut errors),
            "hype.dns" => dns = parse_addr("hype.dns", value, &mut errors),
            "hype.rootfs" => config.rootfs = device("hype.rootfs", value, &mut errors),
            "hype.persist" => config.persist = device("hype.persist", value, &mut errors),
            "hype.root" => config.root = device("hype.root", value, &mut errors),
            "init" => {
                if value.starts_with('/') && !value.split('/').any(|p| p == "..") {
                    config.init = Some(PathBuf::from(value));
                } else {
                    errors.push(CmdlineError::BadInit(value.to_string()));
                }
            }
            _ => {}
        }
    }

    match ip {
        Some((addr, prefix)) => {
            config.net = Some(NetConfig {
                addr,
                prefix,
                gateway: gw,
                dns,
            })
        }
        None => {
            if gw.is_some() {
                errors.push(CmdlineError::NeedsIp { key: "hype.gw" });
            }
            if dns.is_some() {
                errors.push(CmdlineError::NeedsIp { key: "hype.dns" });
            }
        }
    }
    (config, errors)
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_string())
}

fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "y" | "yes" | "true" | "on" => Some(true),
        "0" | "n" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

fn parse_cidr(value: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, prefix) = value.split_once('/')?;
    let addr = addr.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    (prefix <= 32).then_some((addr, prefix))
}

/// A block device path: under /dev/, without `..` (the agent mounts it).
fn parse_device(value: &str) -> Option<PathBuf> {
    let name = value.strip_prefix("/dev/")?;
    (!name.is_empty() && !name.split('/').any(|part| part == ".." || part.is_empty()))
        .then(|| PathBuf::from(value))
}

/// `key`'s device, or `None` with the error recorded.
fn device(key: &'static str, value: &str, errors: &mut Vec<CmdlineError>) -> Option<PathBuf> {
    let dev = parse_device(value);
    if dev.is_none() {
        errors.push(CmdlineError::BadDevice {
            key,
            value: value.to_string(),
        });
    }
    dev
}

fn parse_addr(key: &'static str, value: &str, errors: &mut Vec<CmdlineError>) -> Option<Ipv4Addr> {
    match value.parse() {
        Ok(addr) => Some(addr),
        Err(_) => {
            errors.push(CmdlineError::BadAddr {
                key,
                value: value.to_string(),
            });
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typical_line() {
        let (c, errs) = parse(
            "console=ttyS0 quiet hype.name=web-1 hype.id=0192f0a1 hype.ip=10.0.0.2/24 \
             hype.gw=10.0.0.1 hype.dns=10.0.0.1\n",
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(c.name.as_deref(), Some("web-1"));
        assert_eq!(c.id.as_deref(), Some("0192f0a1"));
        assert!(!c.probe);
        assert_eq!(
            c.net,
            Some(NetConfig {
                addr: Ipv4Addr::new(10, 0, 0, 2),
                prefix: 24,
                gateway: Some(Ipv4Addr::new(10, 0, 0, 1)),
                dns: Some(Ipv4Addr::new(10, 0, 0, 1)),
            })
        );
    }

    #[test]
    fn nothing_of_ours() {
        let (c, errs) = parse("BOOT_IMAGE=/vmlinuz root=/dev/vda ro");
        assert_eq!(c, Config::default());
        assert!(errs.is_empty());
    }

    #[test]
    fn probe_flag() {
        assert!(parse("hype.probe=1").0.probe);
        assert!(!parse("hype.probe=0").0.probe);
        let (c, errs) = parse("hype.probe=maybe");
        assert!(!c.probe);
        assert_eq!(errs, vec![CmdlineError::BadBool("maybe".into())]);
    }

    #[test]
    fn quotes_and_the_init_separator() {
        let (c, _) = parse("a=\"x y\" hype.name=\"my vm\" -- hype.id=not-ours");
        assert_eq!(c.name.as_deref(), Some("my vm"));
        assert_eq!(c.id, None);
        assert_eq!(
            hype_agent_proto::split_cmdline(" a  \"b c\"d \t e"),
            vec!["a", "b cd", "e"]
        );
    }

    #[test]
    fn bad_network_values_are_reported_and_skipped() {
        let (c, errs) = parse("hype.ip=10.0.0.2 hype.gw=10.0.0.300");
        assert_eq!(c.net, None);
        assert_eq!(
            errs,
            vec![
                CmdlineError::BadIp("10.0.0.2".into()),
                CmdlineError::BadAddr {
                    key: "hype.gw",
                    value: "10.0.0.300".into()
                },
            ]
        );
        assert_eq!(
            parse("hype.ip=10.0.0.2/33").1,
            vec![CmdlineError::BadIp("10.0.0.2/33".into())]
        );
        assert_eq!(
            parse("hype.dns=1.1.1.1").1,
            vec![CmdlineError::NeedsIp { key: "hype.dns" }]
        );
    }

    #[test]
    fn ip_without_gateway() {
        let (c, errs) = parse("hype.ip=192.168.1.5/32");
        assert!(errs.is_empty());
        let net = c.net.unwrap();
        assert_eq!((net.prefix, net.gateway, net.dns), (32, None, None));
    }

    #[test]
    fn rootfs_device() {
        let (c, errs) = parse("hype.rootfs=/dev/vda hype.persist=/dev/vdb");
        assert_eq!(c.persist, Some(PathBuf::from("/dev/vdb")));
        let (c, errs) = (c, errs);
        assert!(errs.is_empty());
        assert_eq!(c.rootfs, Some(PathBuf::from("/dev/vda")));
        for bad in ["vda", "/dev/", "/dev/../etc/x", "/tmp/x"] {
            let (c, errs) = parse(&format!("hype.rootfs={bad}"));
            assert_eq!(c.rootfs, None);
            assert_eq!(
                errs,
                vec![CmdlineError::BadDevice {
                    key: "hype.rootfs",
                    value: bad.into()
                }]
            );
        }
    }

    #[test]
    fn an_imported_disks_root_and_init() {
        let (c, errs) = parse("hype.root=/dev/vda init=/lib/systemd/systemd hype.root=/dev/vda2");
        assert!(errs.is_empty(), "{errs:?}");
        // The last word wins, so a user's command line overrides hyped's.
        assert_eq!(c.root, Some(PathBuf::from("/dev/vda2")));
        assert_eq!(c.init, Some(PathBuf::from("/lib/systemd/systemd")));
        assert_eq!(c.rootfs, None);
        let (c, errs) = parse("init=sbin/init hype.root=vda");
        assert_eq!((c.init, c.root), (None, None));
        assert_eq!(
            errs,
            vec![
                CmdlineError::BadInit("sbin/init".into()),
                CmdlineError::BadDevice {
                    key: "hype.root",
                    value: "vda".into()
                }
            ]
        );
    }

    #[test]
    fn empty_values_are_absent() {
        let (c, _) = parse("hype.name= hype.id=");
        assert_eq!((c.name, c.id), (None, None));
    }
}
