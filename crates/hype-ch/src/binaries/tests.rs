use std::os::unix::fs::MetadataExt;

use super::*;

const FAKE: &[u8] = b"#!/bin/sh\necho cloud-hypervisor v99.0\n";

fn fake_sha() -> String {
    hex::encode(Sha256::digest(FAKE))
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o7777
}

#[test]
fn extracts_once_to_the_documented_path() {
    let data = tempfile::tempdir().expect("tempdir");
    let path = extract_bytes(data.path(), "v99.0", "x86_64", FAKE, &fake_sha()).expect("extract");
    assert_eq!(
        path,
        data.path()
            .join("system/binaries/v99.0/x86_64/cloud-hypervisor")
    );
    assert_eq!(fs::read(&path).expect("read"), FAKE);
    assert_eq!(mode_of(&path), 0o755);

    let inode = fs::metadata(&path).expect("metadata").ino();
    let again = extract_bytes(data.path(), "v99.0", "x86_64", FAKE, &fake_sha()).expect("again");
    assert_eq!(again, path);
    assert_eq!(
        fs::metadata(&path).expect("metadata").ino(),
        inode,
        "an intact file must not be rewritten"
    );
}

#[test]
fn corrupted_file_is_replaced_atomically() {
    let data = tempfile::tempdir().expect("tempdir");
    let path = extract_bytes(data.path(), "v99.0", "aarch64", FAKE, &fake_sha()).expect("extract");
    fs::write(&path, b"truncated").expect("corrupt");
    let inode = fs::metadata(&path).expect("metadata").ino();

    let again = extract_bytes(data.path(), "v99.0", "aarch64", FAKE, &fake_sha()).expect("again");
    assert_eq!(fs::read(&again).expect("read"), FAKE);
    assert_ne!(
        fs::metadata(&again).expect("metadata").ino(),
        inode,
        "replacement goes through rename, not an in-place rewrite"
    );
    assert_eq!(mode_of(&again), 0o755);
}

#[test]
fn wrong_mode_is_repaired_without_rewrite() {
    let data = tempfile::tempdir().expect("tempdir");
    let path = extract_bytes(data.path(), "v99.0", "x86_64", FAKE, &fake_sha()).expect("extract");
    fs::set_permissions(&path, Permissions::from_mode(0o600)).expect("chmod");
    extract_bytes(data.path(), "v99.0", "x86_64", FAKE, &fake_sha()).expect("again");
    assert_eq!(mode_of(&path), 0o755);
}

#[test]
fn checksum_mismatch_of_the_payload_writes_nothing() {
    let data = tempfile::tempdir().expect("tempdir");
    let wrong = "0".repeat(64);
    match extract_bytes(data.path(), "v99.0", "x86_64", FAKE, &wrong) {
        Err(BinaryError::Checksum {
            expected, actual, ..
        }) => {
            assert_eq!(expected, wrong);
            assert_eq!(actual, fake_sha());
        }
        other => panic!("expected a checksum error, got {other:?}"),
    }
    let dir = data.path().join("system/binaries/v99.0/x86_64");
    assert!(!dir.join("cloud-hypervisor").exists());
    assert!(!dir.join(".cloud-hypervisor.tmp").exists());
}

#[test]
fn concurrent_extractions_agree() {
    let data = tempfile::tempdir().expect("tempdir");
    let sha = fake_sha();
    let paths: Vec<PathBuf> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| extract_bytes(data.path(), "v99.0", "x86_64", FAKE, &sha)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread").expect("extract"))
            .collect()
    });
    assert!(paths.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(fs::read(&paths[0]).expect("read"), FAKE);
    let dir = data.path().join("system/binaries/v99.0/x86_64");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [".cloud-hypervisor.lock", "cloud-hypervisor"]);
}

#[test]
fn unknown_version_is_not_embedded() {
    let data = tempfile::tempdir().expect("tempdir");
    match extract(data.path(), "v0.1", HOST_ARCH) {
        Err(BinaryError::NotEmbedded { version, .. }) => assert_eq!(version, "v0.1"),
        other => panic!("expected NotEmbedded, got {other:?}"),
    }
}

/// What the source tree holds right now, read independently of build.rs.
fn binaries_on_disk() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("binaries/cloud-hypervisor");
    let mut found = Vec::new();
    for version in fs::read_dir(&root).into_iter().flatten().flatten() {
        for arch in fs::read_dir(version.path()).into_iter().flatten().flatten() {
            if arch.path().join("cloud-hypervisor").is_file() {
                found.push((
                    version.file_name().to_string_lossy().into_owned(),
                    arch.file_name().to_string_lossy().into_owned(),
                ));
            }
        }
    }
    found.sort();
    found
}

#[test]
fn available_versions_match_the_binaries_folder() {
    let embedded: Vec<(String, String)> = available_versions()
        .iter()
        .map(|b| (b.version.to_owned(), b.arch.to_owned()))
        .collect();
    // Empty on a fresh clone; otherwise exactly what was fetched.
    assert_eq!(embedded, binaries_on_disk());
    for binary in available_versions() {
        assert_eq!(binary.sha256.len(), 64);
        let bytes = binary.bytes().expect("listed binaries are embedded");
        assert_eq!(hex::encode(Sha256::digest(bytes)), binary.sha256);
    }
}

#[test]
fn real_embedded_binaries_extract_and_heal() {
    let data = tempfile::tempdir().expect("tempdir");
    let available = available_versions();
    if available.is_empty() {
        eprintln!("skipped: no cloud-hypervisor binaries embedded in this build");
        return;
    }
    for binary in available {
        let path = extract(data.path(), binary.version, binary.arch).expect("extract");
        assert_eq!(sha256_of_file(&path).expect("hash"), binary.sha256);
        assert_eq!(mode_of(&path), 0o755);
        fs::write(&path, b"corrupted").expect("corrupt");
        let healed = extract(data.path(), binary.version, binary.arch).expect("re-extract");
        assert_eq!(sha256_of_file(&healed).expect("hash"), binary.sha256);
    }
}
