//! A trained policy in a file: what `cost-optimizer eval --save-policy` writes (the policy chosen
//! on training data for each task) and `cost-optimizer serve` applies to live prompts.
//!
//! The file holds everything a decision needs and nothing of the data it was trained on beyond
//! what the router itself is (the kNN router *is* its training embeddings and outcomes): the
//! recorded models' names and relative prices, the embedder it was trained with (a live prompt
//! must be embedded the same way), and the router or cascade with its operating point.

use crate::cascade::scorer_row;
use crate::curve::Point;
use crate::router::{BoostedRouter, Example, KnnRouter, Router, choose, probability};
use hessboost::prelude::BoostedModel;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The file format's version; a reader refuses others.
pub const FORMAT: u32 = 1;

/// A policy as saved.
#[derive(Serialize, Deserialize)]
pub struct SavedPolicy {
    pub format: u32,
    /// The task it was trained on (`arc-challenge`, `mmlu`, ...).
    pub task: String,
    /// The embedder's model id and dimension; the gateway refuses a different one.
    pub embedder: String,
    pub dim: usize,
    /// The recorded models, as the data names them.
    pub models: Vec<String>,
    /// Each model's mean training cost relative to the dearest (what `choose` weighs).
    pub price: Vec<f64>,
    /// The operating point's out-of-fold accuracy and mean cost on the training split.
    pub train_point: Point,
    pub kind: PolicyKind,
}

impl std::fmt::Debug for SavedPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedPolicy")
            .field("task", &self.task)
            .field("embedder", &self.embedder)
            .field("models", &self.models)
            .field("kind", &self.kind.name())
            .finish()
    }
}

/// The decision rule.
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PolicyKind {
    /// The model maximising `p − lambda × price` by the kNN router's estimates.
    Knn { router: KnnRouter, lambda: f64 },
    /// The same rule with the boosted classifiers' estimates (one per model).
    Boosted { router: BoostedRouter, lambda: f64 },
    /// Ask `chain[0]`; accept its answer when its scorer reaches `thresholds[0]`, else ask the
    /// next; the last model's answer is always accepted.
    Cascade { chain: Vec<usize>, thresholds: Vec<f64>, scorers: Vec<BoostedModel> },
}

impl std::fmt::Debug for PolicyKind {
    /// The name only: the routers hold thousands of numbers.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl PolicyKind {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Knn { .. } => "knn",
            Self::Boosted { .. } => "boosted",
            Self::Cascade { .. } => "cascade",
        }
    }
}

/// What to do with one prompt.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Send it to this model. `p` are the router's estimates for every model.
    Route { model: usize, p: Vec<f64> },
    /// Ask these models in turn, accepting step `k`'s answer at `thresholds[k]`.
    Cascade { chain: Vec<usize>, thresholds: Vec<f64> },
}

/// Why a policy file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("invalid policy {path}: {source}")]
    Parse { path: String, source: serde_json::Error },
    #[error("policy {path} has format {found}; this build reads format {FORMAT}")]
    Format { path: String, found: u32 },
    #[error("policy {path} is inconsistent: {reason}")]
    Inconsistent { path: String, reason: String },
}

impl SavedPolicy {
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, serde_json::to_vec(self).map_err(std::io::Error::other)?)
    }

    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let p = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| PolicyError::Io { path: p.clone(), source })?;
        let policy: Self =
            serde_json::from_slice(&bytes).map_err(|source| PolicyError::Parse { path: p.clone(), source })?;
        if policy.format != FORMAT {
            return Err(PolicyError::Format { path: p, found: policy.format });
        }
        let bad = |reason: String| PolicyError::Inconsistent { path: p.clone(), reason };
        let n = policy.models.len();
        if n == 0 || policy.price.len() != n {
            return Err(bad(format!("{n} models but {} prices", policy.price.len())));
        }
        match &policy.kind {
            PolicyKind::Boosted { router, .. } if router.models() != n => {
                return Err(bad(format!("{} classifiers for {n} models", router.models())));
            }
            PolicyKind::Knn { router, .. } if router.models() != n => {
                return Err(bad(format!("the kNN router knows {} models, the file {n}", router.models())));
            }
            PolicyKind::Cascade { chain, thresholds, scorers } => {
                if chain.len() < 2 || chain.iter().any(|&m| m >= n) {
                    return Err(bad(format!("chain {chain:?} over {n} models")));
                }
                if thresholds.len() != chain.len() - 1 || scorers.len() != chain.len() - 1 {
                    return Err(bad(format!(
                        "a chain of {} needs {} thresholds and scorers, found {} and {}",
                        chain.len(),
                        chain.len() - 1,
                        thresholds.len(),
                        scorers.len()
                    )));
                }
            }
            _ => {}
        }
        Ok(policy)
    }

    /// What to do with prompt `x`, using only the models `available` marks (those the gateway
    /// has an upstream for). `None` when no usable model is available (for a cascade: when any
    /// step of its chain is not).
    pub fn plan(&self, x: &Example, available: &[bool]) -> Option<Plan> {
        let usable = |m: usize| available.get(m).copied().unwrap_or(false);
        let route = |p: Vec<f64>, lambda: f64| {
            // Unavailable models get an estimate no available one can lose to.
            let masked: Vec<f64> = p.iter().enumerate().map(|(m, &v)| if usable(m) { v } else { -1e9 }).collect();
            let model = choose(&masked, &self.price, lambda);
            usable(model).then_some(Plan::Route { model, p })
        };
        match &self.kind {
            PolicyKind::Knn { router, lambda } => route(router.predict(x), *lambda),
            PolicyKind::Boosted { router, lambda } => route(router.predict(x), *lambda),
            // Each step's scorer was trained on the answers of the steps before it: the chain
            // runs whole or not at all.
            PolicyKind::Cascade { chain, thresholds, .. } => chain
                .iter()
                .all(|&m| usable(m))
                .then(|| Plan::Cascade { chain: chain.clone(), thresholds: thresholds.clone() }),
        }
    }

    /// The cascade scorer's probability that the last of `answers` (given by the models of
    /// `prefix`, in chain order) is correct. `None` outside a cascade or for a prefix the
    /// cascade was not trained on (a skipped step changes what the scorers saw).
    pub fn score(&self, x: &Example, prefix: &[usize], answers: &[&str]) -> Option<f64> {
        let PolicyKind::Cascade { chain, scorers, .. } = &self.kind else { return None };
        let k = prefix.len().checked_sub(1)?;
        if prefix != chain.get(..prefix.len())? || answers.len() != prefix.len() {
            return None;
        }
        Some(probability(scorers.get(k)?, &scorer_row(x, answers)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(v: [f32; 2]) -> Example {
        Example { embedding: v.to_vec(), shape: vec![0.0] }
    }

    fn knn_policy() -> SavedPolicy {
        // Model 0 (cheap) is right near the x-axis, model 1 (dear) everywhere.
        let xs: Vec<Example> = (0..20).flat_map(|_| [ex([1.0, 0.0]), ex([0.0, 1.0])]).collect();
        let ys: Vec<Vec<f64>> = (0..20).flat_map(|_| [vec![1.0, 1.0], vec![0.0, 1.0]]).collect();
        SavedPolicy {
            format: FORMAT,
            task: "t".into(),
            embedder: "e".into(),
            dim: 2,
            models: vec!["cheap".into(), "dear".into()],
            price: vec![0.1, 1.0],
            train_point: Point { knob: 0.3, cost: 0.5, quality: 1.0 },
            kind: PolicyKind::Knn { router: KnnRouter::train(&xs, &ys, 5), lambda: 0.3 },
        }
    }

    #[test]
    fn a_saved_router_routes_the_same_after_loading_and_respects_availability() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        knn_policy().save(&path).unwrap();
        let p = SavedPolicy::load(&path).unwrap();
        let plan = |x, avail: &[bool]| match p.plan(&ex(x), avail) {
            Some(Plan::Route { model, .. }) => Some(model),
            other => panic!("{other:?}"),
        };
        assert_eq!(plan([1.0, 0.0], &[true, true]), Some(0), "the cheap model's topic");
        assert_eq!(plan([0.0, 1.0], &[true, true]), Some(1), "only the dear model is right here");
        assert_eq!(plan([0.0, 1.0], &[true, false]), Some(0), "the dear model has no upstream");
        assert_eq!(p.plan(&ex([1.0, 0.0]), &[false, false]), None);
    }

    #[test]
    fn broken_files_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        let mut p = knn_policy();
        p.price.pop();
        p.save(&path).unwrap();
        let e = SavedPolicy::load(&path).unwrap_err().to_string();
        assert!(e.contains("2 models but 1 prices"), "{e}");
        let mut p = knn_policy();
        p.format = 99;
        p.save(&path).unwrap();
        assert!(SavedPolicy::load(&path).unwrap_err().to_string().contains("format 99"));
        std::fs::write(&path, "{").unwrap();
        assert!(matches!(SavedPolicy::load(&path), Err(PolicyError::Parse { .. })));
    }
}
