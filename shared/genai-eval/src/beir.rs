//! The BEIR dataset layout (Thakur et al., "BEIR: A Heterogeneous Benchmark for Zero-shot
//! Evaluation of Information Retrieval Models", NeurIPS 2021 Datasets and Benchmarks).

use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// Graded judgments: query id → document id → relevance (0 = not relevant).
pub type Qrels = BTreeMap<String, HashMap<String, u32>>;

#[derive(Debug, Clone, Deserialize)]
pub struct CorpusDoc {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(default)]
    pub title: String,
    pub text: String,
}

impl CorpusDoc {
    /// Title and text as one passage, the "flat" representation BM25 and dense baselines use.
    pub fn passage(&self) -> String {
        if self.title.trim().is_empty() { self.text.clone() } else { format!("{}\n\n{}", self.title.trim(), self.text) }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Query {
    #[serde(rename = "_id")]
    pub id: String,
    pub text: String,
}

/// A loaded dataset: the corpus, the queries that have judgments in the split, the judgments.
#[derive(Debug)]
pub struct Dataset {
    pub corpus: Vec<CorpusDoc>,
    pub queries: Vec<Query>,
    pub qrels: Qrels,
}

#[derive(Debug, thiserror::Error)]
pub enum BeirError {
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} line {line}: invalid JSON")]
    Json {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path} line {line}: expected `query-id<TAB>corpus-id<TAB>score`")]
    Qrels { path: PathBuf, line: usize },
}

/// Loads `dir` with the judgments of `split` (e.g. `test`). Only queries judged in that split
/// are kept, as BEIR evaluates.
pub fn load(dir: &Path, split: &str) -> Result<Dataset, BeirError> {
    let qrels = read_qrels(&dir.join("qrels").join(format!("{split}.tsv")))?;
    let corpus: Vec<CorpusDoc> = read_jsonl(&dir.join("corpus.jsonl"))?;
    let queries: Vec<Query> = read_jsonl(&dir.join("queries.jsonl"))?;
    let queries = queries.into_iter().filter(|q| qrels.contains_key(&q.id)).collect();
    Ok(Dataset { corpus, queries, qrels })
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, BeirError> {
    let file = std::fs::File::open(path).map_err(|source| BeirError::Io { path: path.to_owned(), source })?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| BeirError::Io { path: path.to_owned(), source })?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(&line).map_err(|source| BeirError::Json {
            path: path.to_owned(),
            line: i + 1,
            source,
        })?);
    }
    Ok(out)
}

fn read_qrels(path: &Path) -> Result<Qrels, BeirError> {
    let text = std::fs::read_to_string(path).map_err(|source| BeirError::Io { path: path.to_owned(), source })?;
    let mut qrels = Qrels::new();
    for (i, line) in text.lines().enumerate() {
        let cols: Vec<&str> = line.trim_end_matches('\r').split('\t').collect();
        if i == 0 && cols.first().is_some_and(|c| c.starts_with("query")) {
            continue; // header
        }
        if line.trim().is_empty() {
            continue;
        }
        let [q, d, score] = cols[..] else { return Err(BeirError::Qrels { path: path.to_owned(), line: i + 1 }) };
        let score: u32 = score.trim().parse().map_err(|_| BeirError::Qrels { path: path.to_owned(), line: i + 1 })?;
        qrels.entry(q.to_owned()).or_default().insert(d.to_owned(), score);
    }
    Ok(qrels)
}
