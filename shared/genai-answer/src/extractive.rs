//! The offline answerer: picks the sentence of the retrieved passages that best covers the
//! question's informative terms (IDF-weighted), cites it, and refuses when the support is weak.
//!
//! Evidence is the share of the question's IDF mass found in the best sentence (60%) and in its
//! passage (40%). A question about something the documents never mention leaves its rare terms
//! (names, places, numbers) uncovered, so evidence is low and the answer is a refusal.

use crate::short::short_answer;
use crate::{Answer, Answerer, NumberedCitation, cite, refusal};
use async_trait::async_trait;
use genai_embed::Embedder;
use genai_retrieval::{Hit, TermStats, terms};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::LazyLock;

/// Words that say what kind of answer is wanted but never occur in it, after stemming.
static QUESTION_WORDS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    terms("what which who whom whose when where why how did does do is are was were many much name type kind")
        .into_iter()
        .collect()
});

/// The question's informative terms (analysed, question words removed), unique, in order.
pub fn evidence_terms(question: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    terms(question).into_iter().filter(|t| !QUESTION_WORDS.contains(t) && seen.insert(t.clone())).collect()
}

/// How candidate sentences are scored and how much support an answer needs. The weights were
/// fitted on the calibration split of the SQuAD evaluation (see the book chapter).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    /// Sentence score = coverage + `chunk`·chunk coverage + `bigram`·bigram share + `semantic`·cosine + rank prior.
    pub chunk: f64,
    pub bigram: f64,
    pub semantic: f64,
    /// Evidence = `evidence_coverage`·coverage + `evidence_chunk`·chunk coverage + `evidence_semantic`·cosine
    /// of the chosen sentence, compared with the refusal threshold.
    pub evidence_coverage: f64,
    pub evidence_chunk: f64,
    pub evidence_semantic: f64,
    /// Evidence below this is a refusal.
    pub threshold: f64,
    /// Besides the best sentence, up to `max_sentences - 1` more are shown (each cited) when
    /// their score is at least `extra_ratio` times the best one's.
    pub max_sentences: usize,
    pub extra_ratio: f64,
}

impl Default for Weights {
    fn default() -> Self {
        crate::LEXICAL_WEIGHTS
    }
}

/// One sentence of a retrieved passage, with the features it is scored by.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Candidate {
    /// Index into the hits.
    pub hit: usize,
    /// Byte range of the sentence in the hit's chunk text.
    pub range: std::ops::Range<usize>,
    /// Share of the question's IDF mass found in the sentence.
    pub coverage: f64,
    /// Share of the question's IDF mass found in the whole passage.
    pub chunk_coverage: f64,
    /// Share of the question's adjacent term pairs found adjacent in the sentence.
    pub bigrams: f64,
    /// Cosine similarity of question and sentence embeddings (0 without a sentence embedder).
    pub cosine: f64,
    /// 0.02 for the top passage, falling linearly with rank.
    pub prior: f64,
}

/// The offline answerer.
#[derive(Debug, Clone)]
pub struct Extractive {
    weights: Weights,
    /// Embeds question and sentences for the semantic feature; `None` means lexical only.
    embedder: Option<Arc<dyn Embedder>>,
}

impl Extractive {
    /// Lexical scoring with `weights` (usually [`crate::LEXICAL_WEIGHTS`]).
    pub fn new(weights: Weights) -> Self {
        Self { weights, embedder: None }
    }

    /// Adds the semantic feature: the embedder should be a real sentence model (MiniLM), cached,
    /// since the same passages' sentences come back question after question. Use with
    /// [`crate::SEMANTIC_WEIGHTS`].
    pub fn with_semantic(mut self, embedder: Arc<dyn Embedder>) -> Self {
        self.embedder = Some(embedder);
        self
    }

    pub fn weights(&self) -> Weights {
        self.weights
    }

    /// Every sentence of every hit, with its features.
    pub async fn candidates(&self, question: &str, hits: &[Hit], stats: Option<&TermStats>) -> Vec<Candidate> {
        let q = evidence_terms(question);
        let idf = |t: &str| stats.map_or(1.0, |s| smoothed_idf(s, t));
        let total: f64 = q.iter().map(|t| idf(t)).sum();
        if q.is_empty() || total <= 0.0 {
            return Vec::new();
        }
        let covered =
            |present: &HashSet<String>| q.iter().filter(|t| present.contains(*t)).map(|t| idf(t)).sum::<f64>() / total;
        let q_bigrams: Vec<(&str, &str)> = q.windows(2).map(|w| (w[0].as_str(), w[1].as_str())).collect();
        let mut out = Vec::new();
        for (rank, hit) in hits.iter().enumerate() {
            let text = &hit.chunk.text;
            let chunk_coverage = covered(&terms(text).into_iter().collect());
            let prior = 0.02 * (1.0 - rank as f64 / hits.len() as f64);
            for range in genai_ingest::sentence_spans(text) {
                let s_terms = terms(&text[range.clone()]);
                let pairs: HashSet<(&str, &str)> = s_terms.windows(2).map(|w| (w[0].as_str(), w[1].as_str())).collect();
                out.push(Candidate {
                    hit: rank,
                    coverage: covered(&s_terms.iter().cloned().collect()),
                    chunk_coverage,
                    bigrams: q_bigrams.iter().filter(|b| pairs.contains(*b)).count() as f64
                        / q_bigrams.len().max(1) as f64,
                    cosine: 0.0,
                    prior,
                    range,
                });
            }
        }
        if let Some(embedder) = &self.embedder {
            let mut texts = vec![question.to_owned()];
            texts.extend(out.iter().map(|c| hits[c.hit].chunk.text[c.range.clone()].to_owned()));
            match embedder.embed(&texts).await {
                Ok(vectors) => {
                    for (c, v) in out.iter_mut().zip(&vectors[1..]) {
                        c.cosine = vectors[0].iter().zip(v).map(|(a, b)| (a * b) as f64).sum();
                    }
                }
                Err(e) => tracing::warn!(error = %e, "sentence embedding failed; scoring lexically"),
            }
        }
        out
    }

    /// The candidate's selection score.
    pub fn score(&self, c: &Candidate) -> f64 {
        let w = &self.weights;
        c.coverage + w.chunk * c.chunk_coverage + w.bigram * c.bigrams + w.semantic * c.cosine + c.prior
    }

    /// How well the chosen candidate supports an answer (compared with the threshold).
    pub fn evidence(&self, c: &Candidate) -> f64 {
        let w = &self.weights;
        w.evidence_coverage * c.coverage + w.evidence_chunk * c.chunk_coverage + w.evidence_semantic * c.cosine
    }
}

// ANCHOR: extractive_answer
#[async_trait]
impl Answerer for Extractive {
    async fn answer(&self, question: &str, hits: &[Hit], stats: Option<&TermStats>) -> Answer {
        let mut candidates = self.candidates(question, hits, stats).await;
        candidates.sort_by(|a, b| self.score(b).total_cmp(&self.score(a)));
        let Some(best) = candidates.first() else { return refusal(0.0, "extractive") };
        let evidence = self.evidence(best);
        if evidence < self.weights.threshold {
            return refusal(evidence, "extractive");
        }
        // The best sentence (with the next one if it is very short), then close runners-up.
        let floor = self.weights.extra_ratio * self.score(best);
        let mut chosen: Vec<(usize, std::ops::Range<usize>)> =
            vec![(best.hit, extend_short_sentence(&hits[best.hit].chunk.text, best.range.clone()))];
        for c in candidates.iter().skip(1).take_while(|c| self.score(c) >= floor) {
            if chosen.len() >= self.weights.max_sentences {
                break;
            }
            let text = &hits[c.hit].chunk.text[c.range.clone()];
            let repeat = chosen.iter().any(|(h, r)| {
                (*h == c.hit && r.start < c.range.end && c.range.start < r.end)
                    || hits[*h].chunk.text[r.clone()] == *text
            });
            if !repeat {
                chosen.push((c.hit, c.range.clone()));
            }
        }
        let citations: Vec<NumberedCitation> = chosen
            .iter()
            .enumerate()
            .map(|(i, (h, r))| NumberedCitation { number: i + 1, citation: cite(&hits[*h], r.clone()) })
            .collect();
        let text =
            citations.iter().map(|c| format!("{} [{}]", c.citation.quote, c.number)).collect::<Vec<_>>().join(" ");
        Answer {
            short: short_answer(question, &citations[0].citation.quote),
            text,
            refused: false,
            citations,
            evidence: Some(evidence),
            engine: "extractive".into(),
            flagged: Vec::new(),
        }
    }
}
// ANCHOR_END: extractive_answer

/// IDF as if the library held [`PSEUDO_DOCS`] more passages without the term. With a handful of
/// documents, raw IDF makes every word the library lacks outweigh all the words it has, and a
/// fair question about a two-file library reads as unsupported; with thousands of passages the
/// smoothing hardly matters.
fn smoothed_idf(stats: &TermStats, term: &str) -> f64 {
    let n = stats.docs as f64 + PSEUDO_DOCS;
    let df = stats.df.get(term).copied().unwrap_or(0) as f64;
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

const PSEUDO_DOCS: f64 = 1_000.0;

/// A sentence of fewer than 10 words rarely stands alone ("It was."): add the next one.
fn extend_short_sentence(text: &str, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    if text[range.clone()].split_whitespace().count() >= 10 {
        return range;
    }
    genai_ingest::sentence_spans(text)
        .into_iter()
        .find(|r| r.start >= range.end)
        .map_or(range.clone(), |next| range.start..next.end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use genai_core::{Chunk, ChunkId, DocId, PageRange};

    fn lexical(threshold: f64) -> Extractive {
        Extractive::new(Weights { threshold, ..crate::LEXICAL_WEIGHTS })
    }

    fn hit(text: &str, source: &str) -> Hit {
        let doc = DocId::from_content(source.as_bytes());
        Hit::new(Chunk {
            id: ChunkId::derive(&doc, "t", 0),
            doc_id: doc,
            source: source.into(),
            ordinal: 0,
            text: text.into(),
            pages: PageRange::single(2),
            char_span: 100..100 + text.chars().count(),
            token_count: 0,
        })
    }

    #[tokio::test]
    async fn cites_the_supporting_sentence_with_its_exact_span() {
        let hits = [
            hit(
                "Valves are replaced yearly. The coolant pump must be inspected every six months by a technician.",
                "manual.pdf",
            ),
            hit("Lubrication happens weekly.", "other.pdf"),
        ];
        let a = lexical(0.3).answer("How often must the coolant pump be inspected?", &hits, None).await;
        assert!(!a.refused);
        let c = &a.citations[0].citation;
        assert_eq!(c.quote, "The coolant pump must be inspected every six months by a technician.");
        assert_eq!(a.text, format!("{} [1]", c.quote), "runners-up far below the best are not shown");
        assert_eq!((c.source.as_str(), c.pages), ("manual.pdf", PageRange::single(2)));
        assert_eq!(c.char_span, 128..128 + c.quote.chars().count(), "span in document coordinates");
    }

    #[tokio::test]
    async fn refuses_when_the_question_terms_are_not_covered() {
        let hits = [hit("The coolant pump must be inspected every six months.", "manual.pdf")];
        let a = lexical(0.5).answer("Who won the 1998 Tour de France?", &hits, None).await;
        assert!(a.refused);
        assert!(a.citations.is_empty());
        assert!(a.evidence.unwrap() < 0.5);
        assert!(lexical(0.5).answer("what is it?", &hits, None).await.refused, "no informative terms");
    }
}
