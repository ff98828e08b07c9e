//! Injection detection on labelled texts: TPR, FPR, accuracy, and the guard's latency; and the
//! training command that reproduces the bundled weights.

use super::quantile;
use genai_guard::InjectionDetector;
use genai_guard::injection::{Example, TrainOptions, cross_validate, load_jsonl, train};
use std::path::Path;
use std::time::Instant;

#[derive(Debug, Default)]
pub struct InjectionReport {
    pub tp: usize,
    pub fp: usize,
    pub tn: usize,
    pub fn_: usize,
    pub p50_us: f64,
    pub p95_us: f64,
    /// p95 over texts of (time / size in KB), sizes under 1 KB counted as 1 KB.
    pub p95_ms_per_kb: f64,
    pub max_bytes: usize,
}

impl InjectionReport {
    pub fn tpr(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fn_).max(1) as f64
    }
    pub fn fpr(&self) -> f64 {
        self.fp as f64 / (self.fp + self.tn).max(1) as f64
    }
    pub fn accuracy(&self) -> f64 {
        (self.tp + self.tn) as f64 / (self.tp + self.tn + self.fp + self.fn_).max(1) as f64
    }

    pub fn to_markdown(&self) -> String {
        format!(
            "| texts | TP | FP | TN | FN | TPR | FPR | accuracy | p50 | p95 | p95 per KB (budget 1 ms) |\n|---|---|---|---|---|---|---|---|---|---|---|\n\
             | {} | {} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.0} µs | {:.0} µs | {:.3} ms |\n",
            self.tp + self.fp + self.tn + self.fn_,
            self.tp,
            self.fp,
            self.tn,
            self.fn_,
            self.tpr(),
            self.fpr(),
            self.accuracy(),
            self.p50_us,
            self.p95_us,
            self.p95_ms_per_kb
        )
    }
}

pub fn evaluate(detector: &InjectionDetector, examples: &[Example]) -> InjectionReport {
    let mut r = InjectionReport::default();
    let mut times = Vec::with_capacity(examples.len());
    let mut per_kb = Vec::with_capacity(examples.len());
    for e in examples {
        let t = Instant::now();
        let v = detector.check(&e.text);
        let us = t.elapsed().as_secs_f64() * 1e6;
        times.push(us);
        per_kb.push(us / 1000.0 / (e.text.len() as f64 / 1024.0).max(1.0));
        r.max_bytes = r.max_bytes.max(e.text.len());
        match (v.flagged, e.label == 1) {
            (true, true) => r.tp += 1,
            (true, false) => r.fp += 1,
            (false, false) => r.tn += 1,
            (false, true) => r.fn_ += 1,
        }
    }
    r.p50_us = quantile(&mut times, 0.5);
    r.p95_us = quantile(&mut times, 0.95);
    r.p95_ms_per_kb = quantile(&mut per_kb, 0.95);
    r
}

/// `train-guard`: optional k-fold accuracy, then the weights file.
pub fn train_command(data: &Path, extra: &[std::path::PathBuf], out: &Path, folds: usize) -> anyhow::Result<()> {
    use anyhow::Context;
    let mut examples = Vec::new();
    for p in std::iter::once(data).chain(extra.iter().map(|p| p.as_path())) {
        examples.extend(load_jsonl(&std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)?);
    }
    let opts = TrainOptions::default();
    let positives = examples.iter().filter(|e| e.label == 1).count();
    println!("{} examples ({positives} injections), {opts:?}", examples.len());
    if folds > 1 {
        println!(
            "{folds}-fold cross-validated accuracy on the training data: {:.3}",
            cross_validate(&examples, &opts, folds)
        );
    }
    let detector = train(&examples, &opts);
    let bytes = detector.to_bytes();
    std::fs::write(out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    println!("wrote {} ({} bytes)", out.display(), bytes.len());
    Ok(())
}
