//! A query stream like a service's: every question once, then re-asks of earlier ones, some word
//! for word, some reworded, popular questions more often than others.
//!
//! The re-asks are made here by rules (SQuAD has no paraphrases of its questions): a surface
//! variant (case, spacing, punctuation: what the exact cache's normalisation must absorb) or a
//! rewording (a rewritten question opening and/or a conversational lead-in: what only the
//! semantic cache can catch). The hard part of a semantic cache is elsewhere and is real here:
//! SQuAD asks several different questions about each paragraph ("When did X start?", "When did X
//! end?"), and serving one's answer for another is a wrong answer the evaluation scores as such.
//! Real paraphrases are measured in genai-cache on QQP and PAWS.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// How a stream entry relates to the question it asks again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The question's first appearance.
    First,
    /// Asked again, differing at most in case, spacing and final punctuation.
    Repeat,
    /// Asked again in other words.
    Reworded,
}

/// One query of the stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// Index of the question (in the list the stream was built from) this entry asks.
    pub origin: usize,
    pub text: String,
    pub kind: Kind,
}

/// Question openings and the same question's other common openings.
const OPENINGS: &[(&str, &str)] = &[
    ("What is ", "What's "),
    ("Who is ", "Who's "),
    ("Where is ", "Where's "),
    ("In what year ", "What year "),
    ("In which year ", "What year "),
    ("Which ", "What "),
    ("What ", "Which "),
    ("How many ", "What number of "),
    ("When did ", "At what point did "),
];

/// What users put before a question in a chat box.
const LEAD_INS: &[&str] =
    &["Can you tell me: ", "Quick question: ", "I'd like to know: ", "Please tell me ", "Do you know this? "];

/// `question` reworded: a rewritten opening if one applies, and a lead-in half the time (always
/// when no opening applies), so the result always differs after the exact cache's normalisation.
pub fn reword(question: &str, rng: &mut StdRng) -> String {
    let q = question.trim();
    let opened =
        OPENINGS.iter().find(|(from, _)| q.starts_with(from)).map(|(from, to)| format!("{to}{}", &q[from.len()..]));
    match opened {
        Some(o) if rng.random_bool(0.5) => o,
        other => {
            let body = other.unwrap_or_else(|| q.to_owned());
            let lead = LEAD_INS[rng.random_range(0..LEAD_INS.len())];
            let mut chars = body.chars();
            let lowered = match chars.next() {
                // "What" → "what"; an acronym or name ("NASA", "Tesla") keeps its capital.
                Some(c) if chars.clone().next().is_some_and(char::is_lowercase) => {
                    c.to_lowercase().chain(chars).collect()
                }
                _ => body.clone(),
            };
            format!("{lead}{lowered}")
        }
    }
}

/// `question` as someone typing it again: other case, spacing or final punctuation.
fn repeat(question: &str, rng: &mut StdRng) -> String {
    let q = question.trim();
    match rng.random_range(0..4) {
        0 => q.to_owned(),
        1 => q.to_lowercase(),
        2 => q.trim_end_matches('?').to_owned(),
        _ => format!("  {}  ?", q.trim_end_matches('?')),
    }
}

/// A stream asking each of `questions` once, in the given order, with re-asks inserted so that
/// `repeat_share` of all entries are re-asks, `reworded_share` of those in other words.
/// Popularity follows Zipf's law (s = 1) over a random ranking of the questions; a re-ask comes
/// at a random point after its question's first appearance. Deterministic for a seed.
pub fn build(questions: &[String], repeat_share: f64, reworded_share: f64, seed: u64) -> Vec<Entry> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut stream: Vec<Entry> =
        questions.iter().enumerate().map(|(origin, q)| Entry { origin, text: q.clone(), kind: Kind::First }).collect();
    let n = questions.len();
    let share = repeat_share.clamp(0.0, 0.95);
    if n == 0 || share == 0.0 {
        return stream;
    }
    let extra = ((n as f64) * share / (1.0 - share)).round() as usize;
    // Zipf weights over a random ranking, sampled through the cumulative sum.
    let mut ranking: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        ranking.swap(i, rng.random_range(0..=i));
    }
    let cumulative: Vec<f64> = (1..=n)
        .scan(0.0, |acc, rank| {
            *acc += 1.0 / rank as f64;
            Some(*acc)
        })
        .collect();
    let total = cumulative[n - 1];
    for _ in 0..extra {
        let x = rng.random::<f64>() * total;
        let rank = cumulative.partition_point(|c| *c < x).min(n - 1);
        let origin = ranking[rank];
        let (text, kind) = if rng.random_bool(reworded_share.clamp(0.0, 1.0)) {
            (reword(&questions[origin], &mut rng), Kind::Reworded)
        } else {
            (repeat(&questions[origin], &mut rng), Kind::Repeat)
        };
        let first = stream.iter().position(|e| e.origin == origin && e.kind == Kind::First).unwrap_or(0);
        let at = rng.random_range(first + 1..=stream.len());
        stream.insert(at, Entry { origin, text, kind });
    }
    stream
}

#[cfg(test)]
mod tests {
    use super::*;
    use genai_cache::normalise;
    use proptest::prelude::*;

    fn questions(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("What is the name of item number {i}?")).collect()
    }

    proptest! {
        #[test]
        fn every_question_comes_first_once_then_only_reasks(n in 1usize..60, share in 0.0f64..0.8, seed in any::<u64>()) {
            let qs = questions(n);
            let s = build(&qs, share, 0.5, seed);
            let firsts: Vec<usize> = s.iter().filter(|e| e.kind == Kind::First).map(|e| e.origin).collect();
            prop_assert_eq!(firsts, (0..n).collect::<Vec<_>>());
            for (i, e) in s.iter().enumerate() {
                let first = s.iter().position(|f| f.origin == e.origin).expect("asked");
                prop_assert!(e.kind == Kind::First || first < i, "a re-ask before its question");
                match e.kind {
                    Kind::First => prop_assert_eq!(&e.text, &qs[e.origin]),
                    Kind::Repeat => prop_assert_eq!(normalise(&e.text), normalise(&qs[e.origin])),
                    Kind::Reworded => prop_assert_ne!(normalise(&e.text), normalise(&qs[e.origin])),
                }
            }
            let reasks = s.len() - n;
            prop_assert!((reasks as f64 - n as f64 * share / (1.0 - share)).abs() <= 1.0);
        }
    }

    #[test]
    fn rewording_changes_the_words_and_keeps_names_capitalised() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..20 {
            let r = reword("NASA launched which probe in 1977?", &mut rng);
            assert!(r.contains("NASA launched which probe in 1977?"), "{r}");
            let w = reword("What is the capital of Peru?", &mut rng);
            assert_ne!(normalise(&w), normalise("What is the capital of Peru?"));
            assert!(w.contains("the capital of Peru"), "{w}");
        }
    }
}
