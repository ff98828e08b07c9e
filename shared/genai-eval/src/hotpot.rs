//! HotpotQA (Yang et al., EMNLP 2018), distractor setting, read as a retrieval set: the pooled
//! paragraphs of every question form the corpus (one document per title: the title as the first
//! line, then the paragraph's sentences), each question is a query, and its supporting-fact
//! titles (two per question) are its relevant documents. Multi-hop questions need both.

use crate::beir::{CorpusDoc, Dataset, Qrels, Query};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// One record of the official JSON file (only the fields used here).
#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    #[serde(rename = "_id")]
    pub id: String,
    pub question: String,
    pub answer: String,
    /// `[title, sentence index]` pairs.
    pub supporting_facts: Vec<(String, usize)>,
    /// `[title, sentences]` pairs: the gold paragraphs and the distractors.
    pub context: Vec<(String, Vec<String>)>,
    #[serde(default, rename = "type")]
    pub kind: String,
}

impl Record {
    /// The distinct titles of the supporting facts, in first-seen order.
    pub fn gold_titles(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (t, _) in &self.supporting_facts {
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
        out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HotpotError {
    #[error("cannot read {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a HotpotQA JSON array")]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Reads the official JSON array.
pub fn read(path: &Path) -> Result<Vec<Record>, HotpotError> {
    let p = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| HotpotError::Io { path: p.clone(), source })?;
    serde_json::from_slice(&bytes).map_err(|source| HotpotError::Json { path: p, source })
}

/// The paragraph of a title as one passage: title line, then the sentences joined.
pub fn passage(title: &str, sentences: &[String]) -> String {
    format!("{title}\n{}", sentences.concat().trim())
}

/// The pooled corpus with each question's gold titles as its judgments. A title seen twice with
/// different text keeps its first paragraph (the official data repeats a few).
pub fn load(path: &Path) -> Result<Dataset, HotpotError> {
    let records = read(path)?;
    let mut corpus = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for r in &records {
        for (title, sentences) in &r.context {
            if seen.insert(title.clone()) {
                corpus.push(CorpusDoc { id: title.clone(), title: String::new(), text: passage(title, sentences) });
            }
        }
    }
    let mut qrels = Qrels::new();
    let mut queries = Vec::new();
    for r in &records {
        let judged: HashMap<String, u32> =
            r.gold_titles().into_iter().filter(|t| seen.contains(t)).map(|t| (t, 1)).collect();
        if judged.is_empty() {
            continue;
        }
        qrels.insert(r.id.clone(), judged);
        queries.push(Query { id: r.id.clone(), text: r.question.clone() });
    }
    Ok(Dataset { corpus, queries, qrels })
}
