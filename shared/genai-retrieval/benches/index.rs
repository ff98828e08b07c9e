//! Embedded index at scale: sustained durable ingest and query latency.
//!
//! `cargo bench -p genai-retrieval --bench index -- [CHUNKS] [BATCH]` (defaults 100000, 10000)
//!
//! Synthetic corpus: 384-d vectors around 256 cluster centres (unit length), texts of 40–160
//! words drawn from a Zipf-distributed 30k-word vocabulary, 10 tenants. Embedding is excluded:
//! vectors are generated up front. Ingest is timed batch by batch, each batch durable when its
//! `upsert` returns (shard flushed, tantivy committed). Then `optimize()` builds HNSW and 500
//! queries of each kind are timed through `Retriever::search_with_vector`, the production path.

use genai_core::{Chunk, ChunkId, DocId, PageRange};
use genai_embed::HashingEmbedder;
use genai_retrieval::{EmbeddedConfig, EmbeddedIndex, Filter, Index, Record, Retriever, SearchMode, SearchRequest};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::Instant;

const DIM: usize = 384;

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

struct Gen {
    rng: StdRng,
    centres: Vec<Vec<f32>>,
    zipf_cdf: Vec<f64>,
}

impl Gen {
    fn new() -> Self {
        let mut rng = StdRng::seed_from_u64(7);
        let centres = (0..256).map(|_| unit((0..DIM).map(|_| rng.random::<f32>() - 0.5).collect())).collect();
        let weights: Vec<f64> = (1..=30_000).map(|r| 1.0 / r as f64).collect();
        let total: f64 = weights.iter().sum();
        let zipf_cdf = weights
            .iter()
            .scan(0.0, |acc, w| {
                *acc += w / total;
                Some(*acc)
            })
            .collect();
        Self { rng, centres, zipf_cdf }
    }

    fn vector(&mut self) -> Vec<f32> {
        let c = &self.centres[self.rng.random_range(0..self.centres.len())];
        unit(c.iter().map(|x| x + (self.rng.random::<f32>() - 0.5) * 0.08).collect())
    }

    fn word(&mut self) -> String {
        let u: f64 = self.rng.random();
        format!("w{}", self.zipf_cdf.partition_point(|&c| c < u))
    }

    fn text(&mut self) -> String {
        let n = self.rng.random_range(40..160);
        (0..n).map(|_| self.word()).collect::<Vec<_>>().join(" ")
    }
}

fn percentiles(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
    (at(0.50), at(0.95))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let total = args.first().copied().unwrap_or(100_000);
    let batch = args.get(1).copied().unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    let embedder = HashingEmbedder::new(DIM); // only names the vector space; vectors are synthetic
    let index =
        EmbeddedIndex::open(dir.path(), genai_embed::Embedder::model_id(&embedder), DIM, EmbeddedConfig::default())?;
    let mut g = Gen::new();

    println!("corpus: {total} chunks × {DIM} dims, batches of {batch}, durable per batch");
    let mut ingest_s = 0.0;
    let mut done = 0;
    while done < total {
        let n = batch.min(total - done);
        let records: Vec<Record> = (done..done + n)
            .map(|i| {
                let doc = DocId::from_content(format!("doc{}", i / 8).as_bytes());
                let text = g.text();
                let chunk = Chunk {
                    id: ChunkId::derive(&doc, "bench", i % 8),
                    doc_id: doc,
                    source: format!("file{}.pdf", i / 8),
                    ordinal: (i % 8) as u32,
                    pages: PageRange::single((i % 8) as u32 + 1),
                    char_span: 0..text.len(),
                    token_count: 0,
                    text,
                };
                let mut r = Record::new(chunk, g.vector());
                r.tenant = Some(format!("t{}", i % 10));
                r
            })
            .collect();
        let start = Instant::now();
        index.upsert(records).await?;
        ingest_s += start.elapsed().as_secs_f64();
        done += n;
    }
    println!(
        "ingest: {:.1} s → {:.0} chunks/s (dense + BM25 + payload, durable on return)",
        ingest_s,
        total as f64 / ingest_s
    );
    let start = Instant::now();
    index.optimize().await?;
    println!("optimize (HNSW build): {:.1} s", start.elapsed().as_secs_f64());
    println!("disk: {:.0} MB", index.disk_usage() as f64 / 1e6);

    let retriever = Retriever::new(Arc::new(embedder), Arc::new(index))?;
    let queries: Vec<(String, Vec<f32>)> =
        (0..500).map(|_| ((0..3).map(|_| g.word()).collect::<Vec<_>>().join(" "), g.vector())).collect();
    println!("\n| query (top 10) | p50 ms | p95 ms |\n|---|---|---|");
    let cases: [(&str, SearchMode, Option<Filter>); 4] = [
        ("dense", SearchMode::Dense, None),
        ("BM25", SearchMode::Keyword, None),
        ("hybrid (RRF, 100 per leg)", SearchMode::Hybrid, None),
        ("hybrid + tenant filter (1/10)", SearchMode::Hybrid, Some(Filter::tenant("t3"))),
    ];
    for (name, mode, filter) in cases {
        let mut ms = Vec::new();
        for (i, (text, vector)) in queries.iter().enumerate() {
            let req = SearchRequest { filter: filter.clone(), ..SearchRequest::new(text.clone(), mode, 10) };
            let vector = (mode != SearchMode::Keyword).then(|| vector.clone());
            let start = Instant::now();
            let hits = retriever.search_with_vector(&req, vector).await?;
            if i >= 20 {
                ms.push(start.elapsed().as_secs_f64() * 1e3); // first 20 warm caches
            }
            assert!(!hits.is_empty() || mode == SearchMode::Keyword);
        }
        let (p50, p95) = percentiles(ms);
        println!("| {name} | {p50:.2} | {p95:.2} |");
    }
    Ok(())
}
