//! `hype-jailer`'s program: the one place hype changes namespaces, mounts
//! and credentials. It runs single-threaded (a fresh process), so forking
//! and the mount dance are safe. Every failure is one line on stderr (the
//! VM's `vmm.log`, which hyped quotes) and a non-zero exit.

use std::ffi::CString;
use std::os::fd::{AsRawFd, IntoRawFd};
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::unistd::{fork, ForkResult, Gid, Uid};

use super::{Bind, JailSpec};

type Step<T = ()> = std::result::Result<T, String>;

/// `hype-jailer SPEC.json`: returns the process's exit status.
pub fn main() -> i32 {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("hype-jailer: usage: hype-jailer SPEC.json");
        return 2;
    };
    let spec: JailSpec = match std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hype-jailer: {}: {e}", Path::new(&path).display());
            return 2;
        }
    };
    match jail(&spec) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("hype-jailer: VM {}: {e}", spec.name);
            1
        }
    }
}

fn jail(spec: &JailSpec) -> Step {
    // The jail's skeleton (mount points, the parents of the VM's paths)
    // must be traversable by the VM's uid; what it mounts there keeps its
    // own modes.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    // The cgroup first: everything after, the VMM included, is in it.
    let me = std::process::id().to_string();
    for procs in &spec.cgroup_procs {
        std::fs::write(procs, &me).map_err(|e| format!("join {}: {e}", procs.display()))?;
    }
    unshare(
        CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWPID
            | CloneFlags::CLONE_NEWIPC
            | CloneFlags::CLONE_NEWUTS,
    )
    .map_err(|e| format!("unshare: {e}"))?;
    // SAFETY: this process is single-threaded; the child only makes system
    // calls and execs (or exits).
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Parent { child } => {
            // hyped reads the VMM's pid here, then adopts it as its reaper.
            println!("{child}");
            Ok(())
        }
        ForkResult::Child => {
            // Stdout is the pipe hyped reads the pid from: the VMM must not
            // hold it open. Its output goes to its log, as stderr does.
            let _ = nix::unistd::dup2(2, 1);
            let e = vmm(spec).unwrap_err();
            eprintln!("hype-jailer: VM {}: {e}", spec.name);
            std::process::exit(1)
        }
    }
}

/// In the new PID namespace (as its PID 1): the root, the credentials,
/// then the VMM. Returns only on failure.
fn vmm(spec: &JailSpec) -> Step<std::convert::Infallible> {
    nix::unistd::setsid().map_err(|e| format!("setsid: {e}"))?;
    let tap = match &spec.tap {
        Some(t) => Some((open_tap(&t.name)?, t.fd)),
        None => None,
    };
    if spec.new_net {
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| format!("unshare net: {e}"))?;
    }
    nix::unistd::sethostname(&spec.name).map_err(|e| format!("sethostname: {e}"))?;
    build_root(spec)?;
    if let Some((fd, at)) = tap {
        nix::unistd::dup2(fd, at).map_err(|e| format!("dup2 tap: {e}"))?;
        if fd != at {
            let _ = nix::unistd::close(fd);
        }
    }
    // No supplementary group: root's would follow the VMM otherwise.
    nix::unistd::setgroups(&[]).map_err(|e| format!("setgroups: {e}"))?;
    let gid = Gid::from_raw(spec.gid);
    nix::unistd::setresgid(gid, gid, gid).map_err(|e| format!("setresgid: {e}"))?;
    let uid = Uid::from_raw(spec.uid);
    nix::unistd::setresuid(uid, uid, uid).map_err(|e| format!("setresuid: {e}"))?;
    // SAFETY: prctl with PR_SET_NO_NEW_PRIVS takes integer arguments.
    if unsafe { nix::libc::prctl(nix::libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!("no_new_privs: {}", std::io::Error::last_os_error()));
    }
    std::env::set_current_dir(&spec.run_dir)
        .map_err(|e| format!("chdir {}: {e}", spec.run_dir.display()))?;
    // What the VMM creates (its console, sockets, saved states) is the
    // VM's alone.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let exe = cstr(spec.exe.as_os_str().as_encoded_bytes())?;
    let mut argv = vec![exe.clone()];
    for a in &spec.args {
        argv.push(cstr(a.as_bytes())?);
    }
    let env = [cstr(b"PATH=/usr/bin:/bin")?];
    let e = nix::unistd::execve(&exe, &argv, &env).unwrap_err();
    Err(format!("exec {}: {e}", spec.exe.display()))
}

fn cstr(b: &[u8]) -> Step<CString> {
    CString::new(b).map_err(|_| "a NUL byte in an argument".to_owned())
}

/// Opens the persistent tap `name` (as root, before the credentials go)
/// and returns its descriptor, not closed on exec.
fn open_tap(name: &str) -> Step<i32> {
    #[repr(C)]
    struct IfReq {
        name: [u8; 16],
        flags: nix::libc::c_short,
        _pad: [u8; 22],
    }
    nix::ioctl_write_ptr_bad!(
        tunsetiff,
        nix::request_code_write!(b'T', 202, std::mem::size_of::<nix::libc::c_int>()),
        IfReq
    );
    if name.len() > 15 {
        return Err(format!("tap name {name:?} too long"));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map_err(|e| format!("open /dev/net/tun: {e}"))?;
    let mut req = IfReq {
        name: [0; 16],
        // IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, as the tap was made.
        flags: 0x0002 | 0x1000 | 0x4000,
        _pad: [0; 22],
    };
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: a valid ifreq for the duration of the call.
    unsafe { tunsetiff(file.as_raw_fd(), &req) }.map_err(|e| format!("TUNSETIFF {name}: {e}"))?;
    // std opens with O_CLOEXEC; the VMM must inherit this one.
    let fd = file.into_raw_fd();
    nix::fcntl::fcntl(
        fd,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .map_err(|e| format!("fcntl tap: {e}"))?;
    Ok(fd)
}

fn bind(src: &Path, dst: &Path, writable: bool) -> Step {
    mount(
        Some(src),
        dst,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| format!("bind {}: {e}", src.display()))?;
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID;
    if !writable {
        flags |= MsFlags::MS_RDONLY;
    }
    mount(None::<&str>, dst, None::<&str>, flags, None::<&str>)
        .map_err(|e| format!("remount {}: {e}", dst.display()))
}

/// `path` inside the new root: the same path under `root`.
fn inside(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// Makes the mount point for `src` (a file or a directory) at `dst`.
fn mount_point(src: &Path, dst: &Path) -> Step {
    let mk = |e: std::io::Error| format!("mount point {}: {e}", dst.display());
    if src.is_dir() {
        std::fs::create_dir_all(dst).map_err(mk)
    } else {
        if let Some(p) = dst.parent() {
            std::fs::create_dir_all(p).map_err(mk)?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dst)
            .map(drop)
            .map_err(mk)
    }
}

/// Makes at `dst` a node of the host's character device `dev`, which only
/// `uid` can open.
fn own_device(dev: &Path, dst: &Path, uid: u32, gid: u32) -> Step {
    use nix::sys::stat::{mknod, stat, Mode, SFlag};
    let host = stat(dev).map_err(|e| format!("stat {}: {e}", dev.display()))?;
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("mkdir {}: {e}", parent.display()))?;
    }
    mknod(
        dst,
        SFlag::S_IFCHR,
        Mode::S_IRUSR | Mode::S_IWUSR,
        host.st_rdev,
    )
    .map_err(|e| format!("mknod {}: {e}", dev.display()))?;
    nix::unistd::chown(dst, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
        .map_err(|e| format!("chown {}: {e}", dev.display()))
}

/// A tmpfs root with `/usr` (read-only: the VMM's binary, libraries and
/// data files), the loader's cache, the device nodes, `/proc` of the new
/// PID namespace, an empty `/tmp`, and the VM's own files; then
/// `pivot_root` into it, leaving the host's tree behind.
fn build_root(spec: &JailSpec) -> Step {
    let root = &spec.root;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| format!("make / private: {e}"))?;
    mount(
        Some("tmpfs"),
        root,
        Some("tmpfs"),
        MsFlags::MS_NOSUID,
        Some("mode=0755,size=16m"),
    )
    .map_err(|e| format!("tmpfs on {}: {e}", root.display()))?;
    // /tmp first: VM files under /tmp on the host land inside it.
    let tmp = root.join("tmp");
    std::fs::create_dir_all(&tmp).map_err(|e| format!("mkdir /tmp: {e}"))?;
    mount(
        Some("tmpfs"),
        &tmp,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=1777,size=64m"),
    )
    .map_err(|e| format!("tmpfs on /tmp: {e}"))?;
    let mut binds: Vec<Bind> = vec![Bind {
        path: "/usr".into(),
        writable: false,
    }];
    if Path::new("/etc/ld.so.cache").exists() {
        binds.push(Bind {
            path: "/etc/ld.so.cache".into(),
            writable: false,
        });
    }
    binds.push(Bind {
        path: spec.run_dir.clone(),
        writable: true,
    });
    binds.extend(spec.binds.iter().cloned());
    for dev in &spec.devices {
        binds.push(Bind {
            path: dev.clone(),
            writable: true,
        });
    }
    for (i, b) in binds.iter().enumerate() {
        // A read-only file under a read-only bind already made (OVMF's
        // code under /usr) is there: its mount point could not be made
        // in a read-only tree, and needs none.
        if !b.writable
            && binds[..i]
                .iter()
                .any(|o| !o.writable && b.path.starts_with(&o.path))
        {
            continue;
        }
        let dst = inside(root, &b.path);
        mount_point(&b.path, &dst)?;
        bind(&b.path, &dst, b.writable)?;
    }
    for dev in &spec.own_devices {
        own_device(dev, &inside(root, dev), spec.uid, spec.gid)?;
    }
    for (link, to) in [
        ("lib", "usr/lib"),
        ("lib64", "usr/lib64"),
        ("bin", "usr/bin"),
        ("sbin", "usr/sbin"),
    ] {
        if Path::new("/").join(to).exists() {
            std::os::unix::fs::symlink(to, root.join(link))
                .map_err(|e| format!("symlink /{link}: {e}"))?;
        }
    }
    for dir in ["proc", ".old"] {
        std::fs::create_dir_all(root.join(dir)).map_err(|e| format!("mkdir /{dir}: {e}"))?;
    }
    nix::unistd::pivot_root(root, &root.join(".old")).map_err(|e| format!("pivot_root: {e}"))?;
    std::env::set_current_dir("/").map_err(|e| format!("chdir /: {e}"))?;
    umount2("/.old", MntFlags::MNT_DETACH).map_err(|e| format!("detach the host's root: {e}"))?;
    std::fs::remove_dir("/.old").map_err(|e| format!("rmdir /.old: {e}"))?;
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|e| format!("mount /proc: {e}"))?;
    // The new root stays read-only from here: only the VM's own files
    // and /tmp take writes.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID,
        Some("mode=0755,size=16m"),
    )
    .map_err(|e| format!("remount / read-only: {e}"))
}
