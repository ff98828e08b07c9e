//! The pair guard: is a cached question the same question as the new one?
//!
//! A cosine threshold cannot tell "flights from Paris to Rome" from "flights from Rome to Paris"
//! (same words, opposite meaning) and still hit real rephrasings. The guard is a small
//! classifier — gradient-boosted trees from `hessboost`, binary logistic, deterministic — over
//! [`features`]: the cosine plus word order, numbers, negation, names and one-sided words, and
//! the embeddings' element-wise difference and product. It
//! is trained on labelled pairs (`genai-eval train-pair-guard`), and its model file carries the
//! decision threshold calibrated on the training pairs, the embedder whose cosine it was trained
//! with, and what it was trained on.

pub mod features;

use hessboost::prelude::*;
use serde::{Deserialize, Serialize};

pub use features::{NAMES, Row};

const MAGIC: &[u8] = b"genai-pair-guard\n";
const FORMAT: u32 = 2;

/// Bundled models, trained on the even-id halves of PAWS-Wiki dev and QQP dev
/// (`genai-eval train-pair-guard --embedder <e> --out <file>`; see the crate README).
const BUNDLED_MINILM: &[u8] = include_bytes!("../../data/pair-guard-minilm.bin");
const BUNDLED_HASHING: &[u8] = include_bytes!("../../data/pair-guard-hashing.bin");

/// The bundled guard for an embedder (`Embedder::model_id`): all-MiniLM-L6-v2 or the 384-wide
/// hashing embedder. Any other embedder needs a guard trained for its cosine.
pub fn bundled(model_id: &str) -> Result<PairGuard, GuardError> {
    let bytes = match embedder_family(model_id) {
        "all-MiniLM-L6-v2" => BUNDLED_MINILM,
        "hashing-v1-384" => BUNDLED_HASHING,
        other => {
            return Err(GuardError::Model(format!(
                "no bundled pair guard for embedder {other}; train one with `genai-eval train-pair-guard`"
            )));
        }
    };
    PairGuard::from_bytes(bytes)
}

/// Why a guard model could not be trained or loaded.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("pair guard model: {0}")]
    Model(String),
    #[error(
        "pair guard model was trained with embedder {trained}, not {given}; train one for this embedder with `genai-eval train-pair-guard`"
    )]
    WrongEmbedder { trained: String, given: String },
}

/// What a model file says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardHeader {
    pub format: u32,
    pub features: Vec<String>,
    /// Embedding width: each row also holds |u − v| and u ∘ v, `dim` values each.
    pub dim: usize,
    /// The embedder whose cosine feeds the `cosine` feature (`Embedder::model_id`, up to `@`).
    pub embedder: String,
    /// Free text: datasets and halves.
    pub trained_on: String,
    /// A pair is the same question when the model's probability reaches this.
    pub threshold: f32,
    /// The largest false-hit rate allowed on any training source when the threshold was chosen.
    pub calibrated_for_false_hits: f32,
    /// For comparison: the cosine threshold that meets the same false-hit target on the same
    /// training pairs without the guard.
    pub cosine_only_threshold: f32,
    pub params: GuardParams,
}

/// Gradient-boosting settings. Defaults: 200 rounds of depth-4 trees, learning rate 0.1, at
/// least 5 pairs per leaf, seed 7.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GuardParams {
    pub rounds: usize,
    pub max_depth: u32,
    pub eta: f32,
    pub min_child_weight: f32,
    pub seed: u64,
}

impl Default for GuardParams {
    fn default() -> Self {
        Self { rounds: 200, max_depth: 4, eta: 0.1, min_child_weight: 5.0, seed: 7 }
    }
}

/// A trained guard.
pub struct PairGuard {
    header: GuardHeader,
    booster: BoostedModel,
}

impl std::fmt::Debug for PairGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairGuard").field("header", &self.header).finish()
    }
}

/// The family part of an embedder id (`all-MiniLM-L6-v2@53aa5117:256` → `all-MiniLM-L6-v2`).
pub fn embedder_family(model_id: &str) -> &str {
    model_id.split('@').next().unwrap_or(model_id)
}

fn model_err(e: impl std::fmt::Display) -> GuardError {
    GuardError::Model(e.to_string())
}

/// Fits a guard on feature rows and labels (1 = same question), with a provisional threshold of
/// 0.5; [`PairGuard::with_threshold`] sets the calibrated one. Deterministic.
pub fn train(
    rows: &[Row],
    labels: &[bool],
    params: GuardParams,
    embedder: &str,
    trained_on: &str,
) -> Result<PairGuard, GuardError> {
    if rows.is_empty() || rows.len() != labels.len() {
        return Err(GuardError::Model(format!("{} rows and {} labels", rows.len(), labels.len())));
    }
    let width = rows[0].len();
    if width < NAMES.len() || !(width - NAMES.len()).is_multiple_of(2) || rows.iter().any(|r| r.len() != width) {
        return Err(GuardError::Model(format!("rows must all be {} named features plus 2 × dim values", NAMES.len())));
    }
    let x: Vec<f32> = rows.iter().flatten().copied().collect();
    let y: Vec<f32> = labels.iter().map(|&l| f32::from(u8::from(l))).collect();
    let data = DMatrix::from_dense(&x, rows.len(), width).and_then(|d| d.with_labels(&y)).map_err(model_err)?;
    let hb = TrainingParams::builder()
        .objective(Objective::BinaryLogitRaw(RegLoss::default()))
        .max_depth(params.max_depth as usize)
        .eta(f64::from(params.eta))
        .min_child_weight(f64::from(params.min_child_weight))
        .seed(params.seed)
        .build()
        .map_err(model_err)?;
    let booster = hessboost::training::train(&hb, &data, params.rounds).map_err(model_err)?;
    let header = GuardHeader {
        format: FORMAT,
        features: NAMES.iter().map(|s| (*s).to_owned()).collect(),
        dim: (width - NAMES.len()) / 2,
        embedder: embedder_family(embedder).to_owned(),
        trained_on: trained_on.to_owned(),
        threshold: 0.5,
        calibrated_for_false_hits: 1.0,
        cosine_only_threshold: 1.0,
        params,
    };
    Ok(PairGuard { header, booster })
}

impl PairGuard {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, GuardError> {
        let bad = |why: &str| GuardError::Model(why.to_owned());
        let rest = bytes.strip_prefix(MAGIC).ok_or_else(|| bad("not a pair guard model file"))?;
        let newline = rest.iter().position(|&b| b == b'\n').ok_or_else(|| bad("missing header"))?;
        let header: GuardHeader = serde_json::from_slice(&rest[..newline]).map_err(model_err)?;
        if header.format != FORMAT || header.features != NAMES {
            return Err(bad("trained with another feature set; retrain with `genai-eval train-pair-guard`"));
        }
        let booster = BoostedModel::decode(&rest[newline + 1..], ModelFormat::Binary).map_err(model_err)?;
        Ok(Self { header, booster })
    }

    pub fn load(path: &std::path::Path) -> Result<Self, GuardError> {
        let bytes = std::fs::read(path).map_err(|e| GuardError::Model(format!("{}: {e}", path.display())))?;
        Self::from_bytes(&bytes)
    }

    /// Magic, one JSON header line, hessboost's binary model.
    pub fn to_bytes(&self) -> Result<Vec<u8>, GuardError> {
        let mut out = MAGIC.to_vec();
        out.extend(serde_json::to_vec(&self.header).map_err(model_err)?);
        out.push(b'\n');
        out.extend(self.booster.encode(ModelFormat::Binary).map_err(model_err)?);
        Ok(out)
    }

    pub fn header(&self) -> &GuardHeader {
        &self.header
    }

    /// The same model with another decision threshold (`false_hits`: the rate it was chosen
    /// for; `cosine_only`: the cosine threshold meeting it without the guard).
    pub fn with_threshold(mut self, threshold: f32, false_hits: f32, cosine_only: f32) -> Self {
        self.header.threshold = threshold;
        self.header.calibrated_for_false_hits = false_hits;
        self.header.cosine_only_threshold = cosine_only;
        self
    }

    /// Refuses embeddings from an embedder the model was not trained with.
    pub fn check_embedder(&self, model_id: &str, dim: usize) -> Result<(), GuardError> {
        let given = embedder_family(model_id);
        if given == self.header.embedder && dim == self.header.dim {
            Ok(())
        } else {
            Err(GuardError::WrongEmbedder {
                trained: format!("{} ({} dimensions)", self.header.embedder, self.header.dim),
                given: format!("{given} ({dim} dimensions)"),
            })
        }
    }

    /// The probability that a row is a pair of the same question; 0 for a row of the wrong
    /// width (embeddings of another size), so a mismatch can only cost a hit, never serve one.
    pub fn probability_row(&self, row: &[f32]) -> f32 {
        if row.len() != NAMES.len() + 2 * self.header.dim {
            return 0.0;
        }
        let margin = self.booster.predict_margin_row(row, Iterations::Best).unwrap_or(f32::NEG_INFINITY);
        1.0 / (1.0 + (-margin).exp())
    }

    /// The probability that `a` and `b`, with unit embeddings `u` and `v`, ask the same.
    pub fn probability(&self, a: &str, b: &str, u: &[f32], v: &[f32]) -> f32 {
        // The word-order features depend on which text comes first: average both directions.
        let p1 = self.probability_row(&features::extract(a, b, u, v));
        let p2 = self.probability_row(&features::extract(b, a, v, u));
        (p1 + p2) / 2.0
    }

    /// Whether the pair passes at the model's threshold.
    pub fn same_question(&self, a: &str, b: &str, u: &[f32], v: &[f32]) -> bool {
        self.probability(a, b, u, v) >= self.header.threshold
    }
}
