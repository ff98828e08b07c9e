//! A FrugalGPT-style cascade (Chen, Zaharia, Zou, arXiv 2305.05176): ask the cheapest model of a
//! chain, score its answer, accept it when the score reaches a threshold, else ask the next; the
//! last model's answer is always accepted. The cascade pays for every call it makes.
//!
//! The scorer of each step is a boosted classifier trained on the recorded outcomes: P(this
//! model's answer is correct | the prompt, the answer, and the answers of the models asked before
//! it). The last part matters most: two cheap models that state the same final answer are
//! usually right (answer consistency, as in Yue et al., arXiv 2310.03094), and a cascade has
//! those answers for free. The chain is chosen on training data, out of fold: every chain of one
//! to three cheap models ([`step_pool`]) ending in the most accurate model is tried, and the one
//! that reaches the target quality most cheaply wins.

use crate::curve::{self, Decisions, Point};
use crate::data::Row;
use crate::features::{answer_features, final_answer, word_jaccard};
use crate::router::{BoostParams, Example, fit_binary, fold_of, probability};
use hessboost::prelude::BoostedModel;
use std::collections::HashMap;

fn answer_of(row: &Row, model: usize) -> &str {
    row.responses.get(model).and_then(|r| r.as_deref()).unwrap_or_default()
}

// ANCHOR: scorer_row
/// What the scorer of a chain's step sees: the prompt, the step's answer (the last of
/// `answers`), and how it agrees with the answers of the models asked before it (the others, in
/// chain order). The same row is built from recorded answers in training and from live ones in
/// the gateway.
pub fn scorer_row(x: &Example, answers: &[&str]) -> Vec<f32> {
    let Some((&answer, earlier)) = answers.split_last() else { return Vec::new() };
    let stated = final_answer(answer);
    let agree = if earlier.is_empty() || stated.is_none() {
        -1.0
    } else {
        earlier.iter().filter(|e| final_answer(e) == stated).count() as f32 / earlier.len() as f32
    };
    let similar = earlier.iter().map(|e| word_jaccard(answer, e)).fold(-1.0f32, f32::max);
    x.shape
        .iter()
        .copied()
        .chain(answer_features(answer))
        .chain([earlier.len() as f32, agree, similar, f32::from(u8::from(stated.is_some()))])
        .chain(x.embedding.iter().copied())
        .collect()
}

/// [`scorer_row`] from a recorded row's answers for the models of `prefix`.
fn recorded_row(x: &Example, row: &Row, prefix: &[usize]) -> Vec<f32> {
    let answers: Vec<&str> = prefix.iter().map(|&m| answer_of(row, m)).collect();
    scorer_row(x, &answers)
}
// ANCHOR_END: scorer_row

fn fit_step(
    examples: &[Example],
    rows: &[Row],
    prefix: &[usize],
    idx: &[usize],
    params: BoostParams,
) -> anyhow::Result<BoostedModel> {
    let m = prefix[prefix.len() - 1];
    let xs: Vec<Vec<f32>> = idx.iter().map(|&i| recorded_row(&examples[i], &rows[i], prefix)).collect();
    let ys: Vec<f64> = idx.iter().map(|&i| rows[i].correct[m]).collect();
    fit_binary(&xs, &ys, params)
}

/// A trained cascade over `chain` (model indices, cheapest first).
pub struct Cascade {
    pub chain: Vec<usize>,
    pub scorers: Vec<BoostedModel>,
}

impl Cascade {
    pub fn train(examples: &[Example], rows: &[Row], chain: Vec<usize>, params: BoostParams) -> anyhow::Result<Self> {
        let all: Vec<usize> = (0..rows.len()).collect();
        let scorers = (1..chain.len())
            .map(|k| fit_step(examples, rows, &chain[..k], &all, params))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { chain, scorers })
    }

    /// The score of each step's answer but the last's, for one prompt. (All are computed from
    /// the recorded answers; a live cascade computes a step's score only when it gets there.)
    pub fn scores(&self, x: &Example, row: &Row) -> Vec<f64> {
        self.scorers.iter().enumerate().map(|(k, s)| probability(s, &recorded_row(x, row, &self.chain[..=k]))).collect()
    }
}

/// Runs a chain on every question: step k's answer is accepted when its score reaches
/// `taus[k]`; the last model's answer always is.
pub fn decide(chain: &[usize], scores: &[Vec<f64>], rows: &[Row], taus: &[f64]) -> Decisions {
    let mut d = Decisions { quality: Vec::new(), cost: Vec::new(), chosen: Vec::new() };
    for (s, row) in scores.iter().zip(rows) {
        let stop = s.iter().zip(taus).position(|(&p, &t)| p >= t).unwrap_or(chain.len() - 1);
        let model = chain[stop];
        d.cost.push(chain[..=stop].iter().map(|&m| row.cost[m]).sum());
        d.quality.push(row.correct[model]);
        d.chosen.push(model);
    }
    d
}

/// The acceptance thresholds tried for a chain with `steps` scored steps: one threshold in
/// 0.01 steps for a single step; for several, every combination of 0 (always accept), 0.50 …
/// 1.00 in 0.05, and never (a step asked only for its answer's agreement with later ones).
pub fn threshold_sets(steps: usize) -> Vec<Vec<f64>> {
    if steps == 1 {
        return curve::threshold_grid().into_iter().map(|t| vec![t]).collect();
    }
    let grid: Vec<f64> =
        std::iter::once(0.0).chain((10..=20).map(|i| f64::from(i) / 20.0)).chain([f64::INFINITY]).collect();
    let mut sets = vec![Vec::new()];
    for _ in 0..steps {
        sets = sets.into_iter().flat_map(|s| grid.iter().map(move |&t| [s.clone(), vec![t]].concat())).collect();
    }
    sets
}

/// Every operating point of a chain: knob `i` is `threshold_sets(..)[i]`.
pub fn curve_of(chain: &[usize], scores: &[Vec<f64>], rows: &[Row]) -> Vec<Point> {
    threshold_sets(chain.len() - 1)
        .iter()
        .enumerate()
        .map(|(i, taus)| {
            let d = decide(chain, scores, rows, taus);
            Point { knob: i as f64, cost: d.mean_cost(), quality: d.mean_quality() }
        })
        .collect()
}

/// Models on the cost–accuracy frontier, cheapest first: each is more accurate than every
/// cheaper one.
pub fn frontier(accuracy: &[f64], cost: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..accuracy.len()).collect();
    order.sort_by(|&a, &b| cost[a].total_cmp(&cost[b]).then(accuracy[b].total_cmp(&accuracy[a])));
    let mut out: Vec<usize> = Vec::new();
    for m in order {
        if out.last().is_none_or(|&l| accuracy[m] > accuracy[l]) {
            out.push(m);
        }
    }
    out
}

/// The models a cascade may ask before the best one, all costing at most a quarter of it: those
/// on the training frontier, and the `extra` most accurate others (an off-frontier model can
/// still be worth asking: its agreement with another is the signal).
pub fn step_pool(accuracy: &[f64], cost: &[f64], best: usize, extra: usize) -> Vec<usize> {
    let cheap_enough = |m: usize| m != best && cost[m] <= cost[best] / 4.0;
    let mut pool: Vec<usize> = frontier(accuracy, cost).into_iter().filter(|&m| cheap_enough(m)).collect();
    let mut cheap: Vec<usize> = (0..accuracy.len()).filter(|&m| cheap_enough(m)).collect();
    cheap.sort_by(|&a, &b| accuracy[b].total_cmp(&accuracy[a]).then(a.cmp(&b)));
    pool.extend(cheap.into_iter().take(extra));
    pool.sort_by(|&a, &b| cost[a].total_cmp(&cost[b]).then(a.cmp(&b)));
    pool.dedup();
    pool
}

/// Every chain of one to three pool models, cheapest first, then `best`.
pub fn candidate_chains(pool: &[usize], best: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for (i, &a) in pool.iter().enumerate() {
        out.push(vec![a, best]);
        for (j, &b) in pool.iter().enumerate().skip(i + 1) {
            out.push(vec![a, b, best]);
            for &c in &pool[j + 1..] {
                out.push(vec![a, b, c, best]);
            }
        }
    }
    out
}

/// Out-of-fold step scores on the training rows, per chain prefix, computed once per prefix.
pub struct OutOfFold<'a> {
    examples: &'a [Example],
    rows: &'a [Row],
    params: BoostParams,
    folds: usize,
    done: HashMap<Vec<usize>, Vec<f64>>,
}

impl<'a> OutOfFold<'a> {
    pub fn new(examples: &'a [Example], rows: &'a [Row], params: BoostParams, folds: usize) -> Self {
        Self { examples, rows, params, folds, done: HashMap::new() }
    }

    /// The score of the last model of `prefix` on each training row, from scorers that did not
    /// see that row.
    pub fn scores(&mut self, prefix: &[usize]) -> anyhow::Result<&[f64]> {
        if !self.done.contains_key(prefix) {
            let n = self.rows.len();
            let mut out = vec![0.0; n];
            for f in 0..self.folds {
                let train: Vec<usize> = (0..n).filter(|&i| fold_of(i, self.folds) != f).collect();
                let scorer = fit_step(self.examples, self.rows, prefix, &train, self.params)?;
                for i in (0..n).filter(|&i| fold_of(i, self.folds) == f) {
                    out[i] = probability(&scorer, &recorded_row(&self.examples[i], &self.rows[i], prefix));
                }
            }
            self.done.insert(prefix.to_vec(), out);
        }
        Ok(&self.done[prefix])
    }

    /// Every row's step scores for `chain` (all steps but the last).
    pub fn chain_scores(&mut self, chain: &[usize]) -> anyhow::Result<Vec<Vec<f64>>> {
        let mut per_step = Vec::new();
        for k in 1..chain.len() {
            per_step.push(self.scores(&chain[..k])?.to_vec());
        }
        Ok((0..self.rows.len()).map(|i| per_step.iter().map(|s| s[i]).collect()).collect())
    }
}

/// How a chain's operating point is chosen on its out-of-fold training curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// The cheapest point within `tolerance` of `reference` accuracy; across chains the
    /// cheapest that reaches it wins (the most accurate when none does).
    Quality { reference: f64, tolerance: f64 },
    /// The most accurate point at or under `budget` mean cost; across chains the most accurate.
    Cost { budget: f64 },
}

/// The chain and thresholds chosen on training data, out of fold, among every candidate chain.
pub fn choose_chain(
    pool: &[usize],
    best: usize,
    oof: &mut OutOfFold<'_>,
    target: Target,
) -> anyhow::Result<Option<(Vec<usize>, Point)>> {
    let mut tried = Vec::new();
    for chain in candidate_chains(pool, best) {
        let curve = curve_of(&chain, &oof.chain_scores(&chain)?, oof.rows);
        let point = match target {
            Target::Quality { reference, tolerance } => curve::pick(&curve, reference, tolerance),
            Target::Cost { budget } => curve::pick_by_cost(&curve, budget),
        };
        tried.push((chain, point));
    }
    Ok(tried.into_iter().min_by(|a, b| match target {
        Target::Quality { reference, tolerance } => {
            let ok = |p: &Point| p.quality >= reference - tolerance - 1e-12;
            ok(&b.1).cmp(&ok(&a.1)).then(a.1.cost.total_cmp(&b.1.cost)).then(b.1.quality.total_cmp(&a.1.quality))
        }
        Target::Cost { budget } => {
            let ok = |p: &Point| p.cost <= budget + 1e-15;
            ok(&b.1).cmp(&ok(&a.1)).then(b.1.quality.total_cmp(&a.1.quality)).then(a.1.cost.total_cmp(&b.1.cost))
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(correct: [f64; 2], answer: &str) -> Row {
        Row {
            id: String::new(),
            prompt: String::new(),
            correct: correct.to_vec(),
            cost: vec![1.0, 10.0],
            responses: vec![Some(answer.into()), Some("ok".into())],
        }
    }

    #[test]
    fn a_cascade_escalates_low_scores_and_pays_for_every_call() {
        let rows = [row([1.0, 1.0], "a"), row([0.0, 1.0], "b")];
        let d = decide(&[0, 1], &[vec![0.9], vec![0.2]], &rows, &[0.5]);
        assert_eq!(d.chosen, [0, 1]);
        assert_eq!(d.cost, [1.0, 11.0], "the escalated question paid for both calls");
        assert_eq!(d.quality, [1.0, 1.0]);
        assert_eq!(
            decide(&[0, 1], &[vec![0.9], vec![0.2]], &rows, &[0.0]).chosen,
            [0, 0],
            "threshold 0 never escalates"
        );
        assert_eq!(threshold_sets(1).len(), 101);
        assert_eq!(threshold_sets(2).len(), 13 * 13);
    }

    #[test]
    fn frontier_and_chains() {
        // model 2 is dearer and worse than model 1: off the frontier
        let f = frontier(&[0.6, 0.8, 0.7, 0.9], &[1.0, 2.0, 3.0, 10.0]);
        assert_eq!(f, [0, 1, 3]);
        assert_eq!(candidate_chains(&[0, 1], 3), vec![vec![0, 3], vec![0, 1, 3], vec![1, 3]]);
        assert_eq!(candidate_chains(&[0, 1, 2], 3).len(), 7);
        // model 2 is off the frontier but cheap enough (<= 10 / 4) to join the pool
        assert_eq!(step_pool(&[0.6, 0.8, 0.7, 0.9], &[1.0, 2.0, 2.5, 10.0], 3, 2), [0, 1, 2]);
    }

    #[test]
    fn the_scorer_learns_that_a_refusal_is_wrong() {
        let mut rows = Vec::new();
        let mut xs = Vec::new();
        for i in 0..80 {
            let refuses = i % 2 == 0;
            rows.push(row([if refuses { 0.0 } else { 1.0 }, 1.0], if refuses { "I'm sorry, I cannot." } else { "42" }));
            xs.push(Example { embedding: vec![1.0, 0.0], shape: vec![0.0] });
        }
        let params = BoostParams { rounds: 20, min_child_weight: 1.0, ..BoostParams::default() };
        let c = Cascade::train(&xs, &rows, vec![0, 1], params).unwrap();
        assert!(c.scores(&xs[0], &rows[0])[0] < 0.3);
        assert!(c.scores(&xs[1], &rows[1])[0] > 0.7);
    }

    #[test]
    fn a_later_step_learns_that_agreement_means_right() {
        // Three models; the first is always wrong, the second is right exactly when it states the
        // first one's answer: only the chain through both can tell, and it is the cheapest at full quality.
        let mut rows = Vec::new();
        let mut xs = Vec::new();
        for i in 0..90 {
            let agree = i % 4 != 0; // not aligned with the 3 folds (i % 3)
            rows.push(Row {
                id: String::new(),
                prompt: String::new(),
                correct: vec![0.0, if agree { 1.0 } else { 0.0 }, 1.0],
                cost: vec![1.0, 2.0, 10.0],
                responses: vec![Some("B".into()), Some(if agree { "B" } else { "C" }.into()), Some("B".into())],
            });
            xs.push(Example { embedding: vec![1.0, 0.0], shape: vec![0.0] });
        }
        let params = BoostParams { rounds: 20, min_child_weight: 1.0, ..BoostParams::default() };
        let mut oof = OutOfFold::new(&xs, &rows, params, 3);
        let s = oof.chain_scores(&[0, 1, 2]).unwrap();
        assert!(s[1][1] > 0.8 && s[0][1] < 0.2, "agreeing {:?} / disagreeing {:?}", s[1], s[0]);
        let quality = Target::Quality { reference: 1.0, tolerance: 0.0 };
        let (chain, point) = choose_chain(&[0, 1], 2, &mut oof, quality).unwrap().unwrap();
        assert_eq!(chain, [0, 1, 2]);
        assert_eq!(point.quality, 1.0);
        // On a budget of 3 per question, only the first two steps fit: their chain, at its best.
        let (chain, point) = choose_chain(&[0, 1], 2, &mut oof, Target::Cost { budget: 3.0 }).unwrap().unwrap();
        assert!(point.cost <= 3.0 && chain.len() >= 2, "{chain:?} {point:?}");
    }
}
