//! Images built by `scripts/build-images.sh` are found on disk: each
//! `<images_dir>/<name>/manifest.json` is registered (or refreshed) at start.

use std::path::{Path, PathBuf};

use hype_store::{ImageRecord, Store};
use serde::Deserialize;

use hype_types::Image;

use crate::{view, Hype, Result};

#[derive(Debug, Deserialize)]
struct Manifest {
    name: String,
    kind: String,
    kernel_version: Option<String>,
    vmlinuz: Option<String>,
    vmlinux: Option<String>,
    initramfs: Option<String>,
    rootfs: Option<String>,
    inputs: Option<String>,
    size_bytes: u64,
    built_at: String,
}

/// Registers every image under `dir`; returns the names found.
pub(crate) async fn import_built(store: &Store, dir: &Path) -> Result<Vec<String>> {
    let mut found = vec![];
    let Ok(entries) = std::fs::read_dir(dir) else {
        tracing::warn!(dir = %dir.display(), "no images directory; build one with scripts/build-images.sh");
        return Ok(found);
    };
    for entry in entries.flatten() {
        let path = entry.path().join("manifest.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let m: Manifest = match serde_json::from_str(&text) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable image manifest");
                continue;
            }
        };
        let record = ImageRecord {
            name: m.name.clone(),
            kind: m.kind,
            source: "build".into(),
            dir: entry.path().display().to_string(),
            vmlinuz: m.vmlinuz,
            vmlinux: m.vmlinux,
            initramfs: m.initramfs,
            rootfs: m.rootfs,
            kernel_version: m.kernel_version,
            size_bytes: m.size_bytes,
            sha256: m.inputs,
            boot_mode: "kernel".into(),
            disk: None,
            format: None,
            firmware: None,
            disks: vec![],
            nic_model: None,
            created_at: m.built_at,
        };
        store.upsert_image(&record).await?;
        tracing::info!(image = %m.name, dir = %entry.path().display(), "image registered");
        found.push(m.name);
    }
    Ok(found)
}

/// The built image whose kernel and initramfs boot imported disks with
/// `boot: kernel`: its agent mounts the disk's root and starts its init.
pub(crate) const KERNEL_IMAGE: &str = "base";

/// How VMs of an image boot.
pub(crate) enum ImageBoot {
    /// A built image: hype's kernel, initramfs and maybe a root disk.
    Kernel(BootFiles),
    /// An imported image's full disks (raw), boot disk first, each on its
    /// bus; each VM writes to its own overlay over each. `nic` is the NIC
    /// a firmware boot gets.
    Disk {
        disks: Vec<(PathBuf, hype_types::StorageBus)>,
        nic: hype_types::NicModel,
        boot: DiskBoot,
    },
}

/// An imported image's disks in order: those it records, or for an image
/// imported before they were recorded its one disk, on virtio (as it
/// booted then), with the image's digest.
pub(crate) fn disks_of(img: &ImageRecord) -> Vec<hype_types::ImageDisk> {
    if !img.disks.is_empty() {
        return img.disks.clone();
    }
    img.disk
        .iter()
        .map(|file| hype_types::ImageDisk {
            file: file.clone(),
            size_bytes: img.size_bytes,
            sha256: img.sha256.clone().unwrap_or_default(),
            bus: hype_types::StorageBus::Virtio,
        })
        .collect()
}

/// What starts an imported disk's own system.
pub(crate) enum DiskBoot {
    /// The VMM's firmware (of the kind the source declared) and the disk's
    /// boot loader; no hype agent.
    Firmware(hype_types::Firmware),
    /// hype's kernel and agent (from [`KERNEL_IMAGE`]): the agent mounts
    /// the disk's root filesystem, hands PID 1 to its init and stays beside
    /// it to answer hyped.
    Kernel(BootFiles),
}

impl ImageBoot {
    /// Whether a hype agent runs in such a VM.
    pub fn has_agent(&self) -> bool {
        match self {
            ImageBoot::Kernel(_) => true,
            ImageBoot::Disk { boot, .. } => match boot {
                DiskBoot::Firmware(_) => false,
                DiskBoot::Kernel(_) => true,
            },
        }
    }
}

/// How VMs of `img` boot, with every file checked to be there; `kernel`
/// is the [`KERNEL_IMAGE`], when there is one.
pub(crate) fn image_boot(
    img: &ImageRecord,
    kernel: Option<&ImageRecord>,
) -> std::result::Result<ImageBoot, String> {
    if img.kind != "disk" {
        return boot_files(img).map(ImageBoot::Kernel);
    }
    if img.format.as_deref() != Some("raw") {
        return Err(format!(
            "image '{}' is a {} disk; only raw imported disks boot",
            img.name,
            img.format.as_deref().unwrap_or("unknown")
        ));
    }
    let listed = disks_of(img);
    if listed.is_empty() {
        return Err(format!("image '{}' has no disk file", img.name));
    }
    let mut disks = vec![];
    for d in listed {
        // Recorded names are plain file names of the image's directory.
        if d.file.contains('/') || d.file.starts_with('.') {
            return Err(format!(
                "image '{}' names a disk {:?} outside its directory",
                img.name, d.file
            ));
        }
        let path = Path::new(&img.dir).join(&d.file);
        if !path.is_file() {
            return Err(format!(
                "image '{}' is missing its disk {}",
                img.name,
                path.display()
            ));
        }
        disks.push((path, d.bus));
    }
    let nic = match img.nic_model.as_deref() {
        None => hype_types::NicModel::Virtio,
        Some(m) => hype_types::NicModel::parse(m)
            .ok_or_else(|| format!("image '{}' has an unknown NIC model {m:?}", img.name))?,
    };
    let boot = match img.boot_mode.as_str() {
        "firmware" => {
            // Disks imported before the firmware was recorded booted BIOS.
            let firmware = match img.firmware.as_deref() {
                None => hype_types::Firmware::Bios,
                Some(f) => hype_types::Firmware::parse(f)
                    .ok_or_else(|| format!("image '{}' has an unknown firmware {f:?}", img.name))?,
            };
            DiskBoot::Firmware(firmware)
        }
        "kernel" => {
            let base = kernel.ok_or_else(|| {
                format!(
                    "image '{}' boots with hype's kernel, from the '{KERNEL_IMAGE}' image, which this hyped does not have; build it with scripts/build-images.sh",
                    img.name
                )
            })?;
            DiskBoot::Kernel(boot_files(base)?)
        }
        other => {
            return Err(format!(
                "image '{}' has boot mode {other}, which this hyped does not know",
                img.name
            ))
        }
    };
    Ok(ImageBoot::Disk { disks, nic, boot })
}

/// The files a kernel-booted image needs, as absolute paths.
pub(crate) struct BootFiles {
    pub kernel: PathBuf,
    pub initramfs: Option<PathBuf>,
    pub rootfs: Option<PathBuf>,
}

pub(crate) fn boot_files(img: &ImageRecord) -> std::result::Result<BootFiles, String> {
    let dir = Path::new(&img.dir);
    let kernel = img
        .vmlinux
        .as_ref()
        .or(img.vmlinuz.as_ref())
        .map(|k| dir.join(k))
        .ok_or_else(|| format!("image '{}' has no kernel", img.name))?;
    let initramfs = img.initramfs.as_ref().map(|f| dir.join(f));
    let rootfs = img.rootfs.as_ref().map(|f| dir.join(f));
    for f in std::iter::once(&kernel)
        .chain(initramfs.iter())
        .chain(rootfs.iter())
    {
        if !f.is_file() {
            return Err(format!(
                "image '{}' is missing {}; rebuild it with scripts/build-images.sh",
                img.name,
                f.display()
            ));
        }
    }
    Ok(BootFiles {
        kernel,
        initramfs,
        rootfs,
    })
}

/// Image actions.
impl Hype {
    pub async fn list_images(&self) -> Result<Vec<Image>> {
        let rows = self.inner.store.list_images().await?;
        Ok(rows.into_iter().map(view::image).collect())
    }

    pub async fn get_image(&self, name: &str) -> Result<Image> {
        Ok(view::image(self.inner.store.get_image(name).await?))
    }

    /// Forgets an image. A built image's files stay where the build put
    /// them; an imported disk's directory (hyped made it) goes too.
    pub async fn delete_image(&self, name: &str) -> Result<()> {
        let img = self.inner.store.get_image(name).await?;
        self.inner.store.delete_image(name).await?;
        let dir = Path::new(&img.dir);
        if img.kind == "disk"
            && dir.starts_with(crate::jobs::imported_root(&self.inner.cfg.data_dir))
        {
            if let Err(e) = tokio::fs::remove_dir_all(dir).await {
                tracing::warn!(image = %name, error = %e, "cannot remove the imported disk");
            }
        }
        self.inner
            .browser_images
            .lock()
            .expect("images lock")
            .remove(name);
        Ok(())
    }
}
