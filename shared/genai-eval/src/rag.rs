//! RAG metrics computed natively, question by question, never NaN.
//!
//! Retrieval side, from ids (RAGAS's non-LLM variants):
//! - **context precision@k**: `Σ_i precision@i · rel_i / (relevant in the top k)`: are the
//!   relevant passages ranked first? 0 when none was retrieved.
//! - **context recall@k**: relevant passages retrieved over relevant passages that exist.
//! - **hit@k**: at least one relevant passage retrieved.
//!
//! Answer side:
//! - **faithfulness**: the share of the answer's sentences (claims) that a passage it cites
//!   supports. Judged by a [`Judge`]: [`OverlapJudge`] offline (a sentence is supported when
//!   most of its content terms occur in one cited passage: a lexical entailment proxy), or
//!   [`LlmJudge`] with a model, whose calls a [`Cassette`] records and replays so a report is
//!   reproducible byte for byte without the model.
//! - **answer relevancy**: cosine similarity of the question's and the answer's embeddings (the
//!   offline stand-in for RAGAS's generated-question similarity).
//!
//! A metric that does not apply to a question (no reference passages; a refusal has no claims)
//! is `None` there: [`crate::stats::interval`] leaves it out and counts it, where RAGAS returns NaN.

mod cassette;
mod judge;

pub use cassette::{Cassette, CassetteMode};
pub use judge::{Judge, JudgeError, LlmJudge, OverlapJudge, Verdict};

use serde::{Deserialize, Serialize};

/// One question's RAG metrics; `None` = not applicable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RagScores {
    pub context_precision: Option<f64>,
    pub context_recall: Option<f64>,
    pub hit: Option<f64>,
    pub faithfulness: Option<f64>,
    pub answer_relevancy: Option<f64>,
}

// ANCHOR: context_metrics
/// Retrieval metrics from relevance flags of the retrieved passages, best first, and the number
/// of relevant passages that exist (0: the question has no reference, so none applies).
pub fn context_scores(retrieved_relevant: &[bool], total_relevant: usize) -> (Option<f64>, Option<f64>, Option<f64>) {
    if total_relevant == 0 {
        return (None, None, None);
    }
    let found = retrieved_relevant.iter().filter(|r| **r).count();
    let mut seen = 0usize;
    let mut weighted = 0.0;
    for (i, rel) in retrieved_relevant.iter().enumerate() {
        if *rel {
            seen += 1;
            weighted += seen as f64 / (i + 1) as f64;
        }
    }
    let precision = if found == 0 { 0.0 } else { weighted / found as f64 };
    let recall = (found as f64 / total_relevant as f64).min(1.0);
    (Some(precision), Some(recall), Some(f64::from(u8::from(found > 0))))
}
// ANCHOR_END: context_metrics

/// An answer as the metrics see it: its sentences, each with the passages it cites.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JudgedAnswer {
    pub question: String,
    /// `(sentence, indexes into passages it cites)`; empty for a refusal.
    pub claims: Vec<(String, Vec<usize>)>,
    pub passages: Vec<String>,
}

/// Faithfulness of an answer: supported claims over claims (`None` for a refusal).
pub async fn faithfulness(judge: &dyn Judge, answer: &JudgedAnswer) -> Result<Option<f64>, JudgeError> {
    if answer.claims.is_empty() {
        return Ok(None);
    }
    let verdicts = judge.judge(answer).await?;
    let supported = verdicts.iter().filter(|v| v.supported).count();
    Ok(Some(supported as f64 / answer.claims.len() as f64))
}

/// Cosine similarity of two embeddings, clamped to [0, 1] (opposite meaning is as irrelevant
/// as unrelated).
pub fn relevancy(question: &[f32], answer: &[f32]) -> Option<f64> {
    let dot: f32 = question.iter().zip(answer).map(|(a, b)| a * b).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let d = norm(question) * norm(answer);
    (d > 0.0).then(|| f64::from(dot / d).clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn context_metrics_follow_their_definitions() {
        let (p, r, h) = context_scores(&[true, false, true, false], 3);
        assert!((p.unwrap() - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        assert!((r.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(h, Some(1.0));
        assert_eq!(context_scores(&[false, false], 2), (Some(0.0), Some(0.0), Some(0.0)));
        assert_eq!(context_scores(&[true], 0), (None, None, None), "no reference: not applicable");
        assert_eq!(relevancy(&[0.0, 0.0], &[1.0, 0.0]), None);
    }

    proptest! {
        #[test]
        fn metrics_stay_in_the_unit_interval(flags in prop::collection::vec(any::<bool>(), 0..30), extra in 0usize..5,
                                             q in prop::collection::vec(-1.0f32..1.0, 4), a in prop::collection::vec(-1.0f32..1.0, 4)) {
            let total = flags.iter().filter(|f| **f).count() + extra;
            let (p, r, h) = context_scores(&flags, total);
            for v in [p, r, h].into_iter().flatten().chain(relevancy(&q, &a)) {
                prop_assert!((0.0..=1.0).contains(&v) && !v.is_nan());
            }
        }
    }
}
