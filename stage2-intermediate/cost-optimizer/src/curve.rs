//! Quality against cost: the curve a router traces as its knob turns, RouteLLM's two-model
//! metrics, and the choice of an operating point from training data only.
//!
//! RouteLLM's definitions (Ong et al., arXiv 2406.18665, §5; `routellm/evals/evaluate.py`), with
//! cost counted as the share of calls to the strong model:
//! - PGR(x) = (q(x) − q_weak) / (q_strong − q_weak): the share of the quality gap recovered when
//!   a fraction x of prompts goes to the strong model.
//! - APGR: the area under PGR over x ∈ [0, 1]; here by the trapezoid rule on 101 evenly spaced x.
//!   A random router scores 0.5 by construction.
//! - CPT(p): the smallest share of strong calls at which PGR reaches p.

use serde::Serialize;

/// What one policy did on each question.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decisions {
    /// 1.0 when the answer it took was correct.
    pub quality: Vec<f64>,
    /// What it paid for the question (every call a cascade made).
    pub cost: Vec<f64>,
    /// The model whose answer it took.
    pub chosen: Vec<usize>,
}

impl Decisions {
    pub fn mean_quality(&self) -> f64 {
        mean(&self.quality)
    }

    pub fn mean_cost(&self) -> f64 {
        mean(&self.cost)
    }
}

pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() { 0.0 } else { xs.iter().sum::<f64>() / xs.len() as f64 }
}

/// One point of a curve: the knob's value and what it gave.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Point {
    pub knob: f64,
    pub cost: f64,
    pub quality: f64,
}

/// The router knob `lambda` (see [`crate::router::choose`]): 0, then 160 log-spaced values from
/// 10⁻⁴ to 10², enough that neighbouring points differ by a handful of decisions.
pub fn lambda_grid() -> Vec<f64> {
    std::iter::once(0.0).chain((0..=160).map(|i| 10f64.powf(-4.0 + 6.0 * f64::from(i) / 160.0))).collect()
}

/// The cascade knob: an answer is accepted when its score reaches the threshold (0 … 1 in 0.01).
pub fn threshold_grid() -> Vec<f64> {
    (0..=100).map(|i| f64::from(i) / 100.0).collect()
}

/// The points no other point beats on both cost and quality, cheapest first.
pub fn pareto(points: &[Point]) -> Vec<Point> {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a.cost.total_cmp(&b.cost).then(b.quality.total_cmp(&a.quality)));
    let mut out: Vec<Point> = Vec::new();
    for p in sorted {
        if out.last().is_none_or(|l| p.quality > l.quality) {
            out.push(p);
        }
    }
    out
}

/// RouterBench's zero router: the upper convex hull of single models' (mean cost, accuracy),
/// cheapest first, keeping only models that are more accurate than every cheaper one. Any
/// mean cost between two hull models is reached by sending each question to one of them at
/// random; no router that ignores the prompt does better.
pub fn zero_router_hull(points: &[(f64, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| points[a].0.total_cmp(&points[b].0).then(points[b].1.total_cmp(&points[a].1)));
    let mut hull: Vec<usize> = Vec::new();
    for i in order {
        if hull.last().is_some_and(|&l| points[i].1 <= points[l].1) {
            continue;
        }
        // Drop the last point while it lies on or under the line from the one before it to `i`.
        while hull.len() >= 2 {
            let (a, b) = (points[hull[hull.len() - 2]], points[hull[hull.len() - 1]]);
            let c = points[i];
            if (b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0) >= 0.0 {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push(i);
    }
    hull
}

/// Where a mean cost falls on a hull: the two models around it and the share sent to the
/// dearer one (below the hull's cheapest or above its dearest: that model alone).
pub fn hull_mix(points: &[(f64, f64)], hull: &[usize], cost: f64) -> (usize, usize, f64) {
    let (first, last) = (hull[0], hull[hull.len() - 1]);
    if cost <= points[first].0 {
        return (first, first, 0.0);
    }
    for w in hull.windows(2) {
        let (a, b) = (points[w[0]], points[w[1]]);
        if cost <= b.0 {
            return (w[0], w[1], ((cost - a.0) / (b.0 - a.0).max(f64::MIN_POSITIVE)).clamp(0.0, 1.0));
        }
    }
    (last, last, 0.0)
}

/// The operating point chosen on training data: the cheapest point whose quality is within
/// `tolerance` of `reference` (the best single model's), else the best-quality point.
pub fn pick(points: &[Point], reference: f64, tolerance: f64) -> Point {
    let good = points.iter().filter(|p| p.quality >= reference - tolerance - 1e-12);
    let cheapest = good.min_by(|a, b| a.cost.total_cmp(&b.cost).then(b.quality.total_cmp(&a.quality)));
    *cheapest.unwrap_or_else(|| {
        points
            .iter()
            .max_by(|a, b| a.quality.total_cmp(&b.quality).then(b.cost.total_cmp(&a.cost)))
            .unwrap_or(&points[0])
    })
}

/// The best-quality point at or under `budget` mean cost (the "target cost" way to choose).
pub fn pick_by_cost(points: &[Point], budget: f64) -> Point {
    let within = points.iter().filter(|p| p.cost <= budget + 1e-15);
    *within
        .max_by(|a, b| a.quality.total_cmp(&b.quality).then(b.cost.total_cmp(&a.cost)))
        .unwrap_or_else(|| points.iter().min_by(|a, b| a.cost.total_cmp(&b.cost)).unwrap_or(&points[0]))
}

/// RouteLLM's metrics of a two-model router on (a resample of) the questions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TwoModel {
    pub apgr: f64,
    /// Strong-call share to recover 50% / 80% of the gap.
    pub cpt50: f64,
    pub cpt80: f64,
    /// 1 − the strong-call share needed to reach 95% of the strong model's quality.
    pub saving_at_95: f64,
}

/// Ranks the questions in `idx` by `score` (higher: more reason to call the strong model) and
/// sends the top share to the strong model. `None` when the strong model is not better on them.
pub fn two_model(score: &[f64], weak: &[f64], strong: &[f64], idx: &[usize]) -> Option<TwoModel> {
    let n = idx.len();
    if n == 0 {
        return None;
    }
    let mut order = idx.to_vec();
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]).then(a.cmp(&b)));
    let q_weak = idx.iter().map(|&i| weak[i]).sum::<f64>() / n as f64;
    let q_strong = idx.iter().map(|&i| strong[i]).sum::<f64>() / n as f64;
    let gap = q_strong - q_weak;
    if gap <= 0.0 {
        return None;
    }
    // quality after sending the first c of `order` to the strong model, c = 0..=n
    let mut q = Vec::with_capacity(n + 1);
    let mut sum = q_weak * n as f64;
    q.push(sum / n as f64);
    for &i in &order {
        sum += strong[i] - weak[i];
        q.push(sum / n as f64);
    }
    let pgr = |c: usize| (q[c] - q_weak) / gap;
    let at = |x: f64| {
        // linear between the neighbouring counts, so the curve does not depend on rounding
        let pos = x * n as f64;
        let (lo, hi) = (pos.floor() as usize, (pos.ceil() as usize).min(n));
        pgr(lo) + (pgr(hi) - pgr(lo)) * (pos - lo as f64)
    };
    let xs: Vec<f64> = (0..=100).map(|k| f64::from(k) / 100.0).collect();
    let apgr = xs.windows(2).map(|w| (at(w[0]) + at(w[1])) / 2.0 * (w[1] - w[0])).sum();
    let first = |ok: &dyn Fn(usize) -> bool| (0..=n).find(|&c| ok(c)).map_or(1.0, |c| c as f64 / n as f64);
    Some(TwoModel {
        apgr,
        cpt50: first(&|c| pgr(c) >= 0.5 - 1e-12),
        cpt80: first(&|c| pgr(c) >= 0.8 - 1e-12),
        saving_at_95: 1.0 - first(&|c| q[c] >= 0.95 * q_strong - 1e-12),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_perfect_ranking_beats_random_and_a_random_one_scores_about_half() {
        // 40 questions: the weak model fails the first 10, the strong one gets everything.
        let weak: Vec<f64> = (0..40).map(|i| if i < 10 { 0.0 } else { 1.0 }).collect();
        let strong = vec![1.0; 40];
        let idx: Vec<usize> = (0..40).collect();
        let perfect: Vec<f64> = weak.iter().map(|w| 1.0 - w).collect();
        let m = two_model(&perfect, &weak, &strong, &idx).unwrap();
        assert!((m.cpt50 - 5.0 / 40.0).abs() < 1e-9 && (m.cpt80 - 8.0 / 40.0).abs() < 1e-9, "{m:?}");
        assert!(m.apgr > 0.85, "{m:?}");
        // scores that put the failures last: the worst ranking
        let worst: Vec<f64> = weak.clone();
        let w = two_model(&worst, &weak, &strong, &idx).unwrap();
        assert!(w.apgr < 0.2 && w.cpt50 > 0.8, "{w:?}");
        assert!(two_model(&perfect, &strong, &weak, &idx).is_none(), "no gap to recover");
    }

    #[test]
    fn operating_points() {
        let pts = [
            Point { knob: 0.0, cost: 1.0, quality: 0.90 },
            Point { knob: 0.1, cost: 0.4, quality: 0.895 },
            Point { knob: 1.0, cost: 0.1, quality: 0.70 },
        ];
        assert_eq!(pick(&pts, 0.90, 0.01).knob, 0.1);
        assert_eq!(pick(&pts, 0.99, 0.0).knob, 0.0, "nothing reaches it: the best quality");
        assert_eq!(pick_by_cost(&pts, 0.5).knob, 0.1);
        assert_eq!(pick_by_cost(&pts, 0.01).knob, 1.0, "nothing is that cheap: the cheapest");
        let dominated = Point { knob: 2.0, cost: 0.5, quality: 0.8 };
        let front: Vec<f64> = pareto(&[pts[0], dominated, pts[1], pts[2]]).iter().map(|p| p.knob).collect();
        assert_eq!(front, [1.0, 0.1, 0.0]);
    }

    #[test]
    fn the_zero_router_is_the_upper_hull() {
        // (cost, accuracy): 1 is under the line from 0 to 2; 3 is dearer and worse than 2.
        let pts = [(1.0, 0.6), (2.0, 0.62), (3.0, 0.8), (4.0, 0.7), (10.0, 0.9)];
        let hull = zero_router_hull(&pts);
        assert_eq!(hull, [0, 2, 4]);
        assert_eq!(hull_mix(&pts, &hull, 2.0), (0, 2, 0.5));
        assert_eq!(hull_mix(&pts, &hull, 0.5), (0, 0, 0.0));
        assert_eq!(hull_mix(&pts, &hull, 20.0), (4, 4, 0.0));
    }

    proptest! {
        #[test]
        fn two_model_metrics_stay_in_range(rows in prop::collection::vec((any::<bool>(), any::<bool>(), 0.0f64..1.0), 2..80)) {
            let weak: Vec<f64> = rows.iter().map(|r| f64::from(u8::from(r.0))).collect();
            let strong: Vec<f64> = rows.iter().map(|r| f64::from(u8::from(r.1))).collect();
            let score: Vec<f64> = rows.iter().map(|r| r.2).collect();
            let idx: Vec<usize> = (0..rows.len()).collect();
            if let Some(m) = two_model(&score, &weak, &strong, &idx) {
                prop_assert!((0.0..=1.0).contains(&m.cpt50) && m.cpt50 <= m.cpt80 + 1e-12);
                prop_assert!((0.0..=1.0).contains(&m.saving_at_95));
                prop_assert!(m.apgr.is_finite());
            }
        }
    }
}
