//! Exports over HTTP from XAPI: find the VM and its disks, then per disk
//! `GET /export_raw_vdi` (or the whole VM with `GET /export`), each under a
//! task of its own that is polled to its end and destroyed.

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::rpc::as_u64;
use crate::sparse::{SparseFile, BLOCK};
use crate::{
    cancellable, rebuild_xva, ExportOutcome, ExportedDisk, Progress, Session, XcpngError,
    MAX_DISK_BYTES,
};

const NULL_REF: &str = "OpaqueRef:NULL";

pub(crate) struct Vm {
    pub uuid: String,
    pub name: String,
}

pub(crate) struct Disk {
    pub vdi_ref: String,
    pub virtual_size: u64,
}

/// Finds a real VM (no template, snapshot or dom0) by uuid or name label.
pub(crate) async fn find_vm(s: &Session, wanted: &str) -> Result<(String, Value, Vm), XcpngError> {
    let all = s.call("VM.get_all_records", &[]).await?;
    let all = all.as_object().ok_or_else(|| XcpngError::Protocol {
        method: "VM.get_all_records".into(),
        why: "not a map".into(),
    })?;
    let real = |r: &Value| {
        !(r["is_a_template"].as_bool().unwrap_or(false)
            || r["is_control_domain"].as_bool().unwrap_or(false)
            || r["is_a_snapshot"].as_bool().unwrap_or(false))
    };
    let by_uuid: Vec<_> = all
        .iter()
        .filter(|(_, r)| real(r) && r["uuid"].as_str() == Some(wanted))
        .collect();
    let found: Vec<_> = if by_uuid.is_empty() {
        all.iter()
            .filter(|(_, r)| real(r) && r["name_label"].as_str() == Some(wanted))
            .collect()
    } else {
        by_uuid
    };
    match found.as_slice() {
        // Say so when the name is a template's: "not found" would mislead.
        [] if all.values().any(|r| {
            r["is_a_template"].as_bool().unwrap_or(false)
                && (r["uuid"].as_str() == Some(wanted) || r["name_label"].as_str() == Some(wanted))
        }) =>
        {
            Err(XcpngError::IsTemplate { vm: wanted.into() })
        }
        [] => Err(XcpngError::VmNotFound { vm: wanted.into() }),
        [(r, rec)] => Ok((
            (*r).clone(),
            (*rec).clone(),
            Vm {
                uuid: rec["uuid"].as_str().unwrap_or_default().to_owned(),
                name: rec["name_label"].as_str().unwrap_or_default().to_owned(),
            },
        )),
        many => Err(XcpngError::VmAmbiguous {
            vm: wanted.into(),
            count: many.len(),
        }),
    }
}

/// The VM's disks (VBDs of type Disk with a VDI), boot disk first.
pub(crate) async fn disks(s: &Session, vm: &Vm, rec: &Value) -> Result<Vec<Disk>, XcpngError> {
    let mut out = vec![];
    for vbd in rec["VBDs"].as_array().cloned().unwrap_or_default() {
        let vbd = s.call("VBD.get_record", &[vbd]).await?;
        let vdi = vbd["VDI"].as_str().unwrap_or(NULL_REF).to_owned();
        if vbd["type"].as_str() != Some("Disk") || vdi == NULL_REF {
            continue;
        }
        let rec = s.call("VDI.get_record", &[json!(vdi)]).await?;
        let size = as_u64(&rec["virtual_size"]).ok_or_else(|| XcpngError::Protocol {
            method: "VDI.get_record".into(),
            why: "no virtual_size".into(),
        })?;
        if size > MAX_DISK_BYTES {
            return Err(XcpngError::TooLarge {
                what: format!("VDI {}", rec["uuid"].as_str().unwrap_or("?")),
                size,
                limit: MAX_DISK_BYTES,
            });
        }
        let dev = as_u64(&vbd["userdevice"]).unwrap_or(u64::MAX);
        out.push((
            dev,
            Disk {
                vdi_ref: vdi,
                virtual_size: size,
            },
        ));
    }
    if out.is_empty() {
        return Err(XcpngError::NoDisks {
            vm: vm.name.clone(),
        });
    }
    out.sort_by_key(|(d, _)| *d);
    Ok(out.into_iter().map(|(_, d)| d).collect())
}

/// A task that is destroyed whatever happens to the transfer.
struct Task<'a> {
    s: &'a Session,
    id: String,
}

impl<'a> Task<'a> {
    async fn create(s: &'a Session, what: &str) -> Result<Task<'a>, XcpngError> {
        let id = s
            .call("task.create", &[json!(format!("hype: {what}")), json!("")])
            .await?;
        Ok(Task {
            s,
            id: id.as_str().unwrap_or_default().to_owned(),
        })
    }

    /// Waits for the task to leave `pending`; `success` or the reason.
    async fn finished(&self, what: &str) -> Result<(), XcpngError> {
        for _ in 0..600 {
            let status = self.s.call("task.get_status", &[json!(self.id)]).await?;
            match status.as_str() {
                Some("success") => return Ok(()),
                Some("pending") => tokio::time::sleep(Duration::from_millis(100)).await,
                Some(other) => {
                    let info = self
                        .s
                        .call("task.get_error_info", &[json!(self.id)])
                        .await
                        .unwrap_or(Value::Null);
                    return Err(XcpngError::TaskFailed {
                        what: what.into(),
                        why: format!("{other}: {info}"),
                    });
                }
                None => {
                    return Err(XcpngError::Protocol {
                        method: "task.get_status".into(),
                        why: "not a string".into(),
                    })
                }
            }
        }
        Err(XcpngError::TaskFailed {
            what: what.into(),
            why: "still pending after 60 s".into(),
        })
    }

    async fn destroy(self) {
        let _ = self.s.call("task.destroy", &[json!(self.id)]).await;
    }
}

async fn get(
    s: &Session,
    path: &str,
    query: &[(&str, &str)],
    what: &str,
    cancel: &CancellationToken,
) -> Result<reqwest::Response, XcpngError> {
    let url = format!("{}{path}", s.base);
    let resp = cancellable(cancel, s.http.get(&url).query(query).send())
        .await?
        .map_err(|e| XcpngError::connect(&url, e))?;
    if !resp.status().is_success() {
        return Err(XcpngError::Http {
            what: what.into(),
            status: resp.status().as_u16(),
        });
    }
    Ok(resp)
}

pub(crate) async fn export_raw(
    s: &Session,
    wanted: &str,
    dest: &Path,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<ExportOutcome, XcpngError> {
    let (_, rec, vm) = find_vm(s, wanted).await?;
    let firmware = crate::vm_firmware(&rec).map_err(|why| XcpngError::Protocol {
        method: "VM.get_all_records".into(),
        why: format!("VM '{}': {why}", vm.name),
    })?;
    let disks = disks(s, &vm, &rec).await?;
    let total: u64 = disks.iter().map(|d| d.virtual_size).sum();
    progress.send_modify(|p| {
        p.phase = "downloading";
        p.bytes_total = Some(total);
        p.files_total = Some(disks.len() as u64);
    });
    let mut out = vec![];
    let mut base = 0u64;
    for (i, d) in disks.iter().enumerate() {
        let path = dest.join(format!("disk{i}.raw"));
        let what = format!("export of disk {i} of VM '{}'", vm.name);
        let task = Task::create(s, &what).await?;
        let r = download(s, &task, d, &path, base, &what, progress, cancel).await;
        let r = match r {
            Ok(()) => task.finished(&what).await,
            Err(e) => Err(e),
        };
        task.destroy().await;
        r?;
        base += d.virtual_size;
        progress.send_modify(|p| p.files_done = i as u64 + 1);
        out.push(ExportedDisk {
            path,
            capacity_bytes: d.virtual_size,
        });
    }
    Ok(ExportOutcome {
        disks: out,
        firmware,
        shape: crate::vm_shape(&rec),
    })
}

#[allow(clippy::too_many_arguments)]
async fn download(
    s: &Session,
    task: &Task<'_>,
    d: &Disk,
    path: &Path,
    base: u64,
    what: &str,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<(), XcpngError> {
    let resp = get(
        s,
        "/export_raw_vdi",
        &[
            ("session_id", &s.id),
            ("vdi", &d.vdi_ref),
            ("format", "raw"),
            ("task_id", &task.id),
        ],
        what,
        cancel,
    )
    .await?;
    if let Some(len) = resp.content_length() {
        if len != d.virtual_size {
            return Err(XcpngError::Protocol {
                method: "export_raw_vdi".into(),
                why: format!(
                    "Content-Length {len} differs from the VDI's virtual_size {}",
                    d.virtual_size
                ),
            });
        }
    }
    let file = SparseFile::create(path).await?;
    let mut body = resp.bytes_stream();
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK);
    let mut written = 0u64;
    loop {
        let next = cancellable(cancel, body.next()).await?;
        let chunk = match next {
            None => break,
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                return Err(XcpngError::Truncated {
                    what: format!("{what} ({})", e.without_url()),
                    got: written + buf.len() as u64,
                    expected: d.virtual_size,
                })
            }
        };
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            let take = (BLOCK - buf.len()).min(rest.len());
            buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if buf.len() == BLOCK {
                if written + BLOCK as u64 > d.virtual_size {
                    return Err(XcpngError::TooLarge {
                        what: what.into(),
                        size: written + BLOCK as u64,
                        limit: d.virtual_size,
                    });
                }
                buf = cancellable(cancel, file.write_at(written, buf)).await??;
                buf.clear();
                written += BLOCK as u64;
                let done = base + written;
                progress.send_modify(|p| p.bytes_done = done);
            }
        }
    }
    if !buf.is_empty() {
        let n = buf.len() as u64;
        cancellable(cancel, file.write_at(written, buf)).await??;
        written += n;
    }
    if written != d.virtual_size {
        return Err(XcpngError::Truncated {
            what: what.into(),
            got: written,
            expected: d.virtual_size,
        });
    }
    progress.send_modify(|p| p.bytes_done = base + written);
    cancellable(cancel, file.finish(d.virtual_size)).await?
}

pub(crate) async fn export_xva(
    s: &Session,
    wanted: &str,
    dest: &Path,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<ExportOutcome, XcpngError> {
    let (_, _, vm) = find_vm(s, wanted).await?;
    let what = format!("XVA export of VM '{}'", vm.name);
    let task = Task::create(s, &what).await?;
    let r = async {
        let resp = get(
            s,
            "/export",
            &[
                ("session_id", &s.id),
                ("uuid", &vm.uuid),
                ("task_id", &task.id),
            ],
            &what,
            cancel,
        )
        .await?;
        let stream = resp
            .bytes_stream()
            .map(|r| r.map_err(|e| std::io::Error::other(e.without_url())));
        let reader = tokio_util::io::StreamReader::new(stream);
        let out = rebuild_xva(reader, dest, progress, cancel).await?;
        task.finished(&what).await?;
        Ok(out)
    }
    .await;
    task.destroy().await;
    r
}
