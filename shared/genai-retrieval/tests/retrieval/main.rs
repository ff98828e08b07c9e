//! genai-retrieval integration tests: one conformance suite every backend passes (the embedded
//! one always, the Qdrant server one when `QDRANT_URL` is set), plus persistence, crash safety
//! and disk growth of the embedded backend.

mod cluster;
mod conformance;
mod crash;
mod embedded;
mod rerank;
mod rewrite;
mod server;

use genai_core::{Chunk, ChunkId, DocId, PageRange};
use genai_embed::{Embedder, HashingEmbedder};
use genai_retrieval::Record;
use std::collections::BTreeMap;

/// A small corpus with known tenants, groups and pages: 3 tenants × 4 docs × 5 chunks.
pub fn corpus() -> Vec<Record> {
    let topics = [
        "coolant pump inspection",
        "valve corrosion repair",
        "lubrication schedule",
        "safety training",
        "quarterly budget",
    ];
    let e = HashingEmbedder::default();
    let mut out = Vec::new();
    for (t, tenant) in ["acme", "globex", "initech"].iter().enumerate() {
        for d in 0..4 {
            let doc_id = DocId::from_content(format!("{tenant}-{d}").as_bytes());
            for (i, topic) in topics.iter().enumerate() {
                let text =
                    format!("Document {d} of {tenant}, section {i}: notes on {topic}. Item {t}{d}{i} is unique.");
                let chunk = Chunk {
                    id: ChunkId::derive(&doc_id, "test", i),
                    doc_id: doc_id.clone(),
                    source: format!("{tenant}/doc{d}.pdf"),
                    ordinal: i as u32,
                    pages: PageRange::new(i as u32 + 1, i as u32 + 1 + (i as u32 % 2)),
                    char_span: i * 100..i * 100 + text.chars().count(),
                    token_count: 20,
                    text,
                };
                let mut attrs = BTreeMap::new();
                attrs.insert(
                    "group".to_owned(),
                    if d % 2 == 0 { vec!["eng".to_owned()] } else { vec!["eng".to_owned(), "hr".to_owned()] },
                );
                let vector = e.embed_one(&chunk.text);
                out.push(Record { chunk, vector, tenant: Some((*tenant).to_owned()), attrs });
            }
        }
    }
    out
}

pub fn embedder() -> std::sync::Arc<dyn Embedder> {
    std::sync::Arc::new(HashingEmbedder::default())
}

/// A larger corpus of varied lengths (10–150 words from a Zipf-like vocabulary, so term
/// frequencies and length normalisation matter), three tenants, hashing-embedder vectors;
/// deterministic for a seed. Used to compare backends score for score.
pub fn text_corpus(n: usize, seed: u64) -> Vec<Record> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let e = HashingEmbedder::default();
    let vocab = vocabulary();
    (0..n)
        .map(|i| {
            let len = rng.random_range(10..150);
            let words: Vec<&str> = (0..len).map(|_| vocab[zipf(&mut rng, vocab.len())]).collect();
            let text = words.join(" ");
            let doc_id = DocId::from_content(format!("text-{seed}-{}", i / 4).as_bytes());
            let chunk = Chunk {
                id: ChunkId::derive(&doc_id, "text", i % 4),
                doc_id,
                source: format!("file{}.txt", i / 4),
                ordinal: (i % 4) as u32,
                pages: PageRange::single(1 + (i % 4) as u32),
                char_span: 0..text.chars().count(),
                token_count: len as u32,
                text,
            };
            let vector = e.embed_one(&chunk.text);
            let tenant = ["acme", "globex", "initech"][i % 3].to_owned();
            Record { chunk, vector, tenant: Some(tenant), attrs: BTreeMap::new() }
        })
        .collect()
}

/// Queries of 1–4 words from the same vocabulary.
pub fn text_queries(n: usize, seed: u64) -> Vec<String> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x9e37);
    let vocab = vocabulary();
    (0..n)
        .map(|_| {
            let len = rng.random_range(1..5);
            (0..len).map(|_| vocab[zipf(&mut rng, vocab.len())]).collect::<Vec<_>>().join(" ")
        })
        .collect()
}

/// Rank drawn from a roughly 1/r law: small ranks are common, the tail is long.
fn zipf(rng: &mut impl rand::Rng, n: usize) -> usize {
    let u: f64 = rng.random();
    (((n as f64).powf(u) - 1.0) as usize).min(n - 1)
}

fn vocabulary() -> Vec<&'static str> {
    "pump valve seal bearing motor coolant pressure flow sensor alarm shaft gasket leak torque \
     inspection repair schedule lubrication vibration thermal corrosion weld pipe flange filter \
     budget invoice quarter revenue forecast payroll audit contract vendor supplier purchase order \
     safety training incident hazard permit lockout ladder helmet glove evacuation drill report \
     server network latency cache database index query replica shard backup restore snapshot \
     patient dose clinical trial protein cell gene receptor enzyme tissue blood marker therapy \
     river bridge road tunnel rail station harbour airport cargo freight container terminal crane \
     zeolite quasar fjord ocelot basalt mistral kelp lichen tundra obsidian cobalt sirocco marimba \
     gannet dolmen yarrow ibex quartz nebula sorrel walrus umbra vellum xylem"
        .split_whitespace()
        .collect()
}
