//! Model routing by query complexity: simple questions to a cheap model, hard ones to a strong
//! one, with the reasons recorded so a trace can say why.
//!
//! [`ComplexityRouter`] scores a question from signals that make questions harder to answer from
//! one passage: several parts joined together (comparison, "both", "and" between clauses), the
//! need to explain or reason ("why", "how does"), several named entities, length. The weights are
//! set by hand and each signal is listed on the route. Production note: a hand-weighted score is
//! a starting point; the cost-optimised pipeline (milestone 6) fits its router on real models'
//! recorded answers and should replace these weights where one is configured.

use serde::Serialize;

/// Which model tier a question goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Cheap,
    Strong,
}

/// A routing decision with what decided it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Route {
    pub tier: Tier,
    /// 0–1; at or above the threshold means `Strong`.
    pub score: f64,
    pub threshold: f64,
    /// The signals that fired, each with its weight (`"comparison +0.35"`).
    pub reasons: Vec<String>,
}

/// Scores questions and routes them at `threshold`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ComplexityRouter {
    pub threshold: f64,
}

impl Default for ComplexityRouter {
    fn default() -> Self {
        Self { threshold: 0.5 }
    }
}

const COMPARISON: &[&str] = &["compare", "comparison", "difference", "differences", "versus", "vs", "both", "between"];
const REASONING: &[&str] = &["why", "explain", "implications", "impact", "cause", "causes", "tradeoff", "trade-off"];
const MULTI_STEP: &[&str] = &["before", "after", "first", "then", "which", "whose"];

impl ComplexityRouter {
    pub fn new(threshold: f64) -> Self {
        Self { threshold }
    }

    pub fn route(&self, question: &str) -> Route {
        let words: Vec<String> = question
            .split(|c: char| !c.is_alphanumeric() && c != '-')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
        let has = |list: &[&str]| lower.iter().find(|w| list.contains(&w.as_str())).cloned();
        let mut score = 0.0;
        let mut reasons = Vec::new();
        let mut add = |weight: f64, why: String| {
            score += weight;
            reasons.push(format!("{why} +{weight:.2}"));
        };
        if let Some(w) = has(COMPARISON) {
            add(0.35, format!("comparison ({w})"));
        }
        if let Some(w) = has(REASONING) {
            add(0.3, format!("asks for reasoning ({w})"));
        }
        if lower.windows(2).any(|p| p[0] == "how" && matches!(p[1].as_str(), "does" | "do" | "did" | "can" | "would")) {
            add(0.2, "asks how something works".into());
        }
        if let Some(w) = has(MULTI_STEP) {
            add(0.15, format!("may need several steps ({w})"));
        }
        // Named entities: capitalised words after the first, a crude but language-agnostic cue
        // for questions that join facts about several things.
        let entities = words.iter().skip(1).filter(|w| w.chars().next().is_some_and(char::is_uppercase)).count();
        if entities >= 2 {
            add(0.2, format!("{entities} named entities"));
        }
        let clauses = lower.iter().filter(|w| matches!(w.as_str(), "and" | "or")).count()
            + question.matches([',', ';']).count()
            + question.matches('?').count().saturating_sub(1);
        if clauses >= 2 {
            add(0.2, format!("{clauses} joined clauses"));
        }
        if words.len() > 25 {
            add(0.2, format!("long question ({} words)", words.len()));
        }
        let score: f64 = score.min(1.0);
        let tier = if score >= self.threshold { Tier::Strong } else { Tier::Cheap };
        Route { tier, score, threshold: self.threshold, reasons }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_go_cheap_and_multi_part_questions_go_strong() {
        let r = ComplexityRouter::default();
        let simple = r.route("What is the capital of France?");
        assert_eq!(simple.tier, Tier::Cheap, "{simple:?}");
        let hard = r.route("Why did Scott Derrickson and Ed Wood both direct horror films, and how does that compare?");
        assert_eq!(hard.tier, Tier::Strong, "{hard:?}");
        assert!(hard.reasons.iter().any(|w| w.starts_with("comparison")), "{:?}", hard.reasons);
    }

    #[test]
    fn the_threshold_decides() {
        let q = "Compare the two methods";
        assert_eq!(ComplexityRouter::new(0.3).route(q).tier, Tier::Strong);
        assert_eq!(ComplexityRouter::new(0.9).route(q).tier, Tier::Cheap);
    }
}
