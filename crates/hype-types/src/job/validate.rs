//! What a job asks checked before it is stored, and what is kept of it.

use super::*;

impl JobSpec {
    pub fn kind(&self) -> JobKind {
        match self {
            JobSpec::VsphereExport(_) => JobKind::VsphereExport,
            JobSpec::XcpngExport(_) => JobKind::XcpngExport,
            JobSpec::Ovf(_) => JobKind::Ovf,
        }
    }

    /// The image name asked for, if any.
    pub fn name(&self) -> Option<&str> {
        match self {
            JobSpec::VsphereExport(j) => j.name.as_deref(),
            JobSpec::XcpngExport(j) => j.name.as_deref(),
            JobSpec::Ovf(j) => j.name.as_deref(),
        }
    }

    /// The password in the job, if it carries one.
    pub fn password(&self) -> Option<&str> {
        match self {
            JobSpec::VsphereExport(j) => j.password.as_deref(),
            JobSpec::XcpngExport(j) => j.password.as_deref(),
            JobSpec::Ovf(_) => None,
        }
    }

    /// A local XVA file to import, for XCP-ng jobs that name one.
    pub fn xva(&self) -> Option<&str> {
        match self {
            JobSpec::VsphereExport(_) | JobSpec::Ovf(_) => None,
            JobSpec::XcpngExport(j) => j.xva.as_deref(),
        }
    }

    /// The OVF folder of an `ovf` job.
    pub fn ovf_path(&self) -> Option<&str> {
        match self {
            JobSpec::Ovf(j) => Some(&j.path),
            _ => None,
        }
    }

    /// Replaces the OVF folder (hyped puts the canonical one it checked).
    pub fn set_ovf_path(&mut self, path: String) {
        if let JobSpec::Ovf(j) = self {
            j.path = path;
        }
    }

    /// Whether the job talks to a server with a password (local files need none).
    pub fn needs_password(&self) -> bool {
        self.xva().is_none() && self.ovf_path().is_none()
    }

    /// Replaces the local XVA path (hyped puts the canonical one it
    /// checked, so the file read is the file allowed).
    pub fn set_xva(&mut self, path: String) {
        if let JobSpec::XcpngExport(j) = self {
            j.xva = Some(path);
        }
    }

    pub fn boot(&self) -> BootMode {
        match self {
            JobSpec::VsphereExport(j) => j.boot,
            JobSpec::XcpngExport(j) => j.boot,
            JobSpec::Ovf(j) => j.boot,
        }
    }

    /// Where an export-only job keeps what the source gave; None for a
    /// job that makes an image.
    pub fn export_output(&self) -> Option<&str> {
        match self {
            JobSpec::VsphereExport(j) if j.export_only => j.output.as_deref(),
            JobSpec::XcpngExport(j) if j.export_only => j.output.as_deref(),
            _ => None,
        }
    }

    /// Replaces the output directory (hyped puts the checked path).
    pub fn set_export_output(&mut self, path: String) {
        match self {
            JobSpec::VsphereExport(j) => j.output = Some(path),
            JobSpec::XcpngExport(j) => j.output = Some(path),
            JobSpec::Ovf(_) => {}
        }
    }

    /// Checks what can be checked without the network.
    pub fn validate(&self) -> Result<(), InvalidJob> {
        let missing =
            |f: &str| InvalidJob::unprocessable("invalid_job", format!("`{f}` is required"));
        if let Some(n) = self.name() {
            validate_name(n).map_err(|_| {
                InvalidJob::unprocessable(
                    "invalid_name",
                    format!("image name {n:?} must match ^[a-z0-9]([a-z0-9-]{{0,61}}[a-z0-9])?$"),
                )
            })?;
        }
        let check_url = |url: &str| {
            if url.starts_with("https://") || url.starts_with("http://") {
                Ok(())
            } else {
                Err(InvalidJob::unprocessable(
                    "invalid_url",
                    format!("url {url:?} must start with https:// or http://"),
                ))
            }
        };
        let (boot, firmware, disk_bus, nic_model) = match self {
            JobSpec::VsphereExport(j) => {
                check_url(&j.url)?;
                if j.username.is_empty() {
                    return Err(missing("username"));
                }
                if j.vm.is_empty() {
                    return Err(missing("vm"));
                }
                check_output(j.export_only, j.output.as_deref())?;
                if let Some(p) = j.parallel_downloads {
                    if !(1..=16).contains(&p) {
                        return Err(InvalidJob::unprocessable(
                            "invalid_job",
                            "`parallel_downloads` must be between 1 and 16",
                        ));
                    }
                }
                (j.boot, j.firmware, j.disk_bus, j.nic_model)
            }
            JobSpec::XcpngExport(j) => {
                if let Some(p) = &j.xva {
                    if j.url.is_some() || j.vm.is_some() || j.username.is_some() {
                        return Err(InvalidJob::unprocessable(
                            "invalid_job",
                            "give either `xva` (a local file) or `url`, `username` and `vm`, not both",
                        ));
                    }
                    if j.transport.is_some() {
                        return Err(InvalidJob::unprocessable(
                            "invalid_job",
                            "`transport` applies to exports from a host, not to a local `xva`",
                        ));
                    }
                    // The file is already on hyped's host: nothing to keep.
                    if j.export_only {
                        return Err(InvalidJob::unprocessable(
                            "invalid_job",
                            "`export_only` applies to exports from a host, not to a local `xva`",
                        ));
                    }
                    if !p.starts_with('/') {
                        return Err(InvalidJob::unprocessable(
                            "invalid_job",
                            "`xva` must be an absolute path on hyped's host",
                        ));
                    }
                } else {
                    check_url(j.url.as_deref().ok_or_else(|| missing("url"))?)?;
                    if j.username.as_deref().unwrap_or("").is_empty() {
                        return Err(missing("username"));
                    }
                    if j.vm.as_deref().unwrap_or("").is_empty() {
                        return Err(missing("vm"));
                    }
                }
                check_output(j.export_only, j.output.as_deref())?;
                (j.boot, j.firmware, j.disk_bus, j.nic_model)
            }
            JobSpec::Ovf(j) => {
                if !j.path.starts_with('/') {
                    return Err(InvalidJob::unprocessable(
                        "invalid_job",
                        "`path` must be an absolute path on hyped's host",
                    ));
                }
                (j.boot, j.firmware, j.disk_bus, j.nic_model)
            }
        };
        if firmware.is_some() && boot != BootMode::Firmware {
            return Err(InvalidJob::unprocessable(
                "invalid_job",
                "`firmware` applies to `boot: firmware` only",
            ));
        }
        // hype's kernel boots a microvm, which has virtio devices only.
        for (field, given) in [
            ("disk_bus", disk_bus.is_some()),
            ("nic_model", nic_model.is_some()),
        ] {
            if given && boot != BootMode::Firmware {
                return Err(InvalidJob::unprocessable(
                    "invalid_job",
                    format!("`{field}` applies to `boot: firmware` only"),
                ));
            }
            if given && self.export_output().is_some() {
                return Err(InvalidJob::unprocessable(
                    "invalid_job",
                    format!("`{field}` applies to jobs that make an image, not to `export_only`"),
                ));
            }
        }
        if self.name().is_none() && self.image_name().is_none() {
            return Err(InvalidJob::unprocessable(
                "invalid_name",
                "cannot derive an image name from the source; give `name`",
            ));
        }
        Ok(())
    }

    /// The image name the job will register (an export-only job's is its
    /// name in events and lists; no image is made).
    pub fn image_name(&self) -> Option<String> {
        if let Some(n) = self.name() {
            return Some(n.to_owned());
        }
        let from = match self {
            JobSpec::VsphereExport(j) => j.vm.as_str(),
            JobSpec::XcpngExport(j) => {
                j.vm.as_deref()
                    .or_else(|| j.xva.as_deref().map(|p| p.rsplit('/').next().unwrap_or(p)))?
            }
            JobSpec::Ovf(j) => {
                let p = j.path.trim_end_matches('/');
                p.rsplit('/').next().unwrap_or(p)
            }
        };
        sanitize_image_name(from)
    }

    /// The job again from what was stored of it, without a password: how a
    /// restarted hyped takes up a job it had accepted. `None` when the
    /// stored source lacks what its kind needs.
    pub fn from_stored(kind: JobKind, image: &str, s: &JobSource) -> Option<JobSpec> {
        let name = Some(image.to_owned());
        Some(match kind {
            JobKind::VsphereExport => JobSpec::VsphereExport(super::VsphereJob {
                name,
                url: s.url.clone()?,
                username: s.username.clone()?,
                password: None,
                vm: s.vm.clone()?,
                insecure: s.insecure,
                shutdown: s.shutdown,
                remove_cdrom: s.remove_cdrom,
                parallel_downloads: s.parallel_downloads,
                boot: s.boot,
                firmware: s.firmware,
                disk_bus: s.disk_bus,
                nic_model: s.nic_model,
                export_only: s.export_only,
                output: s.output.clone(),
            }),
            JobKind::XcpngExport => JobSpec::XcpngExport(super::XcpngJob {
                name,
                url: s.url.clone(),
                username: s.username.clone(),
                password: None,
                vm: s.vm.clone(),
                xva: s.xva.clone(),
                transport: s.transport,
                insecure: s.insecure,
                boot: s.boot,
                firmware: s.firmware,
                disk_bus: s.disk_bus,
                nic_model: s.nic_model,
                export_only: s.export_only,
                output: s.output.clone(),
            }),
            JobKind::Ovf => JobSpec::Ovf(super::OvfJob {
                name,
                path: s.path.clone()?,
                boot: s.boot,
                firmware: s.firmware,
                disk_bus: s.disk_bus,
                nic_model: s.nic_model,
            }),
        })
    }

    /// What the API shows of the source: never the password.
    pub fn source(&self) -> JobSource {
        match self {
            JobSpec::VsphereExport(j) => JobSource {
                url: Some(j.url.clone()),
                username: Some(j.username.clone()),
                vm: Some(j.vm.clone()),
                xva: None,
                insecure: j.insecure,
                transport: None,
                shutdown: j.shutdown,
                remove_cdrom: j.remove_cdrom,
                parallel_downloads: j.parallel_downloads,
                boot: j.boot,
                firmware: j.firmware,
                disk_bus: j.disk_bus,
                nic_model: j.nic_model,
                export_only: j.export_only,
                output: j.output.clone(),
                path: None,
                env_password: false,
            },
            JobSpec::XcpngExport(j) => JobSource {
                url: j.url.clone(),
                username: j.username.clone(),
                vm: j.vm.clone(),
                xva: j.xva.clone(),
                insecure: j.insecure,
                transport: j.transport,
                shutdown: false,
                remove_cdrom: false,
                parallel_downloads: None,
                boot: j.boot,
                firmware: j.firmware,
                disk_bus: j.disk_bus,
                nic_model: j.nic_model,
                export_only: j.export_only,
                output: j.output.clone(),
                path: None,
                env_password: false,
            },
            JobSpec::Ovf(j) => JobSource {
                url: None,
                username: None,
                vm: None,
                xva: None,
                insecure: false,
                transport: None,
                shutdown: false,
                remove_cdrom: false,
                parallel_downloads: None,
                boot: j.boot,
                firmware: j.firmware,
                disk_bus: j.disk_bus,
                nic_model: j.nic_model,
                export_only: false,
                output: None,
                path: Some(j.path.clone()),
                env_password: false,
            },
        }
    }
}

/// `export_only` and `output` go together; `output` is absolute (where it
/// may be is hyped's to check, against `--export-dir`).
fn check_output(export_only: bool, output: Option<&str>) -> Result<(), InvalidJob> {
    match (export_only, output) {
        (true, None) => Err(InvalidJob::unprocessable(
            "invalid_job",
            "`output` is required",
        )),
        (false, Some(_)) => Err(InvalidJob::unprocessable(
            "invalid_job",
            "`output` applies to `export_only: true` jobs only",
        )),
        (true, Some(o)) if !o.starts_with('/') => Err(InvalidJob::unprocessable(
            "invalid_job",
            "`output` must be an absolute path on hyped's host",
        )),
        _ => Ok(()),
    }
}
