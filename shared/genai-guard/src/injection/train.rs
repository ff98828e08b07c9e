//! Training: logistic regression by AdaGrad with L2 regularisation, deterministic (a fixed
//! shuffle seed), so the committed weights file is reproduced byte for byte.

use super::{InjectionDetector, input, sigmoid};
use crate::GuardError;

/// One labelled text.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Example {
    pub text: String,
    /// 1 = injection.
    pub label: u8,
}

/// Training options. The threshold is not chosen here: `extraction-api train-guard` picks it
/// from out-of-fold scores on the training split (see [`out_of_fold_scores`]).
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub bits: u32,
    pub epochs: u32,
    pub learning_rate: f32,
    pub l2: f32,
    pub threshold: f32,
    pub seed: u64,
    /// Weight of an attack relative to a benign text: benign texts outnumber attacks many times
    /// over in what the guard is trained on, as in what it meets.
    pub positive_weight: f32,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self { bits: 16, epochs: 30, learning_rate: 0.5, l2: 1e-4, threshold: 0.5, seed: 7, positive_weight: 1.0 }
    }
}

/// Reads `{"text": ..., "label": 0|1}` lines.
pub fn load_jsonl(text: &str) -> Result<Vec<Example>, GuardError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let e: Example = serde_json::from_str(l)
                .map_err(|e| GuardError::BadTrainingData { line: i + 1, message: e.to_string() })?;
            if e.label > 1 {
                return Err(GuardError::BadTrainingData {
                    line: i + 1,
                    message: format!("label must be 0 or 1, got {}", e.label),
                });
            }
            Ok(e)
        })
        .collect()
}

/// Trains a detector on `examples`, with a weight per example (on top of `positive_weight`):
/// the labelled attack sets can count for more than the many easy benign texts around them.
pub fn train_weighted(examples: &[Example], weights: &[f32], opts: &TrainOptions) -> InjectionDetector {
    let dims = InjectionDetector::dims(opts.bits);
    let data: Vec<(Vec<(usize, f32)>, f32)> = examples
        .iter()
        .map(|e| {
            let (feats, _) = input(&e.text, opts.bits);
            (feats.iter().map(|f| (f.bucket as usize, f.value)).collect(), f32::from(e.label))
        })
        .collect();
    let mut w = vec![0.0f32; dims];
    let mut g2 = vec![1e-8f32; dims];
    let (mut bias, mut b2) = (0.0f32, 1e-8f32);
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut state = opts.seed.max(1);
    for _ in 0..opts.epochs {
        // Fisher-Yates with xorshift64: same order on every machine.
        for i in (1..order.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        for &i in &order {
            let (x, y) = &data[i];
            let example_weight = weights.get(i).copied().unwrap_or(1.0);
            let z = bias + x.iter().map(|(j, v)| w[*j] * v).sum::<f32>();
            let weight = if *y > 0.5 { opts.positive_weight } else { 1.0 };
            let err = (sigmoid(z) - y) * weight * example_weight;
            for (j, v) in x {
                let g = err * v + opts.l2 * w[*j];
                g2[*j] += g * g;
                w[*j] -= opts.learning_rate * g / g2[*j].sqrt();
            }
            b2 += err * err;
            bias -= opts.learning_rate * err / b2.sqrt();
        }
    }
    InjectionDetector::new(opts.bits, w, bias, opts.threshold)
}

/// The score each example gets from a detector trained without it (k folds, by index mod k):
/// how to choose a threshold without looking at any evaluation set.
pub fn out_of_fold_scores(examples: &[Example], weights: &[f32], opts: &TrainOptions, k: usize) -> Vec<f32> {
    let mut scores = vec![0.0f32; examples.len()];
    for fold in 0..k {
        let kept = |i: &usize| i % k != fold;
        let train_set: Vec<Example> =
            examples.iter().enumerate().filter(|(i, _)| kept(i)).map(|(_, e)| e.clone()).collect();
        let train_weights: Vec<f32> = weights.iter().enumerate().filter(|(i, _)| kept(i)).map(|(_, w)| *w).collect();
        let d = train_weighted(&train_set, &train_weights, opts);
        for (i, e) in examples.iter().enumerate().filter(|(i, _)| i % k == fold) {
            scores[i] = d.check(&e.text).score;
        }
    }
    scores
}
