//! The answer cache: one record per (scope, normalised query), found exactly by its key or
//! semantically through LSH buckets and the pair guard.
//!
//! Keys (all under the configured namespace `ns`):
//! - `ns:e:<scope>:<query digest>` — a record: the query, its embedding, the value, the cited
//!   documents (JSON);
//! - `ns:b:<scope>:<table>:<bucket>` — a set of record digests sharing an LSH bucket;
//! - `ns:d:<document>` — a set of record keys whose answers cite the document.

use crate::guard::PairGuard;
use crate::lsh::{Lsh, cosine};
use crate::store::{CacheStore, StoreError};
use crate::{Scope, digest, normalise};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Settings. Defaults documented per field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Prefix of every key (default `genai`), so services can share one Redis.
    pub namespace: String,
    /// Life of an entry in seconds (default 86,400: one day).
    pub ttl_secs: u64,
    /// Serve near-identical questions from the semantic cache (default true; needs an embedding
    /// and a guard).
    pub semantic: bool,
    /// Candidates below this cosine are not shown to the guard (default 0.7: cheaper, and no
    /// training pair below it was labelled the same question often enough to matter).
    pub min_cosine: f32,
    /// LSH tables and bits per table (defaults 20 and 8; see the `lsh` module for the recall).
    pub lsh_tables: usize,
    pub lsh_bits: usize,
    /// Most candidate records read per semantic lookup (default 256).
    pub max_candidates: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            namespace: "genai".into(),
            ttl_secs: 86_400,
            semantic: true,
            min_cosine: 0.7,
            lsh_tables: 20,
            lsh_bits: 8,
            max_candidates: 256,
        }
    }
}

/// Why the cache could not do what was asked (only invalidation and set-up report errors).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Guard(#[from] crate::guard::GuardError),
}

/// How a lookup was decided: what the trace and the page's waterfall show.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// The same normalised question in the same scope.
    Exact,
    /// A different wording the guard accepted.
    Semantic { similarity: f32, guard: f32, matched: String },
    /// Nothing acceptable: the closest candidate's cosine, and how many candidates above the
    /// cosine floor the guard rejected (look-alikes refused).
    Miss { best_similarity: Option<f32>, rejected: usize },
    /// The store failed or was slow; the query runs uncached.
    Bypassed { reason: String },
}

/// A lookup's value, if any, and why.
#[derive(Debug, Clone)]
pub struct Lookup<T> {
    pub value: Option<T>,
    pub decision: Decision,
}

#[derive(Serialize, Deserialize)]
struct Record<T> {
    query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    embedding: Option<Vec<f32>>,
    value: T,
    cites: Vec<String>,
}

struct Semantic {
    guard: Arc<PairGuard>,
    lsh: Lsh,
}

/// Exact and semantic answer cache over a [`CacheStore`].
pub struct AnswerCache<T> {
    store: Arc<dyn CacheStore>,
    config: CacheConfig,
    semantic: Option<Semantic>,
    last_warning: AtomicU64,
    _value: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for AnswerCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerCache")
            .field("store", &self.store)
            .field("config", &self.config)
            .field("guard", &self.semantic.as_ref().map(|s| s.guard.header()))
            .finish()
    }
}

impl<T: Serialize + DeserializeOwned> AnswerCache<T> {
    /// An exact-only cache; add the semantic layer with [`AnswerCache::with_semantic`].
    pub fn new(store: Arc<dyn CacheStore>, config: CacheConfig) -> Self {
        Self { store, config, semantic: None, last_warning: AtomicU64::new(0), _value: PhantomData }
    }

    /// Enables semantic lookups for embeddings of `embedder` (its `model_id`) and length `dim`,
    /// judged by `guard`, which must have been trained with that embedder.
    pub fn with_semantic(mut self, guard: Arc<PairGuard>, embedder: &str, dim: usize) -> Result<Self, CacheError> {
        guard.check_embedder(embedder, dim)?;
        if self.config.semantic {
            let lsh = Lsh::new(dim, self.config.lsh_tables, self.config.lsh_bits, 0x5EED_CAC4E);
            self.semantic = Some(Semantic { guard, lsh });
        }
        Ok(self)
    }

    /// Whether semantic lookups run (a guard is set and the config enables them).
    pub fn semantic_enabled(&self) -> bool {
        self.semantic.is_some()
    }

    pub fn store(&self) -> &Arc<dyn CacheStore> {
        &self.store
    }

    fn ttl(&self) -> Duration {
        Duration::from_secs(self.config.ttl_secs)
    }

    fn record_key(&self, scope: &str, query: &str) -> (String, String) {
        let id = digest(&normalise(query));
        (format!("{}:e:{scope}:{id}", self.config.namespace), id)
    }

    fn bucket_keys(&self, lsh: &Lsh, scope: &str, embedding: &[f32]) -> Vec<String> {
        let ns = &self.config.namespace;
        lsh.buckets(embedding).iter().enumerate().map(|(t, b)| format!("{ns}:b:{scope}:{t}:{b:x}")).collect()
    }

    fn doc_key(&self, doc: &str) -> String {
        format!("{}:d:{doc}", self.config.namespace)
    }

    /// Counts a store failure and logs it at most once per ten seconds (an outage at 1,000
    /// queries a second must not become 1,000 log lines a second).
    fn bypass(&self, op: &'static str, e: &StoreError) -> Decision {
        metrics::counter!("genai_cache_store_errors_total", "op" => op, "store" => self.store.kind()).increment(1);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let last = self.last_warning.load(Ordering::Relaxed);
        if now >= last + 10
            && self.last_warning.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            tracing::warn!(op, store = self.store.kind(), error = %e, "cache bypassed: the store failed");
        }
        Decision::Bypassed { reason: e.to_string() }
    }

    fn count(&self, decision: &Decision) {
        let outcome = match decision {
            Decision::Exact => "exact",
            Decision::Semantic { .. } => "semantic",
            Decision::Miss { .. } => "miss",
            Decision::Bypassed { .. } => "bypass",
        };
        metrics::counter!("genai_cache_lookups_total", "outcome" => outcome).increment(1);
        if let Decision::Miss { rejected, .. } = decision {
            metrics::counter!("genai_cache_guard_rejections_total").increment(*rejected as u64);
        }
    }

    /// Looks `query` up in `scope`: exactly first, then (with an embedding) semantically.
    pub async fn lookup(&self, scope: &Scope, query: &str, embedding: Option<&[f32]>) -> Lookup<T> {
        let result = self.lookup_inner(&scope.id(), query, embedding).await;
        self.count(&result.decision);
        result
    }

    async fn lookup_inner(&self, scope: &str, query: &str, embedding: Option<&[f32]>) -> Lookup<T> {
        let (key, _) = self.record_key(scope, query);
        match self.store.get(&key).await {
            Ok(Some(bytes)) => {
                if let Ok(r) = serde_json::from_slice::<Record<T>>(&bytes) {
                    return Lookup { value: Some(r.value), decision: Decision::Exact };
                }
                // A record this version cannot read (another value type): treat as absent.
            }
            Ok(None) => {}
            Err(e) => return Lookup { value: None, decision: self.bypass("get", &e) },
        }
        let (Some(sem), Some(embedding)) = (&self.semantic, embedding) else {
            return Lookup { value: None, decision: Decision::Miss { best_similarity: None, rejected: 0 } };
        };
        let buckets = self.bucket_keys(&sem.lsh, scope, embedding);
        let mut ids = match self.store.union(&buckets).await {
            Ok(ids) => ids,
            Err(e) => return Lookup { value: None, decision: self.bypass("union", &e) },
        };
        ids.sort_unstable();
        ids.truncate(self.config.max_candidates);
        let keys: Vec<String> = ids.iter().map(|id| format!("{}:e:{scope}:{id}", self.config.namespace)).collect();
        let records = match self.store.get_many(&keys).await {
            Ok(r) => r,
            Err(e) => return Lookup { value: None, decision: self.bypass("get_many", &e) },
        };
        let mut best: Option<(f32, f32, Record<T>)> = None;
        let mut best_similarity: Option<f32> = None;
        let mut rejected = 0;
        let mut gone = Vec::new();
        for (id, bytes) in ids.iter().zip(records) {
            let Some(record) = bytes.and_then(|b| serde_json::from_slice::<Record<T>>(&b).ok()) else {
                gone.push(id.clone());
                continue;
            };
            let Some(stored) = &record.embedding else { continue };
            let similarity = cosine(embedding, stored);
            best_similarity = Some(best_similarity.map_or(similarity, |b: f32| b.max(similarity)));
            if similarity < self.config.min_cosine {
                continue;
            }
            let p = sem.guard.probability(query, &record.query, embedding, stored);
            if p < sem.guard.header().threshold {
                rejected += 1;
            } else if best.as_ref().is_none_or(|(bp, bs, _)| (p, similarity) > (*bp, *bs)) {
                best = Some((p, similarity, record));
            }
        }
        if !gone.is_empty() {
            // Expired or invalidated records still listed in buckets: tidy up, best effort.
            for b in &buckets {
                let _ = self.store.remove_from_set(b, &gone).await;
            }
        }
        match best {
            Some((guard, similarity, record)) => Lookup {
                value: Some(record.value),
                decision: Decision::Semantic { similarity, guard, matched: record.query },
            },
            None => Lookup { value: None, decision: Decision::Miss { best_similarity, rejected } },
        }
    }

    /// Stores an answer for `query` in `scope`, citing `cites` (document ids). A store failure
    /// is a bypass: counted and logged, not an error.
    pub async fn insert(
        &self,
        scope: &Scope,
        query: &str,
        embedding: Option<&[f32]>,
        value: T,
        cites: &[String],
    ) -> bool {
        let scope = scope.id();
        let (key, id) = self.record_key(&scope, query);
        let embedding = embedding.filter(|_| self.semantic.is_some());
        let record =
            Record { query: query.to_owned(), embedding: embedding.map(<[f32]>::to_vec), value, cites: cites.to_vec() };
        let Ok(bytes) = serde_json::to_vec(&record) else { return false };
        let ttl = self.ttl();
        // Document links first: an answer must never be findable before it can be invalidated.
        for doc in cites {
            if let Err(e) = self.store.add_to_set(&self.doc_key(doc), &key, ttl).await {
                self.bypass("add_to_set", &e);
                return false;
            }
        }
        if let Err(e) = self.store.put(&key, &bytes, ttl).await {
            self.bypass("put", &e);
            return false;
        }
        if let (Some(sem), Some(embedding)) = (&self.semantic, embedding) {
            for bucket in self.bucket_keys(&sem.lsh, &scope, embedding) {
                if let Err(e) = self.store.add_to_set(&bucket, &id, ttl).await {
                    self.bypass("add_to_set", &e);
                    return false;
                }
            }
        }
        true
    }

    /// Removes every cached answer that cites any of `docs`, in every scope. Returns how many
    /// records were removed. Unlike lookups, a store failure is an error here: the caller must
    /// not assume stale answers are gone (bump the corpus version in the scope instead).
    pub async fn invalidate_documents(&self, docs: &[String]) -> Result<u64, CacheError> {
        let mut removed = 0;
        for doc in docs {
            let set = self.doc_key(doc);
            let mut keys = self.store.union(std::slice::from_ref(&set)).await?;
            keys.retain(|k| k.starts_with(&format!("{}:e:", self.config.namespace)));
            removed += self.store.delete(&keys).await?;
            self.store.delete(&[set]).await?;
        }
        metrics::counter!("genai_cache_invalidated_total").increment(removed);
        Ok(removed)
    }
}
