//! The storage seam: a few key-value and set operations with expiry, which both caches are built
//! on. Two backends pass one conformance suite ([`conformance`]): [`MemoryStore`] in-process (the
//! default) and [`RedisStore`] (shared by every replica of a service).
//!
//! The operations are deliberately Redis's own (GET/MGET/SET PX/DEL, SADD/SUNION/SREM), so the
//! Redis backend is one command per call and the in-process one is a small mirror of it.

pub mod conformance;
mod memory;
mod redis;

pub use memory::MemoryStore;
pub use redis::{RedisConfig, RedisStore};

use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// Why a store operation failed. Callers of the caches never see it: a failed operation is a
/// bypass (counted and logged), except for invalidation, which must not be silently skipped.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The server could not be reached or did not answer in time; the next call may succeed.
    #[error("cache store unavailable: {0}")]
    Unavailable(String),
    /// The server answered with an error (wrong type, out of memory, ...).
    #[error("cache store rejected the operation: {0}")]
    Rejected(String),
}

impl genai_core::Classify for StoreError {
    fn class(&self) -> genai_core::ErrorClass {
        match self {
            StoreError::Unavailable(_) => genai_core::ErrorClass::Retryable,
            StoreError::Rejected(_) => genai_core::ErrorClass::Permanent,
        }
    }
}

/// Keys and values with expiry, and sets of strings with expiry.
#[async_trait]
pub trait CacheStore: Send + Sync + std::fmt::Debug {
    /// `memory` or `redis`, for logs, metrics and `/readyz`.
    fn kind(&self) -> &'static str;

    /// Answers when the store is reachable.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The value under `key`, unless absent or expired.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Several values at once, in key order.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError>;

    /// Stores `value` under `key` for `ttl`, replacing any earlier value.
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError>;

    /// Removes keys (values or sets); absent keys are ignored. Returns how many existed.
    async fn delete(&self, keys: &[String]) -> Result<u64, StoreError>;

    /// Adds `member` to the set `set` and extends the set's life to at least `ttl` from now.
    async fn add_to_set(&self, set: &str, member: &str, ttl: Duration) -> Result<(), StoreError>;

    /// The union of the members of `sets` (absent sets are empty), in no particular order.
    async fn union(&self, sets: &[String]) -> Result<Vec<String>, StoreError>;

    /// Removes members from a set.
    async fn remove_from_set(&self, set: &str, members: &[String]) -> Result<(), StoreError>;
}

/// Which store to use, as chosen in configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum StoreSpec {
    /// In-process, lost on restart, not shared between replicas (default).
    #[default]
    Memory,
    /// A Redis server, e.g. `redis://127.0.0.1:6379/0`.
    Redis { url: String },
}

/// Builds the store a spec names. A Redis store connects lazily, so a server that is down at
/// start-up makes the cache bypass (and `/readyz` report it), never the service fail to start.
pub fn open(spec: &StoreSpec) -> Result<Arc<dyn CacheStore>, StoreError> {
    Ok(match spec {
        StoreSpec::Memory => Arc::new(MemoryStore::default()),
        StoreSpec::Redis { url } => {
            Arc::new(RedisStore::new(RedisConfig { url: url.clone(), ..RedisConfig::default() })?)
        }
    })
}
