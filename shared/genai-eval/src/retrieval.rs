//! Retrieval evaluation on a BEIR dataset (or HotpotQA read as one): index the corpus, run every
//! judged query (optionally reranked), score with intervals, keep per-query scores.

use crate::beir::{self, Dataset};
use crate::metrics::{self, QueryScores};
use crate::stats::{self, Interval};
use genai_core::{Chunk, ChunkId, DocId, PageRange};
use genai_embed::{CachedEmbedder, Embedder};
use genai_retrieval::rerank::TrainingSet;
use genai_retrieval::rewrite::{LlmRewriter, Prf};
use genai_retrieval::{EmbeddedConfig, EmbeddedIndex, Fusion, Index, Retriever, SearchMode, SearchRequest};
use genai_retrieval::{RerankContext, RerankOutcome, Reranking};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Where the queries and judgments come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A BEIR folder and the split whose judged queries are run.
    Beir { dir: PathBuf, split: String },
    /// A HotpotQA JSON file read as a retrieval set ([`crate::hotpot`]).
    Hotpot { file: PathBuf },
}

impl Source {
    fn load(&self) -> anyhow::Result<(String, String, Dataset)> {
        use anyhow::Context;
        let stem = |p: &PathBuf| p.file_stem().map_or_else(|| "dataset".into(), |n| n.to_string_lossy().into_owned());
        match self {
            Self::Beir { dir, split } => {
                let data =
                    beir::load(dir, split).with_context(|| format!("loading BEIR data from {}", dir.display()))?;
                let name = dir.file_name().map_or_else(|| "dataset".into(), |n| n.to_string_lossy().into_owned());
                Ok((name, split.clone(), data))
            }
            Self::Hotpot { file } => {
                let data =
                    crate::hotpot::load(file).with_context(|| format!("loading HotpotQA from {}", file.display()))?;
                Ok((stem(file), "questions".into(), data))
            }
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RetrievalEval {
    pub source: Source,
    pub mode: SearchMode,
    pub embedder: Arc<dyn Embedder>,
    /// Holds the index and the vector cache between runs.
    pub workdir: PathBuf,
    /// The cut-off of the headline metrics (10 in BEIR).
    pub k: usize,
    pub candidates: usize,
    pub fusion: Fusion,
    /// BEIR drops a retrieved document whose id equals the query id (its default).
    pub ignore_identical_ids: bool,
    pub progress: bool,
    /// Rerank the top `top_n` of each result list.
    pub rerank: Option<Reranking>,
    /// Pseudo-relevance feedback (RM3) on the keyword leg.
    pub prf: Option<Prf>,
    /// Rewrite each query with a model first (multi-query, HyDE).
    pub rewriter: Option<LlmRewriter>,
}

/// One query's scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PerQuery {
    pub ndcg: f64,
    pub recall: f64,
    pub mrr: f64,
    pub recall_at_2: f64,
    pub recall_at_5: f64,
    /// At least one relevant document in the top k.
    pub hit: f64,
}

/// Means with 95% bootstrap intervals over queries.
#[derive(Debug, Clone, Serialize)]
pub struct Intervals {
    pub ndcg: Interval,
    pub recall: Interval,
    pub mrr: Interval,
    pub recall_at_2: Interval,
    pub recall_at_5: Interval,
    pub hit_rate: Interval,
}

/// What came out.
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalReport {
    pub dataset: String,
    pub split: String,
    pub mode: SearchMode,
    pub embedder: String,
    /// The reranker applied to the top candidates, if any.
    pub reranker: Option<String>,
    /// Query rewriting: `rm3` and/or the model rewriter's mode.
    pub rewriting: Vec<String>,
    pub documents: usize,
    pub queries: usize,
    pub k: usize,
    /// Means over queries at `k`.
    pub at_k: QueryScores,
    pub intervals: Intervals,
    pub recall_at_100: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_p95: f64,
    /// Reranking time alone, and how often it fell back to the fused order.
    pub rerank_ms_p50: Option<f64>,
    pub rerank_ms_p95: Option<f64>,
    pub rerank_fallbacks: usize,
    /// Seconds spent embedding the corpus (0 when served from the cache or an existing index).
    pub embed_seconds: f64,
    /// Seconds spent writing the index (durable), excluding embedding.
    pub index_seconds: f64,
    pub optimize_seconds: f64,
    pub fusion: Option<Fusion>,
    /// Every query's scores, for paired comparisons (`genai-eval compare`).
    pub per_query: BTreeMap<String, PerQuery>,
}

impl RetrievalReport {
    /// A Markdown table row; [`RetrievalReport::table_header`] gives the header.
    pub fn table_row(&self) -> String {
        let i = &self.intervals;
        format!(
            "| {} | {:?}{}{} | {} | {} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.1} | {:.1} |",
            self.dataset,
            self.mode,
            self.rewriting.iter().map(|r| format!(" + {r}")).collect::<String>(),
            self.reranker.as_ref().map_or(String::new(), |r| format!(" + {r}")),
            self.embedder,
            i.ndcg,
            i.recall_at_2.mean,
            i.recall_at_5.mean,
            self.at_k.recall,
            self.recall_at_100,
            self.at_k.mrr,
            self.latency_ms_p50,
            self.latency_ms_p95
        )
    }

    pub fn table_header(k: usize) -> String {
        format!(
            "| dataset | mode | embedder | nDCG@{k} [95% CI] | recall@2 | recall@5 | recall@{k} | recall@100 | MRR@{k} | p50 ms | p95 ms |\n|---|---|---|---|---|---|---|---|---|---|---|"
        )
    }
}

impl RetrievalEval {
    pub async fn run(&self) -> anyhow::Result<RetrievalReport> {
        let (name, split, data) = self.source.load()?;
        anyhow::ensure!(!data.queries.is_empty(), "no queries of split {split:?} have judgments");
        let (retriever, (embed_seconds, index_seconds, optimize_seconds)) = self.index(&name, &data).await?;

        let depth = 100usize.max(self.k) + usize::from(self.ignore_identical_ids);
        let bar = self.bar(data.queries.len() as u64, "querying");
        let mut per_query = BTreeMap::new();
        let mut scores = Vec::new();
        let mut recall100 = Vec::new();
        let (mut latencies, mut rerank_ms, mut fallbacks) = (Vec::new(), Vec::new(), 0);
        for q in &data.queries {
            let request = SearchRequest {
                query: q.text.clone(),
                mode: self.mode,
                k: depth,
                candidates: self.candidates.max(depth),
                filter: None,
                fusion: self.fusion,
                prf: self.prf,
            };
            let start = Instant::now();
            let hits = match &self.rewriter {
                None => retriever.search(&request).await?,
                Some(rw) => retriever.search_rewritten(&request, rw).await?.0,
            };
            let sources: Vec<String> = match &self.rerank {
                None => hits.into_iter().map(|h| h.chunk.source).collect(),
                Some(r) => {
                    let ctx = RerankContext {
                        term_stats: retriever.index().term_stats(&genai_retrieval::terms(&q.text)).await?,
                    };
                    let (hits, outcome) = r.apply(&q.text, hits, &ctx).await;
                    match outcome {
                        RerankOutcome::Reranked { millis, .. } => rerank_ms.push(millis),
                        RerankOutcome::Fallback { .. } => fallbacks += 1,
                    }
                    hits.into_iter().map(|h| h.hit.chunk.source).collect()
                }
            };
            latencies.push(start.elapsed().as_secs_f64() * 1e3);
            let ranked: Vec<String> =
                sources.into_iter().filter(|d| !(self.ignore_identical_ids && *d == q.id)).collect();
            let judged = &data.qrels[&q.id];
            let s = metrics::score(&ranked, judged, self.k);
            scores.push(s);
            recall100.push(metrics::score(&ranked, judged, 100).recall);
            per_query.insert(
                q.id.clone(),
                PerQuery {
                    ndcg: s.ndcg,
                    recall: s.recall,
                    mrr: s.mrr,
                    recall_at_2: metrics::score(&ranked, judged, 2).recall,
                    recall_at_5: metrics::score(&ranked, judged, 5).recall,
                    hit: f64::from(u8::from(s.recall > 0.0)),
                },
            );
            bar.inc(1);
        }
        bar.finish_and_clear();
        let col =
            |f: fn(&PerQuery) -> f64| stats::interval(&per_query.values().map(|p| Some(f(p))).collect::<Vec<_>>());
        let intervals = Intervals {
            ndcg: col(|p| p.ndcg),
            recall: col(|p| p.recall),
            mrr: col(|p| p.mrr),
            recall_at_2: col(|p| p.recall_at_2),
            recall_at_5: col(|p| p.recall_at_5),
            hit_rate: col(|p| p.hit),
        };
        Ok(RetrievalReport {
            dataset: name,
            split,
            mode: self.mode,
            embedder: self.embedder.model_id().to_owned(),
            reranker: self.rerank.as_ref().map(|r| r.reranker.name().to_owned()),
            rewriting: self
                .prf
                .map(|_| "rm3".to_owned())
                .into_iter()
                .chain(self.rewriter.as_ref().map(|r| format!("{:?}", r.mode)))
                .collect(),
            documents: data.corpus.len(),
            queries: data.queries.len(),
            k: self.k,
            at_k: metrics::mean(&scores),
            intervals,
            recall_at_100: recall100.iter().sum::<f64>() / recall100.len() as f64,
            latency_ms_p50: metrics::percentile(&latencies, 50.0),
            latency_ms_p95: metrics::percentile(&latencies, 95.0),
            rerank_ms_p50: (!rerank_ms.is_empty()).then(|| metrics::percentile(&rerank_ms, 50.0)),
            rerank_ms_p95: (!rerank_ms.is_empty()).then(|| metrics::percentile(&rerank_ms, 95.0)),
            rerank_fallbacks: fallbacks,
            embed_seconds,
            index_seconds,
            optimize_seconds,
            fusion: (self.mode == SearchMode::Hybrid).then_some(self.fusion),
            per_query,
        })
    }

    /// The training set for a learned reranker: every judged query's top `top_n` fused
    /// candidates with their relevance grades (unjudged = 0).
    pub async fn training_set(&self, top_n: usize) -> anyhow::Result<(TrainingSet, String)> {
        let (name, split, data) = self.source.load()?;
        let (retriever, _) = self.index(&name, &data).await?;
        let bar = self.bar(data.queries.len() as u64, "features");
        let mut set = TrainingSet::default();
        for q in &data.queries {
            let request = SearchRequest {
                query: q.text.clone(),
                mode: self.mode,
                k: top_n,
                candidates: self.candidates.max(top_n),
                filter: None,
                fusion: self.fusion,
                prf: self.prf,
            };
            let hits = retriever.search(&request).await?;
            let hits: Vec<_> =
                hits.into_iter().filter(|h| !(self.ignore_identical_ids && h.chunk.source == q.id)).collect();
            let judged = &data.qrels[&q.id];
            let relevance = hits.iter().map(|h| judged.get(&h.chunk.source).copied().unwrap_or(0) as f32).collect();
            let ctx =
                RerankContext { term_stats: retriever.index().term_stats(&genai_retrieval::terms(&q.text)).await? };
            set.push(&q.text, &hits, &ctx, relevance);
            bar.inc(1);
        }
        bar.finish_and_clear();
        let about = format!(
            "{name} {split} ({} queries, {:?} top {top_n}, {})",
            data.queries.len(),
            self.mode,
            self.embedder.model_id()
        );
        Ok((set, about))
    }

    /// Opens (building if needed) the embedded index of this dataset and embedder.
    async fn index(&self, name: &str, data: &Dataset) -> anyhow::Result<(Retriever, (f64, f64, f64))> {
        let model = sanitize(self.embedder.model_id());
        let embedder: Arc<dyn Embedder> =
            Arc::new(CachedEmbedder::open(self.embedder.clone(), &self.workdir.join("vector-cache"))?);
        let index_dir = self.workdir.join(format!("{name}-{model}"));
        let index = EmbeddedIndex::open(&index_dir, embedder.model_id(), embedder.dim(), EmbeddedConfig::default())?;
        let times = self.ingest(data, &embedder, &index).await?;
        Ok((Retriever::new(embedder, Arc::new(index))?, times))
    }

    /// Indexes the corpus unless the index already holds it; returns (embed, index, optimize) seconds.
    async fn ingest(
        &self,
        data: &Dataset,
        embedder: &Arc<dyn Embedder>,
        index: &EmbeddedIndex,
    ) -> anyhow::Result<(f64, f64, f64)> {
        if index.count(None).await? == data.corpus.len() as u64 {
            tracing::info!(documents = data.corpus.len(), "index already holds the corpus; reusing it");
            return Ok((0.0, 0.0, 0.0));
        }
        let bar = self.bar(data.corpus.len() as u64, "indexing");
        let (mut embed_s, mut index_s) = (0.0, 0.0);
        for batch in data.corpus.chunks(512) {
            let chunks: Vec<Chunk> = batch.iter().map(chunk_of).collect();
            let texts: Vec<String> = chunks.iter().map(|c| c.text.clone()).collect();
            let start = Instant::now();
            let vectors = embedder.embed(&texts).await?;
            embed_s += start.elapsed().as_secs_f64();
            let records = chunks.into_iter().zip(vectors).map(|(c, v)| genai_retrieval::Record::new(c, v)).collect();
            let start = Instant::now();
            index.upsert(records).await?;
            index_s += start.elapsed().as_secs_f64();
            bar.inc(batch.len() as u64);
        }
        bar.finish_and_clear();
        let start = Instant::now();
        index.optimize().await?;
        Ok((embed_s, index_s, start.elapsed().as_secs_f64()))
    }

    fn bar(&self, len: u64, what: &'static str) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template("{msg:>9} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_message(what);
        bar
    }
}

/// One BEIR document as one chunk: BEIR scores documents, so they are not split.
fn chunk_of(doc: &beir::CorpusDoc) -> Chunk {
    let text = doc.passage();
    let id = DocId::from_content(doc.id.as_bytes());
    Chunk {
        id: ChunkId::derive(&id, "beir-doc", 0),
        doc_id: id,
        source: doc.id.clone(),
        ordinal: 0,
        pages: PageRange::single(1),
        char_span: 0..text.chars().count(),
        token_count: 0,
        text,
    }
}

fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

/// The default working folder for a dataset: reused across runs so embeddings are computed once.
pub fn default_workdir() -> PathBuf {
    std::env::temp_dir().join("genai-eval")
}
