//! One exporter per job kind, behind one enum: each takes the job's source
//! and password, writes raw (or VMDK) disk files into a staging directory,
//! reports progress and honours its token. Adding a kind means an arm here.

use std::path::{Path, PathBuf};

use hype_types::{DiskBus, JobKind, JobSource, XcpngTransport};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub(crate) use hype_types::ExportProgress;

pub(crate) struct Disk {
    pub path: PathBuf,
    pub capacity_bytes: u64,
    /// What the exporter wrote (`raw`, `vmdk`), never guessed from the
    /// bytes: a guest can write any header it likes into its own disk.
    pub format: &'static str,
    /// The bus the source attached it to, when it says.
    pub bus: Option<DiskBus>,
}

/// What an exporter brought back: the disks, boot disk first, the
/// firmware the source VM booted with and its first NIC's model, if it
/// says.
pub(crate) struct Exported {
    pub disks: Vec<Disk>,
    pub firmware: Option<hype_types::Firmware>,
    pub nic: Option<String>,
    /// The VM's CPUs and memory (MiB), where the exporter reports them
    /// (XCP-ng): written into the OVF of an export-only job.
    pub cpus: Option<u32>,
    pub memory_mb: Option<u64>,
}

pub(crate) enum ExportError {
    Cancelled,
    Failed(String),
}

pub(crate) enum Exporter {
    Xcpng(hype_xcpng::Source),
    Vsphere(Box<hype_vsphere::ExportSpec>),
    /// A folder as an export-only job leaves it; read, never changed.
    Ovf(PathBuf),
}

impl Exporter {
    pub fn new(kind: JobKind, src: &JobSource, password: Option<String>) -> Self {
        match kind {
            JobKind::XcpngExport => Exporter::Xcpng(match &src.xva {
                Some(p) => hype_xcpng::Source::XvaFile(p.into()),
                None => hype_xcpng::Source::Remote(hype_xcpng::Remote {
                    url: src.url.clone().unwrap_or_default(),
                    username: src.username.clone().unwrap_or_default(),
                    password: password.unwrap_or_default(),
                    vm: src.vm.clone().unwrap_or_default(),
                    insecure: src.insecure,
                    xva: src.transport == Some(XcpngTransport::Xva),
                }),
            }),
            JobKind::VsphereExport => {
                let mut spec = hype_vsphere::ExportSpec::new(
                    src.url.as_deref().unwrap_or_default(),
                    src.username.as_deref().unwrap_or_default(),
                    password.as_deref().unwrap_or_default(),
                    src.vm.as_deref().unwrap_or_default(),
                );
                spec.insecure = src.insecure;
                spec.shutdown = src.shutdown;
                spec.remove_cdrom = src.remove_cdrom;
                if let Some(n) = src.parallel_downloads {
                    spec.parallel_downloads = n as usize;
                }
                Exporter::Vsphere(Box::new(spec))
            }
            JobKind::Ovf => Exporter::Ovf(src.path.clone().unwrap_or_default().into()),
        }
    }

    pub async fn export(
        &self,
        dest: &Path,
        progress: watch::Sender<ExportProgress>,
        cancel: CancellationToken,
    ) -> Result<Exported, ExportError> {
        match self {
            Exporter::Xcpng(source) => {
                let out = hype_xcpng::export(source, dest, progress, cancel).await;
                match out {
                    // XCP-ng's disks are Xen PV block devices (and its NICs
                    // netfront): a guest that ran on them with PV drivers is
                    // a Linux with virtio drivers too (a Windows guest with
                    // Xen's drivers has none: its job asks for `ide`).
                    Ok(o) => Ok(Exported {
                        disks: disks(o.disks, "raw", &[DiskBus::Xen]),
                        firmware: Some(o.firmware),
                        nic: Some("xen".into()),
                        cpus: o.shape.cpus,
                        memory_mb: o.shape.memory_mb,
                    }),
                    Err(hype_xcpng::XcpngError::Cancelled) => Err(ExportError::Cancelled),
                    Err(e) => Err(ExportError::Failed(e.to_string())),
                }
            }
            Exporter::Vsphere(spec) => {
                let out = hype_vsphere::export(spec, dest, progress, cancel).await;
                match out {
                    // ExportVm streams each disk as a stream-optimised VMDK.
                    Ok(o) => Ok(Exported {
                        disks: disks(o.disks, "vmdk", &o.buses),
                        firmware: o.firmware,
                        nic: o.nic,
                        cpus: None,
                        memory_mb: None,
                    }),
                    Err(hype_vsphere::VsphereError::Cancelled) => Err(ExportError::Cancelled),
                    Err(e) => Err(ExportError::Failed(e.to_string())),
                }
            }
            Exporter::Ovf(dir) => {
                progress.send_modify(|p| p.phase = "verifying");
                let files: Vec<String> = super::keep::verify(dir, &cancel)
                    .await?
                    .into_iter()
                    .map(|f| f.name)
                    .collect();
                let ovfs: Vec<&String> = files.iter().filter(|f| f.ends_with(".ovf")).collect();
                let [ovf] = ovfs.as_slice() else {
                    return Err(ExportError::Failed(format!(
                        "{}: {} descriptors (.ovf) where one was expected",
                        dir.display(),
                        ovfs.len()
                    )));
                };
                let text = tokio::fs::read(dir.join(ovf))
                    .await
                    .map_err(|e| ExportError::Failed(format!("{ovf}: {e}")))?;
                let read = hype_vsphere::read_ovf(&text)
                    .map_err(|why| ExportError::Failed(format!("{ovf}: {why}")))?;
                if let Some(d) = read.disks.iter().find(|d| !files.contains(&d.file)) {
                    return Err(ExportError::Failed(format!(
                        "{ovf}: disk file {} is not in {}",
                        d.file,
                        dir.display()
                    )));
                }
                // vSphere's OVF disks are stream-optimised VMDKs (the
                // single-file check refuses anything else), hype's XCP-ng
                // exports raw disks, as their `ovf:format` says.
                Ok(Exported {
                    disks: read
                        .disks
                        .into_iter()
                        .map(|d| Disk {
                            path: dir.join(&d.file),
                            capacity_bytes: d.capacity_bytes,
                            format: d.format,
                            bus: d.bus,
                        })
                        .collect(),
                    firmware: read.firmware,
                    nic: read.nic,
                    cpus: None,
                    memory_mb: None,
                })
            }
        }
    }
}

/// The exported disks as the runner converts them, in the format the
/// exporter says it wrote, with the buses the source gave (in order; the
/// last one repeats for disks past the list's end).
fn disks(
    exported: Vec<hype_types::ExportedDisk>,
    format: &'static str,
    buses: &[DiskBus],
) -> Vec<Disk> {
    exported
        .into_iter()
        .enumerate()
        .map(|(i, d)| Disk {
            path: d.path,
            capacity_bytes: d.capacity_bytes,
            format,
            bus: buses.get(i).or(buses.last()).copied(),
        })
        .collect()
}
