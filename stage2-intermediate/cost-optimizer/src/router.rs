//! Routers: from a prompt, the probability that each model answers it correctly; the
//! [`choose`] rule turns those into one model for a willingness to pay.
//!
//! - [`KnnRouter`]: the k training prompts nearest in embedding space vote with their recorded
//!   outcomes (RouterBench's KNN router; RouteLLM's similarity-weighted router is a cousin).
//! - [`BoostedRouter`]: one gradient-boosted classifier per model (hessboost, binary logistic)
//!   over the prompt's shape features and embedding: the "complexity classifier".
//!
//! Both are trained from the same recorded outcomes and judged by the same curve. For choosing
//! an operating point without peeking at the test split, each also gives out-of-fold predictions
//! on its own training rows ([`KnnRouter::out_of_fold`], [`BoostedRouter::out_of_fold`]).

use hessboost::prelude::*;

/// A prompt as routers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// Unit-length prompt embedding.
    pub embedding: Vec<f32>,
    /// [`crate::features::prompt_features`].
    pub shape: Vec<f32>,
}

impl Example {
    fn row(&self) -> Vec<f32> {
        self.shape.iter().chain(&self.embedding).copied().collect()
    }
}

/// Predicts, for each model, the probability that it answers a prompt correctly.
pub trait Router: Send + Sync {
    fn name(&self) -> &'static str;
    fn predict(&self, x: &Example) -> Vec<f64>;
}

// ANCHOR: choose
/// The model with the best `p − lambda × cost` (cost in units of the dearest model's mean cost,
/// so `lambda` reads as "accuracy points I would give up to halve the bill"). Ties go to the
/// cheaper model. `lambda = 0` picks the most likely to be right; a large `lambda` the cheapest.
pub fn choose(p: &[f64], cost: &[f64], lambda: f64) -> usize {
    let mut best = 0;
    for m in 1..p.len() {
        let (a, b) = (p[m] - lambda * cost[m], p[best] - lambda * cost[best]);
        if a > b + 1e-12 || ((a - b).abs() <= 1e-12 && cost[m] < cost[best]) {
            best = m;
        }
    }
    best
}
// ANCHOR_END: choose

/// Nearest-neighbour router: cosine over unit embeddings, `k` neighbours, each model's
/// correctness averaged and shrunk toward its overall accuracy by `prior_weight` pseudo-votes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct KnnRouter {
    k: usize,
    prior_weight: f64,
    embeddings: Vec<Vec<f32>>,
    correct: Vec<Vec<f64>>,
    prior: Vec<f64>,
}

impl KnnRouter {
    pub fn train(examples: &[Example], correct: &[Vec<f64>], k: usize) -> Self {
        let m = correct.first().map_or(0, Vec::len);
        let n = correct.len().max(1) as f64;
        let prior = (0..m).map(|j| correct.iter().map(|c| c[j]).sum::<f64>() / n).collect();
        Self {
            k: k.max(1),
            prior_weight: 2.0,
            embeddings: examples.iter().map(|e| e.embedding.clone()).collect(),
            correct: correct.to_vec(),
            prior,
        }
    }

    fn predict_skipping(&self, x: &[f32], skip: Option<usize>) -> Vec<f64> {
        let mut sims: Vec<(f32, usize)> = self
            .embeddings
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != skip)
            .map(|(i, e)| (e.iter().zip(x).map(|(a, b)| a * b).sum::<f32>(), i))
            .collect();
        let k = self.k.min(sims.len());
        if k == 0 {
            return self.prior.clone();
        }
        sims.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let near = &sims[..k];
        (0..self.prior.len())
            .map(|j| {
                let votes: f64 = near.iter().map(|&(_, i)| self.correct[i][j]).sum();
                (votes + self.prior_weight * self.prior[j]) / (k as f64 + self.prior_weight)
            })
            .collect()
    }

    /// How many models it predicts for.
    pub fn models(&self) -> usize {
        self.prior.len()
    }

    /// Leave-one-out predictions for the training rows.
    pub fn out_of_fold(&self) -> Vec<Vec<f64>> {
        (0..self.embeddings.len()).map(|i| self.predict_skipping(&self.embeddings[i], Some(i))).collect()
    }
}

impl Router for KnnRouter {
    fn name(&self) -> &'static str {
        "knn"
    }

    fn predict(&self, x: &Example) -> Vec<f64> {
        self.predict_skipping(&x.embedding, None)
    }
}

/// Gradient-boosting settings for the per-model classifiers (and the cascade's scorers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoostParams {
    pub rounds: usize,
    pub max_depth: usize,
    pub eta: f64,
    pub min_child_weight: f64,
    pub seed: u64,
}

impl Default for BoostParams {
    /// Shallow trees, few rounds: a thousand training prompts and ~400 features overfit fast.
    fn default() -> Self {
        Self { rounds: 80, max_depth: 3, eta: 0.1, min_child_weight: 5.0, seed: 7 }
    }
}

/// Fits a binary classifier on rows and 0/1 labels. Deterministic.
pub fn fit_binary(rows: &[Vec<f32>], labels: &[f64], params: BoostParams) -> anyhow::Result<BoostedModel> {
    let width = rows.first().map_or(0, Vec::len);
    anyhow::ensure!(!rows.is_empty() && rows.len() == labels.len(), "{} rows, {} labels", rows.len(), labels.len());
    let x: Vec<f32> = rows.iter().flatten().copied().collect();
    let y: Vec<f32> = labels.iter().map(|&l| l as f32).collect();
    let data = DMatrix::from_dense(&x, rows.len(), width)?.with_labels(&y)?;
    let hb = TrainingParams::builder()
        .objective(Objective::BinaryLogitRaw(RegLoss::default()))
        .max_depth(params.max_depth)
        .eta(params.eta)
        .min_child_weight(params.min_child_weight)
        .seed(params.seed)
        .build()?;
    Ok(train(&hb, &data, params.rounds)?)
}

/// The probability a fitted binary classifier gives a row.
pub fn probability(model: &BoostedModel, row: &[f32]) -> f64 {
    let margin = model.predict_margin_row(row, Iterations::Best).unwrap_or(0.0);
    1.0 / (1.0 + (-f64::from(margin)).exp())
}

/// Which of `folds` folds row `i` falls in (interleaved, so folds mix the file's order).
pub fn fold_of(i: usize, folds: usize) -> usize {
    i % folds
}

/// One boosted classifier per model: P(model m answers correctly | prompt).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct BoostedRouter {
    models: Vec<BoostedModel>,
}

impl BoostedRouter {
    /// How many models it predicts for.
    pub fn models(&self) -> usize {
        self.models.len()
    }

    pub fn train(examples: &[Example], correct: &[Vec<f64>], params: BoostParams) -> anyhow::Result<Self> {
        let rows: Vec<Vec<f32>> = examples.iter().map(Example::row).collect();
        let m = correct.first().map_or(0, Vec::len);
        let models = (0..m)
            .map(|j| {
                let labels: Vec<f64> = correct.iter().map(|c| c[j]).collect();
                fit_binary(&rows, &labels, params)
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { models })
    }

    /// Predictions for each training row from a router trained on the other folds.
    pub fn out_of_fold(
        examples: &[Example],
        correct: &[Vec<f64>],
        params: BoostParams,
        folds: usize,
    ) -> anyhow::Result<Vec<Vec<f64>>> {
        let mut out = vec![Vec::new(); examples.len()];
        for f in 0..folds {
            let (train, held): (Vec<usize>, Vec<usize>) = (0..examples.len()).partition(|&i| fold_of(i, folds) != f);
            let xs: Vec<Example> = train.iter().map(|&i| examples[i].clone()).collect();
            let ys: Vec<Vec<f64>> = train.iter().map(|&i| correct[i].clone()).collect();
            let router = Self::train(&xs, &ys, params)?;
            for i in held {
                out[i] = router.predict(&examples[i]);
            }
        }
        Ok(out)
    }
}

impl Router for BoostedRouter {
    fn name(&self) -> &'static str {
        "boosted"
    }

    fn predict(&self, x: &Example) -> Vec<f64> {
        let row = x.row();
        self.models.iter().map(|m| probability(m, &row)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(v: [f32; 2]) -> Example {
        let n = (v[0] * v[0] + v[1] * v[1]).sqrt();
        Example { embedding: vec![v[0] / n, v[1] / n], shape: vec![v[0]] }
    }

    #[test]
    fn choose_trades_accuracy_for_cost() {
        let (p, cost) = ([0.70, 0.90], [0.05, 1.0]);
        assert_eq!(choose(&p, &cost, 0.0), 1);
        assert_eq!(choose(&p, &cost, 1.0), 0);
        assert_eq!(choose(&[0.8, 0.8], &[1.0, 0.1], 0.0), 1, "a tie goes to the cheaper model");
    }

    #[test]
    fn both_routers_learn_which_topic_the_cheap_model_fails() {
        // Topic A (near x-axis): the cheap model is right; topic B (near y-axis): only the strong one.
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for i in 0..60 {
            let t = i as f32 / 60.0;
            xs.push(ex([1.0, 0.1 * t]));
            ys.push(vec![1.0, 1.0]);
            xs.push(ex([0.1 * t, 1.0]));
            ys.push(vec![0.0, 1.0]);
        }
        let knn = KnnRouter::train(&xs, &ys, 10);
        let params = BoostParams { rounds: 30, min_child_weight: 1.0, ..BoostParams::default() };
        let boosted = BoostedRouter::train(&xs, &ys, params).unwrap();
        for r in [&knn as &dyn Router, &boosted] {
            let a = r.predict(&ex([1.0, 0.05]));
            let b = r.predict(&ex([0.05, 1.0]));
            assert!(a[0] > 0.8 && b[0] < 0.2, "{}: {a:?} {b:?}", r.name());
            assert_eq!(choose(&a, &[0.0, 1.0], 0.3), 0);
            assert_eq!(choose(&b, &[0.0, 1.0], 0.3), 1);
        }
        let oof = knn.out_of_fold();
        assert_eq!(oof.len(), xs.len());
        assert!(oof[1][0] < 0.2);
    }
}
