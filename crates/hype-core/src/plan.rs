//! What a VM boots with, decided once per request: the [`BootPlan`] (its
//! backend, accelerator, image and how that image boots, the firmware
//! checked) is made before anything is recorded or launched, and every
//! later step reads it instead of asking again. [`Hype::vm_spec`] turns a
//! plan into the `VmSpec` a backend launches, making the VM's own disks on
//! the way; nothing here starts a process or changes a VM's state.

use hype_store::{ImageRecord, VmRecord};
use hype_vmm::{Accel, Boot, Disk, DiskFormat, VmSpec, Vmm};

use crate::backends::VmmBackend;
use crate::{images, CoreError, Hype, Result};

/// Everything decided about one boot of one VM.
pub(crate) struct BootPlan {
    pub vmm: VmmBackend,
    pub accel: Accel,
    pub image: ImageRecord,
    pub boot: images::ImageBoot,
    /// For an imported disk booted by firmware: what that firmware takes
    /// on this backend, checked to be there.
    pub firmware: Option<crate::firmware::Plan>,
}

impl BootPlan {
    /// Whether a hype agent runs in such a VM.
    pub fn has_agent(&self) -> bool {
        self.boot.has_agent()
    }
}

impl Hype {
    /// Plans a boot of VM `vm` from image `image` on `vmm`; refused (with
    /// the reason) when this hyped cannot boot it, before anything is made.
    pub(crate) async fn plan(&self, vm: &str, image: &str, vmm: VmmBackend) -> Result<BootPlan> {
        // CH runs on KVM or not at all; only QEMU follows the decision.
        let accel = match vmm.kind() {
            hype_types::VmmKind::CloudHypervisor => Accel::Kvm,
            hype_types::VmmKind::Qemu => self.inner.backends.accel().await?.accel,
        };
        let image = self.inner.store.get_image(image).await?;
        let kernel = if image.kind == "disk" && image.boot_mode == "kernel" {
            match self.inner.store.get_image(images::KERNEL_IMAGE).await {
                Ok(base) => Some(base),
                Err(hype_store::StoreError::ImageNotFound { .. }) => None,
                Err(e) => return Err(e.into()),
            }
        } else {
            None
        };
        let boot =
            images::image_boot(&image, kernel.as_ref()).map_err(|what| CoreError::Unsupported {
                name: vm.into(),
                what,
            })?;
        check_devices(vm, &image.name, &boot, vmm.kind())?;
        let firmware = match &boot {
            images::ImageBoot::Disk {
                boot: images::DiskBoot::Firmware(firmware),
                ..
            } => Some(crate::firmware::plan(
                &self.inner.cfg,
                vm,
                &image.name,
                *firmware,
                vmm.kind(),
            )?),
            _ => None,
        };
        Ok(BootPlan {
            vmm,
            accel,
            image,
            boot,
            firmware,
        })
    }

    /// The plan for booting an existing VM again, on the backend it has.
    pub(crate) async fn plan_for(&self, rec: &VmRecord, vmm: VmmBackend) -> Result<BootPlan> {
        self.plan(&rec.name, &rec.image, vmm).await
    }

    /// Everything the plan's backend needs to start `rec`: its image's
    /// files, its disks (made on first boot), its network attachment and
    /// the kernel command line.
    pub(crate) async fn vm_spec(
        &self,
        rec: &VmRecord,
        plan: &BootPlan,
        net: Option<&crate::network::Attachment>,
    ) -> Result<VmSpec> {
        let run_dir = self.inner.cfg.vm_dir(rec);
        let (boot, disks) = match &plan.boot {
            images::ImageBoot::Kernel(files) => {
                self.kernel_boot(rec, plan, net, files, vec![]).await?
            }
            images::ImageBoot::Disk {
                disks,
                boot: images::DiskBoot::Kernel(files),
                ..
            } => {
                let overlays = overlay_disks(&rec.name, &run_dir, disks).await?;
                self.kernel_boot(rec, plan, net, files, overlays).await?
            }
            images::ImageBoot::Disk {
                disks,
                boot: images::DiskBoot::Firmware(_),
                ..
            } => {
                let fw = plan
                    .firmware
                    .clone()
                    .expect("a firmware boot is planned with its firmware");
                let overlays = overlay_disks(&rec.name, &run_dir, disks).await?;
                let firmware = crate::firmware::prepare(&rec.name, fw, &run_dir).await?;
                (Boot::Firmware { firmware }, overlays)
            }
        };
        let nic = match &plan.boot {
            images::ImageBoot::Disk { nic, .. } => *nic,
            images::ImageBoot::Kernel(_) => hype_vmm::NicModel::Virtio,
        };
        let jail = self.vm_jail(rec).await?;
        // A guest on hype's kernel keeps its RAM in a shared file: it can
        // be saved for forks (see `ram`).
        let memory = match &plan.boot {
            images::ImageBoot::Kernel(_) => hype_vmm::Memory::Shared(crate::ram::prepare(
                &self.inner.cfg,
                &rec.name,
                &rec.dir,
                rec.memory_mb,
                jail.as_ref().map(|j| j.uid),
            )?),
            _ => hype_vmm::Memory::Anonymous,
        };
        Ok(VmSpec {
            // The run directory's key: it names the VMM's cgroup too, which
            // must outlive a rename (a VM handed out of a warm pool).
            name: rec.dir.clone(),
            id: rec.id.clone(),
            cpu_cores: rec.cpu_cores,
            memory_mb: rec.memory_mb,
            boot,
            disks,
            run_dir,
            accel: plan.accel,
            tap: net.map(|n| n.tap.clone()),
            mac: net.map(|n| n.mac.clone()),
            nic,
            jail,
            memory,
        })
    }

    /// The jail of `rec`'s VMM, with the VM's own uid (assigned at its
    /// first boot); `None` when confinement is off.
    pub(crate) async fn vm_jail(&self, rec: &VmRecord) -> Result<Option<hype_vmm::VmJail>> {
        let (Some(config), Some(settings)) = (&self.inner.jail, &self.inner.cfg.jail) else {
            return Ok(None);
        };
        let uid = match rec.uid {
            Some(uid) => uid,
            None => {
                self.inner
                    .store
                    .assign_uid(&rec.name, settings.uid_base, settings.uid_count)
                    .await?
            }
        };
        Ok(Some(hype_vmm::VmJail {
            config: config.clone(),
            uid,
            gid: uid,
            // A warm pool's VM waits in the background until claimed.
            priority: if rec.pool.is_some() {
                hype_vmm::jail::cgroup::Priority::Background
            } else {
                hype_vmm::jail::cgroup::Priority::Normal
            },
        }))
    }

    /// A boot into hype's kernel: its command line, and the disks in the
    /// order it names them. `imported` are an imported image's overlays,
    /// the first holding the system the agent starts; otherwise the
    /// image's root filesystem (and the VM's persistent disk) are attached.
    async fn kernel_boot(
        &self,
        rec: &VmRecord,
        plan: &BootPlan,
        net: Option<&crate::network::Attachment>,
        files: &images::BootFiles,
        imported: Vec<Disk>,
    ) -> Result<(Boot, Vec<Disk>)> {
        let mut cmdline = vec![
            "console=ttyS0".to_owned(),
            "reboot=k".into(),
            "panic=-1".into(),
            format!("hype.name={}", rec.name),
            format!("hype.id={}", rec.id),
        ];
        cmdline.extend(plan.vmm.cmdline_extra(plan.accel));
        if let Some(net) = net {
            cmdline.extend(net.cmdline.iter().cloned());
        }
        let mut disks = vec![];
        if !imported.is_empty() {
            // The agent finds the root filesystem on the first and starts
            // the disk's own init; the others follow as /dev/vdb, ...
            cmdline.push("hype.root=/dev/vda".into());
            disks.extend(imported);
        }
        if let Some(rootfs) = &files.rootfs {
            // The root disk is the first virtio-blk device, the VM's own
            // disk (if any) the second.
            cmdline.push("hype.rootfs=/dev/vda".into());
            disks.push(Disk {
                bus: hype_vmm::StorageBus::Virtio,
                path: rootfs.clone(),
                format: DiskFormat::Raw,
                read_only: true,
                backing: None,
            });
            if rec.persist {
                let path = self.inner.cfg.vm_dir(rec).join(crate::disk::PERSIST_DISK);
                crate::disk::ensure(&rec.name, &path).await?;
                cmdline.push("hype.persist=/dev/vdb".into());
                disks.push(Disk {
                    bus: hype_vmm::StorageBus::Virtio,
                    path,
                    format: DiskFormat::Raw,
                    read_only: false,
                    backing: None,
                });
            }
        }
        if let Some(user) = &rec.user_cmdline {
            cmdline.push(user.clone());
        }
        let boot = Boot::Kernel {
            kernel: files.kernel.clone(),
            initramfs: files.initramfs.clone(),
            cmdline: cmdline.join(" "),
        };
        Ok((boot, disks))
    }
}

/// The VM's copy-on-write overlays over an imported image's disks, made
/// on first boot: `disk.qcow2` over the boot disk (the name VMs made
/// before images had several disks still use), `disk1.qcow2`, ... over the
/// others; the run directory holds them, so delete removes them all.
async fn overlay_disks(
    vm: &str,
    run_dir: &std::path::Path,
    images: &[(std::path::PathBuf, hype_vmm::StorageBus)],
) -> Result<Vec<Disk>> {
    let mut out = vec![];
    for (i, (image, bus)) in images.iter().enumerate() {
        let path = match i {
            0 => run_dir.join(hype_vmm::spec_files::OVERLAY_DISK),
            i => run_dir.join(format!("disk{i}.qcow2")),
        };
        crate::disk::ensure_overlay(vm, &path, image).await?;
        out.push(Disk {
            bus: *bus,
            path,
            format: DiskFormat::Qcow2,
            read_only: false,
            backing: Some(image.to_owned()),
        });
    }
    Ok(out)
}

/// Refuses, before anything is made, an imported image whose disks or NIC
/// the backend cannot attach: cloud-hypervisor has virtio devices only,
/// and QEMU's one IDE controller takes four disks (`422`).
fn check_devices(
    vm: &str,
    image: &str,
    boot: &images::ImageBoot,
    kind: hype_types::VmmKind,
) -> Result<()> {
    let images::ImageBoot::Disk {
        disks,
        nic,
        boot: images::DiskBoot::Firmware(_),
    } = boot
    else {
        // hype's kernel boots virtio devices only, whatever the image says.
        return Ok(());
    };
    let refuse = |what: String| CoreError::DevicesUnsupported {
        name: vm.into(),
        what,
    };
    use hype_vmm::{NicModel, StorageBus};
    match kind {
        hype_types::VmmKind::CloudHypervisor => {
            if let Some((i, (_, bus))) = disks
                .iter()
                .enumerate()
                .find(|(_, (_, b))| *b != StorageBus::Virtio)
            {
                return Err(refuse(format!(
                    "image '{image}' attaches disk {i} on {bus}, and cloud-hypervisor has only virtio devices; use vmm \"qemu\""
                )));
            }
            if *nic != NicModel::Virtio {
                return Err(refuse(format!(
                    "image '{image}' has an {nic} NIC, and cloud-hypervisor has only virtio devices; use vmm \"qemu\""
                )));
            }
        }
        hype_types::VmmKind::Qemu => {
            let ide = disks.iter().filter(|(_, b)| *b == StorageBus::Ide).count();
            if ide > hype_vmm::qemu::IDE_MAX_DISKS {
                return Err(refuse(format!(
                    "image '{image}' has {ide} IDE disks and an IDE controller takes {}; import it again with another disk_bus",
                    hype_vmm::qemu::IDE_MAX_DISKS
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hype_types::VmmKind;
    use hype_vmm::{NicModel, StorageBus};

    fn image(buses: &[StorageBus], nic: NicModel, kernel: bool) -> images::ImageBoot {
        images::ImageBoot::Disk {
            disks: buses
                .iter()
                .enumerate()
                .map(|(i, b)| (format!("/img/disk{i}.raw").into(), *b))
                .collect(),
            nic,
            boot: if kernel {
                images::DiskBoot::Kernel(images::BootFiles {
                    kernel: "/img/vmlinux".into(),
                    initramfs: None,
                    rootfs: None,
                })
            } else {
                images::DiskBoot::Firmware(hype_types::Firmware::Uefi)
            },
        }
    }

    #[test]
    fn cloud_hypervisor_refuses_emulated_devices_with_a_422_naming_them() {
        let check =
            |b: &[StorageBus], n, kernel, k| check_devices("vm1", "web", &image(b, n, kernel), k);
        let ch = VmmKind::CloudHypervisor;
        let e = check(
            &[StorageBus::Virtio, StorageBus::Sata],
            NicModel::Virtio,
            false,
            ch,
        )
        .unwrap_err();
        assert_eq!(
            (e.kind(), e.code()),
            (hype_types::ErrorKind::Invalid, "devices_unsupported")
        );
        let msg = e.to_string();
        assert!(
            msg.contains("disk 1 on sata") && msg.contains("qemu") && msg.contains("vm1"),
            "{msg}"
        );
        let e = check(&[StorageBus::Virtio], NicModel::E1000, false, ch).unwrap_err();
        assert!(e.to_string().contains("e1000"), "{e}");
        assert!(check(&[StorageBus::Virtio; 2], NicModel::Virtio, false, ch).is_ok());
        // hype's kernel attaches virtio devices whatever the image records.
        assert!(check(&[StorageBus::Ide], NicModel::E1000, true, ch).is_ok());
        // QEMU takes them all, up to one IDE controller's four disks.
        let q = VmmKind::Qemu;
        assert!(check(&[StorageBus::Ide; 4], NicModel::E1000, false, q).is_ok());
        assert!(check(&[StorageBus::Sata; 8], NicModel::E1000, false, q).is_ok());
        let e = check(&[StorageBus::Ide; 5], NicModel::Virtio, false, q).unwrap_err();
        assert!(e.to_string().contains("5 IDE disks"), "{e}");
    }
}
