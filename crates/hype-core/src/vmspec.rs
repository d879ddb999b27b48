//! What a VM boots with: its image resolved to kernel or firmware, its
//! disks made and listed, its command line. Everything `Vmm::launch` (or
//! `restore`) needs, as a `VmSpec`; nothing here starts a process or
//! changes a VM's state.

use hype_store::{ImageRecord, VmRecord};
use hype_vmm::{AnyVmm, Boot, Disk, DiskFormat, VmSpec, Vmm};

use crate::{images, CoreError, Hype, Result};

impl Hype {
    /// How VMs of `img` boot; refused (with the reason) when this hyped
    /// cannot boot them.
    pub(crate) async fn image_boot(
        &self,
        vm: &str,
        img: &ImageRecord,
    ) -> Result<images::ImageBoot> {
        let kernel = if img.kind == "disk" && img.boot_mode == "kernel" {
            match self.inner.store.get_image(images::KERNEL_IMAGE).await {
                Ok(base) => Some(base),
                Err(hype_store::StoreError::ImageNotFound { .. }) => None,
                Err(e) => return Err(e.into()),
            }
        } else {
            None
        };
        images::image_boot(img, kernel.as_ref()).map_err(|what| CoreError::Unsupported {
            name: vm.into(),
            what,
        })
    }

    /// Everything `vmm` needs to start `rec`: its image's files, its disks,
    /// its network attachment and the kernel command line.
    pub(crate) async fn vm_spec(
        &self,
        rec: &VmRecord,
        vmm: &AnyVmm,
        net: Option<&crate::network::Attachment>,
    ) -> Result<VmSpec> {
        // CH runs on KVM or not at all; only QEMU follows the decision.
        let accel = match vmm.kind() {
            hype_types::VmmKind::CloudHypervisor => hype_vmm::Accel::Kvm,
            hype_types::VmmKind::Qemu => self.accel().await?.accel,
        };
        let img = self.inner.store.get_image(&rec.image).await?;
        let boot = self.image_boot(&rec.name, &img).await?;
        let run_dir = self.inner.cfg.run_dir(&rec.name);
        let (boot, disks) = match boot {
            images::ImageBoot::Kernel(files) => {
                self.kernel_boot(rec, vmm, accel, net, files, None).await?
            }
            images::ImageBoot::Disk {
                disk,
                boot: images::DiskBoot::Kernel(files),
            } => {
                let overlay = overlay_disk(&rec.name, &run_dir, &disk).await?;
                self.kernel_boot(rec, vmm, accel, net, files, Some(overlay))
                    .await?
            }
            images::ImageBoot::Disk {
                disk,
                boot: images::DiskBoot::Firmware(firmware),
            } => {
                // Checked before anything is made, so a refusal leaves nothing.
                let plan = crate::firmware::plan(
                    &self.inner.cfg,
                    &rec.name,
                    &rec.image,
                    firmware,
                    vmm.kind(),
                )?;
                let overlay = overlay_disk(&rec.name, &run_dir, &disk).await?;
                let firmware = crate::firmware::prepare(&rec.name, plan, &run_dir).await?;
                (Boot::Firmware { firmware }, vec![overlay])
            }
        };
        Ok(VmSpec {
            name: rec.name.clone(),
            id: rec.id.clone(),
            cpu_cores: rec.cpu_cores,
            memory_mb: rec.memory_mb,
            boot,
            disks,
            run_dir,
            accel,
            tap: net.map(|n| n.tap.clone()),
            mac: net.map(|n| n.mac.clone()),
        })
    }

    /// A boot into hype's kernel: its command line, and the disks in the
    /// order it names them. `imported` is an imported disk's overlay, whose
    /// own system the agent starts; otherwise the image's root filesystem
    /// (and the VM's persistent disk) are attached.
    async fn kernel_boot(
        &self,
        rec: &VmRecord,
        vmm: &AnyVmm,
        accel: hype_vmm::Accel,
        net: Option<&crate::network::Attachment>,
        files: images::BootFiles,
        imported: Option<Disk>,
    ) -> Result<(Boot, Vec<Disk>)> {
        let mut cmdline = vec![
            "console=ttyS0".to_owned(),
            "reboot=k".into(),
            "panic=-1".into(),
            format!("hype.name={}", rec.name),
            format!("hype.id={}", rec.id),
        ];
        cmdline.extend(vmm.cmdline_extra(accel));
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
        if let Some(rootfs) = files.rootfs {
            // The root disk is the first virtio-blk device, the VM's own
            // disk (if any) the second.
            cmdline.push("hype.rootfs=/dev/vda".into());
            disks.push(Disk {
                path: rootfs,
                format: DiskFormat::Raw,
                read_only: true,
            });
            if rec.persist {
                let path = self
                    .inner
                    .cfg
                    .run_dir(&rec.name)
                    .join(crate::disk::PERSIST_DISK);
                crate::disk::ensure(&rec.name, &path).await?;
                cmdline.push("hype.persist=/dev/vdb".into());
                disks.push(Disk {
                    path,
                    format: DiskFormat::Raw,
                    read_only: false,
                });
            }
        }
        if let Some(user) = &rec.user_cmdline {
            cmdline.push(user.clone());
        }
        let boot = Boot::Kernel {
            kernel: files.kernel,
            initramfs: files.initramfs,
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
    })
}
