//! Address leases: one per VM, one VM per address, the lowest free address
//! first. Allocation runs under the store's writer lock and the schema's
//! unique constraints back it up, so concurrent creates never share an
//! address. A lease goes with its VM (ON DELETE CASCADE).

use sqlx::Row;

use crate::error::DbContext;
use crate::{now, Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub ip: String,
    pub vm: String,
    pub mac: String,
    pub tap: String,
    pub egress: bool,
}

impl Store {
    /// Leases the first of `candidates` not yet taken to VM `name`, and
    /// records address and MAC on the VM.
    pub async fn allocate_lease(
        &self,
        name: &str,
        candidates: impl IntoIterator<Item = String>,
        subnet: &str,
        mac: &str,
        tap: &str,
    ) -> Result<String> {
        let (_w, mut tx) = self.begin_write("begin lease").await?;
        let vm_id: Option<String> = sqlx::query_scalar("SELECT id FROM vms WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .during("read VM for lease")?;
        let vm_id = vm_id.ok_or_else(|| StoreError::VmNotFound { name: name.into() })?;
        let taken: Vec<String> = sqlx::query_scalar("SELECT ip FROM ip_leases")
            .fetch_all(&mut *tx)
            .await
            .during("read leases")?;
        let taken: std::collections::HashSet<String> = taken.into_iter().collect();
        let ip = candidates
            .into_iter()
            .find(|c| !taken.contains(c))
            .ok_or_else(|| StoreError::SubnetExhausted {
                subnet: subnet.into(),
                leased: taken.len(),
            })?;
        sqlx::query(
            "INSERT INTO ip_leases (ip, vm_id, mac, tap, leased_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&ip)
        .bind(&vm_id)
        .bind(mac)
        .bind(tap)
        .bind(now())
        .execute(&mut *tx)
        .await
        .during("insert lease")?;
        sqlx::query("UPDATE vms SET ip = ?, mac = ?, updated_at = ? WHERE id = ?")
            .bind(&ip)
            .bind(mac)
            .bind(now())
            .bind(&vm_id)
            .execute(&mut *tx)
            .await
            .during("record address")?;
        tx.commit().await.during("commit lease")?;
        Ok(ip)
    }

    /// Every lease, with its VM's name and egress policy.
    pub async fn leases(&self) -> Result<Vec<Lease>> {
        let rows = sqlx::query(
            "SELECT l.ip, v.name, l.mac, l.tap, v.egress FROM ip_leases l \
             JOIN vms v ON v.id = l.vm_id ORDER BY l.ip",
        )
        .fetch_all(&self.pool)
        .await
        .during("list leases")?;
        Ok(rows
            .iter()
            .map(|r| Lease {
                ip: r.get(0),
                vm: r.get(1),
                mac: r.get(2),
                tap: r.get(3),
                egress: r.get::<i64, _>(4) != 0,
            })
            .collect())
    }
}
