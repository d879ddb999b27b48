//! The OVF descriptor (OVF 1.0, as vCenter writes it) and the `.mf`
//! manifest. The descriptor is written here from the VM's configuration
//! rather than fetched with `OvfManager.CreateDescriptor`, so it always
//! names exactly the files downloaded, with their real sizes.

use std::fmt::Write;

use crate::inventory::VmInfo;
use crate::soap::escape;

/// One downloaded disk as the descriptor lists it.
pub struct OvfDisk<'a> {
    pub file_name: &'a str,
    pub file_size: u64,
    pub capacity_bytes: u64,
    /// Index into `VmInfo::controllers`, when known.
    pub controller: Option<usize>,
    pub unit: i32,
}

pub(crate) const STREAM_OPTIMIZED: &str =
    "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized";

/// The descriptor's `References` (each file with its size) and
/// `DiskSection` (each disk's capacity, of `format`), one disk a file, in
/// order; `s` has just opened `References`, and `DiskSection` is left open.
pub(crate) fn references_and_disks(s: &mut String, files: &[(&str, u64, u64)], format: &str) {
    for (i, (file, size, _)) in files.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"    <File ovf:href="{}" ovf:id="file{}" ovf:size="{size}"/>"#,
            escape(file),
            i + 1,
        );
    }
    s.push_str("  </References>\n  <DiskSection>\n    <Info>Virtual disk information</Info>\n");
    for (i, (_, _, capacity)) in files.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"    <Disk ovf:capacity="{capacity}" ovf:capacityAllocationUnits="byte" ovf:diskId="vmdisk{n}" ovf:fileRef="file{n}" ovf:format="{format}"/>"#,
            n = i + 1
        );
    }
}

pub fn descriptor(vm: &VmInfo, disks: &[OvfDisk<'_>]) -> String {
    let name = escape(&vm.name);
    let mut s = String::new();
    s.push_str(concat!(
        r#"<?xml version="1.0" encoding="UTF-8"?>"#,
        "\n",
        r#"<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" "#,
        r#"xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" "#,
        r#"xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" "#,
        r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">"#,
        "\n  <References>\n"
    ));
    let files: Vec<(&str, u64, u64)> = disks
        .iter()
        .map(|d| (d.file_name, d.file_size, d.capacity_bytes))
        .collect();
    references_and_disks(&mut s, &files, STREAM_OPTIMIZED);
    let _ = write!(
        s,
        concat!(
            "  </DiskSection>\n",
            "  <VirtualSystem ovf:id=\"{name}\">\n",
            "    <Info>A virtual machine</Info>\n",
            "    <Name>{name}</Name>\n",
            "    <OperatingSystemSection ovf:id=\"1\" vmw:osType=\"{os}\">\n",
            "      <Info>The kind of installed guest operating system</Info>\n",
            "    </OperatingSystemSection>\n",
            "    <VirtualHardwareSection>\n",
            "      <Info>Virtual hardware requirements</Info>\n",
            "      <System>\n",
            "        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>\n",
            "        <vssd:InstanceID>0</vssd:InstanceID>\n",
            "        <vssd:VirtualSystemIdentifier>{name}</vssd:VirtualSystemIdentifier>\n",
            "        <vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType>\n",
            "      </System>\n"
        ),
        name = name,
        os = escape(&vm.guest_id)
    );
    item(
        &mut s,
        &[
            ("AllocationUnits", "hertz * 10^6".into()),
            ("Description", "Number of Virtual CPUs".into()),
            ("ElementName", format!("{} virtual CPU(s)", vm.num_cpu)),
            ("InstanceID", "1".into()),
            ("ResourceType", "3".into()),
            ("VirtualQuantity", vm.num_cpu.to_string()),
        ],
    );
    item(
        &mut s,
        &[
            ("AllocationUnits", "byte * 2^20".into()),
            ("Description", "Memory Size".into()),
            ("ElementName", format!("{}MB of memory", vm.memory_mb)),
            ("InstanceID", "2".into()),
            ("ResourceType", "4".into()),
            ("VirtualQuantity", vm.memory_mb.to_string()),
        ],
    );
    // Controllers the disks hang on, then the disks.
    let mut used: Vec<usize> = disks.iter().filter_map(|d| d.controller).collect();
    used.sort_unstable();
    used.dedup();
    let controller_id = |c: usize| used.iter().position(|u| *u == c).map(|p| p + 3);
    for (pos, c) in used.iter().enumerate() {
        let ctl = &vm.controllers[*c];
        let (rtype, subtype) = controller_resource(&ctl.kind);
        let mut fields = vec![
            ("Address", ctl.bus.to_string()),
            ("Description", format!("{} {}", ctl.kind, ctl.bus)),
            ("ElementName", format!("{} {}", ctl.kind, ctl.bus)),
            ("InstanceID", (pos + 3).to_string()),
        ];
        if let Some(st) = subtype {
            fields.push(("ResourceSubType", st.into()));
        }
        fields.push(("ResourceType", rtype.to_string()));
        item(&mut s, &fields);
    }
    let first_disk_id = used.len() + 3;
    for (i, d) in disks.iter().enumerate() {
        let mut fields = vec![
            ("AddressOnParent", d.unit.to_string()),
            ("ElementName", format!("Hard disk {}", i + 1)),
            ("HostResource", format!("ovf:/disk/vmdisk{}", i + 1)),
            ("InstanceID", (first_disk_id + i).to_string()),
        ];
        if let Some(p) = d.controller.and_then(controller_id) {
            fields.push(("Parent", p.to_string()));
        }
        fields.push(("ResourceType", "17".into()));
        item(&mut s, &fields);
    }
    // The NICs' models, which an import of this folder defaults its NIC
    // model from (see ovf_read); their networks are the source's business.
    let first_nic_id = first_disk_id + disks.len();
    for (i, model) in vm.nics.iter().enumerate() {
        item(
            &mut s,
            &[
                ("ElementName", format!("Network adapter {}", i + 1)),
                ("InstanceID", (first_nic_id + i).to_string()),
                ("ResourceSubType", nic_subtype(model).into()),
                ("ResourceType", "10".into()),
            ],
        );
    }
    if let Some(fw) = &vm.firmware {
        let _ = writeln!(
            s,
            r#"      <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="{}"/>"#,
            escape(fw)
        );
    }
    s.push_str("    </VirtualHardwareSection>\n  </VirtualSystem>\n</Envelope>\n");
    s
}

pub(crate) fn item(s: &mut String, fields: &[(&str, String)]) {
    s.push_str("      <Item>\n");
    for (k, v) in fields {
        let _ = writeln!(s, "        <rasd:{k}>{}</rasd:{k}>", escape(v));
    }
    s.push_str("      </Item>\n");
}

/// vSphere's OVF spelling of a NIC model (`vmxnet3` → `VmxNet3`).
fn nic_subtype(model: &str) -> &str {
    match model {
        "vmxnet3" => "VmxNet3",
        "vmxnet2" => "VmxNet2",
        "vmxnet" => "VmxNet",
        "e1000" => "E1000",
        "e1000e" => "E1000e",
        "pcnet32" => "PCNet32",
        other => other,
    }
}

/// CIM resource type and subtype of a vSphere controller.
fn controller_resource(kind: &str) -> (u8, Option<&'static str>) {
    match kind {
        "VirtualIDEController" => (5, None),
        "ParaVirtualSCSIController" => (6, Some("VirtualSCSI")),
        "VirtualLsiLogicController" => (6, Some("lsilogic")),
        "VirtualLsiLogicSASController" => (6, Some("lsilogicsas")),
        "VirtualBusLogicController" => (6, Some("buslogic")),
        "VirtualAHCIController" => (20, Some("vmware.sata.ahci")),
        "VirtualNVMEController" => (20, Some("vmware.nvme.controller")),
        _ => (1, None),
    }
}

/// `SHA256(name)= hex` per file, as ovftool writes it.
pub fn manifest(entries: &[(&str, &str)]) -> String {
    entries
        .iter()
        .map(|(name, sha)| format!("SHA256({name})= {sha}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Controller;
    use crate::soap::{Element, MoRef};

    fn vm() -> VmInfo {
        VmInfo {
            moref: MoRef::new("VirtualMachine", "vm-1"),
            name: "web<01>".into(),
            powered_on: false,
            num_cpu: 2,
            memory_mb: 2048,
            guest_id: "debian11_64Guest".into(),
            firmware: Some("efi".into()),
            controllers: vec![Controller {
                key: 1000,
                kind: "ParaVirtualSCSIController".into(),
                bus: 0,
            }],
            disks: vec![],
            cdroms: vec![],
            nics: vec!["vmxnet3".into()],
            template: false,
        }
    }

    #[test]
    fn descriptor_references_each_file_with_its_size() {
        let disks = [
            OvfDisk {
                file_name: "a-disk1.vmdk",
                file_size: 10,
                capacity_bytes: 1 << 20,
                controller: Some(0),
                unit: 0,
            },
            OvfDisk {
                file_name: "a-disk2.vmdk",
                file_size: 20,
                capacity_bytes: 2 << 20,
                controller: Some(0),
                unit: 1,
            },
        ];
        let xml = descriptor(&vm(), &disks);
        let root = Element::parse(xml.as_bytes()).unwrap();
        let files: Vec<_> = root.child("References").unwrap().children("File").collect();
        assert_eq!(files.len(), 2);
        assert_eq!(files[1].attr("href"), Some("a-disk2.vmdk"));
        assert_eq!(files[1].attr("size"), Some("20"));
        let ds: Vec<_> = root
            .child("DiskSection")
            .unwrap()
            .children("Disk")
            .collect();
        assert_eq!(ds[1].attr("fileRef"), Some("file2"));
        assert_eq!(ds[1].attr("capacity"), Some("2097152"));
        let vs = root.child("VirtualSystem").unwrap();
        assert_eq!(vs.child_text("Name"), Some("web<01>"));
        let items: Vec<_> = vs
            .child("VirtualHardwareSection")
            .unwrap()
            .children("Item")
            .collect();
        // CPU, memory, one controller, two disks, a NIC.
        assert_eq!(items.len(), 6);
        assert_eq!(items[5].child_text("ResourceSubType"), Some("VmxNet3"));
        assert_eq!(
            crate::read_ovf(xml.as_bytes()).unwrap().nic.as_deref(),
            Some("vmxnet3")
        );
        assert_eq!(items[4].child_text("Parent"), Some("3"));
        assert_eq!(
            items[4].child_text("HostResource"),
            Some("ovf:/disk/vmdisk2")
        );
        assert!(xml.contains(r#"vmw:key="firmware" vmw:value="efi""#));
    }

    #[test]
    fn manifest_lines() {
        assert_eq!(
            manifest(&[("a.ovf", "ab"), ("a-disk1.vmdk", "cd")]),
            "SHA256(a.ovf)= ab\nSHA256(a-disk1.vmdk)= cd\n"
        );
    }
}
