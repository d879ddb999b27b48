//! The store against a real SQLite file.

use std::sync::Arc;

use hype_store::{ImageRecord, NewVm, Store, StoreError, VmmUpdate};
use hype_types::{EventType, Transition, VmState, VmmKind};

fn image() -> ImageRecord {
    ImageRecord {
        name: "base".into(),
        kind: "kernel".into(),
        source: "build".into(),
        dir: "/nowhere".into(),
        vmlinuz: Some("vmlinuz".into()),
        vmlinux: None,
        initramfs: Some("initramfs.img".into()),
        rootfs: None,
        kernel_version: None,
        size_bytes: 1,
        sha256: None,
        boot_mode: "kernel".into(),
        disk: None,
        format: None,
        firmware: None,
        disks: vec![],
        nic_model: None,
        created_at: "2026-11-22T00:00:00Z".into(),
    }
}

fn new_vm(name: &str) -> NewVm {
    NewVm {
        id: format!("id-{name}"),
        name: name.into(),
        cpu_cores: 1,
        memory_mb: 256,
        image: "base".into(),
        kernel_cmdline: "console=ttyS0".into(),
        user_cmdline: None,
        vmm_kind: VmmKind::Qemu,
        egress: true,
        ttl_seconds: None,
        idle_timeout_seconds: None,
        persist: false,
        record: false,
        has_agent: true,
        snapshot: None,
        pool: None,
        created_detail: None,
    }
}

async fn open() -> anyhow::Result<(tempfile::TempDir, Store)> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("hype.db")).await?;
    store.upsert_image(&image()).await?;
    Ok((dir, store))
}

#[tokio::test]
async fn lifecycle_writes_ordered_events_that_survive_reopen() -> anyhow::Result<()> {
    let (dir, store) = open().await?;
    let mut live = store.subscribe();
    store.insert_vm(new_vm("a"), None).await?;
    store
        .transition(
            "a",
            Transition::Boot,
            None,
            VmmUpdate {
                pid: Some(Some(42)),
                ..Default::default()
            },
        )
        .await?;
    let (vm, ev) = store
        .transition("a", Transition::Ready, None, VmmUpdate::default())
        .await?;
    assert_eq!(vm.state, VmState::Running);
    assert_eq!(vm.vmm_pid, Some(42));
    assert_eq!(ev.unwrap().event_type, EventType::VmRunning);
    let err = store
        .transition("a", Transition::Resume, None, VmmUpdate::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "VM 'a': cannot resume a VM that is running"
    );
    store.delete_vm("a", None).await?;

    let mut seen = vec![];
    while let Ok(e) = live.try_recv() {
        seen.push((e.id, e.event_type));
    }
    let types: Vec<_> = seen.iter().map(|s| s.1).collect();
    assert_eq!(
        types,
        [
            EventType::VmCreated,
            EventType::VmStarting,
            EventType::VmRunning,
            EventType::VmDeleted
        ]
    );
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "ids grow: {seen:?}"
    );
    store.close().await;

    let store = Store::open(&dir.path().join("hype.db")).await?;
    let replay = store.events_after(seen[1].0, None, 100).await?;
    assert_eq!(
        replay.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![seen[2].0, seen[3].0]
    );
    // A new event after reopen never reuses an id, even of a deleted VM's.
    store.insert_vm(new_vm("b"), None).await?;
    assert!(store.last_event_id().await? > seen[3].0);
    Ok(())
}

#[tokio::test]
async fn one_of_fifty_concurrent_creates_wins() -> anyhow::Result<()> {
    let (_dir, store) = open().await?;
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut vm = new_vm("same");
                vm.id = format!("id-{i}");
                store.insert_vm(vm, None).await
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        match t.await? {
            Ok(_) => won += 1,
            Err(StoreError::NameTaken { name }) => assert_eq!(name, "same"),
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(store.count_vms().await?, 1);
    // A bound is exact, even under concurrency.
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.insert_vm(new_vm(&format!("b{i}")), Some(5)).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await? {
            Ok(_) => ok += 1,
            Err(StoreError::TooManyVms { max: 5 }) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 4, "one VM existed, four more fit under 5");
    for i in 0..20 {
        let _ = store.delete_vm(&format!("b{i}"), None).await;
    }
    assert_eq!(
        store.count_vms_by_state().await?,
        vec![(hype_types::VmState::Creating, 1)]
    );
    assert_eq!(store.events_after(0, Some("same"), 100).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn schema_refuses_what_code_should_never_write() -> anyhow::Result<()> {
    let (_dir, store) = open().await?;
    let mut bad = new_vm("x");
    bad.image = "missing".into();
    assert!(matches!(
        store.insert_vm(bad, None).await,
        Err(StoreError::ImageNotFound { .. })
    ));
    let mut bad = new_vm("UPPER");
    bad.id = "u".into();
    assert!(store.insert_vm(bad, None).await.is_err(), "CHECK on names");
    store.insert_vm(new_vm("x"), None).await?;
    assert!(matches!(
        store.delete_image("base").await,
        Err(StoreError::ImageInUse { vms: 1, .. })
    ));
    assert_eq!(store.count_vms().await?, 1);
    Ok(())
}

#[tokio::test]
async fn an_imported_disk_keeps_its_firmware_and_nothing_else_is_accepted() -> anyhow::Result<()> {
    let (_dir, store) = open().await?;
    let disk = |name: &str, firmware: &str| ImageRecord {
        name: name.into(),
        kind: "disk".into(),
        source: "xcpng".into(),
        boot_mode: "firmware".into(),
        disk: Some("disk0.raw".into()),
        format: Some("raw".into()),
        firmware: Some(firmware.into()),
        ..image()
    };
    store.insert_image(&disk("web", "uefi")).await?;
    assert_eq!(
        store.get_image("web").await?.firmware.as_deref(),
        Some("uefi")
    );
    assert!(
        store.insert_image(&disk("odd", "efi")).await.is_err(),
        "CHECK on firmware"
    );
    store.upsert_image(&image()).await?;
    assert_eq!(store.get_image("base").await?.firmware, None);
    assert!(store.get_image("base").await?.disks.is_empty());

    // Every disk in order with its bus and digest, and the NIC model.
    let d = |i: u64, bus| hype_types::ImageDisk {
        file: format!("disk{i}.raw"),
        size_bytes: i << 20,
        sha256: format!("{i:064}"),
        bus,
    };
    let two = ImageRecord {
        disks: vec![
            d(0, hype_types::StorageBus::Sata),
            d(1, hype_types::StorageBus::Ide),
        ],
        nic_model: Some("e1000".into()),
        ..disk("two", "bios")
    };
    store.insert_image(&two).await?;
    let got = store.get_image("two").await?;
    assert_eq!(
        (got.disks, got.nic_model),
        (two.disks.clone(), two.nic_model.clone())
    );
    let odd = ImageRecord {
        nic_model: Some("vmxnet3".into()),
        ..disk("odd", "bios")
    };
    assert!(
        store.insert_image(&odd).await.is_err(),
        "CHECK on nic_model"
    );
    Ok(())
}

#[tokio::test]
async fn leases_are_lowest_free_distinct_under_concurrency_and_freed_on_delete(
) -> anyhow::Result<()> {
    let (_dir, store) = open().await?;
    let store = Arc::new(store);
    let hosts = || (2..=254).map(|i| format!("10.0.0.{i}"));
    for i in 0..100 {
        store.insert_vm(new_vm(&format!("vm{i}")), None).await?;
    }
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let name = format!("vm{i}");
                store
                    .allocate_lease(
                        &name,
                        hosts(),
                        "10.0.0.0/24",
                        &format!("02:00:00:00:00:{i:02x}"),
                        &format!("hypet{i}"),
                    )
                    .await
            })
        })
        .collect();
    let mut got = std::collections::HashSet::new();
    for t in tasks {
        assert!(got.insert(t.await??), "an address was handed out twice");
    }
    assert_eq!(got.len(), 100);
    let expect: std::collections::HashSet<String> = hosts().take(100).collect();
    assert_eq!(got, expect, "the lowest 100 addresses");
    let vm = store.get_vm("vm7").await?;
    assert!(vm.ip.is_some() && vm.mac.is_some());

    // Freed with its VM, and then the lowest free address is reused.
    let freed = vm.ip.clone().unwrap();
    store.delete_vm("vm7", None).await?;
    assert_eq!(store.leases().await?.len(), 99);
    store.insert_vm(new_vm("again"), None).await?;
    let ip = store
        .allocate_lease(
            "again",
            hosts(),
            "10.0.0.0/24",
            "02:aa:00:00:00:01",
            "hypeagain",
        )
        .await?;
    assert_eq!(ip, freed);

    // An exhausted subnet says so.
    store.insert_vm(new_vm("late"), None).await?;
    let err = store
        .allocate_lease(
            "late",
            hosts().take(100),
            "10.0.0.0/24",
            "02:aa:00:00:00:02",
            "hypelate",
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("no free address left in 10.0.0.0/24"),
        "{err}"
    );
    Ok(())
}
