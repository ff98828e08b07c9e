//! Each arm's outcomes on the stream, summed up against the baseline's: the attribution table.

use super::RagArgs;
use super::pipeline::{Levers, Run, Served, quality};
use super::stream::{Entry, Kind};
use genai_cache::Decision;
use genai_eval::stats::{self, Interval, Paired};
use serde::Serialize;

/// One stream entry through one arm.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub dollars: f64,
    pub containment: f64,
    pub f1: f64,
    /// `None` when the cache answered (no context was sent).
    pub answer_in_context: Option<bool>,
    pub prompt_tokens: u64,
    /// `exact` or `semantic` when the cache answered.
    pub cache: Option<&'static str>,
    /// The cache served the answer to a different question.
    pub wrong_hit: bool,
    pub escalated: bool,
    pub kind: Kind,
    /// The sentence the answer cited first, and the context sent (to check whether another
    /// arm's compression kept the baseline's cited sentence).
    pub quote: String,
    pub context: String,
}

impl Outcome {
    pub fn ran(run: &Run, entry: &Entry, golds: &[&str]) -> Self {
        let (containment, f1) = quality(&run.served, golds);
        Self {
            dollars: run.dollars,
            containment,
            f1,
            answer_in_context: Some(run.answer_in_context),
            prompt_tokens: run.prompt_tokens,
            cache: None,
            wrong_hit: false,
            escalated: run.escalated,
            kind: entry.kind,
            quote: run.served.quote.clone(),
            context: run.context.clone(),
        }
    }

    pub fn hit(served: &Served, entry: &Entry, golds: &[&str], decision: Decision) -> Self {
        let (containment, f1) = quality(served, golds);
        Self {
            dollars: 0.0,
            containment,
            f1,
            answer_in_context: None,
            prompt_tokens: 0,
            cache: Some(if matches!(decision, Decision::Exact) { "exact" } else { "semantic" }),
            wrong_hit: served.origin != entry.origin,
            escalated: false,
            kind: entry.kind,
            quote: served.quote.clone(),
            context: String::new(),
        }
    }
}

/// One row of the attribution table.
#[derive(Debug, Clone, Serialize)]
pub struct ArmReport {
    pub arm: String,
    pub levers: Levers,
    /// Mean dollars per stream entry.
    pub dollars_per_query: Interval,
    /// 1 − this arm's dollars / the baseline's, bootstrapped over stream entries.
    pub saving: Interval,
    pub containment: Interval,
    pub containment_vs_baseline: Paired,
    pub f1: Interval,
    pub f1_vs_baseline: Paired,
    /// Share of pipeline runs whose context held a gold answer.
    pub answer_in_context: Interval,
    /// Share of entries whose baseline answer's cited sentence is in this arm's context.
    pub baseline_citation_kept: Interval,
    pub prompt_tokens_mean: f64,
    pub exact_hits: usize,
    pub semantic_hits: usize,
    /// Cache hits that served another question's answer.
    pub wrong_hits: usize,
    /// Reworded re-asks served from the cache, of all reworded re-asks.
    pub reworded_served: f64,
    /// Share of pipeline runs the cheap model's answer was not accepted for.
    pub escalated: f64,
}

fn share(xs: impl Iterator<Item = bool>) -> f64 {
    let (hit, n) = xs.fold((0usize, 0usize), |(h, n), x| (h + usize::from(x), n + 1));
    hit as f64 / n.max(1) as f64
}

/// The row for `name` from its outcomes and the baseline's (an empty baseline: this is it).
pub fn arm(name: &str, levers: Levers, outcomes: &[Outcome], baseline: &[Outcome]) -> ArmReport {
    let base = if baseline.is_empty() { outcomes } else { baseline };
    let col = |xs: &[Outcome], f: fn(&Outcome) -> f64| xs.iter().map(|o| Some(f(o))).collect::<Vec<_>>();
    let saving = stats::bootstrap(outcomes.len(), |idx| {
        let spent: f64 = idx.iter().map(|&i| outcomes[i].dollars).sum();
        let before: f64 = idx.iter().map(|&i| base[i].dollars).sum();
        1.0 - spent / before
    });
    let ran = || outcomes.iter().filter(|o| o.cache.is_none());
    let kept: Vec<Option<f64>> = outcomes
        .iter()
        .zip(base)
        .map(|(o, b)| {
            (o.cache.is_none() && !b.quote.is_empty()).then(|| f64::from(u8::from(o.context.contains(&b.quote))))
        })
        .collect();
    let reworded = outcomes.iter().filter(|o| o.kind == Kind::Reworded);
    ArmReport {
        arm: name.to_owned(),
        levers,
        dollars_per_query: stats::interval(&col(outcomes, |o| o.dollars)),
        saving,
        containment: stats::interval(&col(outcomes, |o| o.containment)),
        containment_vs_baseline: stats::paired(&col(base, |o| o.containment), &col(outcomes, |o| o.containment)),
        f1: stats::interval(&col(outcomes, |o| o.f1)),
        f1_vs_baseline: stats::paired(&col(base, |o| o.f1), &col(outcomes, |o| o.f1)),
        answer_in_context: stats::interval(
            &outcomes.iter().map(|o| o.answer_in_context.map(|x| f64::from(u8::from(x)))).collect::<Vec<_>>(),
        ),
        baseline_citation_kept: stats::interval(&kept),
        prompt_tokens_mean: ran().map(|o| o.prompt_tokens as f64).sum::<f64>() / ran().count().max(1) as f64,
        exact_hits: outcomes.iter().filter(|o| o.cache == Some("exact")).count(),
        semantic_hits: outcomes.iter().filter(|o| o.cache == Some("semantic")).count(),
        wrong_hits: outcomes.iter().filter(|o| o.wrong_hit).count(),
        reworded_served: share(reworded.map(|o| o.cache.is_some())),
        escalated: share(ran().map(|o| o.escalated)),
    }
}

/// What `rag-levers` reports (and writes as rag-levers.json).
#[derive(Debug, Clone, Serialize)]
pub struct LeverReport {
    pub squad: String,
    pub strong_model: String,
    pub cheap_model: String,
    pub readers: &'static str,
    pub stream_entries: usize,
    pub first_asks: usize,
    pub repeats: usize,
    pub reworded: usize,
    pub calibration_questions: usize,
    /// The baseline's containment on the calibration questions, and the loss each lever was
    /// allowed there.
    pub calibration_containment: f64,
    pub tolerance: f64,
    pub arms: Vec<ArmReport>,
    /// All levers together save at least `min_saving` with no significant containment loss.
    pub meets_goal: bool,
    pub min_saving: f64,
}

impl LeverReport {
    pub fn new(args: &RagArgs, entries: &[Entry], calibration: usize, base_quality: f64, arms: Vec<ArmReport>) -> Self {
        let count = |k: Kind| entries.iter().filter(|e| e.kind == k).count();
        let meets_goal = arms.iter().find(|a| a.arm == "all together").is_some_and(|a| {
            let c = a.containment_vs_baseline;
            a.saving.mean >= args.min_saving && !(c.significant() && c.difference < 0.0)
        });
        Self {
            squad: args.squad.display().to_string(),
            strong_model: args.strong_model.clone(),
            cheap_model: args.cheap_model.clone(),
            readers: if args.llm { "models at OPENAI_BASE_URL" } else { "offline extractive readers" },
            stream_entries: entries.len(),
            first_asks: count(Kind::First),
            repeats: count(Kind::Repeat),
            reworded: count(Kind::Reworded),
            calibration_questions: calibration,
            calibration_containment: base_quality,
            tolerance: args.tolerance,
            arms,
            meets_goal,
            min_saving: args.min_saving,
        }
    }
}

fn levers(l: &Levers) -> String {
    let mut parts = Vec::new();
    if let Some(b) = l.budget_tokens {
        parts.push(format!("{}≤{b} tok", if l.rerank { "reranked, " } else { "" }));
    }
    if let Some(k) = l.keep_sentences {
        parts.push(format!("{k} sentences"));
    }
    if let Some(t) = l.route_threshold {
        parts.push(format!("cheap if evidence ≥ {t:.2}"));
    }
    if l.cache {
        parts.push("exact+semantic cache".into());
    }
    if parts.is_empty() { "top-5 whole, strong, no cache".into() } else { parts.join("; ") }
}

/// The attribution table, as Markdown.
pub fn print(r: &LeverReport) -> String {
    let mut s = format!(
        "RAG levers on {} ({}; strong = {}, cheap = {})\nstream: {} queries = {} first asks + {} repeats + {} reworded; \
         operating points chosen on {} calibration questions (baseline containment {:.1}%, tolerance {:.1} points)\n\n",
        r.squad,
        r.readers,
        r.strong_model,
        r.cheap_model,
        r.stream_entries,
        r.first_asks,
        r.repeats,
        r.reworded,
        r.calibration_questions,
        100.0 * r.calibration_containment,
        100.0 * r.tolerance
    );
    s.push_str("| arm | operating point | $ per 1k queries | saving | containment | Δ containment (p) | Δ F1 (p) | answer in context | cited sentence kept | prompt tokens | cache hits (wrong) | escalated |\n");
    s.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    let pct = |i: &Interval| format!("{:.1}% [{:.1}, {:.1}]", 100.0 * i.mean, 100.0 * i.low, 100.0 * i.high);
    let diff = |p: &Paired| {
        format!("{:+.1} [{:+.1}, {:+.1}] ({:.2})", 100.0 * p.difference, 100.0 * p.low, 100.0 * p.high, p.p_value)
    };
    for a in &r.arms {
        s.push_str(&format!(
            "| {} | {} | {:.2} | {} | {} | {} | {} | {:.1}% | {:.1}% | {:.0} | {} + {} ({}) | {:.1}% |\n",
            a.arm,
            levers(&a.levers),
            1000.0 * a.dollars_per_query.mean,
            pct(&a.saving),
            pct(&a.containment),
            diff(&a.containment_vs_baseline),
            diff(&a.f1_vs_baseline),
            100.0 * a.answer_in_context.mean,
            100.0 * a.baseline_citation_kept.mean,
            a.prompt_tokens_mean,
            a.exact_hits,
            a.semantic_hits,
            a.wrong_hits,
            100.0 * a.escalated,
        ));
    }
    s.push_str(&format!(
        "\nAll levers together {} the goal: ≥ {:.0}% fewer dollars than the baseline with no significant containment loss.\n",
        if r.meets_goal { "meet" } else { "do NOT meet" },
        100.0 * r.min_saving
    ));
    s
}
