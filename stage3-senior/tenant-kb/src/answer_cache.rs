//! Answers cached per tenant and per viewer, through genai-cache (exact, and semantic with the
//! pair guard that refuses look-alike questions). What makes it safe in a multi-tenant service:
//!
//! - **Scope**: the tenant, the tenant's cache epoch, the viewer (a hash of the user's
//!   attributes: two users with the same attributes see the same documents under one policy),
//!   the caller's filters, the answerer (engine, models, routing threshold) and `top_k`. Nothing
//!   is served across any of them.
//! - **Epoch**: every write to the tenant's corpus or policy stores a new random epoch and drops
//!   the tenant's entries, so an answer computed before the write (even one still in flight) is
//!   never served after it. The epoch lives in the same store, so instances sharing Redis share it.
//! - **Sealed values**: the cached answer is sealed under the tenant's data key; after an erasure
//!   destroys the key, an entry that survived anywhere is unreadable, and erasure deletes them.
//! - **Checked again**: a cached answer's cited documents are checked against the current policy
//!   and registry before it is served; a disagreement is an alarm and a miss.
//!
//! Production note: the question's text is kept in clear in each record (the guard compares it
//! with the next question) until the entry expires or the tenant's writes or erasure drop it.
//! Any write empties the tenant's cache: simple and safe, wasteful for tenants that write often.

use crate::ask::AskResponse;
use crate::crypto::Key;
use crate::policy::Attrs;
use crate::{Config, KbError};
use base64::Engine as _;
use genai_cache::{AnswerCache, CacheConfig, CacheStore, Decision, Scope, StoreSpec};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// Which store holds cached answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheChoice {
    Off,
    /// This process (default).
    #[default]
    Memory,
    /// `redis_url`, shared by every instance.
    Redis,
}

#[derive(Debug)]
pub(crate) struct KbCache {
    answers: AnswerCache<String>,
    store: Arc<dyn CacheStore>,
    namespace: String,
    semantic: bool,
}

impl KbCache {
    /// The configured cache, or `None` when it is off.
    pub fn open(config: &Config, embedder: &str, dim: usize) -> Result<Option<Self>, KbError> {
        let spec = match config.cache {
            CacheChoice::Off => return Ok(None),
            CacheChoice::Memory => StoreSpec::Memory,
            CacheChoice::Redis => StoreSpec::Redis {
                url: config.redis_url.clone().ok_or_else(|| KbError::Setup("cache = redis needs redis_url".into()))?,
            },
        };
        let store = genai_cache::store::open(&spec).map_err(|e| KbError::Setup(format!("answer cache: {e}")))?;
        let namespace = config.cache_namespace.clone();
        let cache_config =
            CacheConfig { namespace: namespace.clone(), ttl_secs: config.cache_ttl_secs, ..CacheConfig::default() };
        let answers = AnswerCache::new(store.clone(), cache_config);
        let (answers, semantic) = match genai_cache::guard::bundled(embedder) {
            Ok(guard) => (
                answers.with_semantic(Arc::new(guard), embedder, dim).map_err(|e| KbError::Setup(e.to_string()))?,
                true,
            ),
            Err(e) => {
                tracing::warn!(error = %e, "no pair guard for this embedder: exact answer cache only");
                (answers, false)
            }
        };
        Ok(Some(Self { answers, store, namespace, semantic }))
    }

    pub fn semantic(&self) -> bool {
        self.semantic
    }

    fn epoch_key(&self, tenant: &str) -> String {
        format!("{}:epoch:{tenant}", self.namespace)
    }

    /// The tenant-wide id every entry cites, so one invalidation drops them all.
    fn all(tenant: &str) -> String {
        format!("{tenant}/@all")
    }

    /// The scope of a question, or `None` when the store cannot say the epoch (the cache is
    /// bypassed rather than risk an answer from before a write).
    pub async fn scope(&self, tenant: &str, viewer: &Attrs, filters: &Attrs, answerer: &str) -> Option<Scope> {
        let epoch = match self.store.get(&self.epoch_key(tenant)).await {
            Ok(Some(e)) => String::from_utf8_lossy(&e).into_owned(),
            Ok(None) => "none".into(),
            Err(e) => {
                tracing::debug!(error = %e, "answer cache bypassed: the epoch is unreadable");
                return None;
            }
        };
        let hash = |a: &Attrs| hex::encode(&Sha256::digest(serde_json::to_vec(a).unwrap_or_default())[..12]);
        Some(
            Scope::new()
                .with("tenant", tenant)
                .with("epoch", epoch)
                .with("viewer", hash(viewer))
                .with("filters", hash(filters))
                .with("answerer", answerer),
        )
    }

    pub async fn lookup(
        &self,
        key: &Key,
        tenant: &str,
        scope: &Scope,
        question: &str,
        vector: Option<&[f32]>,
    ) -> (Option<AskResponse>, Decision) {
        let found = self.answers.lookup(scope, question, vector).await;
        let value = found.value.and_then(|sealed| {
            let bytes = base64::engine::general_purpose::STANDARD.decode(sealed).ok()?;
            let plain = key.open(&bytes, &format!("{tenant}/answer-cache")).ok()?;
            serde_json::from_slice(&plain).ok()
        });
        (value, found.decision)
    }

    pub async fn insert(
        &self,
        key: &Key,
        tenant: &str,
        scope: &Scope,
        question: &str,
        vector: Option<&[f32]>,
        answer: &AskResponse,
    ) {
        let Ok(plain) = serde_json::to_vec(answer) else { return };
        let Ok(sealed) = key.seal(&plain, &format!("{tenant}/answer-cache")) else { return };
        let value = base64::engine::general_purpose::STANDARD.encode(sealed);
        self.answers.insert(scope, question, vector, value, &[Self::all(tenant)]).await;
    }

    /// After a write to the tenant's corpus or policy, or its erasure: a new epoch first (so an
    /// answer being computed now lands in a scope nobody reads), then every entry dropped.
    pub async fn forget(&self, tenant: &str) -> Result<(), KbError> {
        let epoch = crate::crypto::random_hex(8);
        let unavailable =
            |e: &dyn std::fmt::Display| KbError::Unavailable { what: "answer cache", detail: e.to_string() };
        self.store
            .put(&self.epoch_key(tenant), epoch.as_bytes(), Duration::from_secs(30 * 86_400))
            .await
            .map_err(|e| unavailable(&e))?;
        self.answers.invalidate_documents(&[Self::all(tenant)]).await.map_err(|e| unavailable(&e))?;
        Ok(())
    }
}
