//! File operations on real files in a temporary directory, driven through
//! a real session.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use hype_agent_proto::{FileKind, GuestMessage, HostMessage, StreamErrorCode, CHUNK, WINDOW};

use crate::testhost::Host;

fn write_req(id: u64, path: &Path, mode: Option<u32>, archive: bool) -> HostMessage {
    HostMessage::WriteFile {
        id,
        path: path.to_string_lossy().into_owned(),
        mode,
        // SAFETY: getuid has no preconditions.
        owner: Some(unsafe { nix::libc::getuid() }.to_string()),
        archive,
    }
}

/// Uploads `bytes` as stream `id` within the credit, as a host must.
fn upload(host: &mut Host, id: u64, bytes: &[u8]) -> GuestMessage {
    match host.recv_for(id) {
        GuestMessage::Opened { .. } => {}
        other => return other,
    }
    let mut credit = WINDOW;
    for chunk in bytes.chunks(CHUNK) {
        while credit < chunk.len() as u64 {
            match host.recv_for(id) {
                GuestMessage::Credit { bytes, .. } => credit += bytes,
                other => return other,
            }
        }
        credit -= chunk.len() as u64;
        host.data(id, chunk);
    }
    host.send(&HostMessage::Eof { id });
    loop {
        match host.recv_for(id) {
            GuestMessage::Credit { .. } => {}
            other => return other,
        }
    }
}

fn error_of(msg: GuestMessage) -> (StreamErrorCode, String) {
    match msg {
        GuestMessage::Error { code, message, .. } => (code, message),
        other => panic!("not an error: {other:?}"),
    }
}

fn temporaries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".hype-"))
        .collect()
}

#[test]
fn a_write_lands_whole_with_its_mode() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("big.bin");
    let content: Vec<u8> = (0..3 * WINDOW as usize + 123)
        .map(|i| (i % 251) as u8)
        .collect();
    let mut host = Host::start();
    host.send(&write_req(1, &dest, Some(0o600), false));
    assert_eq!(
        upload(&mut host, 1, &content),
        GuestMessage::Done {
            id: 1,
            bytes: content.len() as u64
        }
    );
    assert_eq!(fs::read(&dest).unwrap(), content);
    assert_eq!(fs::metadata(&dest).unwrap().mode() & 0o7777, 0o600);
    assert!(temporaries(dir.path()).is_empty());

    // An existing file keeps its mode when none is given.
    fs::set_permissions(&dest, fs::Permissions::from_mode(0o640)).unwrap();
    host.send(&write_req(2, &dest, None, false));
    assert!(matches!(
        upload(&mut host, 2, b"small"),
        GuestMessage::Done { bytes: 5, .. }
    ));
    assert_eq!(fs::read(&dest).unwrap(), b"small");
    assert_eq!(fs::metadata(&dest).unwrap().mode() & 0o7777, 0o640);

    // And it reads back the same.
    host.send(&HostMessage::ReadFile {
        id: 3,
        path: dest.to_string_lossy().into_owned(),
    });
    assert_eq!(host.read_all(3).unwrap(), b"small");
    host.close();
}

#[test]
fn a_cancelled_or_abandoned_write_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("partial");
    let mut host = Host::start();
    host.send(&write_req(1, &dest, None, false));
    assert!(matches!(host.recv_for(1), GuestMessage::Opened { .. }));
    host.data(1, b"half of it");
    // The temporary is there while the upload runs...
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while temporaries(dir.path()).is_empty() && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(temporaries(dir.path()).len(), 1);
    host.send(&HostMessage::Cancel { id: 1 });
    // ...and gone after the cancel; the destination never appeared.
    host.send(&HostMessage::Ping { id: 7 });
    assert_eq!(host.recv(), GuestMessage::Pong { id: 7 });
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while !temporaries(dir.path()).is_empty() && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(temporaries(dir.path()).is_empty());
    assert!(!dest.exists());

    // A host that goes away mid-upload: the same.
    host.send(&write_req(2, &dest, None, false));
    assert!(matches!(host.recv_for(2), GuestMessage::Opened { .. }));
    host.data(2, b"some");
    host.close();
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while !temporaries(dir.path()).is_empty() && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(temporaries(dir.path()).is_empty());
    assert!(!dest.exists());
}

#[test]
fn a_directory_reads_as_tar_and_unpacks_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("sub/deeper")).unwrap();
    fs::write(src.join("a.txt"), b"alpha").unwrap();
    fs::write(src.join("sub/deeper/b.bin"), vec![7u8; 200_000]).unwrap();
    fs::set_permissions(src.join("a.txt"), fs::Permissions::from_mode(0o751)).unwrap();
    symlink("a.txt", src.join("link")).unwrap();

    let mut host = Host::start();
    host.send(&HostMessage::ReadFile {
        id: 1,
        path: src.to_string_lossy().into_owned(),
    });
    let GuestMessage::Opened { entry, .. } = host.recv_for(1) else {
        panic!("not opened")
    };
    assert_eq!(entry.kind, FileKind::Directory);
    let archive = host.read_all(1).unwrap();

    let dest = dir.path().join("dest");
    host.send(&write_req(2, &dest, None, true));
    assert_eq!(
        upload(&mut host, 2, &archive),
        GuestMessage::Done {
            id: 2,
            bytes: archive.len() as u64
        }
    );
    let copy = dest.join("src");
    assert_eq!(fs::read(copy.join("a.txt")).unwrap(), b"alpha");
    assert_eq!(
        fs::read(copy.join("sub/deeper/b.bin")).unwrap(),
        vec![7u8; 200_000]
    );
    assert_eq!(
        fs::metadata(copy.join("a.txt")).unwrap().mode() & 0o7777,
        0o751
    );
    assert_eq!(
        fs::read_link(copy.join("link")).unwrap(),
        Path::new("a.txt")
    );
    host.close();
}

#[test]
fn an_archive_cannot_climb_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_size(4);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    // Header::set_path refuses `..`; write the raw name as a hostile host would.
    header.as_old_mut().name[..9].copy_from_slice(b"../escape");
    header.set_cksum();
    let mut archive = Vec::new();
    archive.extend_from_slice(header.as_bytes());
    archive.extend_from_slice(b"evil");
    archive.resize(archive.len().next_multiple_of(512) + 1024, 0);

    let mut host = Host::start();
    let into = dir.path().join("into");
    host.send(&write_req(1, &into, None, true));
    let (code, message) = error_of(upload(&mut host, 1, &archive));
    assert_eq!(code, StreamErrorCode::Invalid, "{message}");
    assert!(!dir.path().join("escape").exists());

    // Nor through a symlink it made first.
    // SAFETY: getuid and getgid have no preconditions.
    let (uid, gid) = unsafe { (nix::libc::getuid(), nix::libc::getgid()) };
    let mut builder = tar::Builder::new(Vec::new());
    let mut link = tar::Header::new_gnu();
    link.set_entry_type(tar::EntryType::Symlink);
    link.set_size(0);
    link.set_mode(0o777);
    link.set_uid(uid.into());
    link.set_gid(gid.into());
    link.set_mtime(0);
    builder.append_link(&mut link, "link", dir.path()).unwrap();
    let mut file = tar::Header::new_gnu();
    file.set_size(4);
    file.set_mode(0o644);
    file.set_uid(uid.into());
    file.set_gid(gid.into());
    file.set_mtime(0);
    builder
        .append_data(&mut file, "link/escape", &b"evil"[..])
        .unwrap();
    let archive = builder.into_inner().unwrap();
    host.send(&write_req(2, &into, None, true));
    let (code, message) = error_of(upload(&mut host, 2, &archive));
    assert_eq!(code, StreamErrorCode::Invalid, "{message}");
    assert!(!dir.path().join("escape").exists());
    host.close();
}

#[test]
fn stat_list_and_remove() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(root.join("b"), b"12345").unwrap();
    fs::create_dir(root.join("a")).unwrap();
    fs::write(root.join("a/inner"), b"").unwrap();
    symlink("b", root.join("c")).unwrap();
    let p = |name: &str| root.join(name).to_string_lossy().into_owned();
    let mut host = Host::start();

    host.send(&HostMessage::Stat {
        id: 1,
        path: p("c"),
    });
    let GuestMessage::Stat { entry, .. } = host.recv_for(1) else {
        panic!("no stat")
    };
    assert_eq!(
        (entry.kind, entry.target.as_deref()),
        (FileKind::Symlink, Some("b"))
    );

    host.send(&HostMessage::List { id: 2, path: p("") });
    let GuestMessage::Listing {
        entries, truncated, ..
    } = host.recv_for(2)
    else {
        panic!("no listing")
    };
    let names: Vec<_> = entries
        .iter()
        .map(|e| (e.name.as_str(), e.kind, e.size))
        .collect();
    assert_eq!(
        names[..2],
        [
            ("a", FileKind::Directory, names[0].2),
            ("b", FileKind::File, 5)
        ]
    );
    assert_eq!(names[2].1, FileKind::Symlink);
    assert!(!truncated);

    let cases: Vec<(HostMessage, StreamErrorCode, String)> = vec![
        (
            HostMessage::Stat {
                id: 3,
                path: p("nope"),
            },
            StreamErrorCode::NotFound,
            p("nope"),
        ),
        (
            HostMessage::Stat {
                id: 4,
                path: "rel/path".into(),
            },
            StreamErrorCode::Invalid,
            "rel/path".into(),
        ),
        (
            HostMessage::List {
                id: 5,
                path: p("b"),
            },
            StreamErrorCode::NotDirectory,
            p("b"),
        ),
        (
            HostMessage::Remove {
                id: 6,
                path: p("a"),
                recursive: false,
            },
            StreamErrorCode::NotEmpty,
            p("a"),
        ),
        (
            HostMessage::ReadFile {
                id: 7,
                path: "/dev/null".into(),
            },
            StreamErrorCode::Invalid,
            "/dev/null".into(),
        ),
        (
            write_req(8, root, None, false),
            StreamErrorCode::IsDirectory,
            p(""),
        ),
        (
            write_req(9, &root.join("no/file"), None, false),
            StreamErrorCode::NotFound,
            p("no"),
        ),
    ];
    for (msg, code, path) in cases {
        let (HostMessage::Stat { id, .. }
        | HostMessage::List { id, .. }
        | HostMessage::Remove { id, .. }
        | HostMessage::ReadFile { id, .. }
        | HostMessage::WriteFile { id, .. }) = msg
        else {
            unreachable!()
        };
        host.send(&msg);
        let (got, message) = error_of(host.recv_for(id));
        assert_eq!(got, code, "{message}");
        assert!(
            message.starts_with(path.trim_end_matches('/')),
            "{message} names {path}"
        );
    }

    for (id, name, recursive) in [(10, "c", false), (11, "b", false), (12, "a", true)] {
        host.send(&HostMessage::Remove {
            id,
            path: p(name),
            recursive,
        });
        assert_eq!(host.recv_for(id), GuestMessage::Done { id, bytes: 0 });
        assert!(fs::symlink_metadata(root.join(name)).is_err());
    }
    host.close();
}

#[test]
fn unknown_messages_with_an_id_are_unsupported() {
    let mut host = Host::start();
    host.send_raw(r#"{"type":"format_disk","id":4}"#);
    assert_eq!(
        host.recv(),
        GuestMessage::Unsupported {
            id: 4,
            what: "format_disk".into()
        }
    );
    host.send_raw(r#"{"type":"stat","id":5,"path":"/","extra":1}"#);
    assert!(matches!(
        host.recv(),
        GuestMessage::Error {
            id: 5,
            code: StreamErrorCode::Invalid,
            ..
        }
    ));
    host.send_raw(r#"{"type":"format_disk"}"#);
    assert!(matches!(host.recv(), GuestMessage::Notice { .. }));
    host.close();
}
