//! Retrieval evaluation on a BEIR dataset: index the corpus, run every judged query, score.

use crate::beir::{self, Dataset};
use crate::metrics::{self, QueryScores};
use genai_core::{Chunk, ChunkId, DocId, PageRange};
use genai_embed::{CachedEmbedder, Embedder};
use genai_retrieval::{EmbeddedConfig, EmbeddedIndex, Fusion, Index, Retriever, SearchMode, SearchRequest};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// What to run.
#[derive(Debug, Clone)]
pub struct RetrievalEval {
    pub dataset: PathBuf,
    pub split: String,
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
}

/// What came out.
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalReport {
    pub dataset: String,
    pub split: String,
    pub mode: SearchMode,
    pub embedder: String,
    pub documents: usize,
    pub queries: usize,
    pub k: usize,
    /// Means over queries at `k`.
    pub at_k: QueryScores,
    pub recall_at_100: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_p95: f64,
    /// Seconds spent embedding the corpus (0 when served from the cache or an existing index).
    pub embed_seconds: f64,
    /// Seconds spent writing the index (durable), excluding embedding.
    pub index_seconds: f64,
    pub optimize_seconds: f64,
    pub fusion: Option<Fusion>,
}

impl RetrievalReport {
    /// A Markdown table row; [`RetrievalReport::table_header`] gives the header.
    pub fn table_row(&self) -> String {
        format!(
            "| {} | {:?} | {} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.1} | {:.1} |",
            self.dataset,
            self.mode,
            self.embedder,
            self.at_k.ndcg,
            self.at_k.recall,
            self.recall_at_100,
            self.at_k.mrr,
            self.at_k.map,
            self.latency_ms_p50,
            self.latency_ms_p95
        )
    }

    pub fn table_header(k: usize) -> String {
        format!(
            "| dataset | mode | embedder | nDCG@{k} | recall@{k} | recall@100 | MRR@{k} | MAP@{k} | p50 ms | p95 ms |\n|---|---|---|---|---|---|---|---|---|---|"
        )
    }
}

impl RetrievalEval {
    pub async fn run(&self) -> anyhow::Result<RetrievalReport> {
        use anyhow::Context;
        let data = beir::load(&self.dataset, &self.split)
            .with_context(|| format!("loading BEIR data from {}", self.dataset.display()))?;
        anyhow::ensure!(!data.queries.is_empty(), "no queries of split {:?} have judgments", self.split);
        let name = self.dataset.file_name().map_or_else(|| "dataset".into(), |n| n.to_string_lossy().into_owned());
        let model = sanitize(self.embedder.model_id());
        let embedder: Arc<dyn Embedder> =
            Arc::new(CachedEmbedder::open(self.embedder.clone(), &self.workdir.join("vector-cache"))?);
        let index_dir = self.workdir.join(format!("{name}-{model}"));
        let index = EmbeddedIndex::open(&index_dir, embedder.model_id(), embedder.dim(), EmbeddedConfig::default())?;
        let (embed_seconds, index_seconds, optimize_seconds) = self.ingest(&data, &embedder, &index).await?;
        let retriever = Retriever::new(embedder, Arc::new(index))?;

        let depth = 100usize.max(self.k) + usize::from(self.ignore_identical_ids);
        let bar = self.bar(data.queries.len() as u64, "querying");
        let mut scores = Vec::new();
        let mut recall100 = Vec::new();
        let mut latencies = Vec::new();
        for q in &data.queries {
            let request = SearchRequest {
                query: q.text.clone(),
                mode: self.mode,
                k: depth,
                candidates: self.candidates.max(depth),
                filter: None,
                fusion: self.fusion,
            };
            let start = Instant::now();
            let hits = retriever.search(&request).await?;
            latencies.push(start.elapsed().as_secs_f64() * 1e3);
            let ranked: Vec<String> = hits
                .into_iter()
                .map(|h| h.chunk.source)
                .filter(|d| !(self.ignore_identical_ids && *d == q.id))
                .collect();
            let judged = &data.qrels[&q.id];
            scores.push(metrics::score(&ranked, judged, self.k));
            recall100.push(metrics::score(&ranked, judged, 100).recall);
            bar.inc(1);
        }
        bar.finish_and_clear();
        Ok(RetrievalReport {
            dataset: name,
            split: self.split.clone(),
            mode: self.mode,
            embedder: self.embedder.model_id().to_owned(),
            documents: data.corpus.len(),
            queries: data.queries.len(),
            k: self.k,
            at_k: metrics::mean(&scores),
            recall_at_100: recall100.iter().sum::<f64>() / recall100.len() as f64,
            latency_ms_p50: metrics::percentile(&latencies, 50.0),
            latency_ms_p95: metrics::percentile(&latencies, 95.0),
            embed_seconds,
            index_seconds,
            optimize_seconds,
            fusion: (self.mode == SearchMode::Hybrid).then_some(self.fusion),
        })
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
