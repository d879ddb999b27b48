//! One async lock per VM name, so a VM's actions (create, start, stop,
//! delete, ...) never interleave. Entries exist only while someone holds or
//! waits for them: a host that created and deleted a million VMs keeps no
//! map of a million names.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

#[derive(Clone, Default)]
pub(crate) struct VmLocks {
    map: Arc<Mutex<HashMap<String, Arc<AsyncMutex<()>>>>>,
}

/// Held for the duration of one action on one VM.
pub(crate) struct VmGuard {
    guard: Option<OwnedMutexGuard<()>>,
    name: String,
    locks: VmLocks,
}

impl VmLocks {
    pub async fn lock(&self, name: &str) -> VmGuard {
        let lock = self
            .map
            .lock()
            .expect("locks lock")
            .entry(name.to_owned())
            .or_default()
            .clone();
        VmGuard {
            guard: Some(lock.lock_owned().await),
            name: name.to_owned(),
            locks: self.clone(),
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.lock().expect("locks lock").len()
    }
}

impl Drop for VmGuard {
    fn drop(&mut self) {
        // Release first, so that the count below sees only the map and
        // whoever else holds or waits for this lock.
        self.guard.take();
        let mut map = self.locks.map.lock().expect("locks lock");
        if map
            .get(&self.name)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            map.remove(&self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_go_when_nobody_holds_or_waits() {
        let locks = VmLocks::default();
        let g = locks.lock("a").await;
        assert_eq!(locks.len(), 1);
        let l2 = locks.clone();
        let waiter = tokio::spawn(async move {
            let _g = l2.lock("a").await;
        });
        tokio::task::yield_now().await;
        drop(g);
        waiter.await.unwrap();
        assert_eq!(locks.len(), 0);
    }

    #[tokio::test]
    async fn one_holder_at_a_time() {
        let locks = VmLocks::default();
        let g = locks.lock("a").await;
        let l2 = locks.clone();
        let t = tokio::spawn(async move {
            l2.lock("a").await;
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!t.is_finished());
        drop(g);
        t.await.unwrap();
    }
}
