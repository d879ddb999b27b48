//! The image repository: what can be booted, and where its files are.

use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::error::DbContext;
use crate::{Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    pub name: String,
    /// `kernel`, `rootfs` or `disk`.
    pub kind: String,
    pub source: String,
    /// Absolute directory holding the files below (relative names).
    pub dir: String,
    pub vmlinuz: Option<String>,
    pub vmlinux: Option<String>,
    pub initramfs: Option<String>,
    pub rootfs: Option<String>,
    pub kernel_version: Option<String>,
    pub size_bytes: u64,
    pub sha256: Option<String>,
    /// `kernel` or `firmware`.
    pub boot_mode: String,
    /// Imported full-disk images: the disk file, relative to `dir`.
    pub disk: Option<String>,
    /// The disk's format (`raw`).
    pub format: Option<String>,
    /// Imported disks: `bios` or `uefi`, the firmware they boot with.
    pub firmware: Option<String>,
    /// Imported disks: every disk, boot disk first (stored as JSON). Empty
    /// for built images and for imports that predate it (their `disk` is
    /// then the only one, on virtio).
    pub disks: Vec<hype_types::ImageDisk>,
    /// Imported disks: the NIC their VMs get (`virtio`, `e1000`).
    pub nic_model: Option<String>,
    pub created_at: String,
}

fn from_row(row: &SqliteRow) -> ImageRecord {
    ImageRecord {
        name: row.get("name"),
        kind: row.get("kind"),
        source: row.get("source"),
        dir: row.get("dir"),
        vmlinuz: row.get("vmlinuz"),
        vmlinux: row.get("vmlinux"),
        initramfs: row.get("initramfs"),
        rootfs: row.get("rootfs"),
        kernel_version: row.get("kernel_version"),
        size_bytes: row.get::<i64, _>("size_bytes") as u64,
        sha256: row.get("sha256"),
        boot_mode: row.get("boot_mode"),
        disk: row.get("disk"),
        format: row.get("format"),
        firmware: row.get("firmware"),
        // Written by upsert_image only; a row it cannot read has no list.
        disks: row
            .get::<Option<String>, _>("disks")
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default(),
        nic_model: row.get("nic_model"),
        created_at: row.get("created_at"),
    }
}

impl Store {
    /// Inserts or refreshes an image (images are found on disk at start).
    pub async fn upsert_image(&self, img: &ImageRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO images (name, kind, source, dir, vmlinuz, vmlinux, initramfs, rootfs, \
             kernel_version, size_bytes, sha256, boot_mode, created_at, disk, format, firmware, \
             disks, nic_model) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, source = excluded.source, \
             dir = excluded.dir, vmlinuz = excluded.vmlinuz, vmlinux = excluded.vmlinux, \
             initramfs = excluded.initramfs, rootfs = excluded.rootfs, \
             kernel_version = excluded.kernel_version, size_bytes = excluded.size_bytes, \
             sha256 = excluded.sha256, boot_mode = excluded.boot_mode, \
             created_at = excluded.created_at, disk = excluded.disk, format = excluded.format, \
             firmware = excluded.firmware, disks = excluded.disks, \
             nic_model = excluded.nic_model",
        )
        .bind(&img.name)
        .bind(&img.kind)
        .bind(&img.source)
        .bind(&img.dir)
        .bind(&img.vmlinuz)
        .bind(&img.vmlinux)
        .bind(&img.initramfs)
        .bind(&img.rootfs)
        .bind(&img.kernel_version)
        .bind(img.size_bytes as i64)
        .bind(&img.sha256)
        .bind(&img.boot_mode)
        .bind(&img.created_at)
        .bind(&img.disk)
        .bind(&img.format)
        .bind(&img.firmware)
        .bind(if img.disks.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&img.disks).expect("disks serialize"))
        })
        .bind(&img.nic_model)
        .execute(&self.pool)
        .await
        .during("save image")?;
        Ok(())
    }

    /// Registers a new image; refuses to replace one of the same name.
    pub async fn insert_image(&self, img: &ImageRecord) -> Result<()> {
        let exists: i64 = sqlx::query_scalar("SELECT count(*) FROM images WHERE name = ?")
            .bind(&img.name)
            .fetch_one(&self.pool)
            .await
            .during("check image name")?;
        if exists > 0 {
            return Err(StoreError::ImageExists {
                name: img.name.clone(),
            });
        }
        self.upsert_image(img).await
    }

    pub async fn get_image(&self, name: &str) -> Result<ImageRecord> {
        sqlx::query("SELECT * FROM images WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .during("read image")?
            .map(|r| from_row(&r))
            .ok_or_else(|| StoreError::ImageNotFound { name: name.into() })
    }

    pub async fn list_images(&self) -> Result<Vec<ImageRecord>> {
        let rows = sqlx::query("SELECT * FROM images ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .during("list images")?;
        Ok(rows.iter().map(from_row).collect())
    }

    /// Deletes an image no VM uses; the schema refuses otherwise.
    pub async fn delete_image(&self, name: &str) -> Result<()> {
        let users: i64 = sqlx::query_scalar("SELECT count(*) FROM vms WHERE image = ?")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .during("count image users")?;
        if users > 0 {
            return Err(StoreError::ImageInUse {
                name: name.into(),
                vms: users,
            });
        }
        let done = sqlx::query("DELETE FROM images WHERE name = ?")
            .bind(name)
            .execute(&self.pool)
            .await
            .during("delete image")?;
        if done.rows_affected() == 0 {
            return Err(StoreError::ImageNotFound { name: name.into() });
        }
        Ok(())
    }
}
