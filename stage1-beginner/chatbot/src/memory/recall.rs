//! Long-term recall: every evicted turn is indexed (BM25, per session), and the turns that match
//! a new message come back into the context.

use genai_core::{Chunk, ChunkId, DocId, PageRange};
use genai_embed::HashingEmbedder;
use genai_retrieval::{EmbeddedConfig, EmbeddedIndex, Filter, Index, IndexError, Record};
use std::path::Path;

/// The recall index of all sessions (a session is a tenant).
#[derive(Debug, Clone)]
pub struct Recall {
    index: EmbeddedIndex,
}

impl Recall {
    /// Opens `dir`; vectors are the hashing embedder's (recall searches by keywords).
    pub fn open(dir: &Path) -> Result<Self, IndexError> {
        let e = HashingEmbedder::new(64);
        let index = EmbeddedIndex::open(dir, genai_embed::Embedder::model_id(&e), 64, EmbeddedConfig::default())?;
        Ok(Self { index })
    }

    /// Indexes evicted turns `(seq, speaker, text)` of `session`. Durable on return.
    pub async fn add(&self, session: &str, turns: &[(i64, &str, String)]) -> Result<(), IndexError> {
        let e = HashingEmbedder::new(64);
        let records: Vec<Record> = turns
            .iter()
            .filter(|(_, _, text)| !text.trim().is_empty())
            .map(|(seq, speaker, text)| {
                let doc = DocId::from_content(format!("{session}/{seq}").as_bytes());
                let text = format!("{speaker}: {text}");
                let chunk = Chunk {
                    id: ChunkId::derive(&doc, "turn", 0),
                    doc_id: doc,
                    source: format!("turn {seq}"),
                    ordinal: 0,
                    pages: PageRange::single(1),
                    char_span: 0..text.chars().count(),
                    token_count: 0,
                    text,
                };
                let vector = e.embed_one(&chunk.text);
                Record { tenant: Some(session.to_owned()), ..Record::new(chunk, vector) }
            })
            .collect();
        if records.is_empty() {
            return Ok(());
        }
        self.index.upsert(records).await
    }

    /// Up to `k` evicted turns of `session` that match `text`, best first.
    pub async fn search(&self, session: &str, text: &str, k: usize) -> Result<Vec<String>, IndexError> {
        if k == 0 {
            return Ok(Vec::new());
        }
        let ids = self.index.keyword(text, k, Some(&Filter::tenant(session))).await?;
        let ids: Vec<_> = ids.iter().map(|h| h.id).collect();
        Ok(self.index.fetch(&ids).await?.into_iter().map(|h| h.chunk.text).collect())
    }

    /// Forgets every turn of `session`.
    pub async fn forget(&self, session: &str) -> Result<(), IndexError> {
        self.index.delete(&Filter::tenant(session)).await
    }
}
