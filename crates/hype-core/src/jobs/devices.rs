//! The disk bus and NIC model an imported image records: the job's
//! `disk_bus` / `nic_model` when it gives them, else what the source said
//! (vSphere: each disk's controller and the first NIC's model; an OVF
//! folder: the same from its descriptor; XCP-ng: Xen PV devices, which
//! become virtio). What they mean on QEMU is in `hype-vmm`'s
//! `qemu::devices`.

use hype_types::{DiskBus, ImageDisk, JobSource, NicModel, StorageBus};

/// The bus of one disk: the job's, else its source's, else virtio.
pub(super) fn bus(job: &JobSource, source: Option<DiskBus>) -> StorageBus {
    job.disk_bus
        .or(source.map(StorageBus::from_source))
        .unwrap_or(StorageBus::Virtio)
}

/// The NIC: the job's, else the one the source's model and the boot
/// disk's bus suggest (see [`NicModel::from_source`]).
pub(super) fn nic(job: &JobSource, source: Option<&str>, disks: &[ImageDisk]) -> NicModel {
    let boot = disks.first().map_or(StorageBus::Virtio, |d| d.bus);
    job.nic_model
        .unwrap_or_else(|| NicModel::from_source(source, boot))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(extra: serde_json::Value) -> JobSource {
        let mut v = serde_json::json!({"kind": "ovf", "path": "/srv/x"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value::<hype_types::JobSpec>(v)
            .unwrap()
            .source()
    }

    fn disk(bus: StorageBus) -> ImageDisk {
        ImageDisk {
            file: "disk0.raw".into(),
            size_bytes: 1,
            sha256: String::new(),
            bus,
        }
    }

    #[test]
    fn the_job_overrides_the_source_which_overrides_virtio() {
        let plain = job(serde_json::json!({}));
        assert_eq!(bus(&plain, Some(DiskBus::Sata)), StorageBus::Sata);
        assert_eq!(bus(&plain, Some(DiskBus::Xen)), StorageBus::Virtio);
        assert_eq!(bus(&plain, Some(DiskBus::Scsi)), StorageBus::Scsi);
        assert_eq!(bus(&plain, None), StorageBus::Virtio);
        let ide = job(serde_json::json!({"disk_bus": "ide", "nic_model": "virtio"}));
        assert_eq!(bus(&ide, Some(DiskBus::Scsi)), StorageBus::Ide);
        // A vSphere guest on SATA with vmxnet3 gets an e1000, unless asked.
        assert_eq!(
            nic(&plain, Some("vmxnet3"), &[disk(StorageBus::Sata)]),
            NicModel::E1000
        );
        assert_eq!(
            nic(&plain, Some("xen"), &[disk(StorageBus::Virtio)]),
            NicModel::Virtio
        );
        assert_eq!(
            nic(&ide, Some("e1000"), &[disk(StorageBus::Ide)]),
            NicModel::Virtio
        );
    }
}
