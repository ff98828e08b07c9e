//! `genai-eval compare A.json B.json`: two reports of the same questions, compared metric by
//! metric with the paired test of [`crate::stats::paired`]. Works on any report that has a
//! `per_query` map of numeric metrics (retrieval reports, RAG reports); metrics a question lacks
//! (or holds `null` for) are not applicable there and left out of that metric's pairs.

use crate::stats::{self, Paired};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One metric compared.
#[derive(Debug, Clone, Serialize)]
pub struct MetricComparison {
    pub metric: String,
    /// Means over the questions each report has a value for (`None`: none has).
    pub a: Option<f64>,
    pub b: Option<f64>,
    pub paired: Paired,
    pub verdict: &'static str,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub a: String,
    pub b: String,
    /// Questions in both reports.
    pub shared_questions: usize,
    /// Questions in only one of them (not compared).
    pub unmatched_questions: usize,
    pub metrics: Vec<MetricComparison>,
}

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("{0} has no `per_query` object; rerun its evaluation with this version")]
    NoPerQuery(String),
    #[error("the reports share no question")]
    Disjoint,
}

/// Costs, latencies and refusal rates improve when they go down.
fn lower_is_better(metric: &str) -> bool {
    ["tokens", "latency", "cost", "refused", "_ms", "usd"].iter().any(|w| metric.contains(w))
}

/// Compares report `b` against report `a` (labels name them in the output).
pub fn compare(a_label: &str, a: &Value, b_label: &str, b: &Value) -> Result<Comparison, CompareError> {
    let per = |v: &Value, label: &str| {
        v.get("per_query").and_then(Value::as_object).cloned().ok_or_else(|| CompareError::NoPerQuery(label.to_owned()))
    };
    let (pa, pb) = (per(a, a_label)?, per(b, b_label)?);
    let shared: Vec<&String> = pa.keys().filter(|k| pb.contains_key(*k)).collect();
    if shared.is_empty() {
        return Err(CompareError::Disjoint);
    }
    let unmatched = pa.len() + pb.len() - 2 * shared.len();
    let mut names: BTreeMap<String, ()> = BTreeMap::new();
    for q in &shared {
        for m in [&pa[*q], &pb[*q]].into_iter().filter_map(Value::as_object) {
            for (k, v) in m {
                if v.is_number() {
                    names.insert(k.clone(), ());
                }
            }
        }
    }
    let value = |m: &serde_json::Map<String, Value>, q: &str, name: &str| -> Option<f64> {
        m.get(q)?.get(name)?.as_f64().filter(|x| x.is_finite())
    };
    let metrics = names
        .keys()
        .map(|name| {
            let xs: Vec<Option<f64>> = shared.iter().map(|q| value(&pa, q, name)).collect();
            let ys: Vec<Option<f64>> = shared.iter().map(|q| value(&pb, q, name)).collect();
            let paired = stats::paired(&xs, &ys);
            let verdict = match (paired.significant(), (paired.difference > 0.0) != lower_is_better(name)) {
                (false, _) => "no significant difference",
                (true, true) => "B is better",
                (true, false) => "B is worse",
            };
            let mean = |v: &[Option<f64>]| Some(stats::interval(v)).filter(|i| i.n > 0).map(|i| i.mean);
            MetricComparison { metric: name.clone(), a: mean(&xs), b: mean(&ys), paired, verdict }
        })
        .collect();
    Ok(Comparison {
        a: a_label.to_owned(),
        b: b_label.to_owned(),
        shared_questions: shared.len(),
        unmatched_questions: unmatched,
        metrics,
    })
}

impl Comparison {
    /// A Markdown table.
    pub fn table(&self) -> String {
        let mut out = format!(
            "A = {}\nB = {}\n{} shared questions ({} unmatched)\n\n| metric | A | B | B − A [95% CI] | p | verdict |\n|---|---|---|---|---|---|\n",
            self.a, self.b, self.shared_questions, self.unmatched_questions
        );
        let show = |x: Option<f64>| x.map_or("n/a".to_owned(), |v| format!("{v:.4}"));
        for m in &self.metrics {
            let diff = if m.paired.n == 0 {
                "n/a (no question has both)".to_owned()
            } else {
                format!("{:+.4} [{:+.4}, {:+.4}]", m.paired.difference, m.paired.low, m.paired.high)
            };
            out.push_str(&format!(
                "| {} | {} | {} | {diff} | {:.4} | {} |\n",
                m.metric,
                show(m.a),
                show(m.b),
                m.paired.p_value,
                m.verdict
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compares_shared_questions_and_skips_missing_values() {
        let mut pa = serde_json::Map::new();
        let mut pb = serde_json::Map::new();
        for i in 0..120 {
            let base = (i % 7) as f64 / 10.0;
            pa.insert(format!("q{i}"), json!({"ndcg": base, "faithfulness": null}));
            pb.insert(
                format!("q{i}"),
                json!({"ndcg": base + 0.1, "faithfulness": if i % 2 == 0 { json!(1.0) } else { json!(null) }}),
            );
        }
        pb.insert("extra".into(), json!({"ndcg": 1.0}));
        let c = compare("a", &json!({"per_query": pa}), "b", &json!({"per_query": pb})).unwrap();
        assert_eq!((c.shared_questions, c.unmatched_questions), (120, 1));
        let ndcg = c.metrics.iter().find(|m| m.metric == "ndcg").unwrap();
        assert_eq!(ndcg.verdict, "B is better");
        assert!((ndcg.paired.difference - 0.1).abs() < 1e-9);
        let faith = c.metrics.iter().find(|m| m.metric == "faithfulness").unwrap();
        assert_eq!(faith.paired.n, 0, "no question has both values");
        assert_eq!(faith.verdict, "no significant difference");
        insta::assert_snapshot!(c.table());
    }
}
