//! One question through the RAG path with a chosen set of levers, priced by genai-llm's table.

use super::context::{compress, within_budget};
use doc_qa::{Answerer, Extractive, LlmAnswerer};
use genai_eval::squad;
use genai_llm::{PriceTable, Usage};
use genai_retrieval::{Hit, TermStats};
use serde::Serialize;

/// Which levers are on, and at which operating point.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Levers {
    /// Send the best chunks within this many tokens (else the retriever's top `k`, whole).
    pub budget_tokens: Option<u32>,
    /// With a budget: rank the candidates by the reranker (else keep the retriever's order).
    pub rerank: bool,
    /// Send only this many of the question's best sentences.
    pub keep_sentences: Option<usize>,
    /// Ask the cheap model first; escalate to the strong one when its evidence is below this.
    pub route_threshold: Option<f64>,
    /// Exact and semantic answer cache in front of everything.
    pub cache: bool,
}

/// What a question's retrieval produced, shared by every arm.
#[derive(Debug, Clone)]
pub struct Retrieved {
    /// The retriever's top candidates, fused order (the baseline takes the first `k`).
    pub hits: Vec<Hit>,
    /// The same candidates after the reranker.
    pub reranked: Vec<Hit>,
    pub stats: Option<TermStats>,
}

/// The two answerers and their prices.
#[derive(Debug)]
pub struct Readers {
    pub strong: Box<dyn Answerer>,
    pub cheap: Box<dyn Answerer>,
    pub strong_model: String,
    pub cheap_model: String,
    pub prices: PriceTable,
    /// The sentence scorer compression uses (lexical: cheap to run, and not the reader).
    pub compressor: Extractive,
    /// Passages the baseline sends.
    pub k: usize,
}

/// An answer as the evaluation keeps it (and as the cache stores it).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Served {
    /// The stream question whose pipeline run produced this answer (to count wrong cache hits).
    pub origin: usize,
    /// What EM/F1 score: the short answer, else the best sentence.
    pub predicted: String,
    /// Everything the user is shown (short answer and sentences): what containment checks.
    pub shown: String,
    /// The sentence cited first.
    pub quote: String,
}

/// One run of the pipeline (no cache).
#[derive(Debug, Clone)]
pub struct Run {
    pub served: Served,
    pub dollars: f64,
    pub prompt_tokens: u64,
    /// The context sent holds a gold answer: what any reader, model or not, needs.
    pub answer_in_context: bool,
    /// The context's text, to check whether another arm's cited sentence survived.
    pub context: String,
    pub escalated: bool,
}

impl Readers {
    fn price(&self, model: &str, question: &str, context: &[Hit], answer: &str) -> (f64, u64) {
        let prompt = genai_llm::tokens::count_chat_tokens(model, &LlmAnswerer::messages(question, context));
        let output = genai_llm::tokens::count_text_tokens(model, answer);
        let usage = Usage { input_tokens: prompt, cached_input_tokens: 0, output_tokens: output, counted: true };
        (self.prices.cost(model, &usage), prompt)
    }

    /// `question` (asked as stream entry `origin`) over `retrieved` with `levers`.
    pub async fn run(
        &self,
        origin: usize,
        question: &str,
        golds: &[&str],
        retrieved: &Retrieved,
        levers: &Levers,
    ) -> Run {
        let mut context = match levers.budget_tokens {
            Some(b) => within_budget(if levers.rerank { &retrieved.reranked } else { &retrieved.hits }, b),
            None => retrieved.hits.iter().take(self.k).cloned().collect(),
        };
        if let Some(keep) = levers.keep_sentences {
            context = compress(&self.compressor, question, &context, retrieved.stats.as_ref(), keep).await;
        }
        let stats = retrieved.stats.as_ref();
        let mut dollars = 0.0;
        let mut prompt_tokens = 0;
        let mut escalated = false;
        let answer = match levers.route_threshold {
            Some(t) => {
                let first = self.cheap.answer(question, &context, stats).await;
                let (d, p) = self.price(&self.cheap_model, question, &context, &first.text);
                dollars += d;
                prompt_tokens += p;
                // An offline reader's calibrated evidence; a model's answer is accepted when it
                // did not refuse and every citation it made survived the check.
                let accept = first.evidence.map_or(!first.refused && first.flagged.is_empty(), |e| e >= t);
                if accept {
                    first
                } else {
                    escalated = true;
                    self.strong.answer(question, &context, stats).await
                }
            }
            None => self.strong.answer(question, &context, stats).await,
        };
        if levers.route_threshold.is_none() || escalated {
            let (d, p) = self.price(&self.strong_model, question, &context, &answer.text);
            dollars += d;
            prompt_tokens += p;
        }
        let quote = answer.citations.first().map_or_else(String::new, |c| c.citation.quote.clone());
        let text: String = context.iter().map(|h| h.chunk.text.as_str()).collect::<Vec<_>>().join("\n");
        Run {
            served: Served {
                origin,
                predicted: answer.short.clone().unwrap_or_else(|| quote.clone()),
                shown: format!("{} {}", answer.short.clone().unwrap_or_default(), answer.text),
                quote,
            },
            dollars,
            prompt_tokens,
            answer_in_context: squad::contains_answer(&text, golds) > 0.0,
            context: text,
            escalated,
        }
    }
}

/// The quality of `served` for a question with gold answers `golds`: (containment, F1).
pub fn quality(served: &Served, golds: &[&str]) -> (f64, f64) {
    (squad::contains_answer(&served.shown, golds), squad::f1(&served.predicted, golds))
}
