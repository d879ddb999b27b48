//! Forks on cloud-hypervisor. A VM that may be forked has its RAM in one
//! memory zone backed by a file mapped shared, so CH's `vm.snapshot` leaves
//! the RAM out (the file holds it) and writes only `config.json` and
//! `state.json`. A fork restores from a copy of that snapshot whose
//! `config.json` names the fork's own devices (tap, MAC, sockets, console)
//! and maps the snapshot's RAM file privately: pages a fork never writes
//! stay one copy in the page cache for all of them, as on QEMU.
//!
//! The config is edited as JSON, not through `hype_ch::api::VmConfig`: CH
//! restores from every field it saved, including those hype does not model.

use std::path::Path;

use serde_json::Value;

use crate::spec::files;
use crate::{Boot, Memory, VmSpec, VmmError};

/// CH's snapshot files: the config the VM was created with, and the state
/// of its devices.
pub(super) const CONFIG_FILE: &str = "config.json";
/// Where a fork's copy of the snapshot goes, in its run directory.
pub(super) const RESTORE_DIR: &str = "fork-restore";

/// Rewrites a snapshot's `config.json` (`saved`) into the config of the
/// fork `spec`, or says why the snapshot cannot be forked into it.
pub(super) fn fork_config(saved: &mut Value, spec: &VmSpec) -> Result<(), String> {
    let path = |f: &str| Value::from(spec.run_dir.join(f).display().to_string());
    if !matches!(spec.memory, Memory::Private(_)) {
        return Err("a fork's memory must be the snapshot's RAM file, mapped privately".into());
    }
    set_ram(saved, &spec.memory)?;

    let Boot::Kernel {
        kernel,
        initramfs,
        cmdline,
    } = &spec.boot
    else {
        return Err("only a VM booted on a kernel can be forked".into());
    };
    let payload = object(saved, "payload")?;
    payload.insert("kernel".into(), kernel.display().to_string().into());
    match initramfs {
        Some(i) => payload.insert("initramfs".into(), i.display().to_string().into()),
        None => payload.remove("initramfs"),
    };
    payload.insert("cmdline".into(), cmdline.clone().into());

    let disks = list(saved, "disks");
    if disks.len() != spec.disks.len() {
        return Err(format!(
            "the snapshot has {} disks, the fork {}",
            disks.len(),
            spec.disks.len()
        ));
    }
    for (saved, disk) in disks.iter_mut().zip(&spec.disks) {
        let saved = saved.as_object_mut().ok_or("a disk is not an object")?;
        saved.insert("path".into(), disk.path.display().to_string().into());
    }

    let nets = list(saved, "net");
    match (&spec.tap, &spec.mac, nets.as_mut_slice()) {
        (Some(tap), Some(mac), [net]) => {
            let net = net.as_object_mut().ok_or("the NIC is not an object")?;
            net.insert("tap".into(), tap.clone().into());
            net.insert("mac".into(), mac.clone().into());
            // A tap opened by hyped for the source is not the fork's.
            net.remove("fds");
        }
        (None, _, []) => {}
        (_, _, nets) => {
            return Err(format!(
                "the snapshot has {} NICs; a fork gets {}",
                nets.len(),
                u8::from(spec.tap.is_some())
            ))
        }
    }

    object(saved, "serial")?.insert("file".into(), path(files::CONSOLE_LOG));
    if let Some(vsock) = saved.get_mut("vsock").and_then(Value::as_object_mut) {
        vsock.insert("socket".into(), path(files::VSOCK_SOCK));
    }
    Ok(())
}

/// Points a saved config's RAM zone at `memory`'s file, mapped as it says.
pub(super) fn set_ram(config: &mut Value, memory: &Memory) -> Result<(), String> {
    let (file, shared) = memory
        .file()
        .ok_or("the VM's memory is not a file, unlike the snapshot's")?;
    let zones = config
        .pointer_mut("/memory/zones")
        .and_then(Value::as_array_mut)
        .filter(|z| z.len() == 1)
        .ok_or("the snapshot's RAM is not one memory zone backed by a file")?;
    let zone = zones[0]
        .as_object_mut()
        .filter(|z| z.get("file").is_some_and(Value::is_string))
        .ok_or("the snapshot's memory zone has no file")?;
    zone.insert("file".into(), file.display().to_string().into());
    zone.insert("shared".into(), shared.into());
    Ok(())
}

/// Makes a standby snapshot's config map the RAM file `memory` of the VM
/// it comes back as. A fork saved its RAM (private to it) in the snapshot,
/// and comes back with its own shared file, which CH fills from it. A
/// config without a RAM zone (anonymous RAM) is left as it is.
pub(super) fn retarget(config: &Path, vm: &str, memory: &Memory) -> crate::Result<()> {
    let io = |source| VmmError::Io {
        vm: vm.into(),
        path: config.to_owned(),
        source,
    };
    let mut saved: Value =
        serde_json::from_slice(&std::fs::read(config).map_err(io)?).map_err(|e| {
            VmmError::SavedConfig {
                vm: vm.into(),
                reason: format!("{}: {e}", config.display()),
            }
        })?;
    if saved.pointer("/memory/zones/0").is_none() {
        return Ok(());
    }
    set_ram(&mut saved, memory).map_err(|reason| VmmError::SavedConfig {
        vm: vm.into(),
        reason,
    })?;
    let text = serde_json::to_vec_pretty(&saved).expect("a JSON value serialises");
    std::fs::write(config, text).map_err(io)
}

fn object<'a>(
    config: &'a mut Value,
    key: &'static str,
) -> Result<&'a mut serde_json::Map<String, Value>, String> {
    config
        .get_mut(key)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| format!("the snapshot's config has no {key}"))
}

/// The list `key` of the config (CH writes `null` for an empty one).
fn list<'a>(config: &'a mut Value, key: &'static str) -> &'a mut Vec<Value> {
    let slot = &mut config[key];
    if !slot.is_array() {
        *slot = Value::Array(vec![]);
    }
    slot.as_array_mut().expect("just made an array")
}

/// Makes `restore` (in the fork's run directory) a copy of the snapshot in
/// `state` with the fork's own config. CH reads it as the fork's VMM, so
/// the copy is readable by every uid (its content is the snapshot's, which
/// that VMM maps anyway).
pub(super) fn prepare(state: &Path, restore: &Path, spec: &VmSpec) -> crate::Result<()> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| VmmError::Io {
            vm: spec.name.clone(),
            path,
            source,
        }
    };
    let refused = |reason: String| VmmError::SavedConfig {
        vm: spec.name.clone(),
        reason,
    };
    let _ = std::fs::remove_dir_all(restore);
    std::fs::create_dir_all(restore).map_err(io(restore))?;
    set_mode(restore, 0o755).map_err(io(restore))?;
    for entry in std::fs::read_dir(state).map_err(io(state))? {
        let from = entry.map_err(io(state))?.path();
        let Some(name) = from.file_name() else {
            continue;
        };
        let to = restore.join(name);
        if name == CONFIG_FILE {
            let text = std::fs::read(&from).map_err(io(&from))?;
            let mut config: Value = serde_json::from_slice(&text)
                .map_err(|e| refused(format!("{}: {e}", from.display())))?;
            fork_config(&mut config, spec).map_err(refused)?;
            let text = serde_json::to_vec_pretty(&config).expect("a JSON value serialises");
            std::fs::write(&to, text).map_err(io(&to))?;
        } else {
            // `state.json` (kilobytes), and `memory-ranges` if CH saved
            // any RAM outside the file.
            std::fs::copy(&from, &to).map_err(io(&from))?;
        }
        set_mode(&to, 0o644).map_err(io(&to))?;
    }
    if !restore.join(CONFIG_FILE).exists() {
        return Err(refused(format!("{} has no {CONFIG_FILE}", state.display())));
    }
    Ok(())
}

/// The RAM file a snapshot's config maps shared, if its RAM is one.
pub(super) fn ram_file(config: &Path) -> Option<std::path::PathBuf> {
    let config: Value = serde_json::from_slice(&std::fs::read(config).ok()?).ok()?;
    let zones = config.pointer("/memory/zones")?.as_array()?;
    let [zone] = zones.as_slice() else {
        return None;
    };
    if zone.get("shared") != Some(&Value::Bool(true)) {
        return None;
    }
    zone.get("file")?.as_str().map(Into::into)
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode))
}
