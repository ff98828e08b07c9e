//! Pseudo-relevance feedback, RM3-style (Lavrenko and Croft's relevance model interpolated with
//! the query, as Anserini runs it): assume the first pass's top documents are relevant, take the
//! terms they are made of, weighted by how strongly each document was retrieved, and search
//! again with the query plus the strongest of those terms.

use crate::analyzer::terms;
use crate::{Hit, TermStats};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// RM3 settings. Defaults (Anserini's): 10 feedback documents, 10 expansion terms, the
/// original query keeps half the weight.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Prf {
    pub feedback_docs: usize,
    pub expansion_terms: usize,
    pub original_weight: f32,
}

impl Default for Prf {
    fn default() -> Self {
        Self { feedback_docs: 10, expansion_terms: 10, original_weight: 0.5 }
    }
}

impl Prf {
    /// Every term the feedback documents could contribute (to look up their IDF first).
    pub fn candidate_terms(&self, feedback: &[Hit]) -> Vec<String> {
        let mut out: Vec<String> =
            feedback.iter().take(self.feedback_docs).flat_map(|h| terms(&h.chunk.text)).collect();
        out.sort();
        out.dedup();
        out
    }

    // ANCHOR: rm3
    /// The expanded query as weighted analysed terms: the query's own terms share
    /// `original_weight`, the `expansion_terms` best feedback terms share the rest.
    /// `feedback` is the first pass, best first, with its scores.
    pub fn expand(&self, query: &str, feedback: &[Hit], stats: Option<&TermStats>) -> Vec<(String, f32)> {
        let mut original: Vec<String> = terms(query);
        original.sort();
        original.dedup();
        let docs = &feedback[..feedback.len().min(self.feedback_docs)];
        let total_score: f32 = docs.iter().map(|h| h.score.max(0.0)).sum();
        // P(t | R) = Σ_d P(d | q) · P(t | d), with P(d | q) the normalised retrieval score and
        // P(t | d) the term's share of the document.
        let mut model: BTreeMap<String, f32> = BTreeMap::new();
        for d in docs {
            let w = if total_score > 0.0 { d.score.max(0.0) / total_score } else { 1.0 / docs.len() as f32 };
            let doc_terms = terms(&d.chunk.text);
            let len = doc_terms.len().max(1) as f32;
            for t in doc_terms {
                // Numbers and one-letter tokens make poor expansion terms.
                if t.len() < 2 || t.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                *model.entry(t).or_default() += w / len;
            }
        }
        // Terms in nearly every document say nothing; weigh by IDF where the index knows it.
        if let Some(s) = stats {
            for (t, p) in model.iter_mut() {
                if s.df.contains_key(t) {
                    *p *= s.idf(t) as f32;
                }
            }
        }
        let mut ranked: Vec<(String, f32)> = model.into_iter().filter(|(t, _)| !original.contains(t)).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(self.expansion_terms);
        let mass: f32 = ranked.iter().map(|(_, p)| p).sum();
        let mut out: Vec<(String, f32)> =
            original.iter().map(|t| (t.clone(), self.original_weight / original.len().max(1) as f32)).collect();
        if mass > 0.0 {
            out.extend(ranked.into_iter().map(|(t, p)| (t, (1.0 - self.original_weight) * p / mass)));
        }
        // Scale so the original terms weigh 1 each, as in an unexpanded query (BM25 scores keep
        // their usual range; only ratios matter for ranking).
        let scale = original.len().max(1) as f32 / self.original_weight.max(1e-6);
        out.iter_mut().for_each(|(_, w)| *w *= scale);
        out
    }
    // ANCHOR_END: rm3
}

#[cfg(test)]
mod tests {
    use super::*;
    use genai_core::{Chunk, ChunkId, DocId, PageRange};

    fn hit(text: &str, score: f32) -> Hit {
        let doc = DocId::from_content(text.as_bytes());
        let chunk = Chunk {
            id: ChunkId::derive(&doc, "p", 0),
            doc_id: doc,
            source: "s".into(),
            ordinal: 0,
            text: text.into(),
            pages: PageRange::single(1),
            char_span: 0..text.chars().count(),
            token_count: 0,
        };
        Hit { score, ..Hit::new(chunk) }
    }

    #[test]
    fn feedback_terms_join_the_query_with_the_remaining_weight() {
        let fb = [
            hit("Vitamin D deficiency raises fracture risk in elderly women", 2.0),
            hit("Fracture risk and bone density: vitamin D supplements", 1.0),
            hit("Unrelated budget memo", 0.0),
        ];
        let q = Prf { expansion_terms: 3, ..Prf::default() }.expand("vitamin D", &fb, None);
        let names: Vec<&str> = q.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(&names[..2], ["d", "vitamin"], "original terms first");
        assert!(names.contains(&"fractur"), "a term both feedback documents share: {names:?}");
        assert!(!names.contains(&"budget"), "a zero-score document adds nothing");
        assert!(q[..2].iter().all(|(_, w)| (*w - 1.0).abs() < 1e-6), "original terms weigh 1");
        let expansion: f32 = q[2..].iter().map(|(_, w)| w).sum();
        assert!((expansion - 2.0).abs() < 1e-4, "expansion mass equals the query's at weight 0.5: {expansion}");
    }
}
