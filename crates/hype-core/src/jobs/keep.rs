//! Export-only jobs: what the source gave (`.ovf`, every disk, `.mf`) is
//! checked against the manifest's digests and moved, whole, to the job's
//! `output` under `--export-dir`. A mismatch keeps nothing. A source that
//! gives raw disks only (XCP-ng) gets its OVF and `.mf` written here
//! first ([`describe`]), from the bytes the export wrote.

use std::collections::HashMap;
use std::path::Path;

use hype_types::JobFile;
use tokio_util::sync::CancellationToken;

use super::convert;
use super::exporter::{ExportError, Exported};

/// `SHA256(name)= hex` lines; names are plain file names.
fn parse_manifest(text: &str) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (name, digest) = line
            .strip_prefix("SHA256(")
            .and_then(|r| r.split_once(")="))
            .ok_or_else(|| format!("a line that is not SHA256(file)= digest: {line:?}"))?;
        if name.is_empty() || name.contains('/') || name == ".." {
            return Err(format!("an entry that is not a file name: {name:?}"));
        }
        out.insert(name.to_owned(), digest.trim().to_ascii_lowercase());
    }
    Ok(out)
}

/// Writes `NAME.ovf` (hype-vsphere's raw-disk descriptor: the disks in
/// the source's order, their buses, the NIC, the firmware) and `NAME.mf`
/// (the sha256 of every file) beside the raw disks an export left in
/// `dir`, the only files there.
pub(super) async fn describe(
    dir: &Path,
    name: &str,
    exported: &Exported,
    cancel: &CancellationToken,
) -> Result<(), ExportError> {
    let failed = |what: &str, e: std::io::Error| ExportError::Failed(format!("{what}: {e}"));
    let mut disks = vec![];
    for d in &exported.disks {
        let file = d
            .path
            .strip_prefix(dir)
            .ok()
            .and_then(|p| p.to_str())
            .filter(|f| !f.contains('/'))
            .ok_or_else(|| {
                ExportError::Failed(format!("{} is not a file of the export", d.path.display()))
            })?;
        if d.format != "raw" {
            return Err(ExportError::Failed(format!(
                "{file}: a {} disk where raw was expected",
                d.format
            )));
        }
        disks.push(hype_vsphere::RawOvfDisk {
            file: file.to_owned(),
            capacity_bytes: d.capacity_bytes,
            bus: d.bus,
        });
    }
    let ovf = format!("{name}.ovf");
    let text = hype_vsphere::write_raw_ovf(&hype_vsphere::RawOvf {
        name: name.to_owned(),
        disks,
        nic: exported.nic.clone(),
        firmware: exported.firmware,
        cpus: exported.cpus,
        memory_mb: exported.memory_mb,
    });
    tokio::fs::write(dir.join(&ovf), text)
        .await
        .map_err(|e| failed(&ovf, e))?;
    let mut lines = String::new();
    let files = exported
        .disks
        .iter()
        .map(|d| d.path.clone())
        .chain([dir.join(&ovf)]);
    for path in files {
        let sha = convert::sha256(&path, cancel).await?;
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        lines.push_str(&format!("SHA256({file})= {sha}\n"));
    }
    let mf = format!("{name}.mf");
    tokio::fs::write(dir.join(&mf), lines)
        .await
        .map_err(|e| failed(&mf, e))
}

/// Checks every file of `dir` against its `.mf`, then moves `dir` to
/// `output`; the files kept, by name.
pub(super) async fn keep(
    dir: &Path,
    output: &Path,
    cancel: &CancellationToken,
) -> Result<Vec<JobFile>, ExportError> {
    let failed =
        |why: String| ExportError::Failed(format!("export to {}: {why}", output.display()));
    let files = verify(dir, cancel).await.map_err(|e| match e {
        ExportError::Failed(why) => failed(format!("{why}; nothing was kept")),
        e => e,
    })?;
    if cancel.is_cancelled() {
        return Err(ExportError::Cancelled);
    }
    let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    move_dir(dir, output, &names).await.map_err(failed)?;
    Ok(files)
}

/// Checks every file of `dir` against its one `.mf` (each file listed,
/// each entry present, each sha256 equal); returns the files, by name,
/// with their sizes and digests (the manifest's own computed too).
pub(super) async fn verify(
    dir: &Path,
    cancel: &CancellationToken,
) -> Result<Vec<JobFile>, ExportError> {
    let failed = ExportError::Failed;
    let mut files = vec![];
    let mut rd = tokio::fs::read_dir(dir)
        .await
        .map_err(|e| failed(format!("{}: {e}", dir.display())))?;
    while let Some(e) = rd
        .next_entry()
        .await
        .map_err(|e| failed(format!("{}: {e}", dir.display())))?
    {
        files.push(e.file_name().to_string_lossy().into_owned());
    }
    let mfs: Vec<&String> = files.iter().filter(|f| f.ends_with(".mf")).collect();
    let [mf] = mfs.as_slice() else {
        return Err(failed(format!(
            "{} manifests (.mf) where one was expected",
            mfs.len()
        )));
    };
    let text = tokio::fs::read_to_string(dir.join(mf))
        .await
        .map_err(|e| failed(format!("{mf}: {e}")))?;
    let entries = parse_manifest(&text).map_err(|why| failed(format!("{mf}: {why}")))?;
    let mut out = vec![];
    for f in &files {
        let want = entries.get(f);
        if want.is_none() && f != *mf {
            return Err(failed(format!("{f} is not in the manifest {mf}")));
        }
        let path = dir.join(f);
        let got = convert::sha256(&path, cancel).await?;
        if let Some(want) = want.filter(|w| **w != got) {
            return Err(failed(format!(
                "{f}: its sha256 {got} does not match the manifest's {want}"
            )));
        }
        let size_bytes = tokio::fs::metadata(&path)
            .await
            .map_err(|e| failed(format!("{f}: {e}")))?
            .len();
        out.push(JobFile {
            name: f.clone(),
            size_bytes,
            sha256: got,
        });
    }
    if let Some(missing) = entries.keys().find(|n| !files.contains(n)) {
        return Err(failed(format!(
            "{missing} is in the manifest {mf} but missing"
        )));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Renames `dir` to `output`; when staging is on another filesystem,
/// copies into a hidden sibling and renames that, so `output` appears
/// whole or not at all.
async fn move_dir(dir: &Path, output: &Path, files: &[String]) -> Result<(), String> {
    match tokio::fs::rename(dir, output).await {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(nix::libc::EXDEV) => {
            let name = output.file_name().unwrap_or_default().to_string_lossy();
            let partial = output.with_file_name(format!(".{name}.partial"));
            let copied = async {
                tokio::fs::create_dir(&partial).await?;
                for f in files {
                    tokio::fs::copy(dir.join(f), partial.join(f)).await?;
                }
                tokio::fs::rename(&partial, output).await
            }
            .await;
            if let Err(e) = copied {
                let _ = tokio::fs::remove_dir_all(&partial).await;
                return Err(e.to_string());
            }
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_parse_and_refuse_paths() {
        let m = parse_manifest("SHA256(a.ovf)= AB\nSHA256(a-disk1.vmdk)= cd\n").unwrap();
        assert_eq!(m["a.ovf"], "ab");
        assert_eq!(m["a-disk1.vmdk"], "cd");
        assert!(parse_manifest("SHA256(../x)= ab\n").is_err());
        assert!(parse_manifest("MD5(a)= ab\n").is_err());
    }

    #[tokio::test]
    async fn raw_disks_are_described_and_the_description_checks_out() {
        use super::super::exporter::Disk;
        use hype_types::DiskBus;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("export");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("disk0.raw"), vec![1u8; 4096]).unwrap();
        std::fs::write(dir.join("disk1.raw"), vec![2u8; 512]).unwrap();
        let disk = |f: &str, capacity_bytes, bus| Disk {
            path: dir.join(f),
            capacity_bytes,
            format: "raw",
            bus,
        };
        let exported = Exported {
            disks: vec![
                disk("disk0.raw", 4096, Some(DiskBus::Xen)),
                disk("disk1.raw", 512, Some(DiskBus::Ide)),
            ],
            firmware: Some(hype_types::Firmware::Uefi),
            nic: Some("xen".into()),
            cpus: Some(2),
            memory_mb: Some(1024),
        };
        let cancel = CancellationToken::new();
        assert!(describe(&dir, "web-01", &exported, &cancel).await.is_ok());
        let Ok(files) = verify(&dir, &cancel).await else {
            panic!("what hype described does not check out");
        };
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["disk0.raw", "disk1.raw", "web-01.mf", "web-01.ovf"]);
        assert_eq!((files[0].size_bytes, files[1].size_bytes), (4096, 512));
        let ovf = std::fs::read(dir.join("web-01.ovf")).unwrap();
        let read = hype_vsphere::read_ovf(&ovf).unwrap();
        let got: Vec<_> = read
            .disks
            .iter()
            .map(|d| (d.file.as_str(), d.capacity_bytes, d.bus, d.format))
            .collect();
        assert_eq!(
            got,
            [
                ("disk0.raw", 4096, Some(DiskBus::Xen), "raw"),
                ("disk1.raw", 512, Some(DiskBus::Ide), "raw")
            ]
        );
        assert_eq!(read.firmware, Some(hype_types::Firmware::Uefi));
        // A disk that changes after it was described no longer checks out.
        std::fs::write(dir.join("disk1.raw"), vec![3u8; 512]).unwrap();
        let Err(ExportError::Failed(why)) = verify(&dir, &cancel).await else {
            panic!("a changed disk passed");
        };
        assert!(why.contains("disk1.raw"), "{why}");
    }

    #[tokio::test]
    async fn a_digest_that_does_not_match_keeps_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("x");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("a.ovf"), b"ovf").unwrap();
        std::fs::write(dir.join("a.mf"), "SHA256(a.ovf)= 00\n").unwrap();
        let out = tmp.path().join("out");
        let e = keep(&dir, &out, &CancellationToken::new()).await;
        let Err(ExportError::Failed(why)) = e else {
            panic!("kept a mismatch");
        };
        assert!(
            why.contains("a.ovf") && why.contains("does not match"),
            "{why}"
        );
        assert!(!out.exists());
    }
}
