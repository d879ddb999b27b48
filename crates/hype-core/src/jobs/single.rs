//! Is an exported disk file one self-contained image? Exporters are
//! untrusted: a VMDK may be a text descriptor whose extents are host files
//! (`RW 8 FLAT "/etc/shadow" 0`), a qcow2 may name a backing file or an
//! external data file, and `qemu-img convert`, run as root, would copy
//! them into the image (the class of CVE-2022-47951). So before converting,
//! each file must be exactly what its exporter hands over: raw is raw
//! (converted with `-f raw`, nothing to check), a VMDK is stream-optimised
//! sparse (`KDMV`, `createType="streamOptimized"`) with one extent, itself,
//! and a qcow2 has no backing or data file. The header is read first, so
//! qemu-img never opens a file another one names (a FIFO would hang it);
//! then `qemu-img info` confirms what qemu itself would read.

use std::path::Path;

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use super::convert::run;
use super::exporter::ExportError;

/// Why a downloaded disk file is not converted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SingleFileError {
    #[error("disk {disk}: refused: {why}")]
    Refused { disk: String, why: String },
    #[error("disk {disk}: cannot read it: {source}")]
    Io {
        disk: String,
        #[source]
        source: std::io::Error,
    },
    #[error("disk {disk}: qemu-img info: {why}")]
    Info { disk: String, why: String },
    #[error("cancelled")]
    Cancelled,
}

/// The largest embedded VMDK descriptor read (qemu-img writes 64 KiB).
const MAX_DESCRIPTOR: u64 = 1 << 20;

#[derive(Deserialize)]
struct Info {
    #[serde(rename = "backing-filename")]
    backing: Option<String>,
    #[serde(rename = "format-specific")]
    specific: Option<Specific>,
    #[serde(default)]
    children: Vec<Child>,
}

#[derive(Deserialize)]
struct Specific {
    #[serde(default)]
    data: serde_json::Value,
}

#[derive(Deserialize)]
struct Child {
    name: String,
    info: ChildInfo,
}

#[derive(Deserialize)]
struct ChildInfo {
    filename: String,
}

/// Checks that `src`, said by its exporter to be `format`, reads no other
/// file than itself.
pub(crate) async fn check(
    src: &Path,
    format: &str,
    cancel: &CancellationToken,
) -> Result<(), SingleFileError> {
    let disk = src
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| src.display().to_string());
    let refused = |why: String| SingleFileError::Refused {
        disk: disk.clone(),
        why,
    };
    let io = |source| SingleFileError::Io {
        disk: disk.clone(),
        source,
    };
    let mut f = tokio::fs::File::open(src).await.map_err(io)?;
    let mut head = [0u8; 512];
    let n = read_full(&mut f, &mut head).await.map_err(io)?;
    let head = &head[..n];
    match format {
        // Raw has no metadata: every byte is the disk, read with -f raw.
        "raw" => return Ok(()),
        "vmdk" => {
            let h = vmdk_header(head).map_err(refused)?;
            let (offset, len) = h.descriptor;
            f.seek(std::io::SeekFrom::Start(offset)).await.map_err(io)?;
            let mut text = vec![0u8; len as usize];
            let got = read_full(&mut f, &mut text).await.map_err(io)?;
            let text = String::from_utf8_lossy(&text[..got]);
            if !text
                .lines()
                .any(|l| l.replace(' ', "") == "createType=\"streamOptimized\"")
            {
                return Err(refused(
                    "its embedded descriptor does not say createType=\"streamOptimized\"".into(),
                ));
            }
        }
        "qcow2" => {
            if head.get(..4) != Some(b"QFI\xfb") {
                return Err(refused("not a qcow2 image (no QFI\\xfb magic)".into()));
            }
            if head.get(8..16) != Some(&[0u8; 8][..]) {
                return Err(refused("the qcow2 image names a backing file".into()));
            }
        }
        other => {
            return Err(refused(format!(
                "format {other:?} is not one an exporter hands over"
            )))
        }
    }
    let info = info(src, format, cancel).await.map_err(|e| match e {
        ExportError::Cancelled => SingleFileError::Cancelled,
        ExportError::Failed(why) => SingleFileError::Info {
            disk: disk.clone(),
            why,
        },
    })?;
    verify(&info, src, format).map_err(refused)
}

/// What qemu would read, as `qemu-img info` reports it, against the rule.
fn verify(info: &Info, src: &Path, format: &str) -> Result<(), String> {
    if let Some(b) = &info.backing {
        return Err(format!("it names a backing file ({b})"));
    }
    let me = src.display().to_string();
    for c in &info.children {
        if c.name != "file" || c.info.filename != me {
            return Err(format!(
                "it makes qemu open another file ({}: {})",
                c.name, c.info.filename
            ));
        }
    }
    if format == "vmdk" {
        let data = info
            .specific
            .as_ref()
            .map(|s| &s.data)
            .unwrap_or(&serde_json::Value::Null);
        if data["create-type"] != "streamOptimized" {
            return Err(format!(
                "a {} VMDK, not a stream-optimised one",
                data["create-type"]
            ));
        }
        let extents = data["extents"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        match extents {
            [one] if one["filename"] == me.as_str() => {}
            _ => {
                let names: Vec<&str> = extents
                    .iter()
                    .filter_map(|e| e["filename"].as_str())
                    .collect();
                return Err(format!(
                    "its extents are {names:?}, not the file itself alone"
                ));
            }
        }
    }
    Ok(())
}

struct VmdkHeader {
    /// Byte offset and length of the embedded descriptor.
    descriptor: (u64, u64),
}

/// The sparse extent header (VMDK4): magic `KDMV`, a non-zero capacity
/// (with capacity 0 qemu follows the embedded descriptor's extents
/// instead) and an embedded descriptor of sane size.
fn vmdk_header(head: &[u8]) -> Result<VmdkHeader, String> {
    if head.len() < 64 || &head[..4] != b"KDMV" {
        return Err(
            "not a sparse VMDK (no KDMV magic): a descriptor file may name host files".into(),
        );
    }
    let u64_at = |o: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&head[o..o + 8]);
        u64::from_le_bytes(b)
    };
    let capacity = u64_at(12);
    let (desc_sector, desc_sectors) = (u64_at(28), u64_at(36));
    if capacity == 0 {
        return Err("its sparse header declares no capacity".into());
    }
    let len = desc_sectors.saturating_mul(512);
    if desc_sector == 0 || len == 0 || len > MAX_DESCRIPTOR {
        return Err(format!(
            "its embedded descriptor is missing or oversized ({len} bytes)"
        ));
    }
    Ok(VmdkHeader {
        descriptor: (desc_sector.saturating_mul(512), len),
    })
}

async fn read_full(f: &mut tokio::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]).await? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

async fn info(src: &Path, format: &str, cancel: &CancellationToken) -> Result<Info, ExportError> {
    let out = run(
        Command::new("qemu-img")
            .args(["info", "--output=json", "-f", format])
            .arg(src),
        "qemu-img info",
        cancel,
    )
    .await?;
    serde_json::from_slice(&out).map_err(|e| ExportError::Failed(format!("qemu-img info: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qemu_img(args: &[&str]) {
        let ok = std::process::Command::new("qemu-img")
            .args(args)
            .status()
            .expect("qemu-img runs (Debian package qemu-utils)")
            .success();
        assert!(ok, "qemu-img {args:?}");
    }

    async fn verdict(path: &Path, format: &str) -> Result<(), String> {
        check(path, format, &CancellationToken::new())
            .await
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn only_self_contained_images_pass() {
        let dir = tempfile::tempdir().unwrap();
        let d = |n: &str| dir.path().join(n);
        let s = |p: &Path| p.display().to_string();
        std::fs::write(d("secret"), vec![7u8; 1 << 20]).unwrap();
        std::fs::write(d("a.raw"), vec![1u8; 1 << 20]).unwrap();
        qemu_img(&[
            "convert",
            "-f",
            "raw",
            "-O",
            "vmdk",
            "-o",
            "subformat=streamOptimized",
            &s(&d("a.raw")),
            &s(&d("ok.vmdk")),
        ]);
        qemu_img(&[
            "convert",
            "-f",
            "raw",
            "-O",
            "vmdk",
            &s(&d("a.raw")),
            &s(&d("sparse.vmdk")),
        ]);
        qemu_img(&[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-F",
            "raw",
            "-b",
            &s(&d("secret")),
            &s(&d("backed.qcow2")),
        ]);
        qemu_img(&["create", "-q", "-f", "qcow2", &s(&d("plain.qcow2")), "1M"]);
        let desc = format!(
            "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n\nRW 2048 FLAT \"{}\" 0\n",
            s(&d("secret"))
        );
        std::fs::write(d("desc.vmdk"), desc).unwrap();

        assert_eq!(verdict(&d("ok.vmdk"), "vmdk").await, Ok(()));
        assert_eq!(verdict(&d("a.raw"), "raw").await, Ok(()));
        assert_eq!(verdict(&d("plain.qcow2"), "qcow2").await, Ok(()));
        let no = |r: Result<(), String>, want: &str| {
            let e = r.expect_err(want);
            assert!(
                e.starts_with("disk ") && e.contains(want),
                "{e} lacks {want}"
            );
        };
        no(verdict(&d("desc.vmdk"), "vmdk").await, "no KDMV magic");
        no(verdict(&d("sparse.vmdk"), "vmdk").await, "streamOptimized");
        no(verdict(&d("backed.qcow2"), "qcow2").await, "backing file");
        no(
            verdict(&d("ok.vmdk"), "vpc").await,
            "not one an exporter hands over",
        );
    }
}
