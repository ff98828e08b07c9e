//! What the learned reranker looks at: a fixed vector of features per (query, candidate),
//! computed from the candidate's text and the scores retrieval already produced. Every feature
//! is cheap (one pass over the candidate's analysed terms), defined for every candidate (a leg
//! that did not rank it gets its "absent" value and an indicator), and named, so a page can show
//! which ones decided.
//!
//! A chunk's *lead* is its first line (a BEIR passage's title, a PDF chunk's heading or opening
//! line); the *body* is the rest. Scoring them separately is what lets a ranker prefer a
//! document whose title names the query's subject.

use crate::analyzer::terms;
use crate::{Hit, TermStats};
use std::collections::{HashMap, HashSet};

/// Feature names, in vector order. Part of the model file format: a model records the names
/// it was trained with and refuses a different list.
pub const NAMES: [&str; 17] = [
    "fused_score",
    "fused_rank",
    "dense_cosine",
    "dense_rank",
    "dense_present",
    "bm25_full",
    "bm25_rank",
    "bm25_present",
    "bm25_lead",
    "bm25_body",
    "coverage",
    "idf_coverage",
    "lead_coverage",
    "proximity",
    "bigrams",
    "log_length",
    "query_terms",
];

/// BM25 parameters of the lead and body scores (tantivy's defaults) and their assumed average
/// lengths in analysed terms: a title, and a passage.
const K1: f32 = 1.2;
const B: f32 = 0.75;
const LEAD_AVG: f32 = 10.0;
const BODY_AVG: f32 = 150.0;
/// Window (in analysed terms) for the proximity feature.
const WINDOW: usize = 8;

/// The analysed query, computed once per search.
#[derive(Debug, Clone)]
pub struct QueryTerms {
    /// Distinct terms in first-seen order.
    pub unique: Vec<String>,
    /// Adjacent pairs of the analysed query.
    pub bigrams: HashSet<(String, String)>,
    /// IDF per unique term: from the index's statistics when it has them, else from the
    /// candidates themselves (a weaker estimate, said in the docs).
    pub idf: HashMap<String, f32>,
}

impl QueryTerms {
    pub fn new(query: &str, stats: Option<&TermStats>, candidates: &[Hit]) -> Self {
        let all = terms(query);
        let mut unique = Vec::new();
        for t in &all {
            if !unique.contains(t) {
                unique.push(t.clone());
            }
        }
        let bigrams = all.windows(2).map(|w| (w[0].clone(), w[1].clone())).collect();
        let idf = match stats {
            Some(s) => unique.iter().map(|t| (t.clone(), s.idf(t) as f32)).collect(),
            None => {
                // Document frequency among the candidates, smoothed like BM25's IDF.
                let sets: Vec<HashSet<String>> =
                    candidates.iter().map(|h| terms(&h.chunk.text).into_iter().collect()).collect();
                let n = sets.len() as f32;
                unique
                    .iter()
                    .map(|t| {
                        let df = sets.iter().filter(|s| s.contains(t)).count() as f32;
                        (t.clone(), (1.0 + (n - df + 0.5) / (df + 0.5)).ln())
                    })
                    .collect()
            }
        };
        Self { unique, bigrams, idf }
    }
}

/// The feature vector of every candidate, in candidate order (`candidates` are in fused order).
pub fn extract(query: &QueryTerms, candidates: &[Hit]) -> Vec<[f32; NAMES.len()]> {
    // BM25 is recomputed here from the text and the index's document frequencies rather than
    // taken from the keyword leg: the engine's own score varies in its last bits with segment
    // layout, and a model trained on it could not be reproduced byte for byte.
    let analysed: Vec<(Vec<String>, Vec<String>)> = candidates
        .iter()
        .map(|h| {
            let (lead, body) = split_lead(&h.chunk.text);
            (terms(lead), terms(body))
        })
        .collect();
    let full_bm25: Vec<f32> = analysed
        .iter()
        .map(|(lead, body)| bm25(query, &lead.iter().chain(body).cloned().collect::<Vec<_>>(), BODY_AVG))
        .collect();
    let dense_rank = ranks(candidates, |h| h.dense_score);
    let bm25_rank = ranks_by(&full_bm25);
    let min_dense = candidates.iter().filter_map(|h| h.dense_score).fold(f32::INFINITY, f32::min);
    let min_dense = if min_dense.is_finite() { min_dense } else { 0.0 };
    let idf_total: f32 = query.unique.iter().map(|t| query.idf[t]).sum::<f32>().max(1e-6);
    let q = query.unique.len().max(1) as f32;
    candidates
        .iter()
        .enumerate()
        .map(|(i, hit)| {
            let (lead, body) = &analysed[i];
            let all: Vec<&String> = lead.iter().chain(body).collect();
            let present: HashSet<&str> = all.iter().map(|t| t.as_str()).collect();
            let covered: Vec<&String> = query.unique.iter().filter(|t| present.contains(t.as_str())).collect();
            let lead_set: HashSet<&str> = lead.iter().map(String::as_str).collect();
            let lead_cov = query.unique.iter().filter(|t| lead_set.contains(t.as_str())).count() as f32 / q;
            let bigrams = if query.bigrams.is_empty() {
                0.0
            } else {
                let doc: HashSet<(&str, &str)> = all.windows(2).map(|w| (w[0].as_str(), w[1].as_str())).collect();
                let hits = query.bigrams.iter().filter(|(a, b)| doc.contains(&(a.as_str(), b.as_str()))).count();
                hits as f32 / query.bigrams.len() as f32
            };
            [
                hit.score,
                1.0 / (1.0 + i as f32),
                hit.dense_score.unwrap_or(min_dense),
                dense_rank[i],
                f32::from(u8::from(hit.dense_score.is_some())),
                full_bm25[i],
                bm25_rank[i],
                f32::from(u8::from(hit.keyword_score.is_some())),
                bm25(query, lead, LEAD_AVG),
                bm25(query, body, BODY_AVG),
                covered.len() as f32 / q,
                covered.iter().map(|t| query.idf[t.as_str()]).sum::<f32>() / idf_total,
                lead_cov,
                proximity(query, &all),
                bigrams,
                (1.0 + all.len() as f32).ln(),
                q,
            ]
        })
        .collect()
}

/// First line and the rest (a passage without a line break is all body).
fn split_lead(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    match text.find('\n') {
        Some(i) if i <= 300 => (&text[..i], &text[i + 1..]),
        _ => ("", text),
    }
}

/// `1 / (1 + rank)` of each candidate by a leg's score (0 when the leg did not rank it).
fn ranks(candidates: &[Hit], score: impl Fn(&Hit) -> Option<f32>) -> Vec<f32> {
    rank_of(candidates.iter().enumerate().filter_map(|(i, h)| Some((i, score(h)?))).collect(), candidates.len())
}

/// `1 / (1 + rank)` by a score every candidate has (0 for a score of 0: no match).
fn ranks_by(scores: &[f32]) -> Vec<f32> {
    rank_of(scores.iter().copied().enumerate().filter(|(_, s)| *s > 0.0).collect(), scores.len())
}

fn rank_of(mut scored: Vec<(usize, f32)>, n: usize) -> Vec<f32> {
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut out = vec![0.0; n];
    for (rank, (i, _)) in scored.into_iter().enumerate() {
        out[i] = 1.0 / (1.0 + rank as f32);
    }
    out
}

fn bm25(query: &QueryTerms, field: &[String], avg: f32) -> f32 {
    if field.is_empty() {
        return 0.0;
    }
    let norm = K1 * (1.0 - B + B * field.len() as f32 / avg);
    query
        .unique
        .iter()
        .map(|t| {
            let tf = field.iter().filter(|x| *x == t).count() as f32;
            if tf == 0.0 { 0.0 } else { query.idf[t] * tf * (K1 + 1.0) / (tf + norm) }
        })
        .sum()
}

/// The largest share of distinct query terms found together within any window of `WINDOW`
/// consecutive terms (1.0 when every query term appears close together).
fn proximity(query: &QueryTerms, doc: &[&String]) -> f32 {
    if query.unique.len() < 2 {
        return f32::from(u8::from(doc.iter().any(|t| query.unique.contains(t))));
    }
    let index: HashMap<&str, usize> = query.unique.iter().enumerate().map(|(i, t)| (t.as_str(), i)).collect();
    let positions: Vec<(usize, usize)> =
        doc.iter().enumerate().filter_map(|(p, t)| index.get(t.as_str()).map(|&q| (p, q))).collect();
    let mut best = 0;
    let mut counts = vec![0usize; query.unique.len()];
    let (mut distinct, mut start) = (0, 0);
    for end in 0..positions.len() {
        let (p_end, q_end) = positions[end];
        counts[q_end] += 1;
        if counts[q_end] == 1 {
            distinct += 1;
        }
        while positions[start].0 + WINDOW <= p_end {
            let q = positions[start].1;
            counts[q] -= 1;
            if counts[q] == 0 {
                distinct -= 1;
            }
            start += 1;
        }
        best = best.max(distinct);
    }
    best as f32 / query.unique.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use genai_core::{Chunk, ChunkId, DocId, PageRange};

    fn hit(text: &str, dense: Option<f32>, keyword: Option<f32>) -> Hit {
        let doc = DocId::from_content(text.as_bytes());
        let chunk = Chunk {
            id: ChunkId::derive(&doc, "t", 0),
            doc_id: doc,
            source: "s".into(),
            ordinal: 0,
            text: text.into(),
            pages: PageRange::single(1),
            char_span: 0..text.chars().count(),
            token_count: 0,
        };
        Hit { dense_score: dense, keyword_score: keyword, ..Hit::new(chunk) }
    }

    #[test]
    fn lead_proximity_and_coverage_see_what_a_reader_sees() {
        let hits = [
            hit("Coolant pumps\nInspect the coolant pump seals monthly.", Some(0.8), Some(7.0)),
            hit("Budget\nThe pump budget was cut; coolant costs rose elsewhere in the plant.", Some(0.5), None),
            hit("Nothing relevant here at all.", None, None),
        ];
        let q = QueryTerms::new("coolant pump seals", None, &hits);
        let f = extract(&q, &hits);
        let at = |row: usize, name: &str| f[row][NAMES.iter().position(|n| *n == name).unwrap()];
        assert_eq!(at(0, "coverage"), 1.0);
        assert!(at(0, "lead_coverage") > at(1, "lead_coverage"));
        assert_eq!(at(0, "proximity"), 1.0, "all three within a window");
        assert!(at(1, "proximity") < 1.0);
        assert!(at(0, "bigrams") > 0.0 && at(2, "bigrams") == 0.0);
        assert_eq!((at(2, "dense_present"), at(2, "bm25_present")), (0.0, 0.0));
        assert_eq!(at(2, "dense_cosine"), 0.5, "absent dense score takes the lowest seen");
        assert_eq!(at(0, "dense_rank"), 1.0);
        assert!(f.iter().flatten().all(|x| x.is_finite()));
    }
}
