//! The guest's users, as an exec or a file write names them: `name`, `uid`
//! or `uid:gid` (either part may be a name), read from `/etc/passwd` and
//! `/etc/group` of the root the agent currently sees (the initramfs, the
//! browser's root, or an imported disk's own system). The files are parsed
//! by hand: the agent is linked statically, and glibc's getpwnam would try
//! to load NSS modules at run time. It also decides who runs an exec that
//! names nobody.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// A user an exec runs as, or a write's files belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (from /etc/group), the primary one included.
    pub groups: Vec<u32>,
    pub home: String,
    pub shell: String,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("no user {0:?} in the guest")]
    NoUser(String),
    #[error("no group {0:?} in the guest")]
    NoGroup(String),
    #[error("read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Set when the agent serves an imported disk's own system (`hype.root=`):
/// that system's user is root, whatever accounts it has.
static DISK_SYSTEM: AtomicBool = AtomicBool::new(false);

/// From now on, execs that name no user run as root.
pub fn serving_disk_system() {
    DISK_SYSTEM.store(true, Ordering::Relaxed);
}

/// Where the account files are: `/etc` of the agent's current root, or a
/// test's own directory.
#[derive(Debug, Clone)]
pub struct Accounts {
    passwd: PathBuf,
    group: PathBuf,
}

impl Default for Accounts {
    fn default() -> Self {
        Self::in_dir(Path::new("/etc"))
    }
}

struct PasswdLine<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
    shell: &'a str,
}

impl Accounts {
    pub fn in_dir(etc: &Path) -> Self {
        Self {
            passwd: etc.join("passwd"),
            group: etc.join("group"),
        }
    }

    fn read(path: &Path) -> Result<String, UserError> {
        match fs::read_to_string(path) {
            Ok(text) => Ok(text),
            // A guest without the file has only root, by number.
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
            Err(source) => Err(UserError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// The user for `spec` (`name`, `uid`, `uid:gid`), or the default one.
    pub fn resolve(&self, spec: Option<&str>) -> Result<User, UserError> {
        let passwd = Self::read(&self.passwd)?;
        let group = Self::read(&self.group)?;
        let spec = match spec {
            Some(spec) => spec.to_string(),
            None => self.default_name(&passwd),
        };
        let (user_part, group_part) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec.as_str(), None),
        };
        let mut user = lookup_user(&passwd, &group, user_part)?;
        if let Some(g) = group_part {
            let gid = match g.parse::<u32>() {
                Ok(gid) => gid,
                Err(_) => group_entries(&group)
                    .find(|e| e.0 == g)
                    .map(|e| e.1)
                    .ok_or_else(|| UserError::NoGroup(g.to_string()))?,
            };
            // An explicit group is the only one: `uid:gid` asks for exactly
            // that identity, as docker's `--user` does.
            user.gid = gid;
            user.groups = vec![gid];
        }
        Ok(user)
    }

    /// Who runs an exec that names nobody: root on an imported disk's own
    /// system, else the image's unprivileged user (`browser` in the browser
    /// image, `hype` in base), else root.
    fn default_name(&self, passwd: &str) -> String {
        if DISK_SYSTEM.load(Ordering::Relaxed) {
            return "root".into();
        }
        for name in ["browser", "hype"] {
            if passwd_entries(passwd).any(|e| e.name == name) {
                return name.into();
            }
        }
        "root".into()
    }
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdLine<'_>> {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        match f.as_slice() {
            [name, _, uid, gid, _, home, shell, ..] => Some(PasswdLine {
                name,
                uid: uid.parse().ok()?,
                gid: gid.parse().ok()?,
                home,
                shell,
            }),
            _ => None,
        }
    })
}

/// (name, gid, members) of each /etc/group line.
fn group_entries(text: &str) -> impl Iterator<Item = (&str, u32, Vec<&str>)> {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        match f.as_slice() {
            [name, _, gid, members, ..] => Some((
                *name,
                gid.parse().ok()?,
                members.split(',').filter(|m| !m.is_empty()).collect(),
            )),
            _ => None,
        }
    })
}

fn lookup_user(passwd: &str, group: &str, spec: &str) -> Result<User, UserError> {
    let numeric = spec.parse::<u32>().ok();
    let found = passwd_entries(passwd).find(|e| match numeric {
        Some(uid) => e.uid == uid,
        None => e.name == spec,
    });
    let Some(e) = found else {
        return match numeric {
            // A bare number needs no account (as with docker's --user): it
            // runs with that uid, a group of the same number, in `/`.
            Some(uid) => Ok(User {
                name: uid.to_string(),
                uid,
                gid: uid,
                groups: vec![uid],
                home: "/".into(),
                shell: "/bin/sh".into(),
            }),
            None if spec == "root" => Ok(root()),
            None => Err(UserError::NoUser(spec.to_string())),
        };
    };
    let mut groups = vec![e.gid];
    for (_, gid, members) in group_entries(group) {
        if members.contains(&e.name) && !groups.contains(&gid) {
            groups.push(gid);
        }
    }
    Ok(User {
        name: e.name.to_string(),
        uid: e.uid,
        gid: e.gid,
        groups,
        home: e.home.to_string(),
        shell: if e.shell.is_empty() {
            "/bin/sh".into()
        } else {
            e.shell.to_string()
        },
    })
}

/// Root when the guest has no passwd line for it.
fn root() -> User {
    User {
        name: "root".into(),
        uid: 0,
        gid: 0,
        groups: vec![0],
        home: "/root".into(),
        shell: "/bin/sh".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts(passwd: &str, group: &str) -> (tempfile::TempDir, Accounts) {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("passwd"), passwd).unwrap();
        fs::write(dir.path().join("group"), group).unwrap();
        let accounts = Accounts::in_dir(dir.path());
        (dir, accounts)
    }

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
                          hype:x:1000:1000:hype:/home/hype:/bin/sh\n\
                          daemon:x:1:1::/usr/sbin:\n";
    const GROUP: &str = "root:x:0:\nhype:x:1000:\nvideo:x:44:hype,daemon\naudio:x:29:daemon\n";

    #[test]
    fn names_numbers_and_groups() {
        let (_d, a) = accounts(PASSWD, GROUP);
        let hype = a.resolve(Some("hype")).unwrap();
        assert_eq!(
            (hype.uid, hype.gid, hype.groups.clone()),
            (1000, 1000, vec![1000, 44])
        );
        assert_eq!(
            (hype.home.as_str(), hype.shell.as_str()),
            ("/home/hype", "/bin/sh")
        );
        assert_eq!(a.resolve(Some("1000")).unwrap(), hype);
        let daemon = a.resolve(Some("daemon")).unwrap();
        assert_eq!(daemon.groups, vec![1, 44, 29]);
        assert_eq!(daemon.shell, "/bin/sh");
        let odd = a.resolve(Some("4242")).unwrap();
        assert_eq!((odd.uid, odd.gid, odd.home.as_str()), (4242, 4242, "/"));
        let pair = a.resolve(Some("hype:audio")).unwrap();
        assert_eq!((pair.uid, pair.gid, pair.groups), (1000, 29, vec![29]));
        assert_eq!(a.resolve(Some("1000:7")).unwrap().gid, 7);
    }

    #[test]
    fn unknown_names_are_not_found() {
        let (_d, a) = accounts(PASSWD, GROUP);
        let e = a.resolve(Some("mallory")).unwrap_err();
        assert_eq!(e.to_string(), "no user \"mallory\" in the guest");
        assert!(matches!(
            a.resolve(Some("hype:nogroup")),
            Err(UserError::NoGroup(_))
        ));
    }

    #[test]
    fn the_default_is_the_unprivileged_user() {
        let (_d, a) = accounts(PASSWD, GROUP);
        assert_eq!(a.resolve(None).unwrap().name, "hype");
        let (_d, a) = accounts(
            &format!("{PASSWD}browser:x:1001:1001::/home/browser:/usr/sbin/nologin\n"),
            GROUP,
        );
        assert_eq!(a.resolve(None).unwrap().name, "browser");
        let (_d, a) = accounts("", "");
        let root = a.resolve(None).unwrap();
        assert_eq!((root.uid, root.home.as_str()), (0, "/root"));
    }
}
