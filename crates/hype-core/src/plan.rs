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
                self.kernel_boot(rec, plan, net, files, None).await?
            }
            images::ImageBoot::Disk {
                disk,
                boot: images::DiskBoot::Kernel(files),
            } => {
                let overlay = overlay_disk(&rec.name, &run_dir, disk).await?;
                self.kernel_boot(rec, plan, net, files, Some(overlay))
                    .await?
            }
            images::ImageBoot::Disk {
                disk,
                boot: images::DiskBoot::Firmware(_),
            } => {
                let fw = plan
                    .firmware
                    .clone()
                    .expect("a firmware boot is planned with its firmware");
                let overlay = overlay_disk(&rec.name, &run_dir, disk).await?;
                let firmware = crate::firmware::prepare(&rec.name, fw, &run_dir).await?;
                (Boot::Firmware { firmware }, vec![overlay])
            }
        };
        let jail = self.vm_jail(rec).await?;
        // A guest on hype's kernel under QEMU keeps its RAM in a shared
        // file: it can be saved for forks (see `ram`).
        let memory = match (&plan.boot, plan.vmm.kind()) {
            (images::ImageBoot::Kernel(_), hype_types::VmmKind::Qemu) => {
                hype_vmm::Memory::Shared(crate::ram::prepare(
                    &self.inner.cfg,
                    &rec.name,
                    &rec.dir,
                    rec.memory_mb,
                    jail.as_ref().map(|j| j.uid),
                )?)
            }
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
    /// order it names them. `imported` is an imported disk's overlay, whose
    /// own system the agent starts; otherwise the image's root filesystem
    /// (and the VM's persistent disk) are attached.
    async fn kernel_boot(
        &self,
        rec: &VmRecord,
        plan: &BootPlan,
        net: Option<&crate::network::Attachment>,
        files: &images::BootFiles,
        imported: Option<Disk>,
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
        if let Some(overlay) = imported {
            // The agent finds the root filesystem on it and starts the
            // disk's own init.
            cmdline.push("hype.root=/dev/vda".into());
            disks.push(overlay);
        }
        if let Some(rootfs) = &files.rootfs {
            // The root disk is the first virtio-blk device, the VM's own
            // disk (if any) the second.
            cmdline.push("hype.rootfs=/dev/vda".into());
            disks.push(Disk {
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

/// The VM's copy-on-write overlay over an imported disk, made on first boot.
async fn overlay_disk(
    vm: &str,
    run_dir: &std::path::Path,
    image: &std::path::Path,
) -> Result<Disk> {
    let path = run_dir.join(hype_vmm::spec_files::OVERLAY_DISK);
    crate::disk::ensure_overlay(vm, &path, image).await?;
    Ok(Disk {
        path,
        format: DiskFormat::Qcow2,
        read_only: false,
        backing: Some(image.to_owned()),
    })
}
