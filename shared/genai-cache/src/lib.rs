//! Answer caches for the services of stages 2 and 3.
//!
//! - [`AnswerCache`]: an exact cache (the normalised query) and a semantic cache (a nearby query
//!   embedding that the [`guard::PairGuard`] accepts as the same question), both inside a
//!   [`Scope`] — tenant, model, prompt version, settings, filters, corpus version — so nothing
//!   is ever served across any of them. Every entry records the documents its answer cites, and
//!   [`AnswerCache::invalidate_documents`] removes exactly those entries.
//! - [`store`]: the storage seam, [`store::MemoryStore`] in-process by default and
//!   [`store::RedisStore`] for replicas, both passing [`store::conformance::suite`].
//! - A store that fails or is slow makes the cache *bypass* (a miss with a reason, a metric and
//!   a rate-limited log line), never fail the query.

mod cache;
pub mod guard;
mod lsh;
pub mod store;

pub use cache::{AnswerCache, CacheConfig, CacheError, Decision, Lookup};
pub use lsh::cosine;
pub use store::{CacheStore, StoreError, StoreSpec};

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Everything an answer depends on besides the question. Two lookups share entries only when
/// their scopes are equal, part for part.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Scope {
    parts: BTreeMap<String, String>,
}

impl Scope {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a part (`tenant`, `model`, `prompt`, `filters`, `corpus`, ...). Filters should be
    /// given in a canonical form (sorted keys), so equal filters make equal scopes.
    pub fn with(mut self, key: &str, value: impl std::fmt::Display) -> Self {
        self.parts.insert(key.to_owned(), value.to_string());
        self
    }

    /// A stable id: the hash of the sorted parts (length-prefixed, so no two scopes collide by
    /// concatenation).
    pub fn id(&self) -> String {
        let mut h = Sha256::new();
        for (k, v) in &self.parts {
            for s in [k, v] {
                h.update((s.len() as u64).to_le_bytes());
                h.update(s.as_bytes());
            }
        }
        hex::encode(&h.finalize()[..12])
    }
}

/// The form a query is compared in by the exact cache: Unicode-lowercased, whitespace collapsed,
/// trailing punctuation and spaces removed. "What is RAG?" and "what  is rag" are one entry;
/// "what is rag not" is not.
pub fn normalise(query: &str) -> String {
    let collapsed = query.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    collapsed
        .trim_end_matches(|c: char| matches!(c, '?' | '.' | '!' | '。' | '？' | '！') || c.is_whitespace())
        .to_owned()
}

fn digest(s: &str) -> String {
    hex::encode(&Sha256::digest(s.as_bytes())[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalising_keeps_meaning_words() {
        assert_eq!(normalise("  What is   RAG?? "), "what is rag");
        assert_eq!(normalise("What is RAG"), normalise("what is rag?"));
        assert_ne!(normalise("is it safe"), normalise("is it not safe"));
    }

    #[test]
    fn scopes_differ_by_any_part_and_not_by_insertion_order() {
        let a = Scope::new().with("tenant", "acme").with("model", "m1");
        let b = Scope::new().with("model", "m1").with("tenant", "acme");
        assert_eq!(a.id(), b.id());
        assert_ne!(a.id(), a.clone().with("filters", "{\"type\":\"pdf\"}").id());
        // Concatenation cannot make two scopes equal.
        assert_ne!(Scope::new().with("ab", "c").id(), Scope::new().with("a", "bc").id());
    }

    proptest! {
        #[test]
        fn normalising_is_idempotent(q in "\\PC{0,40}") {
            let once = normalise(&q);
            prop_assert_eq!(normalise(&once), once);
        }
    }
}
