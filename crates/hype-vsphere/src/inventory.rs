//! Finding the VM and reading what the export needs of it; the optional
//! changes to it (guest shutdown, CD-ROM removal) and waiting on tasks.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::soap::property::{self, Start};
use crate::soap::{returnval, Client, Element, MoRef, Request};
use crate::VsphereError;

/// What the OVF descriptor and the export need of a VM.
#[derive(Debug, Clone)]
pub struct VmInfo {
    pub moref: MoRef,
    pub name: String,
    pub powered_on: bool,
    pub num_cpu: u32,
    pub memory_mb: u64,
    pub guest_id: String,
    pub firmware: Option<String>,
    pub controllers: Vec<Controller>,
    pub disks: Vec<Disk>,
    pub cdroms: Vec<Element>,
    /// The NICs' models in device order (`vmxnet3`, `e1000`, ...).
    pub nics: Vec<String>,
    /// `config.template`: a template cannot be exported as a VM.
    pub template: bool,
}

#[derive(Debug, Clone)]
pub struct Controller {
    pub key: i32,
    /// The device type, e.g. `ParaVirtualSCSIController`.
    pub kind: String,
    pub bus: i32,
}

#[derive(Debug, Clone)]
pub struct Disk {
    pub controller_key: i32,
    pub unit: i32,
    pub capacity_bytes: u64,
    /// How vCenter names the disk in a lease's device URL key:
    /// `ControllerTypeBus:Unit` (after `/vm-id/`).
    pub device_id: Option<String>,
}

/// An inventory path (`/dc/vm/folder/name`) goes through the SearchIndex;
/// a plain name is looked up among all VMs and must be unique.
pub async fn find_vm(client: &Client, vm: &str) -> Result<MoRef, VsphereError> {
    let not_found = || VsphereError::VmNotFound { vm: vm.to_string() };
    if vm.starts_with('/') {
        let mut req = Request::new("FindByInventoryPath", &client.content.search_index);
        req.text("inventoryPath", vm.trim_start_matches('/'));
        let res = client.call(&req).await?;
        return res
            .child("returnval")
            .and_then(MoRef::from_element)
            .filter(|r| r.kind == "VirtualMachine")
            .ok_or_else(not_found);
    }
    let mut req = Request::new("CreateContainerView", &client.content.view_manager);
    req.moref("container", &client.content.root_folder)
        .text("type", "VirtualMachine")
        .text("recursive", "true");
    let res = client.call(&req).await?;
    let view = returnval(&res, "CreateContainerView").and_then(|rv| {
        MoRef::from_element(rv).ok_or_else(|| VsphereError::Protocol {
            operation: "CreateContainerView".into(),
            message: "no view reference".into(),
        })
    })?;
    let found = property::retrieve(client, "VirtualMachine", Start::View(&view), &["name"]).await;
    let _ = client.call(&Request::new("DestroyView", &view)).await;
    let matching: Vec<MoRef> = found?
        .into_iter()
        .filter(|o| o.text("name") == Some(vm))
        .map(|o| o.obj)
        .collect();
    match matching.len() {
        0 => Err(not_found()),
        1 => Ok(matching.into_iter().next().unwrap()),
        count => Err(VsphereError::AmbiguousVm {
            vm: vm.to_string(),
            count,
        }),
    }
}

pub async fn vm_info(client: &Client, vm: &MoRef, asked: &str) -> Result<VmInfo, VsphereError> {
    let o = property::object(client, vm, &["name", "runtime.powerState", "config"])
        .await?
        .ok_or_else(|| VsphereError::VmNotFound {
            vm: asked.to_string(),
        })?;
    let config = o.get("config").ok_or_else(|| VsphereError::Protocol {
        operation: "RetrievePropertiesEx".into(),
        message: format!("no config for {asked} (a template or an orphaned VM?)"),
    })?;
    let mut info = parse_config(config);
    info.moref = vm.clone();
    info.name = o.text("name").unwrap_or(asked).to_string();
    info.powered_on = o.text("runtime.powerState") != Some("poweredOff");
    Ok(info)
}

/// Reads a `VirtualMachineConfigInfo`.
fn parse_config(config: &Element) -> VmInfo {
    let hw = config.child("hardware");
    let num = |name: &str| {
        hw.and_then(|h| h.child_text(name))
            .and_then(|t| t.parse().ok())
    };
    let mut info = VmInfo {
        moref: MoRef::new("", ""),
        name: String::new(),
        powered_on: false,
        num_cpu: num("numCPU").unwrap_or(1) as u32,
        memory_mb: num("memoryMB").unwrap_or(0),
        guest_id: config
            .child_text("guestId")
            .unwrap_or("otherGuest")
            .to_string(),
        firmware: config.child_text("firmware").map(str::to_string),
        controllers: Vec::new(),
        disks: Vec::new(),
        cdroms: Vec::new(),
        nics: Vec::new(),
        template: config.child_text("template") == Some("true"),
    };
    let devices: Vec<&Element> = hw
        .map(|h| h.children("device").collect())
        .unwrap_or_default();
    let int = |d: &Element, name: &str| d.child_text(name).and_then(|t| t.parse::<i64>().ok());
    for d in &devices {
        let kind = d.xsi_type().unwrap_or("");
        let key = int(d, "key").unwrap_or(0) as i32;
        if let Some(bus) = int(d, "busNumber") {
            info.controllers.push(Controller {
                key,
                kind: kind.to_string(),
                bus: bus as i32,
            });
        } else if kind == "VirtualDisk" {
            let capacity = int(d, "capacityInBytes")
                .filter(|b| *b > 0)
                .or_else(|| int(d, "capacityInKB").map(|kb| kb * 1024))
                .unwrap_or(0);
            info.disks.push(Disk {
                controller_key: int(d, "controllerKey").unwrap_or(0) as i32,
                unit: int(d, "unitNumber").unwrap_or(0) as i32,
                capacity_bytes: capacity.max(0) as u64,
                device_id: None,
            });
        } else if kind == "VirtualCdrom" {
            info.cdroms.push((*d).clone());
        } else if let Some(model) = crate::browse::nic_model(kind) {
            info.nics.push(model);
        }
    }
    for disk in &mut info.disks {
        disk.device_id = info
            .controllers
            .iter()
            .find(|c| c.key == disk.controller_key)
            .map(|c| format!("{}{}:{}", c.kind, c.bus, disk.unit));
    }
    info
}

/// Asks the guest to shut down and waits until the VM is off.
pub async fn shutdown(
    client: &Client,
    vm: &VmInfo,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), VsphereError> {
    client
        .call(&Request::new("ShutdownGuest", &vm.moref))
        .await?;
    let began = Instant::now();
    loop {
        let state = property::object(client, &vm.moref, &["runtime.powerState"]).await?;
        if state.as_ref().and_then(|o| o.text("runtime.powerState")) == Some("poweredOff") {
            return Ok(());
        }
        if began.elapsed() > timeout {
            return Err(VsphereError::ShutdownTimeout {
                vm: vm.name.clone(),
                seconds: timeout.as_secs(),
            });
        }
        pause(Duration::from_millis(500), cancel).await?;
    }
}

/// Removes every CD-ROM drive from the VM (one reconfiguration).
pub async fn remove_cdroms(
    client: &Client,
    vm: &VmInfo,
    cancel: &CancellationToken,
) -> Result<(), VsphereError> {
    if vm.cdroms.is_empty() {
        return Ok(());
    }
    let mut req = Request::new("ReconfigVM_Task", &vm.moref);
    req.open("spec", None);
    for cd in &vm.cdroms {
        req.open("deviceChange", None)
            .text("operation", "remove")
            .open("device", Some("VirtualCdrom"));
        for field in ["key", "controllerKey", "unitNumber"] {
            if let Some(v) = cd.child_text(field) {
                req.text(field, v);
            }
        }
        req.close("device").close("deviceChange");
    }
    req.close("spec");
    let res = client.call(&req).await?;
    let task = returnval(&res, "ReconfigVM_Task").and_then(|rv| {
        MoRef::from_element(rv).ok_or_else(|| VsphereError::Protocol {
            operation: "ReconfigVM_Task".into(),
            message: "no task reference".into(),
        })
    })?;
    wait_task(client, &task, "ReconfigVM_Task", cancel).await
}

/// Polls a task until it succeeds; its error becomes a `Soap` error.
async fn wait_task(
    client: &Client,
    task: &MoRef,
    operation: &str,
    cancel: &CancellationToken,
) -> Result<(), VsphereError> {
    loop {
        let o = property::object(client, task, &["info.state", "info.error"]).await?;
        match o.as_ref().and_then(|o| o.text("info.state")) {
            Some("success") => return Ok(()),
            Some("error") => {
                let message = o
                    .as_ref()
                    .and_then(|o| o.get("info.error"))
                    .map(fault_message)
                    .unwrap_or_else(|| "unknown error".into());
                return Err(VsphereError::Soap {
                    operation: operation.into(),
                    fault: crate::soap::Fault {
                        kind: None,
                        message,
                    },
                });
            }
            _ => pause(Duration::from_millis(200), cancel).await?,
        }
    }
}

/// The message of a `LocalizedMethodFault`.
pub fn fault_message(fault: &Element) -> String {
    fault
        .child_text("localizedMessage")
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .or_else(|| {
            fault
                .child("fault")
                .and_then(|f| f.xsi_type())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown fault".into())
}

pub async fn pause(d: Duration, cancel: &CancellationToken) -> Result<(), VsphereError> {
    tokio::select! {
        _ = cancel.cancelled() => Err(VsphereError::Cancelled),
        _ = tokio::time::sleep(d) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &[u8] = br#"<val xmlns:xsi="i" xsi:type="VirtualMachineConfigInfo">
<name>web01</name><guestId>debian11_64Guest</guestId><firmware>efi</firmware>
<hardware><numCPU>2</numCPU><memoryMB>4096</memoryMB>
<device xsi:type="VirtualIDEController"><key>200</key><busNumber>0</busNumber></device>
<device xsi:type="ParaVirtualSCSIController"><key>1000</key><busNumber>0</busNumber></device>
<device xsi:type="VirtualCdrom"><key>3000</key><controllerKey>200</controllerKey><unitNumber>0</unitNumber></device>
<device xsi:type="VirtualDisk"><key>2000</key><controllerKey>1000</controllerKey><unitNumber>0</unitNumber><capacityInKB>1024</capacityInKB><capacityInBytes>1048576</capacityInBytes></device>
<device xsi:type="VirtualDisk"><key>2001</key><controllerKey>1000</controllerKey><unitNumber>1</unitNumber><capacityInKB>2048</capacityInKB></device>
</hardware></val>"#;

    #[test]
    fn reads_hardware_disks_and_cdroms() {
        let info = parse_config(&Element::parse(CONFIG).unwrap());
        assert_eq!((info.num_cpu, info.memory_mb), (2, 4096));
        assert_eq!(info.guest_id, "debian11_64Guest");
        assert_eq!(info.firmware.as_deref(), Some("efi"));
        assert_eq!(info.controllers.len(), 2);
        assert_eq!(info.cdroms.len(), 1);
        assert_eq!(info.disks.len(), 2);
        assert_eq!(info.disks[0].capacity_bytes, 1 << 20);
        // capacityInBytes missing: from KB.
        assert_eq!(info.disks[1].capacity_bytes, 2 << 20);
        assert_eq!(
            info.disks[1].device_id.as_deref(),
            Some("ParaVirtualSCSIController0:1")
        );
    }

    #[test]
    fn fault_message_prefers_the_localized_text() {
        let f = Element::parse(br#"<val xmlns:xsi="i"><fault xsi:type="SystemError"/><localizedMessage>disk busy</localizedMessage></val>"#).unwrap();
        assert_eq!(fault_message(&f), "disk busy");
        let f =
            Element::parse(br#"<val xmlns:xsi="i"><fault xsi:type="Timedout"/></val>"#).unwrap();
        assert_eq!(fault_message(&f), "Timedout");
    }
}
