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

/// Defaults chosen by 5-fold cross-validation on the training split only (see the README):
/// 2^16 buckets, 30 epochs, learning rate 0.5, L2 1e-4, threshold 0.4.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub bits: u32,
    pub epochs: u32,
    pub learning_rate: f32,
    pub l2: f32,
    pub threshold: f32,
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self { bits: 16, epochs: 30, learning_rate: 0.5, l2: 1e-4, threshold: 0.4, seed: 7 }
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

/// Trains a detector on `examples`.
pub fn train(examples: &[Example], opts: &TrainOptions) -> InjectionDetector {
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
            let z = bias + x.iter().map(|(j, v)| w[*j] * v).sum::<f32>();
            let err = sigmoid(z) - y;
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

/// Accuracy of `opts` by k-fold cross-validation on `examples` (folds by index mod k): how to
/// choose options without looking at a test set.
pub fn cross_validate(examples: &[Example], opts: &TrainOptions, k: usize) -> f64 {
    let mut correct = 0usize;
    for fold in 0..k {
        let train_set: Vec<Example> =
            examples.iter().enumerate().filter(|(i, _)| i % k != fold).map(|(_, e)| e.clone()).collect();
        let d = train(&train_set, opts);
        correct += examples
            .iter()
            .enumerate()
            .filter(|(i, _)| i % k == fold)
            .filter(|(_, e)| d.check(&e.text).flagged == (e.label == 1))
            .count();
    }
    correct as f64 / examples.len() as f64
}
