//! Judges of claim support: an offline lexical proxy and a model.

use super::JudgedAnswer;
use async_trait::async_trait;
use genai_llm::{ExtractOptions, Message, Resilient};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Arc;

pub const FAITHFULNESS_PROMPT: &str = include_str!("../../prompts/faithfulness.md");

/// One claim's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub supported: bool,
    /// The judge's confidence or overlap score in [0, 1] (1 for a model's yes).
    pub score: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    #[error("judge model failed")]
    Model(#[from] genai_llm::LlmError),
    #[error("judge answered {got} verdicts for {claims} claims")]
    Count { claims: usize, got: usize },
}

/// Decides, claim by claim, whether the passages a claim cites support it.
#[async_trait]
pub trait Judge: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &str;
    async fn judge(&self, answer: &JudgedAnswer) -> Result<Vec<Verdict>, JudgeError>;
}

/// Offline: a claim is supported when at least `threshold` of its distinct content terms
/// (analysed, stop words removed) occur in one passage it cites. A claim citing nothing is
/// unsupported. Catches invented entities and numbers; cannot catch a negation or a swapped
/// relation built from the passage's own words (a model judge can).
#[derive(Debug, Clone, Copy)]
pub struct OverlapJudge {
    pub threshold: f64,
}

impl Default for OverlapJudge {
    fn default() -> Self {
        Self { threshold: 0.8 }
    }
}

impl OverlapJudge {
    /// The best share of the claim's terms found in one of the cited passages.
    pub fn support(claim: &str, cited: impl Iterator<Item = impl AsRef<str>>) -> f64 {
        let terms: HashSet<String> = genai_retrieval::terms(claim).into_iter().collect();
        if terms.is_empty() {
            return 1.0;
        }
        cited
            .map(|p| {
                let have: HashSet<String> = genai_retrieval::terms(p.as_ref()).into_iter().collect();
                terms.iter().filter(|t| have.contains(*t)).count() as f64 / terms.len() as f64
            })
            .fold(0.0, f64::max)
    }
}

#[async_trait]
impl Judge for OverlapJudge {
    fn name(&self) -> &str {
        "overlap"
    }

    async fn judge(&self, answer: &JudgedAnswer) -> Result<Vec<Verdict>, JudgeError> {
        Ok(answer
            .claims
            .iter()
            .map(|(claim, cites)| {
                let cited = cites.iter().filter_map(|&i| answer.passages.get(i));
                let score = Self::support(claim, cited);
                Verdict { supported: !cites.is_empty() && score >= self.threshold, score }
            })
            .collect())
    }
}

/// A model judge (wrap its client around a [`Cassette`](super::Cassette) to record and replay).
#[derive(Debug, Clone)]
pub struct LlmJudge {
    model: Arc<Resilient>,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct Verdicts {
    verdicts: Vec<ClaimVerdict>,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ClaimVerdict {
    claim: usize,
    supported: bool,
}

impl LlmJudge {
    pub fn new(model: Arc<Resilient>) -> Self {
        Self { model }
    }

    /// The request: every claim with the passages it cites, numbered as the answer cited them.
    pub fn messages(answer: &JudgedAnswer) -> Vec<Message> {
        let mut user = String::from("Passages:\n");
        for (i, p) in answer.passages.iter().enumerate() {
            user.push_str(&format!("[{}] {}\n", i + 1, p.trim()));
        }
        user.push_str("\nClaims (each with the passages it is checked against):\n");
        for (i, (claim, cites)) in answer.claims.iter().enumerate() {
            let cites: Vec<String> = cites.iter().map(|c| format!("[{}]", c + 1)).collect();
            let against = if cites.is_empty() { "none".to_owned() } else { cites.join(" ") };
            user.push_str(&format!("{}. {} (against: {against})\n", i + 1, claim.trim()));
        }
        vec![Message::system(FAITHFULNESS_PROMPT), Message::user(user)]
    }
}

#[async_trait]
impl Judge for LlmJudge {
    fn name(&self) -> &str {
        "llm"
    }

    async fn judge(&self, answer: &JudgedAnswer) -> Result<Vec<Verdict>, JudgeError> {
        let opts = ExtractOptions { max_tokens: 400, ..ExtractOptions::default() };
        let got = genai_llm::extract::<Verdicts>(&self.model, Self::messages(answer), &opts).await?.value;
        let n = answer.claims.len();
        let mut out = vec![None; n];
        for v in got.verdicts {
            if (1..=n).contains(&v.claim) {
                out[v.claim - 1] = Some(Verdict { supported: v.supported, score: f64::from(u8::from(v.supported)) });
            }
        }
        // A claim citing nothing is unsupported whatever the model says.
        for (slot, (_, cites)) in out.iter_mut().zip(&answer.claims) {
            if cites.is_empty() {
                *slot = Some(Verdict { supported: false, score: 0.0 });
            }
        }
        let verdicts: Vec<Verdict> = out.iter().flatten().copied().collect();
        if verdicts.len() != n {
            return Err(JudgeError::Count { claims: n, got: verdicts.len() });
        }
        Ok(verdicts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rag::{Cassette, CassetteMode, faithfulness};
    use genai_llm::{PriceTable, ResilienceConfig};
    use genai_testkit::{ScriptedModel, Step};

    fn answer() -> JudgedAnswer {
        JudgedAnswer {
            question: "How often are the pumps inspected?".into(),
            claims: vec![
                ("The coolant pumps are inspected every six months.".into(), vec![0]),
                ("Inspections cost 40,000 dollars a year.".into(), vec![0]),
                ("Seals are replaced when worn.".into(), vec![]),
            ],
            passages: vec!["Coolant pumps are inspected every six months; worn seals are replaced.".into()],
        }
    }

    #[tokio::test]
    async fn the_overlap_judge_rejects_invented_facts_and_uncited_claims() {
        let v = OverlapJudge::default().judge(&answer()).await.unwrap();
        assert_eq!(v.iter().map(|v| v.supported).collect::<Vec<_>>(), [true, false, false]);
        let f = faithfulness(&OverlapJudge::default(), &answer()).await.unwrap().unwrap();
        assert!((f - 1.0 / 3.0).abs() < 1e-12);
        let refusal = JudgedAnswer { claims: vec![], ..answer() };
        assert_eq!(faithfulness(&OverlapJudge::default(), &refusal).await.unwrap(), None, "n/a, not NaN");
    }

    #[tokio::test]
    async fn model_verdicts_are_recorded_once_and_replayed_without_a_model() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("judge.json");
        let reply = r#"{"verdicts": [{"claim": 1, "supported": true}, {"claim": 2, "supported": false}, {"claim": 3, "supported": true}]}"#;
        let scripted = Arc::new(ScriptedModel::new("judge", [Step::Text(reply.into())]));
        let wrap = |m: Arc<dyn genai_llm::ChatModel>| {
            Arc::new(Resilient::new(m, ResilienceConfig::default(), Arc::new(PriceTable::default())))
        };
        let recorder = Arc::new(Cassette::open(path.clone(), CassetteMode::Record, Some(scripted.clone())).unwrap());
        let recorded = LlmJudge::new(wrap(recorder)).judge(&answer()).await.unwrap();
        assert_eq!(
            recorded.iter().map(|v| v.supported).collect::<Vec<_>>(),
            [true, false, false],
            "uncited stays unsupported"
        );
        let replayer = Arc::new(Cassette::open(path.clone(), CassetteMode::Replay, None).unwrap());
        assert_eq!(replayer.len(), 1);
        let replayed = LlmJudge::new(wrap(replayer)).judge(&answer()).await.unwrap();
        assert_eq!(replayed, recorded);
        assert_eq!(scripted.requests().len(), 1, "the model was asked once");
        let other = JudgedAnswer { question: "another".into(), ..answer() };
        let mut changed = other.clone();
        changed.claims[0].0 = "A different claim.".into();
        let replayer = Arc::new(Cassette::open(path, CassetteMode::Replay, None).unwrap());
        assert!(LlmJudge::new(wrap(replayer)).judge(&changed).await.is_err(), "unseen request: error, not a guess");
        insta::assert_json_snapshot!(LlmJudge::messages(&answer()));
    }
}
