//! The index at scale, embedded and on a Qdrant server side by side: durable ingest, index
//! build, query latency per mode, dense recall@10 against exact search, memory per vector.
//!
//! `cargo bench -p genai-retrieval --bench index -- [CHUNKS] [BATCH]` (defaults 100000, 10000)
//!
//! Backends: always the embedded index; with `QDRANT_BIN` also a fresh single Qdrant node per
//! configuration (full-precision vectors, then scalar int8 quantisation with originals on disk),
//! whose resident memory is read from /proc; with `QDRANT_URL` instead, an existing server
//! (no memory figures). `BACKENDS=embedded,server,server-int8` picks a subset.
//!
//! Synthetic corpus, identical for every backend: 384-d vectors around 256 cluster centres (unit
//! length), texts of 40–160 words from a Zipf-distributed 30k-word vocabulary, 10 tenants.
//! Embedding is excluded: vectors are generated. Ingest is timed batch by batch, each durable
//! when `upsert` returns. `optimize()` then builds HNSW (the server: waits until it has). 500
//! queries of each kind run through `Retriever::search_with_vector`, the production path.

use genai_core::{Chunk, ChunkId, DocId, PageRange};
use genai_embed::HashingEmbedder;
use genai_retrieval::{
    Bm25Params, EmbeddedConfig, EmbeddedIndex, Filter, Index, Record, Retriever, SearchMode, SearchRequest,
    ServerConfig, ServerIndex, ServerLayout,
};
use genai_testkit::qdrant::{QdrantBin, QdrantNode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::Instant;

const DIM: usize = 384;
const QUERIES: usize = 500;
/// Dense queries whose exact top 10 is computed by brute force for recall.
const RECALL_QUERIES: usize = 200;

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

    fn record(&mut self, i: usize) -> Record {
        let doc = DocId::from_content(format!("doc{}", i / 8).as_bytes());
        let text = self.text();
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
        let mut r = Record::new(chunk, self.vector());
        r.tenant = Some(format!("t{}", i % 10));
        r
    }
}

fn percentiles(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
    (at(0.50), at(0.95))
}

/// One backend's row of the table.
#[derive(Default)]
struct Row {
    name: String,
    ingest_per_s: f64,
    build_s: f64,
    /// (p50, p95) ms for dense, BM25, hybrid, hybrid + tenant filter.
    latency: Vec<(f64, f64)>,
    recall_at_10: f64,
    /// Resident and anonymous memory of the server process per stored chunk, bytes (server
    /// backends this benchmark started).
    bytes_per_chunk: Option<(f64, f64)>,
}

struct Workload {
    total: usize,
    batch: usize,
    queries: Vec<(String, Vec<f32>)>,
    /// Ids of the exact top 10 of the first RECALL_QUERIES query vectors.
    exact: Vec<Vec<ChunkId>>,
}

impl Workload {
    /// Generates the corpus once to find the exact nearest neighbours (brute force), keeping
    /// only ids and vectors; each backend then regenerates the identical stream.
    fn new(total: usize, batch: usize) -> Self {
        let mut g = Gen::new();
        let mut ids = Vec::with_capacity(total);
        let mut vectors = Vec::with_capacity(total * DIM);
        for i in 0..total {
            let r = g.record(i);
            ids.push(r.chunk.id);
            vectors.extend_from_slice(&r.vector);
        }
        let queries: Vec<(String, Vec<f32>)> =
            (0..QUERIES).map(|_| ((0..3).map(|_| g.word()).collect::<Vec<_>>().join(" "), g.vector())).collect();
        let exact = queries[..RECALL_QUERIES]
            .iter()
            .map(|(_, q)| {
                let mut scored: Vec<(f32, usize)> = vectors
                    .chunks_exact(DIM)
                    .enumerate()
                    .map(|(i, v)| (v.iter().zip(q).map(|(a, b)| a * b).sum::<f32>(), i))
                    .collect();
                scored.select_nth_unstable_by(9, |a, b| b.0.total_cmp(&a.0));
                scored[..10].iter().map(|&(_, i)| ids[i]).collect()
            })
            .collect();
        Self { total, batch, queries, exact }
    }

    async fn run(&self, name: &str, index: Arc<dyn Index>, node: Option<&QdrantNode>) -> anyhow::Result<Row> {
        let before = node.map(rss_bytes).transpose()?;
        let mut g = Gen::new();
        let (mut ingest_s, mut done) = (0.0, 0);
        while done < self.total {
            let n = self.batch.min(self.total - done);
            let records: Vec<Record> = (done..done + n).map(|i| g.record(i)).collect();
            let start = Instant::now();
            index.upsert(records).await?;
            ingest_s += start.elapsed().as_secs_f64();
            done += n;
        }
        let start = Instant::now();
        index.optimize().await?;
        let build_s = start.elapsed().as_secs_f64();
        let retriever = Retriever::new(Arc::new(HashingEmbedder::new(DIM)), index.clone())?;
        let cases: [(SearchMode, Option<Filter>); 4] = [
            (SearchMode::Dense, None),
            (SearchMode::Keyword, None),
            (SearchMode::Hybrid, None),
            (SearchMode::Hybrid, Some(Filter::tenant("t3"))),
        ];
        let mut latency = Vec::new();
        let mut recall_hits = 0;
        for (mode, filter) in cases {
            let mut ms = Vec::new();
            for (i, (text, vector)) in self.queries.iter().enumerate() {
                let req = SearchRequest { filter: filter.clone(), ..SearchRequest::new(text.clone(), mode, 10) };
                let vector = (mode != SearchMode::Keyword).then(|| vector.clone());
                let start = Instant::now();
                let hits = retriever.search_with_vector(&req, vector).await?;
                if i >= 20 {
                    ms.push(start.elapsed().as_secs_f64() * 1e3); // the first 20 warm caches
                }
                if mode == SearchMode::Dense && filter.is_none() && i < RECALL_QUERIES {
                    recall_hits += hits.iter().filter(|h| self.exact[i].contains(&h.chunk.id)).count();
                }
            }
            latency.push(percentiles(ms));
        }
        let after = node.map(rss_bytes).transpose()?;
        let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / self.total as f64;
        let bytes_per_chunk = before.zip(after).map(|(b, a)| (per(a.0, b.0), per(a.1, b.1)));
        Ok(Row {
            name: name.to_owned(),
            ingest_per_s: self.total as f64 / ingest_s,
            build_s,
            latency,
            recall_at_10: recall_hits as f64 / (RECALL_QUERIES * 10) as f64,
            bytes_per_chunk,
        })
    }
}

/// Resident memory of a server process from /proc: (all resident pages, anonymous pages only).
/// Anonymous memory is what the process holds in RAM by itself; file-backed pages (vectors and
/// payloads kept on disk and memory-mapped) count in the first figure only while cached.
fn rss_bytes(node: &QdrantNode) -> anyhow::Result<(u64, u64)> {
    let pid = node.pid().ok_or_else(|| anyhow::anyhow!("qdrant not running"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .ok_or_else(|| anyhow::anyhow!("no {name} in /proc/{pid}/status"))
    };
    Ok((field("VmRSS:")?, field("RssAnon:")?))
}

async fn server(url: String, name: &str, quantization: bool, avg_len: f32) -> anyhow::Result<Arc<dyn Index>> {
    let config = ServerConfig {
        urls: vec![url],
        collection: format!("bench_{name}_{}", std::process::id()),
        timeout: std::time::Duration::from_secs(120),
        bm25: Bm25Params { avg_len, ..Bm25Params::default() },
        layout: ServerLayout { quantization, ..ServerLayout::default() },
        ..ServerConfig::default()
    };
    Ok(Arc::new(ServerIndex::open(config, genai_embed::Embedder::model_id(&HashingEmbedder::new(DIM)), DIM).await?))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let total = args.first().copied().unwrap_or(100_000);
    let batch = args.get(1).copied().unwrap_or(10_000);
    let wanted = std::env::var("BACKENDS").unwrap_or_else(|_| "embedded,server,server-int8".into());
    let bin = std::env::var("QDRANT_BIN").ok().and_then(|_| QdrantBin::from_env("server backends"));
    let url = std::env::var("QDRANT_URL").ok();
    println!("corpus: {total} chunks × {DIM} dims, batches of {batch}, durable per batch; computing exact neighbours…");
    let work = Workload::new(total, batch);
    let mut rows = Vec::new();
    // The corpus's mean analysed length (the texts have 40–159 words of ~5 chars, no stop
    // words), so server BM25 matches the embedded index's.
    let avg_len = 99.5;
    for name in wanted.split(',').map(str::trim) {
        let started = Instant::now();
        let row = match name {
            "embedded" => {
                let dir = tempfile::tempdir()?;
                let model = genai_embed::Embedder::model_id(&HashingEmbedder::new(DIM)).to_owned();
                let index = Arc::new(EmbeddedIndex::open(dir.path(), &model, DIM, EmbeddedConfig::default())?);
                work.run(name, index, None).await?
            }
            "server" | "server-int8" => {
                let quantization = name == "server-int8";
                match (&bin, &url) {
                    (Some(bin), _) => {
                        let mut node = QdrantNode::single(bin).await;
                        let index = server(node.grpc_url(), name, quantization, avg_len).await?;
                        let row = work.run(name, index, Some(&node)).await?;
                        node.stop().await;
                        row
                    }
                    (None, Some(url)) => {
                        let index = server(url.clone(), name, quantization, avg_len).await?;
                        work.run(name, index, None).await?
                    }
                    (None, None) => {
                        eprintln!("skipping {name}: set QDRANT_BIN (or QDRANT_URL)");
                        continue;
                    }
                }
            }
            other => anyhow::bail!("unknown backend {other:?} (embedded, server, server-int8)"),
        };
        eprintln!("{name}: done in {:.0} s", started.elapsed().as_secs_f64());
        rows.push(row);
    }
    println!(
        "\n| backend | ingest chunks/s | index build s | dense p50/p95 ms | BM25 p50/p95 | hybrid p50/p95 | hybrid + tenant p50/p95 | dense recall@10 | server RSS / anonymous bytes per chunk |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let lat: Vec<String> = r.latency.iter().map(|(a, b)| format!("{a:.2} / {b:.2}")).collect();
        let mem = r.bytes_per_chunk.map_or("—".into(), |(all, anon)| format!("{all:.0} / {anon:.0}"));
        println!(
            "| {} | {:.0} | {:.1} | {} | {:.3} | {mem} |",
            r.name,
            r.ingest_per_s,
            r.build_s,
            lat.join(" | "),
            r.recall_at_10
        );
    }
    Ok(())
}
