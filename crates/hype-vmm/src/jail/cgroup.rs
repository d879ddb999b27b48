//! Each VMM's cgroup: `memory` bounded by the VM's memory plus the VMM's
//! own overhead, `cpu` by its cores, `pids` by a fixed ceiling, so that one
//! VM cannot starve the host or its neighbours.
//!
//! cgroup v2 (one unified tree, as systemd hosts have) is used when the
//! host has it with the controllers enabled: `<root>/hype/<vm>` with
//! `memory.max`, `cpu.max` and `pids.max`. A host whose controllers are
//! still on cgroup v1 hierarchies gets the same limits there
//! (`memory.limit_in_bytes`, `cpu.cfs_quota_us`, `pids.max`) in one
//! `hype/<vm>` group per controller.
//!
//! A VM waiting in a warm pool is background work: its group is marked
//! `cpu.idle` (SCHED_IDLE for the group, Linux 5.15+), so it runs on CPU
//! time nobody else wants and a sandbox a user holds preempts it at once
//! when it wakes; on older kernels it gets a tenth of the normal weight
//! (`cpu.weight` 10, `cpu.shares` 102) instead. Weight alone is not enough
//! under TCG: a refill's fork, starting, kept a just-claimed sandbox's
//! first CDP answer waiting 3x longer. A claim makes the group normal.

use std::path::{Path, PathBuf};

/// Processes (threads included) a VMM may have.
pub const PIDS_MAX: u32 = 512;
const CPU_PERIOD_US: u64 = 100_000;

/// How much CPU a VM's VMM gets beside others when the host is busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Priority {
    /// A sandbox someone holds: the default weight.
    #[default]
    Normal,
    /// Work nobody waits on yet (a warm pool's VMs): a tenth of it.
    Background,
}

impl Priority {
    /// The v2 `cpu.weight` and the v1 `cpu.shares` of this priority.
    fn weights(self) -> (u32, u32) {
        match self {
            Priority::Normal => (100, 1024),
            Priority::Background => (10, 102),
        }
    }
}

/// The host's cgroup layout, detected once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cgroups {
    /// The unified tree at this mount point.
    V2(PathBuf),
    /// One mount point per controller (memory, cpu, pids).
    V1 {
        memory: PathBuf,
        cpu: PathBuf,
        pids: PathBuf,
    },
    /// Neither is usable: VMMs run without limits (and hyped says so).
    None,
}

/// What a VM's VMM may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: u64,
    pub cpus: u32,
    pub priority: Priority,
}

impl Limits {
    /// The guest's memory plus what the VMM itself needs: its own heap and
    /// threads, and under TCG the translation cache (bounded by the
    /// backend to 256 MiB).
    pub fn for_vm(memory_mb: u32, cpus: u32, tcg: bool, priority: Priority) -> Self {
        let guest = u64::from(memory_mb) << 20;
        let overhead = (160u64 << 20) + guest / 16 + if tcg { 320u64 << 20 } else { 0 };
        Self {
            memory_bytes: guest + overhead,
            cpus,
            priority,
        }
    }
}

const GROUP: &str = "hype";

/// Writes a cgroup file; the error names it.
fn w(p: PathBuf, v: String) -> std::io::Result<()> {
    std::fs::write(&p, v)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", p.display())))
}

impl Cgroups {
    /// Finds the host's layout.
    pub fn detect() -> Self {
        let base = Path::new("/sys/fs/cgroup");
        let controllers =
            std::fs::read_to_string(base.join("cgroup.controllers")).unwrap_or_default();
        if ["memory", "cpu", "pids"]
            .iter()
            .all(|c| controllers.split_whitespace().any(|x| x == *c))
        {
            return Cgroups::V2(base.to_owned());
        }
        let v1 = |c: &str| {
            let p = base.join(c);
            p.join("cgroup.procs").exists().then_some(p)
        };
        match (v1("memory"), v1("cpu"), v1("pids")) {
            (Some(memory), Some(cpu), Some(pids)) => Cgroups::V1 { memory, cpu, pids },
            _ => Cgroups::None,
        }
    }

    /// The VM's group directories (one for v2, one per controller for v1).
    pub fn dirs(&self, vm: &str) -> Vec<PathBuf> {
        match self {
            Cgroups::V2(root) => vec![root.join(GROUP).join(vm)],
            Cgroups::V1 { memory, cpu, pids } => [memory, cpu, pids]
                .iter()
                .map(|c| c.join(GROUP).join(vm))
                .collect(),
            Cgroups::None => vec![],
        }
    }

    /// Makes the VM's groups with `limits`; returns the `cgroup.procs`
    /// files a process joins them through.
    pub fn create(&self, vm: &str, limits: Limits) -> std::io::Result<Vec<PathBuf>> {
        // A group left by an earlier VM of this name (its VMM died with
        // hyped down) would still be charged for that VM's memory.
        self.remove(vm);
        match self {
            Cgroups::V2(root) => {
                let parent = root.join(GROUP);
                std::fs::create_dir_all(&parent)?;
                // Controllers reach a group only through its parents.
                for dir in [root.as_path(), parent.as_path()] {
                    w(
                        dir.join("cgroup.subtree_control"),
                        "+memory +cpu +pids".into(),
                    )?;
                }
                let dir = parent.join(vm);
                std::fs::create_dir_all(&dir)?;
                w(dir.join("memory.max"), limits.memory_bytes.to_string())?;
                w(dir.join("memory.swap.max"), "0".into()).ok();
                w(
                    dir.join("cpu.max"),
                    format!("{} {CPU_PERIOD_US}", u64::from(limits.cpus) * CPU_PERIOD_US),
                )?;
                w(dir.join("pids.max"), PIDS_MAX.to_string())?;
                self.set_priority(vm, limits.priority)?;
                Ok(vec![dir.join("cgroup.procs")])
            }
            Cgroups::V1 { memory, cpu, pids } => {
                let mk = |c: &Path| -> std::io::Result<PathBuf> {
                    let d = c.join(GROUP).join(vm);
                    std::fs::create_dir_all(&d)?;
                    Ok(d)
                };
                let (m, c, p) = (mk(memory)?, mk(cpu)?, mk(pids)?);
                w(
                    m.join("memory.limit_in_bytes"),
                    limits.memory_bytes.to_string(),
                )?;
                w(c.join("cpu.cfs_period_us"), CPU_PERIOD_US.to_string())?;
                w(
                    c.join("cpu.cfs_quota_us"),
                    (u64::from(limits.cpus) * CPU_PERIOD_US).to_string(),
                )?;
                w(p.join("pids.max"), PIDS_MAX.to_string())?;
                self.set_priority(vm, limits.priority)?;
                Ok([m, c, p].iter().map(|d| d.join("cgroup.procs")).collect())
            }
            Cgroups::None => Ok(vec![]),
        }
    }

    /// Sets a VM's CPU priority: at its launch, and when a pool VM is
    /// handed out.
    pub fn set_priority(&self, vm: &str, priority: Priority) -> std::io::Result<()> {
        let (weight, shares) = priority.weights();
        let (dir, file, value) = match self {
            Cgroups::V2(root) => (root.join(GROUP).join(vm), "cpu.weight", weight),
            Cgroups::V1 { cpu, .. } => (cpu.join(GROUP).join(vm), "cpu.shares", shares),
            Cgroups::None => return Ok(()),
        };
        let idle = dir.join("cpu.idle");
        // Kernels before 5.15 have no idle groups: the weight is all. An
        // idle group refuses a weight (EINVAL): it is set while not idle.
        let has_idle = idle.exists();
        if has_idle && priority == Priority::Normal {
            w(idle.clone(), "0".into())?;
        }
        w(dir.join(file), value.to_string())?;
        if has_idle && priority == Priority::Background {
            w(idle, "1".into())?;
        }
        Ok(())
    }

    /// Removes the VM's groups (they must be empty: its VMM is gone).
    pub fn remove(&self, vm: &str) {
        for d in self.dirs(vm) {
            let _ = std::fs::remove_dir(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_cover_the_guest_and_the_vmm() {
        let kvm = Limits::for_vm(1024, 2, false, Priority::Normal);
        assert_eq!(kvm.memory_bytes, (1024 + 160 + 64) << 20);
        let tcg = Limits::for_vm(1024, 2, true, Priority::Normal);
        assert_eq!(tcg.memory_bytes, kvm.memory_bytes + (320 << 20));
        assert_eq!(tcg.cpus, 2);
    }

    #[test]
    fn background_weighs_a_tenth_of_normal() {
        let (w, s) = Priority::Normal.weights();
        let (bw, bs) = Priority::Background.weights();
        assert_eq!((w / bw, s / bs), (10, 10));
    }
}
