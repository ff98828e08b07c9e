//! The one text analysis both keyword backends share, so a query means the same everywhere:
//! split on non-alphanumerics, drop tokens over 40 bytes, lower-case, fold accents to ASCII,
//! drop Lucene's 33 English stop words, Snowball English stemming. This is the chain behind
//! the BM25 baselines BEIR reports (Anserini uses Lucene's EnglishAnalyzer, the same stop words
//! with the Porter stemmer).
//!
//! Production note: English only. Other languages need their stemmer and stop words, chosen per
//! document (and stored, so queries use the same chain).

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
};

/// The name the analyzer is registered under in the tantivy index.
pub(crate) const ANALYZER: &str = "en_stem";

/// A fresh analyzer instance (tantivy analyzers are cloned per thread).
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(StopWordFilter::new(Language::English).expect("tantivy ships an English stop-word list"))
        .filter(Stemmer::new(Language::English))
        .build()
}

/// The analysed terms of `text`, in order, with repeats.
pub fn terms(text: &str) -> Vec<String> {
    let mut analyzer = analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// BM25 parameters for the sparse vectors of the server backend (the server applies IDF).
/// Defaults: k1 = 1.2, b = 0.75 (Lucene's and tantivy's), average length 200 terms.
///
/// Production note: a sparse vector's weights are fixed when it is written, so the average
/// length is a parameter of the collection (stored in its metadata), not measured live as
/// tantivy does. With `avg_len` set to the corpus's real average (`EmbeddedIndex::bm25_avg_len`,
/// or `genai-eval migrate`, which copies it), server and embedded BM25 scores agree to float
/// rounding; far from it, rankings drift slightly as the corpus grows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bm25Params {
    pub k1: f32,
    pub b: f32,
    pub avg_len: f32,
}

impl Default for Bm25Params {
    fn default() -> Self {
        Self { k1: 1.2, b: 0.75, avg_len: 200.0 }
    }
}

/// A sparse vector: sorted, unique term ids with their weights.
pub type Sparse = (Vec<u32>, Vec<f32>);

// ANCHOR: bm25_document
/// The document side of BM25 as a sparse vector: per term, `tf·(k1+1) / (tf + k1·(1−b+b·len/avg))`.
/// Multiplied by the server's IDF for each query term, the dot product with a query of weight-1
/// terms is the BM25 score. `len` is quantised to one byte exactly as tantivy (and Lucene)
/// store field lengths, so the two backends compute the same number.
pub fn bm25_document(text: &str, p: Bm25Params) -> Sparse {
    let terms = terms(text);
    let len = quantised_len(terms.len()) as f32;
    let mut tf: std::collections::BTreeMap<u32, f32> = std::collections::BTreeMap::new();
    for t in &terms {
        *tf.entry(term_id(t)).or_default() += 1.0;
    }
    let norm = p.k1 * (1.0 - p.b + p.b * len / p.avg_len);
    tf.into_iter().map(|(id, f)| (id, f * (p.k1 + 1.0) / (f + norm))).unzip()
}
// ANCHOR_END: bm25_document

/// A length as tantivy's one-byte field norm stores it (exact up to 40, then a log scale).
fn quantised_len(len: usize) -> u32 {
    use tantivy::fieldnorm::FieldNormReader;
    FieldNormReader::id_to_fieldnorm(FieldNormReader::fieldnorm_to_id(len.min(u32::MAX as usize) as u32))
}

/// The query side: each distinct term with weight 1.
pub fn bm25_query(text: &str) -> Sparse {
    let ids: std::collections::BTreeSet<u32> = terms(text).iter().map(|t| term_id(t)).collect();
    ids.into_iter().map(|id| (id, 1.0)).unzip()
}

/// A query of already analysed terms with weights (the same term twice adds up).
pub fn bm25_weighted_query(weighted: &[(String, f32)]) -> Sparse {
    let mut by_id: std::collections::BTreeMap<u32, f32> = std::collections::BTreeMap::new();
    for (t, w) in weighted {
        *by_id.entry(term_id(t)).or_default() += w;
    }
    by_id.into_iter().unzip()
}

/// Stable 32-bit term id (FNV-1a); collisions merge two terms' weights, rare at 2^32.
fn term_id(term: &str) -> u32 {
    term.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ b as u32).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_folds_and_drops_stop_words() {
        assert_eq!(terms("The Pumps were INSPECTED at the café"), vec!["pump", "were", "inspect", "cafe"]);
        let (ids, w) = bm25_document("pump pump valve", Bm25Params::default());
        assert_eq!(ids.len(), 2);
        assert!(w.iter().all(|&x| x > 0.0));
        assert_eq!(bm25_query("pumps pump").0.len(), 1);
    }
}
