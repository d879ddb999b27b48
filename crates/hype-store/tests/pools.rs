//! Warm pools and claims against a real SQLite file.

use hype_store::{Claim, ImageRecord, NewVm, PoolRecord, Store, StoreError, VmmUpdate};
use hype_types::{EventType, Transition, VmState, VmmKind};

async fn open() -> anyhow::Result<(tempfile::TempDir, Store)> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("hype.db")).await?;
    store
        .upsert_image(&ImageRecord {
            name: "browser".into(),
            kind: "kernel".into(),
            source: "build".into(),
            dir: "/nowhere".into(),
            vmlinuz: None,
            vmlinux: Some("vmlinux".into()),
            initramfs: None,
            rootfs: Some("rootfs.ext4".into()),
            kernel_version: None,
            size_bytes: 1,
            sha256: None,
            boot_mode: "kernel".into(),
            disk: None,
            format: None,
            firmware: None,
            disks: vec![],
            nic_model: None,
            created_at: "2026-12-06T00:00:00Z".into(),
        })
        .await?;
    Ok((dir, store))
}

/// A VM of pool `pool` (a fork of `snapshot`, or the template without),
/// brought to `running`.
async fn pool_vm(
    store: &Store,
    name: &str,
    pool: &str,
    snapshot: Option<&str>,
) -> anyhow::Result<()> {
    store
        .insert_vm(
            NewVm {
                id: format!("id-{name}"),
                name: name.into(),
                cpu_cores: 2,
                memory_mb: 1536,
                image: "browser".into(),
                kernel_cmdline: String::new(),
                user_cmdline: None,
                vmm_kind: VmmKind::Qemu,
                egress: true,
                ttl_seconds: None,
                idle_timeout_seconds: None,
                persist: false,
                record: false,
                has_agent: true,
                snapshot: snapshot.map(Into::into),
                pool: Some(pool.into()),
                created_detail: None,
            },
            None,
        )
        .await?;
    for t in [Transition::Boot, Transition::Ready] {
        store
            .transition(name, t, None, VmmUpdate::default())
            .await?;
    }
    Ok(())
}

fn claim<'a>(pool: &'a str, name: &'a str) -> Claim<'a> {
    Claim {
        pool,
        name,
        ttl_seconds: Some(60),
        idle_timeout_seconds: None,
        detail: r#"{"pool":"warm","served":"pool"}"#.into(),
    }
}

#[tokio::test]
async fn a_claim_renames_the_oldest_ready_vm_with_its_events() -> anyhow::Result<()> {
    let (_dir, store) = open().await?;
    let pool = PoolRecord {
        name: "warm".into(),
        image: "browser".into(),
        cpu_cores: 2,
        memory_mb: 1536,
        size: 2,
        snapshot: None,
        created_at: hype_store::now(),
    };
    store.insert_pool(&pool).await?;
    assert!(matches!(
        store.insert_pool(&pool).await,
        Err(StoreError::PoolExists { .. })
    ));
    // The template (no snapshot) is never handed out.
    pool_vm(&store, "pool-warm-base", "warm", None).await?;
    assert!(store.claim_pool_vm(claim("warm", "mine")).await?.is_none());
    pool_vm(&store, "pool-warm-1", "warm", Some("s")).await?;
    // A fork is not handed out before its pool marks it ready.
    assert!(store.claim_pool_vm(claim("warm", "mine")).await?.is_none());
    assert_eq!(store.pool_counts("warm").await?.starting, 1);
    assert!(store.mark_pool_ready("warm", "pool-warm-1").await?);
    pool_vm(&store, "pool-warm-2", "warm", Some("s")).await?;
    assert!(store.mark_pool_ready("warm", "pool-warm-2").await?);
    let counts = store.pool_counts("warm").await?;
    assert_eq!((counts.ready, counts.starting), (2, 0));
    // Users' lists do not show pool VMs; the pool's list does.
    assert!(store.list_vms_page(None, None, None, 100).await?.is_empty());
    assert_eq!(
        store
            .list_vms_page(None, Some("warm"), None, 100)
            .await?
            .len(),
        3
    );

    let mut live = store.subscribe();
    let (old, vm, events) = store
        .claim_pool_vm(claim("warm", "mine"))
        .await?
        .expect("a ready VM");
    assert_eq!(old, "pool-warm-1");
    assert_eq!(
        (
            vm.name.as_str(),
            vm.id.as_str(),
            vm.dir.as_str(),
            vm.pool.as_deref()
        ),
        ("mine", "id-pool-warm-1", "pool-warm-1", None)
    );
    assert_eq!((vm.state, vm.ttl_seconds), (VmState::Running, Some(60)));
    let types: Vec<_> = events
        .iter()
        .map(|e| (e.event_type, e.vm.as_str()))
        .collect();
    assert_eq!(
        types,
        [
            (EventType::VmCreated, "mine"),
            (EventType::VmRunning, "mine")
        ]
    );
    assert_eq!(live.recv().await?.event_type, EventType::VmCreated);
    // The supervisor follows it by id.
    let (after, _) = store
        .transition_id(
            "id-pool-warm-1",
            Transition::Crash,
            Some("gone".into()),
            VmmUpdate::default(),
        )
        .await?;
    assert_eq!(
        (after.name.as_str(), after.state),
        ("mine", VmState::Crashed)
    );

    // A name taken is refused and takes nothing.
    assert!(matches!(
        store.claim_pool_vm(claim("warm", "mine")).await,
        Err(StoreError::NameTaken { .. })
    ));
    assert_eq!(store.pool_counts("warm").await?.ready, 1);
    store
        .claim_pool_vm(claim("warm", "second"))
        .await?
        .expect("one left");
    assert!(store.claim_pool_vm(claim("warm", "third")).await?.is_none());
    assert!(store.claim_pool_vm(claim("nope", "third")).await?.is_none());

    store.delete_pool("warm").await?;
    assert!(matches!(
        store.delete_pool("warm").await,
        Err(StoreError::PoolNotFound { .. })
    ));
    Ok(())
}

/// Downloads are recorded with their event, listed by the VM's name (also
/// after a claim renamed it), and go with the VM.
#[tokio::test]
async fn downloads_are_recorded_listed_and_go_with_their_vm() -> anyhow::Result<()> {
    let (_dir, store) = open().await?;
    pool_vm(&store, "warm-1", "warm", None).await?;
    let d = |name: &str| hype_types::Download {
        name: name.into(),
        size: 3,
        sha256: "a".repeat(64),
        url: "http://10.0.0.1/r.pdf".into(),
        page_url: None,
        finished_at: "2026-12-06T00:00:01Z".into(),
    };
    let event = store.record_download("id-warm-1", &d("r.pdf")).await?;
    let event = event.expect("recorded");
    assert_eq!(event.event_type, EventType::DownloadCompleted);
    assert_eq!(event.vm, "warm-1");
    assert!(event.detail.unwrap_or_default().contains("\"r.pdf\""));
    // The same name again replaces the row.
    store.record_download("id-warm-1", &d("r.pdf")).await?;
    assert!(store.mark_pool_ready("warm", "warm-1").await?);
    assert!(store.claim_pool_vm(claim("warm", "mine")).await?.is_some());
    store.record_download("id-warm-1", &d("s.pdf")).await?;
    let names: Vec<String> = store
        .downloads_of("mine")
        .await?
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, ["r.pdf", "s.pdf"]);
    assert!(store
        .record_download("no-such-id", &d("x"))
        .await?
        .is_none());
    store.delete_vm("mine", None).await?;
    assert!(matches!(
        store.downloads_of("mine").await,
        Err(StoreError::VmNotFound { .. })
    ));
    Ok(())
}
