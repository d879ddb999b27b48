//! An OVF descriptor for disks hype has as files but no vSphere VM behind
//! them (an XCP-ng export kept as raw disks): the disks in the source's
//! order with their capacities and a controller per bus, the CPUs and
//! memory when the source says, the NIC's model and the firmware, in the
//! shape [`crate::read_ovf`] reads back. Raw disk
//! files are unusual in an OVF; each says so with `ovf:format="raw"`
//! ([`RAW_FORMAT`]), which the reader maps to qemu's `-f raw`.

use std::fmt::Write;

use hype_types::{DiskBus, Firmware};

use crate::soap::escape;

/// `ovf:format` of a raw disk file (the whole disk, byte for byte).
pub const RAW_FORMAT: &str = "raw";

/// One raw disk file beside the descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawOvfDisk {
    /// A plain file name in the descriptor's folder.
    pub file: String,
    pub capacity_bytes: u64,
    pub bus: Option<DiskBus>,
}

/// What the descriptor says of the VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawOvf {
    pub name: String,
    /// Boot disk first.
    pub disks: Vec<RawOvfDisk>,
    /// The NIC's model as the source names it (`xen`, `e1000`).
    pub nic: Option<String>,
    pub firmware: Option<Firmware>,
    pub cpus: Option<u32>,
    pub memory_mb: Option<u64>,
}

/// CIM resource type and subtype of a controller of `bus`. Xen's PV
/// block device and virtio have no CIM type: "other" (1) with the bus as
/// its subtype, which the reader maps back.
fn controller(bus: DiskBus) -> (u8, Option<&'static str>) {
    match bus {
        DiskBus::Ide => (5, None),
        DiskBus::Scsi => (6, Some("lsilogic")),
        DiskBus::Sata => (20, Some("AHCI")),
        DiskBus::Nvme => (20, Some("NVMe")),
        DiskBus::Xen => (1, Some("xen")),
        DiskBus::Virtio => (1, Some("virtio")),
        DiskBus::Other => (1, None),
    }
}

pub fn write_raw_ovf(vm: &RawOvf) -> String {
    let name = escape(&vm.name);
    let mut s = String::new();
    s.push_str(concat!(
        r#"<?xml version="1.0" encoding="UTF-8"?>"#,
        "\n",
        r#"<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" "#,
        r#"xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" "#,
        r#"xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData">"#,
        "\n  <References>\n"
    ));
    // A raw file's size is its capacity.
    let files: Vec<(&str, u64, u64)> = vm
        .disks
        .iter()
        .map(|d| (d.file.as_str(), d.capacity_bytes, d.capacity_bytes))
        .collect();
    crate::ovf::references_and_disks(&mut s, &files, RAW_FORMAT);
    let _ = write!(
        s,
        concat!(
            "  </DiskSection>\n",
            "  <VirtualSystem ovf:id=\"{name}\">\n",
            "    <Info>A virtual machine</Info>\n",
            "    <Name>{name}</Name>\n",
            "    <VirtualHardwareSection>\n",
            "      <Info>Virtual hardware requirements</Info>\n",
        ),
        name = name
    );
    // InstanceIDs in writing order: CPUs and memory (as vCenter puts
    // them), the controllers, the disks, the NIC.
    let mut next_id = 0usize;
    let mut id = || {
        next_id += 1;
        next_id.to_string()
    };
    if let Some(n) = vm.cpus {
        crate::ovf::item(
            &mut s,
            &[
                ("AllocationUnits", "hertz * 10^6".into()),
                ("ElementName", format!("{n} virtual CPU(s)")),
                ("InstanceID", id()),
                ("ResourceType", "3".into()),
                ("VirtualQuantity", n.to_string()),
            ],
        );
    }
    if let Some(mb) = vm.memory_mb {
        crate::ovf::item(
            &mut s,
            &[
                ("AllocationUnits", "byte * 2^20".into()),
                ("ElementName", format!("{mb}MB of memory")),
                ("InstanceID", id()),
                ("ResourceType", "4".into()),
                ("VirtualQuantity", mb.to_string()),
            ],
        );
    }
    // A controller per bus, in the order the disks first use them.
    let mut buses: Vec<(DiskBus, String)> = vec![];
    for b in vm.disks.iter().filter_map(|d| d.bus) {
        if buses.iter().any(|(u, _)| *u == b) {
            continue;
        }
        let (rtype, subtype) = controller(b);
        let instance = id();
        let mut fields = vec![
            ("ElementName", format!("{b:?} controller")),
            ("InstanceID", instance.clone()),
        ];
        if let Some(st) = subtype {
            fields.push(("ResourceSubType", st.into()));
        }
        fields.push(("ResourceType", rtype.to_string()));
        crate::ovf::item(&mut s, &fields);
        buses.push((b, instance));
    }
    for (i, d) in vm.disks.iter().enumerate() {
        let mut fields = vec![
            ("ElementName", format!("Hard disk {}", i + 1)),
            ("HostResource", format!("ovf:/disk/vmdisk{}", i + 1)),
            ("InstanceID", id()),
        ];
        if let Some((_, parent)) = d.bus.and_then(|b| buses.iter().find(|(u, _)| *u == b)) {
            fields.push(("Parent", parent.clone()));
        }
        fields.push(("ResourceType", "17".into()));
        crate::ovf::item(&mut s, &fields);
    }
    if let Some(model) = &vm.nic {
        crate::ovf::item(
            &mut s,
            &[
                ("ElementName", "Network adapter 1".into()),
                ("InstanceID", id()),
                ("ResourceSubType", model.clone()),
                ("ResourceType", "10".into()),
            ],
        );
    }
    if let Some(fw) = vm.firmware {
        // vSphere's spelling, which the reader (and vCenter) know.
        let value = match fw {
            Firmware::Bios => "bios",
            Firmware::Uefi => "efi",
        };
        let _ = writeln!(
            s,
            r#"      <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="{value}"/>"#
        );
    }
    s.push_str("    </VirtualHardwareSection>\n  </VirtualSystem>\n</Envelope>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{read_ovf, OvfDiskFile};

    fn vm(disks: Vec<RawOvfDisk>, firmware: Option<Firmware>) -> RawOvf {
        RawOvf {
            name: "Web <01> & co".into(),
            disks,
            nic: Some("xen".into()),
            firmware,
            cpus: Some(2),
            memory_mb: Some(1024),
        }
    }

    fn disk(file: &str, capacity_bytes: u64, bus: Option<DiskBus>) -> RawOvfDisk {
        RawOvfDisk {
            file: file.into(),
            capacity_bytes,
            bus,
        }
    }

    #[test]
    fn what_is_written_reads_back_the_same() {
        let disks = vec![
            disk("disk0.raw", 24 << 20, Some(DiskBus::Xen)),
            disk("disk1.raw", 3 << 30, Some(DiskBus::Sata)),
            disk("disk2.raw", 512, Some(DiskBus::Xen)),
            disk("disk3.raw", 1 << 20, None),
        ];
        let back =
            read_ovf(write_raw_ovf(&vm(disks.clone(), Some(Firmware::Uefi))).as_bytes()).unwrap();
        let want: Vec<OvfDiskFile> = disks
            .iter()
            .map(|d| OvfDiskFile {
                file: d.file.clone(),
                capacity_bytes: d.capacity_bytes,
                bus: d.bus,
                format: "raw",
            })
            .collect();
        assert_eq!(back.disks, want);
        assert_eq!(back.nic.as_deref(), Some("xen"));
        assert_eq!(back.firmware, Some(Firmware::Uefi));
        // Every bus hype knows survives the trip.
        for b in [
            DiskBus::Virtio,
            DiskBus::Scsi,
            DiskBus::Sata,
            DiskBus::Ide,
            DiskBus::Nvme,
            DiskBus::Xen,
        ] {
            let xml = write_raw_ovf(&vm(vec![disk("d.raw", 1, Some(b))], Some(Firmware::Bios)));
            let r = read_ovf(xml.as_bytes()).unwrap();
            assert_eq!(
                (r.disks[0].bus, r.firmware),
                (Some(b), Some(Firmware::Bios))
            );
        }
    }

    #[test]
    fn cpus_and_memory_are_items_of_their_own() {
        use crate::soap::Element;
        let xml = write_raw_ovf(&vm(vec![disk("disk0.raw", 1, Some(DiskBus::Xen))], None));
        let root = Element::parse(xml.as_bytes()).unwrap();
        let items: Vec<_> = root
            .child("VirtualSystem")
            .and_then(|v| v.child("VirtualHardwareSection"))
            .unwrap()
            .children("Item")
            .collect();
        let of = |t: &str| {
            items
                .iter()
                .find(|i| i.child_text("ResourceType") == Some(t))
                .and_then(|i| i.child_text("VirtualQuantity"))
        };
        assert_eq!((of("3"), of("4")), (Some("2"), Some("1024")));
        let ids: Vec<_> = items
            .iter()
            .filter_map(|i| i.child_text("InstanceID"))
            .collect();
        assert_eq!(
            ids,
            ["1", "2", "3", "4", "5"],
            "CPU, memory, controller, disk, NIC"
        );
    }

    #[test]
    fn the_name_is_escaped() {
        let xml = write_raw_ovf(&vm(vec![disk("disk0.raw", 1, None)], None));
        assert!(
            xml.contains("<Name>Web &lt;01&gt; &amp; co</Name>"),
            "{xml}"
        );
        assert_eq!(read_ovf(xml.as_bytes()).unwrap().firmware, None);
    }
}
