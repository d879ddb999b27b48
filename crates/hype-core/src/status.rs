//! hyped's status at a glance: uptime, VMs and jobs by state, the host's
//! free memory and disk, the accelerator and the network's problems.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

use hype_types::{DiskSpace, JobState, MemoryStatus, StateCount, StatusInfo, VmState};
use time::OffsetDateTime;

use crate::{CoreError, Hype, Result};

/// When this process's core started: set once by [`mark_started`].
static STARTED: OnceLock<(Instant, OffsetDateTime)> = OnceLock::new();

/// Called at start-up; later calls (tests start several cores) keep the first.
pub(crate) fn mark_started() {
    STARTED.get_or_init(|| (Instant::now(), OffsetDateTime::now_utc()));
}

impl Hype {
    pub async fn status(&self) -> Result<StatusInfo> {
        let version = self.version().await;
        let (since, at) = *STARTED.get_or_init(|| (Instant::now(), OffsetDateTime::now_utc()));
        let vms = self.vm_counts().await?;
        let jobs = self.inner.store.list_jobs(None).await?;
        let vm_memory: u64 = self
            .all_vms()
            .await?
            .iter()
            .filter(|v| {
                matches!(
                    v.state,
                    VmState::Starting | VmState::Running | VmState::Paused | VmState::Stopping
                )
            })
            .map(|v| u64::from(v.memory_mb))
            .sum();
        let (total, available) = meminfo().map_err(|source| CoreError::Io {
            path: "/proc/meminfo".into(),
            source,
        })?;
        let cfg = &self.inner.cfg;
        Ok(StatusInfo {
            server: version.server,
            started_at: at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            uptime_seconds: since.elapsed().as_secs(),
            vms: vms
                .into_iter()
                .map(|(st, n)| StateCount {
                    state: st.as_str().into(),
                    count: n.max(0) as u64,
                })
                .collect(),
            jobs: JobState::ALL
                .into_iter()
                .map(|st| StateCount {
                    state: st.as_str().into(),
                    count: jobs.iter().filter(|j| j.state == st).count() as u64,
                })
                .collect(),
            memory: MemoryStatus {
                total_bytes: total,
                available_bytes: available,
                vms_mb: vm_memory,
            },
            vm_disk: space(&cfg.data_dir)?,
            images_disk: space(&cfg.images_dir)?,
            accel: version.accel,
            network: version.network,
        })
    }
}

fn space(path: &Path) -> Result<DiskSpace> {
    let st = nix::sys::statvfs::statvfs(path).map_err(|e| CoreError::Io {
        path: path.to_owned(),
        source: e.into(),
    })?;
    let frag = st.fragment_size() as u64;
    Ok(DiskSpace {
        path: path.display().to_string(),
        total_bytes: st.blocks() as u64 * frag,
        available_bytes: st.blocks_available() as u64 * frag,
    })
}

/// `MemTotal` and `MemAvailable`, in bytes.
fn meminfo() -> std::io::Result<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/meminfo")?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    match (field("MemTotal"), field("MemAvailable")) {
        (Some(t), Some(a)) => Ok((t, a)),
        _ => Err(std::io::Error::other("no MemTotal or MemAvailable")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_host_s_memory() {
        let (total, available) = super::meminfo().unwrap();
        assert!(total > 0 && available > 0 && available <= total);
    }
}
