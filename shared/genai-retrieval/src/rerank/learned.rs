//! The offline default reranker: LambdaMART (gradient-boosted trees optimising nDCG, from the
//! `hessboost` crate, deterministic on any thread count) over [`features`](super::features).
//!
//! A model file is a small JSON header line (format, feature names, what it was trained on,
//! the training parameters) followed by hessboost's own binary model. `train` is deterministic,
//! so `genai-eval train-reranker` reproduces the bundled file byte for byte.

use super::features::{self, NAMES, QueryTerms};
use super::{RerankContext, RerankError, Reranked, Reranker};
use crate::Hit;
use async_trait::async_trait;
use hessboost::prelude::*;
use serde::{Deserialize, Serialize};

const MAGIC: &[u8] = b"genai-reranker\n";
const FORMAT: u32 = 1;
/// The bundled model: trained on BEIR SciFact's train split with MiniLM hybrid candidates
/// (`genai-eval train-reranker --beir <scifact> --split train --embedder minilm`).
const BUNDLED: &[u8] = include_bytes!("../../data/reranker-scifact.bin");

/// What a model file says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelHeader {
    pub format: u32,
    pub features: Vec<String>,
    /// Free text: dataset, split, candidate mode, embedder.
    pub trained_on: String,
    pub params: TrainParams,
}

/// What the trees optimise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RankObjective {
    /// LambdaMART on nDCG (listwise).
    #[default]
    Ndcg,
    /// LambdaMART on pairwise loss.
    Pairwise,
    /// Each candidate classified relevant or not, on its own (binary logistic).
    Pointwise,
}

/// LambdaMART settings. Defaults: nDCG objective, 300 rounds of depth-4 trees, learning rate
/// 0.05, at least 5 rows per leaf, seed 7.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainParams {
    pub objective: RankObjective,
    pub rounds: usize,
    pub max_depth: u32,
    pub eta: f32,
    pub min_child_weight: f32,
    pub seed: u64,
}

impl Default for TrainParams {
    fn default() -> Self {
        Self { objective: RankObjective::Ndcg, rounds: 300, max_depth: 4, eta: 0.05, min_child_weight: 5.0, seed: 7 }
    }
}

/// Queries with their candidates' feature vectors and graded relevance.
#[derive(Debug, Clone, Default)]
pub struct TrainingSet {
    /// One entry per query: (feature rows, relevance per row). Queries without any relevant
    /// candidate teach nothing to a listwise objective and are skipped by [`train`].
    pub groups: Vec<(Vec<[f32; NAMES.len()]>, Vec<f32>)>,
}

impl TrainingSet {
    /// Adds a query: its candidates in fused order and their relevance grades.
    pub fn push(&mut self, query: &str, candidates: &[Hit], ctx: &RerankContext, relevance: Vec<f32>) {
        let q = QueryTerms::new(query, ctx.term_stats.as_ref(), candidates);
        self.groups.push((features::extract(&q, candidates), relevance));
    }
}

/// Fits a model. Deterministic: the same set and parameters give the same bytes.
pub fn train(set: &TrainingSet, params: TrainParams, trained_on: &str) -> Result<LearnedReranker, RerankError> {
    let err = |e: HessboostError| RerankError::Model(e.to_string());
    let groups: Vec<_> = set.groups.iter().filter(|(_, rel)| rel.iter().any(|&r| r > 0.0)).collect();
    if groups.is_empty() {
        return Err(RerankError::Model("no query has a relevant candidate to learn from".into()));
    }
    let mut x = Vec::new();
    let mut y = Vec::new();
    let mut sizes = Vec::new();
    for (rows, rel) in &groups {
        x.extend(rows.iter().flatten());
        y.extend(rel);
        sizes.push(rows.len());
    }
    let n = y.len();
    let lambda = hessboost::objective::LambdaRank::default;
    let objective = match params.objective {
        RankObjective::Ndcg => Objective::RankNdcg(lambda()),
        RankObjective::Pairwise => Objective::RankPairwise(lambda()),
        RankObjective::Pointwise => Objective::BinaryLogitRaw(RegLoss::default()),
    };
    // A pointwise model learns relevant (grade > 0) against not.
    if params.objective == RankObjective::Pointwise {
        y.iter_mut().for_each(|r| *r = f32::from(u8::from(*r > 0.0)));
    }
    let data = DMatrix::from_dense(&x, n, NAMES.len())
        .and_then(|d| d.with_labels(&y))
        .and_then(|d| d.with_group_sizes(&sizes))
        .map_err(err)?;
    let hb = TrainingParams::builder()
        .objective(objective)
        .max_depth(params.max_depth as usize)
        .eta(f64::from(params.eta))
        .min_child_weight(f64::from(params.min_child_weight))
        .seed(params.seed)
        .build()
        .map_err(err)?;
    let booster = hessboost::training::train(&hb, &data, params.rounds).map_err(err)?;
    let header = ModelHeader {
        format: FORMAT,
        features: NAMES.iter().map(|s| (*s).to_owned()).collect(),
        trained_on: trained_on.to_owned(),
        params,
    };
    Ok(LearnedReranker { name: format!("learned:{}", short(trained_on)), header, booster })
}

fn short(trained_on: &str) -> String {
    trained_on.split_whitespace().next().unwrap_or("model").to_owned()
}

/// Gradient-boosted trees over the candidate features.
pub struct LearnedReranker {
    name: String,
    header: ModelHeader,
    booster: BoostedModel,
}

impl std::fmt::Debug for LearnedReranker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LearnedReranker").field("name", &self.name).field("header", &self.header).finish()
    }
}

impl LearnedReranker {
    /// The model bundled with the project (trained on SciFact train).
    pub fn bundled() -> Result<Self, RerankError> {
        Self::from_bytes(BUNDLED)
    }

    pub fn load(path: &std::path::Path) -> Result<Self, RerankError> {
        let bytes = std::fs::read(path).map_err(|e| RerankError::Model(format!("{}: {e}", path.display())))?;
        Self::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RerankError> {
        let bad = |why: &str| RerankError::Model(why.to_owned());
        let rest = bytes.strip_prefix(MAGIC).ok_or_else(|| bad("not a reranker model file"))?;
        let newline = rest.iter().position(|&b| b == b'\n').ok_or_else(|| bad("missing header"))?;
        let header: ModelHeader =
            serde_json::from_slice(&rest[..newline]).map_err(|e| RerankError::Model(format!("header: {e}")))?;
        if header.format != FORMAT || header.features != NAMES {
            return Err(bad("model was trained with another feature set; retrain it with `genai-eval train-reranker`"));
        }
        let booster = BoostedModel::decode(&rest[newline + 1..], ModelFormat::Binary)
            .map_err(|e| RerankError::Model(e.to_string()))?;
        Ok(Self { name: format!("learned:{}", short(&header.trained_on)), header, booster })
    }

    /// The file bytes: magic, header line, hessboost's binary model.
    pub fn to_bytes(&self) -> Result<Vec<u8>, RerankError> {
        let mut out = MAGIC.to_vec();
        out.extend(serde_json::to_vec(&self.header).map_err(|e| RerankError::Model(e.to_string()))?);
        out.push(b'\n');
        out.extend(self.booster.encode(ModelFormat::Binary).map_err(|e| RerankError::Model(e.to_string()))?);
        Ok(out)
    }

    pub fn header(&self) -> &ModelHeader {
        &self.header
    }

    /// Scores, with every feature's value as evidence, without the async wrapper.
    pub fn score(&self, query: &str, candidates: Vec<Hit>, ctx: &RerankContext) -> Result<Vec<Reranked>, RerankError> {
        let q = QueryTerms::new(query, ctx.term_stats.as_ref(), &candidates);
        let rows = features::extract(&q, &candidates);
        let mut out = Vec::with_capacity(candidates.len());
        for (i, (hit, row)) in candidates.into_iter().zip(&rows).enumerate() {
            let score = self
                .booster
                .predict_margin_row(row, Iterations::Best)
                .map_err(|e| RerankError::Model(e.to_string()))?;
            let evidence = NAMES.iter().zip(row).map(|(n, v)| ((*n).to_owned(), *v)).collect();
            out.push(Reranked { hit, score, fused_rank: i, evidence });
        }
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.fused_rank.cmp(&b.fused_rank)));
        Ok(out)
    }
}

#[async_trait]
impl Reranker for LearnedReranker {
    fn name(&self) -> &str {
        &self.name
    }

    async fn rerank(
        &self,
        query: &str,
        candidates: Vec<Hit>,
        ctx: &RerankContext,
    ) -> Result<Vec<Reranked>, RerankError> {
        // Microseconds of arithmetic per candidate: cheaper inline than a hop to the blocking pool.
        self.score(query, candidates, ctx)
    }
}
