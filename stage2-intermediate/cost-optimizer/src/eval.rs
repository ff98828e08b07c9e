//! `cost-optimizer eval`: trains every router and the cascade on a task's training split, picks
//! each one's operating point on the training split (out of fold), and reports on the test split:
//! the quality–cost curve, the operating point's accuracy, cost and saving against the best
//! single model (bootstrap intervals, paired tests), RouterBench's zero router at equal cost, and for
//! two-model data RouteLLM's APGR and CPT.

use crate::cascade::{self, Cascade};
use crate::curve::{self, Decisions, Point, TwoModel};
use crate::data::{CostUnit, Outcomes, Row};
use crate::features::{embed_all, prompt_features};
use crate::policy::PolicyKind;
use crate::router::{BoostParams, BoostedRouter, Example, KnnRouter, Router, choose};
use genai_embed::Embedder;
use genai_eval::stats::{self, Interval, Paired};
use serde::Serialize;

/// How routers are trained and how their operating point is chosen.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The operating point is the cheapest whose out-of-fold training accuracy is within this of
    /// the best single model's training accuracy.
    pub tolerance: f64,
    /// Instead: the most accurate point costing at most this share of the best model's cost.
    pub target_cost: Option<f64>,
    /// Neighbours of the kNN router.
    pub k: usize,
    /// Folds for out-of-fold training predictions (boosted router, cascade scorers).
    pub folds: usize,
    pub boost: BoostParams,
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { tolerance: 0.01, target_cost: None, k: 40, folds: 5, boost: BoostParams::default(), progress: true }
    }
}

/// One model's standing on the test split.
#[derive(Debug, Clone, Serialize)]
pub struct ModelSummary {
    pub name: String,
    pub accuracy: f64,
    pub mean_cost: f64,
}

/// A policy (router or cascade) at its chosen operating point, on the test split.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyReport {
    pub name: String,
    /// lambda for routers, the acceptance threshold for the cascade; chosen on training data.
    pub knob: f64,
    /// For a cascade: the chain, cheapest first, and each step's acceptance threshold (the knob
    /// is their index in `cascade::threshold_sets`).
    pub chain: Vec<String>,
    pub thresholds: Vec<f64>,
    /// The operating point's out-of-fold accuracy and cost on the training split.
    pub train_point: Point,
    pub accuracy: Interval,
    pub mean_cost: Interval,
    /// 1 − its cost / the best single model's cost, on the same questions.
    pub saving: Interval,
    /// Accuracy against always using the best single model (b − a: negative is a loss).
    pub vs_best: Paired,
    /// Accuracy against RouterBench's zero router at the same mean cost: the two single models
    /// around that cost on the test split's convex hull, mixed (its expected accuracy per
    /// question). Beating it means the policy knows something about the prompts.
    pub vs_zero_router: Paired,
    /// Share of questions answered by each model.
    pub model_share: Vec<(String, f64)>,
    /// The smallest test-curve cost reaching the best model's test accuracy, as a saving
    /// (knob chosen on the test split: an upper bound on what `saving` can be).
    pub saving_at_equal_quality_on_test: Option<f64>,
    /// Two-model data only: RouteLLM's metrics with intervals.
    pub routellm: Option<RouteLlmMetrics>,
    pub curve: Vec<Point>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RouteLlmMetrics {
    pub apgr: Interval,
    pub cpt50: Interval,
    pub cpt80: Interval,
    pub saving_at_95: Interval,
}

/// Everything measured on one task.
#[derive(Debug, Clone, Serialize)]
pub struct TaskReport {
    pub task: String,
    pub unit: CostUnit,
    pub embedder: String,
    pub train_rows: usize,
    pub test_rows: usize,
    pub dropped: usize,
    pub models: Vec<ModelSummary>,
    pub best: String,
    /// The zero router's hull on the test split (single models, cheapest first).
    pub hull: Vec<String>,
    /// The out-of-fold training accuracy an operating point had to reach (the best model's
    /// training accuracy minus the tolerance; 0 when a cost target chose instead).
    pub train_target: f64,
    /// The mean-cost budget per question when `--target-cost` chose the operating points.
    pub cost_budget: Option<f64>,
    pub policies: Vec<PolicyReport>,
    /// Two-model data: a seeded random router's metrics, the baseline of APGR 0.5 measured.
    pub random_routellm: Option<RouteLlmMetrics>,
    /// The policy a deployment ships (set by the command line: `cli::selected`).
    pub selected: Option<String>,
    /// The trained policies, in `policies` order, at their operating points: what
    /// `--save-policy` writes for the gateway.
    #[serde(skip)]
    pub trained: Vec<PolicyKind>,
}

async fn examples(embedder: &dyn Embedder, o: &Outcomes, label: &str, progress: bool) -> anyhow::Result<Vec<Example>> {
    let texts: Vec<String> = o.rows.iter().map(|r| r.prompt.clone()).collect();
    let vectors = embed_all(embedder, &texts, label, progress).await?;
    Ok(vectors.into_iter().zip(&texts).map(|(embedding, t)| Example { embedding, shape: prompt_features(t) }).collect())
}

/// Evaluates every policy on one task.
pub async fn evaluate_task(
    embedder: &dyn Embedder,
    train: &Outcomes,
    test: &Outcomes,
    opts: Options,
) -> anyhow::Result<TaskReport> {
    anyhow::ensure!(train.models == test.models, "{}: train and test name different models", train.task);
    anyhow::ensure!(!train.rows.is_empty() && !test.rows.is_empty(), "{}: an empty split", train.task);
    let xs_train = examples(embedder, train, &format!("{} train", train.task), opts.progress).await?;
    let xs_test = examples(embedder, test, &format!("{} test", test.task), opts.progress).await?;
    let (acc, cost) = (train.accuracy(), train.mean_cost());
    let price = train.relative_price();
    let best = train.best_model();
    let front = cascade::frontier(&acc, &cost);
    let (test_acc, test_cost) = (test.accuracy(), test.mean_cost());
    let singles: Vec<(f64, f64)> = test_cost.iter().copied().zip(test_acc.iter().copied()).collect();
    let hull = curve::zero_router_hull(&singles);
    let ctx =
        Ctx { train, test, opts, accuracy: &acc, cost: &cost, price: &price, best, singles: &singles, hull: &hull };

    let y_train: Vec<Vec<f64>> = train.rows.iter().map(|r| r.correct.clone()).collect();
    let mut policies = Vec::new();
    let mut trained = Vec::new();
    let knn = KnnRouter::train(&xs_train, &y_train, opts.k);
    let report = ctx.router_report(&knn, &knn.out_of_fold(), &xs_test)?;
    trained.push(PolicyKind::Knn { router: knn, lambda: report.knob });
    policies.push(report);
    let boosted = BoostedRouter::train(&xs_train, &y_train, opts.boost)?;
    let oof = BoostedRouter::out_of_fold(&xs_train, &y_train, opts.boost, opts.folds)?;
    let report = ctx.router_report(&boosted, &oof, &xs_test)?;
    trained.push(PolicyKind::Boosted { router: boosted, lambda: report.knob });
    policies.push(report);
    if train.has_responses()
        && test.has_responses()
        && front.len() >= 2
        && let Some((report, kind)) = ctx.cascade_report(&xs_train, &xs_test)?
    {
        policies.push(report);
        trained.push(kind);
    }
    let random_routellm = (test.models.len() == 2).then(|| {
        let score: Vec<f64> = (0..test.rows.len()).map(|i| pseudo_random(i as u64)).collect();
        ctx.routellm(&score)
    });
    Ok(TaskReport {
        task: test.task.clone(),
        unit: test.unit,
        embedder: embedder.model_id().to_owned(),
        train_rows: train.rows.len(),
        test_rows: test.rows.len(),
        dropped: train.dropped + test.dropped,
        models: (0..test.models.len())
            .map(|m| ModelSummary { name: test.models[m].clone(), accuracy: test_acc[m], mean_cost: test_cost[m] })
            .collect(),
        best: test.models[best].clone(),
        hull: hull.iter().map(|&m| test.models[m].clone()).collect(),
        train_target: if opts.target_cost.is_some() { 0.0 } else { acc[best] - opts.tolerance },
        cost_budget: opts.target_cost.map(|share| share * cost[best]),
        policies,
        random_routellm,
        selected: None,
        trained,
    })
}

struct Ctx<'a> {
    train: &'a Outcomes,
    test: &'a Outcomes,
    opts: Options,
    /// Each model's training accuracy and mean cost (computed once per task).
    accuracy: &'a [f64],
    cost: &'a [f64],
    price: &'a [f64],
    best: usize,
    /// Test-split (mean cost, accuracy) of each model, and the zero router's hull over them.
    singles: &'a [(f64, f64)],
    hull: &'a [usize],
}

impl Ctx<'_> {
    fn route(&self, preds: &[Vec<f64>], rows: &[Row], lambda: f64) -> Decisions {
        let mut d = Decisions { quality: Vec::new(), cost: Vec::new(), chosen: Vec::new() };
        for (p, r) in preds.iter().zip(rows) {
            let m = choose(p, self.price, lambda);
            d.quality.push(r.correct[m]);
            d.cost.push(r.cost[m]);
            d.chosen.push(m);
        }
        d
    }

    fn router_curve(&self, preds: &[Vec<f64>], rows: &[Row]) -> Vec<Point> {
        curve::lambda_grid()
            .into_iter()
            .map(|l| {
                let d = self.route(preds, rows, l);
                Point { knob: l, cost: d.mean_cost(), quality: d.mean_quality() }
            })
            .collect()
    }

    fn pick(&self, train_curve: &[Point]) -> Point {
        match self.opts.target_cost {
            Some(share) => curve::pick_by_cost(train_curve, share * self.cost[self.best]),
            None => curve::pick(train_curve, self.accuracy[self.best], self.opts.tolerance),
        }
    }

    fn router_report(
        &self,
        router: &dyn Router,
        oof: &[Vec<f64>],
        xs_test: &[Example],
    ) -> anyhow::Result<PolicyReport> {
        let train_point = self.pick(&self.router_curve(oof, &self.train.rows));
        let preds: Vec<Vec<f64>> = xs_test.iter().map(|x| router.predict(x)).collect();
        let d = self.route(&preds, &self.test.rows, train_point.knob);
        let two = (self.test.models.len() == 2).then(|| {
            let (weak, strong) = (1 - self.best, self.best);
            let score: Vec<f64> = preds.iter().map(|p| p[strong] - p[weak]).collect();
            self.routellm(&score)
        });
        Ok(self.report(router.name(), Vec::new(), train_point, d, self.router_curve(&preds, &self.test.rows), two))
    }

    /// `None` when no chain can be built (no model costs a quarter of the best one or less).
    fn cascade_report(
        &self,
        xs_train: &[Example],
        xs_test: &[Example],
    ) -> anyhow::Result<Option<(PolicyReport, PolicyKind)>> {
        let mut oof = cascade::OutOfFold::new(xs_train, &self.train.rows, self.opts.boost, self.opts.folds);
        let target = match self.opts.target_cost {
            None => cascade::Target::Quality { reference: self.accuracy[self.best], tolerance: self.opts.tolerance },
            Some(share) => cascade::Target::Cost { budget: share * self.cost[self.best] },
        };
        let pool = cascade::step_pool(self.accuracy, self.cost, self.best, 4);
        let chosen = cascade::choose_chain(&pool, self.best, &mut oof, target)?;
        let Some((chain, train_point)) = chosen else { return Ok(None) };
        let c = Cascade::train(xs_train, &self.train.rows, chain.clone(), self.opts.boost)?;
        let scores: Vec<Vec<f64>> = xs_test.iter().zip(&self.test.rows).map(|(x, r)| c.scores(x, r)).collect();
        let taus = cascade::threshold_sets(chain.len() - 1)[train_point.knob as usize].clone();
        let d = cascade::decide(&chain, &scores, &self.test.rows, &taus);
        let two = (self.test.models.len() == 2 && chain.len() == 2).then(|| {
            let score: Vec<f64> = scores.iter().map(|s| 1.0 - s[0]).collect();
            self.routellm(&score)
        });
        let names = chain.iter().map(|&m| self.test.models[m].clone()).collect();
        let curve = curve::pareto(&cascade::curve_of(&chain, &scores, &self.test.rows));
        let mut report = self.report("cascade", names, train_point, d, curve, two);
        report.thresholds = taus.clone();
        Ok(Some((report, PolicyKind::Cascade { chain: c.chain, thresholds: taus, scorers: c.scorers })))
    }

    fn routellm(&self, score: &[f64]) -> RouteLlmMetrics {
        let rows = &self.test.rows;
        // Two models: the strong one is the best on training data, whatever its column.
        let weak: Vec<f64> = rows.iter().map(|r| r.correct[1 - self.best]).collect();
        let strong: Vec<f64> = rows.iter().map(|r| r.correct[self.best]).collect();
        let metric = |f: fn(&TwoModel) -> f64| {
            stats::bootstrap(rows.len(), |idx| curve::two_model(score, &weak, &strong, idx).map_or(f64::NAN, |m| f(&m)))
        };
        RouteLlmMetrics {
            apgr: metric(|m| m.apgr),
            cpt50: metric(|m| m.cpt50),
            cpt80: metric(|m| m.cpt80),
            saving_at_95: metric(|m| m.saving_at_95),
        }
    }

    fn report(
        &self,
        name: &str,
        chain: Vec<String>,
        train_point: Point,
        d: Decisions,
        curve: Vec<Point>,
        routellm: Option<RouteLlmMetrics>,
    ) -> PolicyReport {
        let rows = &self.test.rows;
        let best_q: Vec<Option<f64>> = rows.iter().map(|r| Some(r.correct[self.best])).collect();
        let best_c: Vec<f64> = rows.iter().map(|r| r.cost[self.best]).collect();
        let ours: Vec<Option<f64>> = d.quality.iter().map(|&q| Some(q)).collect();
        let (a, b, p) = curve::hull_mix(self.singles, self.hull, d.mean_cost());
        let zero: Vec<Option<f64>> = rows.iter().map(|r| Some((1.0 - p) * r.correct[a] + p * r.correct[b])).collect();
        let cb = curve::mean(&best_c);
        let cost = d.cost.clone();
        let saving = stats::bootstrap(rows.len(), |idx| {
            let base: f64 = idx.iter().map(|&i| best_c[i]).sum();
            if base > 0.0 { 1.0 - idx.iter().map(|&i| cost[i]).sum::<f64>() / base } else { f64::NAN }
        });
        let best_test = curve::mean(&rows.iter().map(|r| r.correct[self.best]).collect::<Vec<_>>());
        let saving_at_equal_quality_on_test = curve
            .iter()
            .filter(|p| p.quality >= best_test - 1e-12)
            .map(|p| p.cost)
            .min_by(f64::total_cmp)
            .filter(|_| cb > 0.0)
            .map(|c| 1.0 - c / cb);
        let model_share = (0..self.test.models.len())
            .map(|m| {
                (self.test.models[m].clone(), d.chosen.iter().filter(|&&c| c == m).count() as f64 / rows.len() as f64)
            })
            .filter(|(_, s)| *s > 0.0)
            .collect();
        PolicyReport {
            name: name.to_owned(),
            knob: train_point.knob,
            chain,
            thresholds: Vec::new(),
            train_point,
            accuracy: stats::interval(&ours),
            mean_cost: stats::interval(&d.cost.iter().map(|&c| Some(c)).collect::<Vec<_>>()),
            saving,
            vs_best: stats::paired(&best_q, &ours),
            vs_zero_router: stats::paired(&zero, &ours),
            model_share,
            saving_at_equal_quality_on_test,
            routellm,
            curve,
        }
    }
}

/// A fixed pseudo-random number in [0, 1) per question (splitmix64): the random router's score.
fn pseudo_random(i: u64) -> f64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15).wrapping_mul(0x2545_f491_4f6c_dd1d);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) as f64 / u64::MAX as f64
}
