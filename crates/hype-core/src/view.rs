//! Store rows to API shapes.

use hype_store::{ImageRecord, VmRecord};
use hype_types::VmState;

use crate::{Hype, Result};
use hype_types::{Image, Vm, VmNetwork, VmmInfo};

pub(crate) fn vm(r: VmRecord, public_url: &str, browser: bool) -> Vm {
    let cdp_url = browser.then(|| format!("{public_url}/api/v1/vms/{}/cdp", r.name));
    Vm {
        vmm: VmmInfo {
            kind: r.vmm_kind,
            version: r.vmm_version,
            pid: if r.state.has_vmm() { r.vmm_pid } else { None },
            accel: r.accel,
        },
        network: VmNetwork {
            egress: r.egress,
            tap: r.ip.as_ref().map(|_| hype_net::tap_name(&r.id)),
        },
        name: r.name,
        id: r.id,
        state: r.state,
        cpu_cores: r.cpu_cores,
        memory_mb: r.memory_mb,
        image: r.image,
        kernel_cmdline: r.kernel_cmdline,
        ip: r.ip,
        mac: r.mac,
        cdp_url,
        ttl_seconds: r.ttl_seconds,
        idle_timeout_seconds: r.idle_timeout_seconds,
        persist: r.persist,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

pub(crate) fn image(r: ImageRecord) -> Image {
    Image {
        name: r.name,
        kind: r.kind,
        source: r.source,
        size_bytes: r.size_bytes,
        kernel_version: r.kernel_version,
        sha256: r.sha256,
        boot_mode: r.boot_mode,
        format: r.format,
        firmware: r.firmware.as_deref().and_then(hype_types::Firmware::parse),
        created_at: r.created_at,
    }
}

/// Reading VMs.
impl Hype {
    pub(crate) fn to_view(&self, r: VmRecord) -> Vm {
        let browser = self
            .inner
            .browser_images
            .lock()
            .expect("images lock")
            .contains(&r.image);
        vm(r, &self.inner.cfg.public_url, browser)
    }

    pub async fn list_vms(&self, state: Option<VmState>) -> Result<Vec<Vm>> {
        let rows = self.inner.store.list_vms(state).await?;
        Ok(rows.into_iter().map(|r| self.to_view(r)).collect())
    }

    pub async fn get_vm(&self, name: &str) -> Result<Vm> {
        let r = self.inner.store.get_vm(name).await?;
        Ok(self.to_view(r))
    }
}
