//! The in-process store: one mutex over two maps, expiry checked on read.

use super::{CacheStore, StoreError};
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// In-process keys and sets with expiry, bounded in entries.
///
/// Production note: a full store evicts the entries closest to expiry (a scan over all keys, so
/// eviction is O(n) and happens once per `capacity / 8` insertions); a service that needs LRU
/// under heavy churn, or a cache shared by replicas, uses [`RedisStore`](super::RedisStore).
#[derive(Debug)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Inner {
    values: HashMap<String, (Vec<u8>, Instant)>,
    sets: HashMap<String, (HashSet<String>, Instant)>,
}

impl Default for MemoryStore {
    /// At most 100,000 values and 100,000 sets.
    fn default() -> Self {
        Self::with_capacity(100_000)
    }
}

impl MemoryStore {
    pub fn with_capacity(capacity: usize) -> Self {
        Self { inner: Mutex::new(Inner::default()), capacity: capacity.max(8) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated (every update is
        // one insert or remove), so a poisoned lock is safe to keep using.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Drops expired entries, then, if still over capacity, the eighth closest to expiry.
fn evict<V>(map: &mut HashMap<String, (V, Instant)>, capacity: usize, now: Instant) {
    if map.len() < capacity {
        return;
    }
    map.retain(|_, (_, expires)| *expires > now);
    if map.len() >= capacity {
        let mut by_expiry: Vec<(Instant, String)> = map.iter().map(|(k, (_, e))| (*e, k.clone())).collect();
        by_expiry.sort();
        for (_, k) in by_expiry.into_iter().take(capacity / 8) {
            map.remove(&k);
        }
    }
}

#[async_trait]
impl CacheStore for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = Instant::now();
        let inner = self.lock();
        Ok(inner.values.get(key).filter(|(_, e)| *e > now).map(|(v, _)| v.clone()))
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let now = Instant::now();
        let inner = self.lock();
        Ok(keys.iter().map(|k| inner.values.get(k).filter(|(_, e)| *e > now).map(|(v, _)| v.clone())).collect())
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut inner = self.lock();
        evict(&mut inner.values, self.capacity, now);
        inner.values.insert(key.to_owned(), (value.to_vec(), now + ttl));
        Ok(())
    }

    async fn delete(&self, keys: &[String]) -> Result<u64, StoreError> {
        let now = Instant::now();
        let mut inner = self.lock();
        let mut existed = 0;
        for k in keys {
            let value = inner.values.remove(k).is_some_and(|(_, e)| e > now);
            let set = inner.sets.remove(k).is_some_and(|(_, e)| e > now);
            existed += u64::from(value || set);
        }
        Ok(existed)
    }

    async fn add_to_set(&self, set: &str, member: &str, ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut inner = self.lock();
        evict(&mut inner.sets, self.capacity, now);
        let entry = inner.sets.entry(set.to_owned()).or_insert_with(|| (HashSet::new(), now));
        if entry.1 <= now {
            // Expired: Redis would have dropped it, so start from empty.
            entry.0.clear();
        }
        entry.0.insert(member.to_owned());
        entry.1 = entry.1.max(now + ttl);
        Ok(())
    }

    async fn union(&self, sets: &[String]) -> Result<Vec<String>, StoreError> {
        let now = Instant::now();
        let inner = self.lock();
        let mut out = HashSet::new();
        for s in sets {
            if let Some((members, e)) = inner.sets.get(s)
                && *e > now
            {
                out.extend(members.iter().cloned());
            }
        }
        Ok(out.into_iter().collect())
    }

    async fn remove_from_set(&self, set: &str, members: &[String]) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if let Some((m, _)) = inner.sets.get_mut(set) {
            for x in members {
                m.remove(x);
            }
        }
        Ok(())
    }
}
