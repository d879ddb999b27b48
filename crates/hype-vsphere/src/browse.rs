//! The source's inventory: every VM and template with what an operator
//! needs to choose one (path, power state, guest OS, firmware, disks with
//! their bus, NICs). Read-only: one session, property reads, logout.

use std::collections::HashMap;
use std::time::Duration;

use hype_types::{DiskBus, PowerState, SourceDisk, SourceNic, SourceVm};

use crate::export::sdk_url;
use crate::soap::property::{self, ObjectContent, Start};
use crate::soap::{returnval, Client, Element, MoRef, Request};
use crate::VsphereError;

/// Bounds the whole listing: a source that stops answering must not hold
/// the API call forever.
const LIST_TIMEOUT: Duration = Duration::from_secs(120);

/// Lists the VMs and templates of `url`, sorted by name then path.
pub async fn list_vms(
    url: &str,
    username: &str,
    password: &str,
    insecure: bool,
) -> Result<Vec<SourceVm>, VsphereError> {
    let url = sdk_url(url)?;
    let client = Client::connect(&url, insecure).await?;
    client.login(username, password).await?;
    let listed = tokio::time::timeout(LIST_TIMEOUT, read_all(&client)).await;
    client.logout().await;
    let mut vms = listed.map_err(|_| VsphereError::Protocol {
        operation: "RetrievePropertiesEx".into(),
        message: format!(
            "the inventory was not read within {} s",
            LIST_TIMEOUT.as_secs()
        ),
    })??;
    vms.sort_by(|a, b| (&a.name, &a.path).cmp(&(&b.name, &b.path)));
    Ok(vms)
}

async fn read_all(client: &Client) -> Result<Vec<SourceVm>, VsphereError> {
    // Folders and datacenters name the inventory path's parts.
    let mut names: HashMap<MoRef, (String, Option<MoRef>)> = HashMap::new();
    for kind in ["Folder", "Datacenter"] {
        for o in objects(client, kind, &["name", "parent"]).await? {
            names.insert(o.obj.clone(), (name_of(&o), parent_of(&o)));
        }
    }
    let vms = objects(
        client,
        "VirtualMachine",
        &["name", "parent", "runtime.powerState", "config"],
    )
    .await?;
    let root = &client.content.root_folder;
    Ok(vms
        .iter()
        .map(|o| {
            let name = name_of(o);
            let path = inventory_path(&name, parent_of(o), &names, root);
            let mut vm = from_config(name, o.get("config"));
            vm.path = path;
            vm.power_state = match o.text("runtime.powerState") {
                Some("poweredOn") => PowerState::On,
                Some("poweredOff") => PowerState::Off,
                Some("suspended") => PowerState::Suspended,
                _ => PowerState::Unknown,
            };
            vm
        })
        .collect())
}

/// Every object of `kind` under the root folder, through a container view
/// destroyed again whatever the read gave.
async fn objects(
    client: &Client,
    kind: &str,
    paths: &[&str],
) -> Result<Vec<ObjectContent>, VsphereError> {
    let mut req = Request::new("CreateContainerView", &client.content.view_manager);
    req.moref("container", &client.content.root_folder)
        .text("type", kind)
        .text("recursive", "true");
    let res = client.call(&req).await?;
    let view = returnval(&res, "CreateContainerView").and_then(|rv| {
        MoRef::from_element(rv).ok_or_else(|| VsphereError::Protocol {
            operation: "CreateContainerView".into(),
            message: "no view reference".into(),
        })
    })?;
    let found = property::retrieve(client, kind, Start::View(&view), paths).await;
    let _ = client.call(&Request::new("DestroyView", &view)).await;
    found
}

fn name_of(o: &ObjectContent) -> String {
    o.text("name").unwrap_or(&o.obj.value).to_string()
}

fn parent_of(o: &ObjectContent) -> Option<MoRef> {
    o.get("parent").and_then(MoRef::from_element)
}

/// `/dc/vm/folder/name`, as `FindByInventoryPath` takes it; None when an
/// ancestor is not a folder or datacenter (a vApp), or the chain loops.
fn inventory_path(
    name: &str,
    mut parent: Option<MoRef>,
    names: &HashMap<MoRef, (String, Option<MoRef>)>,
    root: &MoRef,
) -> Option<String> {
    let mut parts = vec![name.to_string()];
    for _ in 0..64 {
        let p = parent?;
        if &p == root {
            parts.reverse();
            return Some(format!("/{}", parts.join("/")));
        }
        let (n, up) = names.get(&p)?;
        parts.push(n.clone());
        parent = up.clone();
    }
    None
}

/// A VM from its `VirtualMachineConfigInfo` (absent for a VM being made or
/// orphaned: then only its name is known).
fn from_config(name: String, config: Option<&Element>) -> SourceVm {
    let mut vm = SourceVm {
        name,
        path: None,
        uuid: None,
        power_state: PowerState::Unknown,
        guest_os: None,
        firmware: None,
        template: false,
        cpus: None,
        memory_mb: None,
        disks: vec![],
        nics: vec![],
    };
    let Some(c) = config else { return vm };
    let text = |e: &Element, n: &str| e.child_text(n).map(str::trim).map(str::to_string);
    vm.uuid = text(c, "uuid");
    vm.template = c.child_text("template").map(str::trim) == Some("true");
    vm.guest_os = text(c, "guestFullName")
        .filter(|s| !s.is_empty())
        .or_else(|| text(c, "guestId"));
    // vSphere defaults to BIOS when the VM does not say.
    vm.firmware = crate::firmware(c.child_text("firmware").map(str::trim).unwrap_or("bios"));
    let Some(hw) = c.child("hardware") else {
        return vm;
    };
    vm.cpus = hw.child_text("numCPU").and_then(|t| t.trim().parse().ok());
    vm.memory_mb = hw
        .child_text("memoryMB")
        .and_then(|t| t.trim().parse().ok());
    let int = |d: &Element, n: &str| d.child_text(n).and_then(|t| t.trim().parse::<i64>().ok());
    let devices: Vec<&Element> = hw.children("device").collect();
    let controllers: HashMap<i64, (&str, i64)> = devices
        .iter()
        .filter_map(|d| Some((int(d, "key")?, (d.xsi_type()?, int(d, "busNumber")?))))
        .collect();
    for d in &devices {
        let kind = d.xsi_type().unwrap_or("");
        let label = d
            .path(&["deviceInfo", "label"])
            .map(|l| l.text.trim().to_string());
        if kind == "VirtualDisk" {
            let size = int(d, "capacityInBytes")
                .filter(|b| *b > 0)
                .or_else(|| int(d, "capacityInKB").map(|kb| kb * 1024))
                .unwrap_or(0)
                .max(0) as u64;
            let ctrl = int(d, "controllerKey").and_then(|k| controllers.get(&k));
            let unit = int(d, "unitNumber").unwrap_or(0);
            vm.disks.push(SourceDisk {
                size_bytes: size,
                bus: ctrl.map(|(k, _)| bus_of(k)).unwrap_or(DiskBus::Other),
                slot: ctrl
                    .map(|(k, b)| format!("{k}{b}:{unit}"))
                    .unwrap_or_else(|| format!("?:{unit}")),
                label,
            });
        } else if let Some(model) = nic_model(kind) {
            let network = d
                .path(&["backing", "deviceName"])
                .map(|n| n.text.trim().to_string())
                .or_else(|| {
                    d.path(&["deviceInfo", "summary"])
                        .map(|s| s.text.trim().to_string())
                })
                .filter(|n| !n.is_empty());
            vm.nics.push(SourceNic {
                model,
                mac: text(d, "macAddress").filter(|m| !m.is_empty()),
                network,
            });
        }
    }
    vm
}

pub(crate) fn bus_of(controller: &str) -> DiskBus {
    match controller {
        "VirtualIDEController" => DiskBus::Ide,
        "VirtualAHCIController" => DiskBus::Sata,
        "VirtualNVMEController" => DiskBus::Nvme,
        "ParaVirtualSCSIController"
        | "VirtualLsiLogicController"
        | "VirtualLsiLogicSASController"
        | "VirtualBusLogicController" => DiskBus::Scsi,
        _ => DiskBus::Other,
    }
}

/// `VirtualVmxnet3` → `vmxnet3`; None for devices that are not NICs.
pub(crate) fn nic_model(kind: &str) -> Option<String> {
    const NICS: [&str; 7] = [
        "VirtualE1000",
        "VirtualE1000e",
        "VirtualVmxnet",
        "VirtualVmxnet2",
        "VirtualVmxnet3",
        "VirtualVmxnet3Vrdma",
        "VirtualPCNet32",
    ];
    let k = NICS.iter().find(|n| **n == kind)?;
    Some(k.trim_start_matches("Virtual").to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &[u8] = br#"<val xmlns:xsi="i" xsi:type="VirtualMachineConfigInfo">
<uuid>4213-abcd</uuid><template>false</template><guestFullName>Debian GNU/Linux 12 (64-bit)</guestFullName>
<guestId>debian12_64Guest</guestId><firmware>efi</firmware>
<hardware><numCPU>2</numCPU><memoryMB>4096</memoryMB>
<device xsi:type="VirtualIDEController"><key>200</key><busNumber>0</busNumber></device>
<device xsi:type="VirtualAHCIController"><key>15000</key><busNumber>0</busNumber></device>
<device xsi:type="ParaVirtualSCSIController"><key>1000</key><busNumber>1</busNumber></device>
<device xsi:type="VirtualDisk"><key>2000</key><deviceInfo><label>Hard disk 1</label></deviceInfo><controllerKey>1000</controllerKey><unitNumber>0</unitNumber><capacityInBytes>1048576</capacityInBytes></device>
<device xsi:type="VirtualDisk"><key>2001</key><controllerKey>15000</controllerKey><unitNumber>1</unitNumber><capacityInKB>2048</capacityInKB></device>
<device xsi:type="VirtualVmxnet3"><key>4000</key><backing><deviceName>VM Network</deviceName></backing><macAddress>00:50:56:aa:bb:cc</macAddress></device>
<device xsi:type="VirtualE1000"><key>4001</key><deviceInfo><summary>DVSwitch: x</summary></deviceInfo></device>
</hardware></val>"#;

    #[test]
    fn reads_disks_with_their_bus_and_nics_with_their_model() {
        let vm = from_config("web01".into(), Some(&Element::parse(CONFIG).unwrap()));
        assert_eq!(vm.uuid.as_deref(), Some("4213-abcd"));
        assert_eq!(vm.guest_os.as_deref(), Some("Debian GNU/Linux 12 (64-bit)"));
        assert_eq!(vm.firmware, Some(hype_types::Firmware::Uefi));
        assert_eq!((vm.cpus, vm.memory_mb), (Some(2), Some(4096)));
        assert_eq!(vm.disks.len(), 2);
        assert_eq!(vm.disks[0].bus, DiskBus::Scsi);
        assert_eq!(vm.disks[0].slot, "ParaVirtualSCSIController1:0");
        assert_eq!(vm.disks[0].label.as_deref(), Some("Hard disk 1"));
        assert_eq!(
            (vm.disks[1].bus, vm.disks[1].size_bytes),
            (DiskBus::Sata, 2 << 20)
        );
        assert_eq!(vm.nics.len(), 2);
        assert_eq!(vm.nics[0].model, "vmxnet3");
        assert_eq!(vm.nics[0].mac.as_deref(), Some("00:50:56:aa:bb:cc"));
        assert_eq!(vm.nics[0].network.as_deref(), Some("VM Network"));
        assert_eq!(vm.nics[1].model, "e1000");
        assert!(!vm.template);
    }

    #[test]
    fn paths_stop_at_the_root_and_give_up_on_unknown_parents() {
        let root = MoRef::new("Folder", "group-d1");
        let mut names = HashMap::new();
        names.insert(
            MoRef::new("Datacenter", "dc"),
            ("DC0".to_string(), Some(root.clone())),
        );
        names.insert(
            MoRef::new("Folder", "vmf"),
            ("vm".to_string(), Some(MoRef::new("Datacenter", "dc"))),
        );
        let p = inventory_path("a", Some(MoRef::new("Folder", "vmf")), &names, &root);
        assert_eq!(p.as_deref(), Some("/DC0/vm/a"));
        let vapp = Some(MoRef::new("VirtualApp", "v1"));
        assert_eq!(inventory_path("a", vapp, &names, &root), None);
    }
}
