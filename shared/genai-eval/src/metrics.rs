//! Ranking metrics with trec_eval's definitions (the ones BEIR reports through pytrec_eval):
//!
//! - nDCG@k: `Σ_{i≤k} rel_i / log2(i+1)` over the ideal ordering's value; gains are the graded
//!   relevance itself (trec_eval's `ndcg_cut`), not `2^rel − 1`;
//! - recall@k: relevant documents in the top k over all relevant documents;
//! - MRR@k: reciprocal rank of the first relevant document within the top k;
//! - MAP@k: `Σ_{i≤k, rel_i>0} precision@i` over all relevant documents (trec_eval's `map_cut`).
//!
//! A document is relevant when its judgment is above 0; unjudged documents count as 0.

use serde::Serialize;
use std::collections::HashMap;

/// Scores for one query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct QueryScores {
    pub ndcg: f64,
    pub recall: f64,
    pub mrr: f64,
    pub map: f64,
}

/// Scores `ranked` (best first) against `judged` at cut-off `k`.
pub fn score(ranked: &[String], judged: &HashMap<String, u32>, k: usize) -> QueryScores {
    let relevant = judged.values().filter(|&&r| r > 0).count();
    if relevant == 0 || k == 0 {
        return QueryScores::default();
    }
    let top = &ranked[..ranked.len().min(k)];
    let rel = |doc: &String| judged.get(doc).copied().unwrap_or(0);
    let dcg: f64 = top.iter().enumerate().map(|(i, d)| rel(d) as f64 / (i as f64 + 2.0).log2()).sum();
    let mut ideal: Vec<u32> = judged.values().copied().filter(|&r| r > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal.iter().take(k).enumerate().map(|(i, &r)| r as f64 / (i as f64 + 2.0).log2()).sum();
    let hits = top.iter().filter(|d| rel(d) > 0).count();
    let mrr = top.iter().position(|d| rel(d) > 0).map_or(0.0, |i| 1.0 / (i as f64 + 1.0));
    let mut found = 0usize;
    let mut precision_sum = 0.0;
    for (i, d) in top.iter().enumerate() {
        if rel(d) > 0 {
            found += 1;
            precision_sum += found as f64 / (i as f64 + 1.0);
        }
    }
    QueryScores { ndcg: dcg / idcg, recall: hits as f64 / relevant as f64, mrr, map: precision_sum / relevant as f64 }
}

/// The mean of each metric over queries.
pub fn mean(scores: &[QueryScores]) -> QueryScores {
    let n = scores.len().max(1) as f64;
    QueryScores {
        ndcg: scores.iter().map(|s| s.ndcg).sum::<f64>() / n,
        recall: scores.iter().map(|s| s.recall).sum::<f64>() / n,
        mrr: scores.iter().map(|s| s.mrr).sum::<f64>() / n,
        map: scores.iter().map(|s| s.map).sum::<f64>() / n,
    }
}

/// The `p`-th percentile (0–100) by nearest rank, of unsorted samples.
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * s.len() as f64).ceil().max(1.0) as usize;
    s[rank.min(s.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn judged(pairs: &[(&str, u32)]) -> HashMap<String, u32> {
        pairs.iter().map(|(d, r)| (d.to_string(), *r)).collect()
    }

    fn ranked(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn matches_hand_computed_trec_eval_values() {
        // Relevant: a (2), b (1). Ranking: x, a, y, b.
        let s = score(&ranked(&["x", "a", "y", "b"]), &judged(&[("a", 2), ("b", 1), ("z", 0)]), 10);
        let dcg = 2.0 / 3f64.log2() + 1.0 / 5f64.log2();
        let idcg = 2.0 / 2f64.log2() + 1.0 / 3f64.log2();
        assert!((s.ndcg - dcg / idcg).abs() < 1e-12);
        assert_eq!(s.recall, 1.0);
        assert_eq!(s.mrr, 0.5);
        assert!((s.map - (0.5 + 0.5) / 2.0).abs() < 1e-12);
        let cut = score(&ranked(&["x", "a", "y", "b"]), &judged(&[("a", 2), ("b", 1)]), 2);
        assert_eq!(cut.recall, 0.5);
        assert!((cut.map - 0.5 / 2.0).abs() < 1e-12, "map_cut divides by all relevant");
        assert_eq!(percentile(&[5.0, 1.0, 3.0, 2.0, 4.0], 50.0), 3.0);
        assert_eq!(percentile(&[5.0, 1.0, 3.0, 2.0, 4.0], 95.0), 5.0);
    }

    proptest! {
        #[test]
        fn metrics_are_bounded_and_the_ideal_ranking_is_perfect(
            rels in prop::collection::vec(0u32..3, 1..30),
            perm in prop::collection::vec(any::<u32>(), 30),
            k in 1usize..40,
        ) {
            let judged: HashMap<String, u32> = rels.iter().enumerate().map(|(i, &r)| (format!("d{i}"), r)).collect();
            let mut docs: Vec<String> = judged.keys().cloned().collect();
            docs.sort_by_key(|d| perm[d[1..].parse::<usize>().unwrap() % perm.len()]);
            let s = score(&docs, &judged, k);
            for v in [s.ndcg, s.recall, s.mrr, s.map] {
                prop_assert!((0.0..=1.0 + 1e-9).contains(&v));
            }
            let mut ideal = docs.clone();
            ideal.sort_by_key(|d| std::cmp::Reverse(judged[d]));
            if rels.iter().any(|&r| r > 0) {
                prop_assert!((score(&ideal, &judged, k).ndcg - 1.0).abs() < 1e-9);
            }
        }
    }
}
