//! Reading an OVF descriptor back (one this crate wrote, or vSphere's):
//! the disks in DiskSection order with their files and capacities, and the
//! firmware when `vmw:Config firmware` says. File names are plain names in
//! the descriptor's folder, never paths.

use crate::soap::Element;
use crate::Firmware;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OvfDiskFile {
    /// The file's name in the OVF's folder.
    pub file: String,
    pub capacity_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OvfRead {
    pub disks: Vec<OvfDiskFile>,
    pub firmware: Option<Firmware>,
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
        });
    }
    if disks.is_empty() {
        return Err("no disk in DiskSection".into());
    }
    let firmware = env
        .child("VirtualSystem")
        .and_then(|vs| vs.child("VirtualHardwareSection"))
        .and_then(|hw| {
            hw.children("Config")
                .find(|c| c.attr("key") == Some("firmware"))
        })
        .and_then(|c| c.attr("value"))
        .and_then(crate::firmware);
    Ok(OvfRead { disks, firmware })
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
        let evil = String::from_utf8_lossy(ovf).replace("a-disk1.vmdk", "../etc/shadow");
        assert!(read_ovf(evil.as_bytes())
            .unwrap_err()
            .contains("plain file name"));
    }
}
