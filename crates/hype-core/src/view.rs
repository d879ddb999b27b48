//! Store rows to API shapes.

use hype_store::{ImageRecord, VmRecord};
use hype_types::VmState;

use crate::{CoreError, Hype, Result};
use hype_types::{Image, PageRequest, Vm, VmList, VmNetwork, VmmInfo};

/// The cursor of the page after `rows`: the last item's key when the page
/// is full (there may be more), none when it is not.
pub(crate) fn next_cursor<T>(rows: &[T], limit: u32, key: impl Fn(&T) -> String) -> Option<String> {
    if rows.len() as u64 == u64::from(limit) {
        rows.last().map(key)
    } else {
        None
    }
}

pub(crate) fn vm(r: VmRecord, public_url: &str, browser: bool) -> Vm {
    let cdp_url = browser.then(|| format!("{public_url}/api/v1/vms/{}/cdp", r.name));
    let live_url = browser.then(|| format!("{public_url}/vms/{}/live", r.name));
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
        live_url,
        ttl_seconds: r.ttl_seconds,
        idle_timeout_seconds: r.idle_timeout_seconds,
        persist: r.persist,
        record: r.record,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

pub(crate) fn image(r: ImageRecord) -> Image {
    let disks = crate::images::disks_of(&r);
    // Imports from before the NIC was recorded boot virtio-net.
    let nic_model = r
        .nic_model
        .as_deref()
        .and_then(hype_types::NicModel::parse)
        .or((r.kind == "disk").then_some(hype_types::NicModel::Virtio));
    Image {
        disks,
        nic_model,
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
        let browser = self.inner.is_browser_image(&r.image);
        vm(r, &self.inner.cfg.public_url, browser)
    }

    /// One page of users' VMs by name, only those in `state` when given;
    /// with `pool`, the VMs waiting in that warm pool instead.
    pub async fn list_vms(
        &self,
        state: Option<VmState>,
        pool: Option<&str>,
        page: &PageRequest,
    ) -> Result<VmList> {
        let limit = page.limit().map_err(CoreError::InvalidRequest)?;
        let rows = self
            .inner
            .store
            .list_vms_page(state, pool, page.after.as_deref(), limit)
            .await?;
        let next = next_cursor(&rows, limit, |r| r.name.clone());
        Ok(VmList {
            vms: rows.into_iter().map(|r| self.to_view(r)).collect(),
            next,
        })
    }

    /// Every VM, following the pages (for callers that want them all).
    pub async fn all_vms(&self) -> Result<Vec<Vm>> {
        let mut out = vec![];
        let mut page = PageRequest {
            limit: Some(hype_types::MAX_PAGE_LIMIT),
            after: None,
        };
        loop {
            let list = self.list_vms(None, None, &page).await?;
            out.extend(list.vms);
            match list.next {
                Some(n) => page.after = Some(n),
                None => return Ok(out),
            }
        }
    }

    pub async fn get_vm(&self, name: &str) -> Result<Vm> {
        let r = self.inner.store.get_vm(name).await?;
        Ok(self.to_view(r))
    }
}
