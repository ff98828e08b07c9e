//! Reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009): each leg contributes
//! `weight / (k + rank)` for every document it ranks, ranks from 1. It needs no score
//! normalisation, so BM25 scores and cosine similarities combine without calibration.

use crate::ScoredId;
use genai_core::ChunkId;
use std::collections::HashMap;

/// RRF settings. Defaults: k = 60 (the paper's value), both legs weighted 1.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Fusion {
    pub k: f32,
    pub dense_weight: f32,
    pub keyword_weight: f32,
}

impl Default for Fusion {
    fn default() -> Self {
        Self { k: 60.0, dense_weight: 1.0, keyword_weight: 1.0 }
    }
}

// ANCHOR: rrf
/// Fuses ranked lists (each best-first) with per-list weights; returns the top `limit`,
/// best-first, ties broken by id so results are deterministic.
pub fn rrf(lists: &[(&[ScoredId], f32)], k: f32, limit: usize) -> Vec<ScoredId> {
    let mut scores: HashMap<ChunkId, f32> = HashMap::new();
    for (list, weight) in lists {
        for (rank, hit) in list.iter().enumerate() {
            *scores.entry(hit.id).or_default() += weight / (k + rank as f32 + 1.0);
        }
    }
    let mut fused: Vec<ScoredId> = scores.into_iter().map(|(id, score)| ScoredId { id, score }).collect();
    fused.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    fused.truncate(limit);
    fused
}
// ANCHOR_END: rrf

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(xs: &[u64]) -> Vec<ScoredId> {
        xs.iter().map(|&i| ScoredId { id: ChunkId::from_raw(i), score: 0.0 }).collect()
    }

    #[test]
    fn documents_ranked_well_by_both_legs_win() {
        let dense = ids(&[1, 2, 3]);
        let keyword = ids(&[3, 4, 1]);
        let fused = rrf(&[(&dense, 1.0), (&keyword, 1.0)], 60.0, 10);
        let order: Vec<u64> = fused.iter().map(|h| h.id.get()).collect();
        assert_eq!(order, vec![1, 3, 2, 4]);
        assert!((fused[0].score - (1.0 / 61.0 + 1.0 / 63.0)).abs() < 1e-6);
        let keyword_only = rrf(&[(&dense, 0.0), (&keyword, 1.0)], 60.0, 2);
        assert_eq!(keyword_only.iter().map(|h| h.id.get()).collect::<Vec<_>>(), vec![3, 4]);
    }
}
