//! The offline answerer: picks the sentence of the retrieved passages that best covers the
//! question's informative terms (IDF-weighted), cites it, and refuses when the support is weak.
//!
//! Evidence is the share of the question's IDF mass found in the best sentence (60%) and in its
//! passage (40%). A question about something the documents never mention leaves its rare terms
//! (names, places, numbers) uncovered, so evidence is low and the answer is a refusal.

use super::{Answer, Answerer, NumberedCitation, cite, refusal};
use crate::answer::short::short_answer;
use async_trait::async_trait;
use genai_retrieval::{Hit, TermStats, terms};
use std::collections::HashSet;
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

/// The offline answerer.
#[derive(Debug, Clone)]
pub struct Extractive {
    threshold: f64,
}

impl Extractive {
    pub fn new(threshold: f64) -> Self {
        Self { threshold }
    }
}

struct Best {
    hit: usize,
    range: std::ops::Range<usize>,
    score: f64,
    coverage: f64,
    chunk_coverage: f64,
}

#[async_trait]
impl Answerer for Extractive {
    async fn answer(&self, question: &str, hits: &[Hit], stats: Option<&TermStats>) -> Answer {
        let q = evidence_terms(question);
        let idf = |t: &str| stats.map_or(1.0, |s| s.idf(t).max(0.01));
        let total: f64 = q.iter().map(|t| idf(t)).sum();
        if q.is_empty() || hits.is_empty() || total <= 0.0 {
            return refusal(0.0, "extractive");
        }
        let covered =
            |present: &HashSet<String>| q.iter().filter(|t| present.contains(*t)).map(|t| idf(t)).sum::<f64>() / total;
        let q_bigrams: Vec<(&str, &str)> = q.windows(2).map(|w| (w[0].as_str(), w[1].as_str())).collect();
        let mut best: Option<Best> = None;
        for (rank, hit) in hits.iter().enumerate() {
            let text = &hit.chunk.text;
            let chunk_coverage = covered(&terms(text).into_iter().collect());
            let prior = 0.02 * (1.0 - rank as f64 / hits.len() as f64);
            for range in genai_ingest::sentence_spans(text) {
                let s_terms = terms(&text[range.clone()]);
                let coverage = covered(&s_terms.iter().cloned().collect());
                let pairs: HashSet<(&str, &str)> = s_terms.windows(2).map(|w| (w[0].as_str(), w[1].as_str())).collect();
                let bigrams =
                    q_bigrams.iter().filter(|b| pairs.contains(*b)).count() as f64 / q_bigrams.len().max(1) as f64;
                let score = coverage + 0.1 * bigrams + 0.25 * chunk_coverage + prior;
                if best.as_ref().is_none_or(|b| score > b.score) {
                    best = Some(Best { hit: rank, range, score, coverage, chunk_coverage });
                }
            }
        }
        let Some(best) = best else { return refusal(0.0, "extractive") };
        let evidence = 0.6 * best.coverage + 0.4 * best.chunk_coverage;
        if evidence < self.threshold {
            return refusal(evidence, "extractive");
        }
        let hit = &hits[best.hit];
        let range = extend_short_sentence(&hit.chunk.text, best.range);
        let quote = &hit.chunk.text[range.clone()];
        Answer {
            text: quote.to_owned(),
            short: short_answer(question, quote),
            refused: false,
            citations: vec![NumberedCitation { number: 1, citation: cite(hit, range) }],
            evidence: Some(evidence),
            engine: "extractive".into(),
            flagged: Vec::new(),
        }
    }
}

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

    fn hit(text: &str, source: &str) -> Hit {
        let doc = DocId::from_content(source.as_bytes());
        Hit {
            chunk: Chunk {
                id: ChunkId::derive(&doc, "t", 0),
                doc_id: doc,
                source: source.into(),
                ordinal: 0,
                text: text.into(),
                pages: PageRange::single(2),
                char_span: 100..100 + text.chars().count(),
                token_count: 0,
            },
            score: 1.0,
            tenant: None,
            attrs: Default::default(),
        }
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
        let a = Extractive::new(0.3).answer("How often must the coolant pump be inspected?", &hits, None).await;
        assert!(!a.refused);
        assert_eq!(a.text, "The coolant pump must be inspected every six months by a technician.");
        let c = &a.citations[0].citation;
        assert_eq!((c.source.as_str(), c.pages), ("manual.pdf", PageRange::single(2)));
        assert_eq!(c.char_span, 128..128 + a.text.chars().count(), "span in document coordinates");
    }

    #[tokio::test]
    async fn refuses_when_the_question_terms_are_not_covered() {
        let hits = [hit("The coolant pump must be inspected every six months.", "manual.pdf")];
        let a = Extractive::new(0.5).answer("Who won the 1998 Tour de France?", &hits, None).await;
        assert!(a.refused);
        assert!(a.citations.is_empty());
        assert!(a.evidence.unwrap() < 0.5);
        assert!(Extractive::new(0.5).answer("what is it?", &hits, None).await.refused, "no informative terms");
    }
}
