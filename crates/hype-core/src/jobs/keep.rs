//! Export-only jobs: what the source gave (`.ovf`, every disk, `.mf`) is
//! checked against the manifest's digests and moved, whole, to the job's
//! `output` under `--export-dir`. A mismatch keeps nothing.

use std::collections::HashMap;
use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::convert;
use super::exporter::ExportError;

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

/// Checks every file of `dir` against its `.mf`, then moves `dir` to `output`.
pub(super) async fn keep(
    dir: &Path,
    output: &Path,
    cancel: &CancellationToken,
) -> Result<(), ExportError> {
    let failed =
        |why: String| ExportError::Failed(format!("export to {}: {why}", output.display()));
    let files = verify(dir, cancel).await.map_err(|e| match e {
        ExportError::Failed(why) => failed(format!("{why}; nothing was kept")),
        e => e,
    })?;
    if cancel.is_cancelled() {
        return Err(ExportError::Cancelled);
    }
    move_dir(dir, output, &files).await.map_err(failed)
}

/// Checks every file of `dir` against its one `.mf` (each file listed,
/// each entry present, each sha256 equal); returns the files' names.
pub(super) async fn verify(
    dir: &Path,
    cancel: &CancellationToken,
) -> Result<Vec<String>, ExportError> {
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
    for f in files.iter().filter(|f| f != mf) {
        let Some(want) = entries.get(f) else {
            return Err(failed(format!("{f} is not in the manifest {mf}")));
        };
        let got = convert::sha256(&dir.join(f), cancel).await?;
        if &got != want {
            return Err(failed(format!(
                "{f}: its sha256 {got} does not match the manifest's {want}"
            )));
        }
    }
    if let Some(missing) = entries.keys().find(|n| !files.contains(n)) {
        return Err(failed(format!(
            "{missing} is in the manifest {mf} but missing"
        )));
    }
    Ok(files)
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
