//! The planner: decides whether a question compares two named things or bridges through one
//! entity to another, and what to look up first. Rule-based: HotpotQA's comparison questions
//! name both sides ("…, A or B?"), and the direction word says how to compare them.

use crate::state::{Compare, Kind, Plan, Research};
use async_trait::async_trait;
use genai_agent::{Ctx, Node, StepError};
use regex::Regex;
use std::sync::LazyLock;

static EITHER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:,|:|\bbetween)\s*(?:the\s+)?([^,?]+?),?\s+(?:or|and)\s+(?:the\s+)?([^,?]+?)\s*\??$")
        .expect("valid regex")
});

pub struct Planner;

#[async_trait]
impl Node<Research> for Planner {
    async fn run(&self, s: &mut Research, _ctx: &Ctx) -> Result<(), StepError> {
        s.plan = Some(plan(&s.question));
        Ok(())
    }
}

/// The plan for a question.
pub fn plan(question: &str) -> Plan {
    let q = question.trim();
    let lower = q.to_lowercase();
    let asks_which = ["which", "who", "what", "whose"].iter().any(|w| lower.starts_with(w));
    if let Some(c) = EITHER.captures(q).filter(|_| asks_which) {
        let (a, b) = (c[1].trim().to_string(), c[2].trim().to_string());
        if !a.is_empty() && !b.is_empty() && a.split_whitespace().count() <= 8 && b.split_whitespace().count() <= 8 {
            return Plan {
                kind: Kind::Comparison,
                queries: vec![a.clone(), b.clone()],
                entities: vec![a, b],
                compare: direction(&lower),
            };
        }
    }
    Plan { kind: Kind::Bridge, entities: Vec::new(), queries: vec![q.to_string()], compare: direction(&lower) }
}

fn direction(lower: &str) -> Option<Compare> {
    let has = |words: &[&str]| words.iter().any(|w| lower.split(|c: char| !c.is_alphanumeric()).any(|t| t == *w));
    if has(&["first", "earlier", "older", "oldest", "earliest", "before"]) {
        Some(Compare::Earlier)
    } else if has(&["later", "younger", "youngest", "recent", "latest", "newer", "after"]) {
        Some(Compare::Later)
    } else if has(&["more", "most", "larger", "largest", "higher", "longer", "bigger", "greater", "taller"]) {
        Some(Compare::More)
    } else if has(&["fewer", "less", "smaller", "lower", "shorter"]) {
        Some(Compare::Less)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_name_both_sides_and_the_direction() {
        let p = plan("Which magazine was started first, Arthur's Magazine or First for Women?");
        assert_eq!(p.kind, Kind::Comparison);
        assert_eq!(p.entities, ["Arthur's Magazine", "First for Women"]);
        assert_eq!(p.compare, Some(Compare::Earlier));
        let p = plan("Who was born later, Alice Munro or Doris Lessing?");
        assert_eq!((p.entities.len(), p.compare), (2, Some(Compare::Later)));
    }

    #[test]
    fn bridge_questions_start_from_the_question() {
        let p = plan("The director of the romantic comedy \"Big Stone Gap\" is based in what New York city?");
        assert_eq!(p.kind, Kind::Bridge);
        assert_eq!(p.queries.len(), 1);
    }
}
