//! Reranking: a second, more careful look at the top of a fused result list.
//!
//! [`Reranker`] rescores candidate hits for a query and says why (the scores or features that
//! decided). [`Reranking`] applies one to the top `n` of a search under a latency budget: a
//! reranker that fails or runs out of time leaves the fused order in place, counted by the
//! `rerank_fallbacks_total` metric and logged, never an error for the caller.
//!
//! Implementations: [`LearnedReranker`] (the offline default: gradient-boosted trees over
//! [`features`], trained by `genai-eval train-reranker`, one trained on BEIR SciFact bundled) and
//! [`RemoteReranker`] (a cross-encoder served over HTTP in the `/rerank` shape of Jina, Cohere,
//! TEI and vLLM).

pub mod features;
mod learned;
mod remote;

pub use learned::{LearnedReranker, ModelHeader, RankObjective, TrainParams, TrainingSet, train};
pub use remote::{RemoteReranker, RemoteRerankerConfig};

use crate::{Hit, TermStats};
use async_trait::async_trait;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One candidate after reranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reranked {
    pub hit: Hit,
    /// The reranker's score (higher is better; comparable within one query only).
    pub score: f32,
    /// Position in the fused list before reranking, from 0.
    pub fused_rank: usize,
    /// What decided, for display: named feature values or the remote model's raw score.
    pub evidence: Vec<(String, f32)>,
}

/// What a reranker may use besides the candidates: the index's term statistics for the query
/// terms (IDF), when the backend has them cheaply.
#[derive(Debug, Clone, Default)]
pub struct RerankContext {
    pub term_stats: Option<TermStats>,
}

/// Why reranking did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RerankError {
    #[error("reranker service at {url} failed: {reason}")]
    Remote { url: String, reason: String },
    #[error("reranker answered {got} scores for {sent} documents")]
    Malformed { sent: usize, got: usize },
    #[error("reranker model is unusable: {0}")]
    Model(String),
}

// ANCHOR: reranker_trait
/// Rescores candidates for a query. Must return every candidate exactly once (the order is
/// the new ranking, best first); [`Reranking`] checks this and falls back if not.
#[async_trait]
pub trait Reranker: Send + Sync + std::fmt::Debug {
    /// A short name for traces and pages (`learned:scifact`, `remote:bge-reranker`).
    fn name(&self) -> &str;

    async fn rerank(
        &self,
        query: &str,
        candidates: Vec<Hit>,
        ctx: &RerankContext,
    ) -> Result<Vec<Reranked>, RerankError>;
}
// ANCHOR_END: reranker_trait

/// How a search was reranked.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RerankOutcome {
    Reranked {
        reranker: String,
        candidates: usize,
        millis: f64,
    },
    /// The fused order was kept.
    Fallback {
        reranker: String,
        reason: String,
        millis: f64,
    },
}

/// A reranker applied to the top `top_n` of a result list within `budget`.
/// Defaults: top 50, 200 ms.
#[derive(Debug, Clone)]
pub struct Reranking {
    pub reranker: Arc<dyn Reranker>,
    pub top_n: usize,
    pub budget: Duration,
}

impl Reranking {
    pub fn new(reranker: Arc<dyn Reranker>) -> Self {
        Self { reranker, top_n: 50, budget: Duration::from_millis(200) }
    }

    // ANCHOR: apply
    /// Reranks the first `top_n` hits (the rest keep their order after them) and returns the
    /// new list with the reranker's evidence. On failure, timeout or a malformed answer, the
    /// fused order comes back unchanged with the reason.
    pub async fn apply(&self, query: &str, hits: Vec<Hit>, ctx: &RerankContext) -> (Vec<Reranked>, RerankOutcome) {
        let started = Instant::now();
        let name = self.reranker.name().to_owned();
        let cut = self.top_n.min(hits.len());
        let head: Vec<Hit> = hits[..cut].to_vec();
        let result = tokio::time::timeout(self.budget, self.reranker.rerank(query, head, ctx)).await;
        let millis = started.elapsed().as_secs_f64() * 1e3;
        let reason = match result {
            Ok(Ok(reranked)) if is_permutation(&reranked, &hits[..cut]) => {
                metrics::histogram!("rerank_seconds", "reranker" => name.clone()).record(millis / 1e3);
                let mut out = reranked;
                out.extend(fused(hits.into_iter().enumerate().skip(cut)));
                return (out, RerankOutcome::Reranked { reranker: name, candidates: cut, millis });
            }
            Ok(Ok(reranked)) => RerankError::Malformed { sent: cut, got: reranked.len() }.to_string(),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("over its {} ms budget", self.budget.as_millis()),
        };
        metrics::counter!("rerank_fallbacks_total", "reranker" => name.clone()).increment(1);
        tracing::warn!(reranker = %name, %reason, "reranking skipped; keeping the fused order");
        (fused(hits.into_iter().enumerate()), RerankOutcome::Fallback { reranker: name, reason, millis })
    }
    // ANCHOR_END: apply
}

fn fused(hits: impl Iterator<Item = (usize, Hit)>) -> Vec<Reranked> {
    hits.map(|(i, hit)| Reranked { score: hit.score, hit, fused_rank: i, evidence: Vec::new() }).collect()
}

/// Every input id exactly once, nothing else.
fn is_permutation(out: &[Reranked], input: &[Hit]) -> bool {
    let mut a: Vec<_> = out.iter().map(|r| r.hit.chunk.id).collect();
    let mut b: Vec<_> = input.iter().map(|h| h.chunk.id).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}
