//! Answering from retrieved passages: the [`Answer`] shape every answerer returns, the
//! [`Answerer`] trait, and the offline [`Extractive`] answerer (the best supporting sentences,
//! cited with exact spans, or a refusal on calibrated evidence). Used by document Q&A and by the
//! chatbot's memory; model answerers live with the milestones that prompt them.

mod extractive;
mod short;

pub use extractive::{Candidate, Extractive, Weights, evidence_terms};
pub use short::{NAME, Prefer, short_answer, short_answer_with};

use async_trait::async_trait;
use genai_core::Citation;
use genai_retrieval::{Hit, TermStats};
use serde::Serialize;

/// Weights with the hashing embedder (lexical features only). Selection weights and the
/// threshold were fitted on the calibration split of `doc-qa eval` (SQuAD articles 0 and 1
/// mod 4); see the document Q&A chapter of the book for the sweep.
pub const LEXICAL_WEIGHTS: Weights = Weights {
    chunk: 0.25,
    bigram: 0.1,
    semantic: 0.0,
    evidence_coverage: 0.6,
    evidence_chunk: 0.4,
    evidence_semantic: 0.0,
    threshold: 0.45,
    max_sentences: 3,
    extra_ratio: 0.7,
};

/// What the documents say, with the passages that say it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// The answer as shown; LLM answers carry `[n]` markers that refer to `citations`.
    pub text: String,
    /// A short answer span, when the engine found one inside the supporting sentence.
    pub short: Option<String>,
    /// True when the documents do not answer; `text` then says so.
    pub refused: bool,
    pub citations: Vec<NumberedCitation>,
    /// The extractive support score compared with the refusal threshold (0–1); `None` when a
    /// model answered (it decides by itself whether the passages answer).
    pub evidence: Option<f64>,
    /// `extractive` or `llm:<model>`.
    pub engine: String,
    /// Things the reader should know: removed citations, a fallback to the offline engine.
    pub flagged: Vec<String>,
}

/// A citation with the number the answer text uses for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NumberedCitation {
    pub number: usize,
    #[serde(flatten)]
    pub citation: Citation,
}

/// Weights with a semantic embedder (MiniLM or remote): the question–sentence cosine joins the
/// selection score and dominates the evidence. Fitted like [`LEXICAL_WEIGHTS`].
pub const SEMANTIC_WEIGHTS: Weights = Weights {
    chunk: 0.5,
    bigram: 0.1,
    semantic: 1.0,
    evidence_coverage: 0.5,
    evidence_chunk: 0.0,
    evidence_semantic: 1.0,
    threshold: 0.60,
    max_sentences: 3,
    extra_ratio: 0.7,
};

/// What a refusal says.
pub const REFUSAL: &str = "The documents don't say. None of the retrieved passages answers this question.";

/// Writes an answer from the passages retrieved for `question`.
#[async_trait]
pub trait Answerer: Send + Sync + std::fmt::Debug {
    /// `stats` are document frequencies of the question's terms, when the index can give them.
    async fn answer(&self, question: &str, hits: &[Hit], stats: Option<&TermStats>) -> Answer;
}

/// A citation of the text at byte range `range` of `hit`'s chunk, in document coordinates.
pub fn cite(hit: &Hit, range: std::ops::Range<usize>) -> Citation {
    let text = &hit.chunk.text;
    let start_chars = text[..range.start].chars().count();
    let quote = text[range].to_owned();
    let start = hit.chunk.char_span.start + start_chars;
    Citation {
        chunk_id: hit.chunk.id,
        doc_id: hit.chunk.doc_id.clone(),
        source: hit.chunk.source.clone(),
        pages: hit.chunk.pages,
        char_span: start..start + quote.chars().count(),
        quote,
    }
}

/// A refusal with this evidence, citing nothing.
pub fn refusal(evidence: f64, engine: &str) -> Answer {
    Answer {
        text: REFUSAL.to_owned(),
        short: None,
        refused: true,
        citations: Vec::new(),
        evidence: Some(evidence),
        engine: engine.to_owned(),
        flagged: Vec::new(),
    }
}
