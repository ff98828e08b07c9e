//! genai-retrieval integration tests: one conformance suite every backend passes (the embedded
//! one always, the Qdrant server one when `QDRANT_URL` is set), plus persistence, crash safety
//! and disk growth of the embedded backend.

mod conformance;
mod crash;
mod embedded;
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
