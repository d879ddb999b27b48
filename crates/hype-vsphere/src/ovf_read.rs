//! Reading an OVF descriptor back (one this crate wrote, or vSphere's):
//! the disks in DiskSection order with their files and capacities, and the
//! firmware when `vmw:Config firmware` says, each disk's bus (the CIM
//! resource type of the controller its Item names as `Parent`) and the
//! first NIC's model. File names are plain names in the descriptor's
//! folder, never paths.

use crate::soap::Element;
use crate::Firmware;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OvfDiskFile {
    /// The file's name in the OVF's folder.
    pub file: String,
    pub capacity_bytes: u64,
    /// The bus of its controller; `None` when the descriptor does not say.
    pub bus: Option<hype_types::DiskBus>,
    /// `vmdk` (a stream-optimised VMDK, vSphere's) or `raw` (hype's own
    /// export of raw disks), from `ovf:format`.
    pub format: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OvfRead {
    pub disks: Vec<OvfDiskFile>,
    pub firmware: Option<Firmware>,
    /// The first NIC's `ResourceSubType`, lower case (`vmxnet3`, `e1000`).
    pub nic: Option<String>,
}

/// The bus of the disk `disk_id` from the hardware `items`: its Item
/// (`ResourceType` 17, `HostResource` `ovf:/disk/ID`) names its
/// controller's `InstanceID` as `Parent`; the controller's resource type
/// is 5 (IDE), 6 (SCSI) or 20 (other storage: SATA, or NVMe by subtype).
fn bus_of(items: &[&Element], disk_id: &str) -> Option<hype_types::DiskBus> {
    use hype_types::DiskBus;
    let text = |it: &Element, n: &str| it.child_text(n).map(str::trim).map(str::to_owned);
    let disk = items.iter().find(|it| {
        text(it, "ResourceType").as_deref() == Some("17")
            && text(it, "HostResource").is_some_and(|h| h.rsplit('/').next() == Some(disk_id))
    })?;
    let parent = text(disk, "Parent")?;
    let ctl = items
        .iter()
        .find(|it| text(it, "InstanceID").as_deref() == Some(parent.as_str()))?;
    let sub = text(ctl, "ResourceSubType")
        .unwrap_or_default()
        .to_ascii_lowercase();
    Some(match text(ctl, "ResourceType")?.as_str() {
        // "Other" with the bus as subtype: how hype writes Xen's and
        // virtio's, which CIM has no type for.
        "1" if sub == "xen" => DiskBus::Xen,
        "1" if sub == "virtio" => DiskBus::Virtio,
        "5" => DiskBus::Ide,
        "6" => DiskBus::Scsi,
        "20" if sub.contains("nvme") => DiskBus::Nvme,
        "20" => DiskBus::Sata,
        _ => DiskBus::Other,
    })
}

/// What `ovf:format` says the disk file is: vSphere's VMDK (also when
/// absent, as older descriptors leave it) or hype's raw. Any other format
/// is refused rather than handed to qemu-img as a guess.
fn format(disk: &Element) -> Result<&'static str, String> {
    match disk.attr("format").map(str::trim) {
        None => Ok("vmdk"),
        Some(f) if f == crate::ovf::STREAM_OPTIMIZED => Ok("vmdk"),
        Some(f) if f == crate::RAW_FORMAT => Ok("raw"),
        Some(f) => Err(format!(
            "format {f:?} is neither a stream-optimised VMDK ({}) nor {:?}",
            crate::ovf::STREAM_OPTIMIZED,
            crate::RAW_FORMAT
        )),
    }
}

/// `ovf:capacity` scaled by `ovf:capacityAllocationUnits` (`byte`,
/// `byte * 2^N`); absent units are bytes.
fn capacity(disk: &Element) -> Option<u64> {
    let n: u64 = disk.attr("capacity")?.trim().parse().ok()?;
    let units = disk.attr("capacityAllocationUnits").unwrap_or("byte");
    let shift: u32 = match units.replace(' ', "").as_str() {
        "byte" => 0,
        u => u.strip_prefix("byte*2^")?.parse().ok()?,
    };
    n.checked_mul(1u64.checked_shl(shift)?)
}

pub fn read_ovf(text: &[u8]) -> Result<OvfRead, String> {
    let env = Element::parse(text).map_err(|e| format!("not XML: {e}"))?;
    if env.name != "Envelope" {
        return Err(format!("the root is <{}>, not an OVF <Envelope>", env.name));
    }
    let files: Vec<(&str, &str)> = env
        .child("References")
        .map(|r| {
            r.children("File")
                .filter_map(|f| Some((f.attr("id")?, f.attr("href")?)))
                .collect()
        })
        .unwrap_or_default();
    let hw = env
        .child("VirtualSystem")
        .and_then(|vs| vs.child("VirtualHardwareSection"));
    let items: Vec<&Element> = hw.map(|h| h.children("Item").collect()).unwrap_or_default();
    let mut disks = vec![];
    for d in env
        .child("DiskSection")
        .map(|s| s.children("Disk").collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let id = d.attr("diskId").unwrap_or("?");
        let file_ref = d
            .attr("fileRef")
            .ok_or_else(|| format!("disk {id} has no fileRef"))?;
        let href = files
            .iter()
            .find(|(fid, _)| *fid == file_ref)
            .map(|(_, h)| *h)
            .ok_or_else(|| format!("disk {id}: no File {file_ref} in References"))?;
        if href.is_empty() || href.contains('/') || href.contains('\\') || href.starts_with('.') {
            return Err(format!("disk {id}: file {href:?} is not a plain file name"));
        }
        let capacity_bytes =
            capacity(d).ok_or_else(|| format!("disk {id}: no usable ovf:capacity"))?;
        disks.push(OvfDiskFile {
            file: href.to_string(),
            capacity_bytes,
            bus: bus_of(&items, id),
            format: format(d).map_err(|why| format!("disk {id}: {why}"))?,
        });
    }
    if disks.is_empty() {
        return Err("no disk in DiskSection".into());
    }
    let nic = items
        .iter()
        .find(|it| it.child_text("ResourceType").map(str::trim) == Some("10"))
        .and_then(|it| it.child_text("ResourceSubType"))
        .map(|t| t.trim().to_ascii_lowercase());
    let firmware = hw
        .and_then(|hw| {
            hw.children("Config")
                .find(|c| c.attr("key") == Some("firmware"))
        })
        .and_then(|c| c.attr("value"))
        .and_then(crate::firmware);
    Ok(OvfRead {
        disks,
        firmware,
        nic,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_disks_in_order_and_refuses_paths() {
        let ovf = br#"<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:vmw="http://www.vmware.com/schema/ovf">
<References><File ovf:href="a-disk2.vmdk" ovf:id="file2"/><File ovf:href="a-disk1.vmdk" ovf:id="file1"/></References>
<DiskSection><Disk ovf:capacity="1" ovf:capacityAllocationUnits="byte * 2^20" ovf:diskId="vmdisk1" ovf:fileRef="file1"/>
<Disk ovf:capacity="2048" ovf:diskId="vmdisk2" ovf:fileRef="file2"/></DiskSection>
<VirtualSystem ovf:id="a"><VirtualHardwareSection><vmw:Config vmw:key="firmware" vmw:value="efi"/></VirtualHardwareSection></VirtualSystem></Envelope>"#;
        let r = read_ovf(ovf).unwrap();
        assert_eq!(r.disks[0].file, "a-disk1.vmdk");
        assert_eq!(r.disks[0].capacity_bytes, 1 << 20);
        assert_eq!(r.disks[1].capacity_bytes, 2048);
        assert_eq!(r.firmware, Some(Firmware::Uefi));
        assert_eq!((r.disks[0].bus, r.nic.as_deref()), (None, None));
        let evil = String::from_utf8_lossy(ovf).replace("a-disk1.vmdk", "../etc/shadow");
        assert!(read_ovf(evil.as_bytes())
            .unwrap_err()
            .contains("plain file name"));
        assert_eq!(r.disks[0].format, "vmdk");
        let qcow = String::from_utf8_lossy(ovf).replace(
            r#"ovf:diskId="vmdisk2""#,
            r#"ovf:diskId="vmdisk2" ovf:format="http://www.gnome.org/~markmc/qcow-image-format.html""#,
        );
        let e = read_ovf(qcow.as_bytes()).unwrap_err();
        assert!(e.starts_with("disk vmdisk2: format"), "{e}");
    }

    #[test]
    fn each_disk_s_bus_is_its_controller_s_and_the_nic_its_subtype() {
        let ovf = br#"<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
<References><File ovf:href="a-disk1.vmdk" ovf:id="file1"/><File ovf:href="a-disk2.vmdk" ovf:id="file2"/></References>
<DiskSection><Disk ovf:capacity="1" ovf:diskId="vmdisk1" ovf:fileRef="file1"/><Disk ovf:capacity="2" ovf:diskId="vmdisk2" ovf:fileRef="file2"/></DiskSection>
<VirtualSystem ovf:id="a"><VirtualHardwareSection>
<Item><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceSubType>vmware.sata.ahci</rasd:ResourceSubType><rasd:ResourceType>20</rasd:ResourceType></Item>
<Item><rasd:InstanceID>4</rasd:InstanceID><rasd:ResourceType>5</rasd:ResourceType></Item>
<Item><rasd:HostResource>ovf:/disk/vmdisk2</rasd:HostResource><rasd:InstanceID>5</rasd:InstanceID><rasd:Parent>4</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
<Item><rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>6</rasd:InstanceID><rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
<Item><rasd:InstanceID>7</rasd:InstanceID><rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType></Item>
</VirtualHardwareSection></VirtualSystem></Envelope>"#;
        let r = read_ovf(ovf).unwrap();
        use hype_types::DiskBus;
        assert_eq!(r.disks[0].bus, Some(DiskBus::Sata));
        assert_eq!(r.disks[1].bus, Some(DiskBus::Ide));
        assert_eq!(r.nic.as_deref(), Some("vmxnet3"));
    }
}
