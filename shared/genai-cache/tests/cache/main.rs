//! genai-cache's tests: the store conformance suite on both backends, and the answer cache's
//! behaviour (scopes, the guard, invalidation, bypass) on the in-process store and on Redis.

mod answers;
mod store;

use genai_cache::guard::{self, GuardParams, PairGuard};
use std::sync::Arc;

/// `REDIS_URL`, or None (tests print SKIPPED). Set but unreachable is a failure, not a skip.
pub fn redis_url() -> Option<String> {
    let url = std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("SKIPPED: Redis tests (REDIS_URL is not set)");
    }
    url
}

/// A guard (8-dimensional embeddings) that learned "same question when the cosine is at least
/// 0.9" from synthetic pairs,
/// so the cache's mechanics are tested apart from the bundled models' judgement.
pub fn cosine_guard() -> Arc<PairGuard> {
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for i in 0..400 {
        let c = i as f32 / 400.0;
        let (u, v) = (at_cosine(1.0), at_cosine(c));
        rows.push(guard::features::extract("how do i reset my password", "how can i reset my password", &u, &v));
        labels.push(c >= 0.9);
    }
    let params = GuardParams { rounds: 20, max_depth: 2, min_child_weight: 1.0, ..GuardParams::default() };
    Arc::new(guard::train(&rows, &labels, params, "test-embedder", "synthetic").unwrap())
}

/// A unit vector in 8 dimensions at cosine `c` from the first axis.
pub fn at_cosine(c: f32) -> Vec<f32> {
    let mut v = vec![0.0; 8];
    v[0] = c;
    v[1] = (1.0 - c * c).sqrt();
    v
}
