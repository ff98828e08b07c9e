//! Retrieval: an index of chunks with dense, keyword (BM25) and hybrid search, and typed filters
//! that fail closed.
//!
//! - [`Index`] is the storage seam, with two backends passing one conformance suite:
//!   [`EmbeddedIndex`] (Qdrant Edge + tantivy, in-process, the default) and [`ServerIndex`]
//!   (a Qdrant server or cluster over gRPC).
//! - [`Retriever`] puts an [`Embedder`](genai_embed::Embedder) in front of an index: it embeds
//!   chunks and queries, checks the embedder matches the index, and fuses the two legs of a
//!   hybrid query with [`rrf`] in one place for both backends.

mod analyzer;
mod embedded;
mod error;
mod filter;
mod fusion;
mod migrate;
mod record;
pub mod rerank;
mod retriever;
pub mod rewrite;
mod server;

pub use analyzer::{Bm25Params, bm25_document, bm25_query, terms};
pub use embedded::{EmbeddedConfig, EmbeddedIndex};
pub use error::IndexError;
pub use filter::{Condition, Field, Filter};
pub use fusion::{Fusion, rrf};
pub use migrate::{MigrationReport, migrate};
pub use record::{Hit, Record, ScoredId};
pub use rerank::{RerankContext, RerankOutcome, Reranked, Reranker, Reranking};
pub use retriever::{Retriever, SearchMode, SearchRequest};
pub use server::{ServerConfig, ServerFailure, ServerIndex, ServerLayout, Tenancy, split_urls};

use async_trait::async_trait;
use genai_core::ChunkId;

/// What an index holds and where.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IndexInfo {
    /// `embedded` or `qdrant-server`.
    pub backend: &'static str,
    /// The embedder the stored vectors came from.
    pub model_id: String,
    pub dim: usize,
}

// ANCHOR: index_trait
/// Chunk storage with dense and keyword search. Implementations are safe to share across tasks.
#[async_trait]
pub trait Index: Send + Sync + std::fmt::Debug {
    fn info(&self) -> &IndexInfo;

    /// Inserts or replaces records by chunk id. Durable when it returns `Ok`.
    async fn upsert(&self, records: Vec<Record>) -> Result<(), IndexError>;

    /// Deletes every chunk the filter matches. Durable when it returns `Ok`.
    async fn delete(&self, filter: &Filter) -> Result<(), IndexError>;

    /// Chunks matching the filter (all chunks for `None`).
    async fn count(&self, filter: Option<&Filter>) -> Result<u64, IndexError>;

    /// Nearest chunks by cosine similarity, best first.
    async fn dense(&self, vector: Vec<f32>, limit: usize, filter: Option<&Filter>)
    -> Result<Vec<ScoredId>, IndexError>;

    /// Best chunks by BM25, best first.
    async fn keyword(&self, text: &str, limit: usize, filter: Option<&Filter>) -> Result<Vec<ScoredId>, IndexError>;

    /// Best chunks by BM25 for already analysed terms (see [`terms`]), each term's score scaled
    /// by its weight: what query expansion searches with.
    async fn keyword_terms(
        &self,
        weighted: &[(String, f32)],
        limit: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<ScoredId>, IndexError>;

    /// The stored chunks for these ids, in the given order; unknown ids are skipped.
    async fn fetch(&self, ids: &[ChunkId]) -> Result<Vec<Hit>, IndexError>;

    /// Builds search structures (HNSW) for what was added; call after a large ingest.
    async fn optimize(&self) -> Result<(), IndexError>;

    /// How many chunks contain each analysed term (see [`terms`]), for IDF-weighted evidence
    /// scores. `None` when the backend cannot tell cheaply (the server backend).
    async fn term_stats(&self, terms: &[String]) -> Result<Option<TermStats>, IndexError> {
        let _ = terms;
        Ok(None)
    }

    /// A page of stored records with their vectors, in id order, starting at `from` (inclusive;
    /// `None` for the start); `next` is where the following page starts. For copying an index
    /// to another backend (`genai-eval migrate`).
    async fn export(&self, from: Option<ChunkId>, limit: usize) -> Result<ExportPage, IndexError>;

    /// Gives a tenant capacity of its own where the backend can (a dedicated shard on a Qdrant
    /// cluster with the tiered layout, ADR 0012) and says where its chunks now live. Searches
    /// and writes need no change: a filter that pins the tenant is routed to its shard. Backends
    /// with a single partition answer [`TenantPlacement::Shared`].
    async fn dedicate_tenant(&self, tenant: &str) -> Result<TenantPlacement, IndexError> {
        let _ = tenant;
        Ok(TenantPlacement::Shared)
    }
}
// ANCHOR_END: index_trait

/// One page of [`Index::export`].
#[derive(Debug, Clone, Default)]
pub struct ExportPage {
    pub records: Vec<Record>,
    /// The id the next page starts at; `None` after the last page.
    pub next: Option<ChunkId>,
}

/// Where a tenant's chunks are stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "placement")]
pub enum TenantPlacement {
    /// With other tenants, separated by the tenant payload index and filter.
    Shared,
    /// In shards of its own (the shard key is the tenant id).
    Dedicated { shard_key: String },
}

/// Document frequencies in the keyword index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TermStats {
    /// Chunks in the index.
    pub docs: u64,
    /// Chunks containing each term (absent terms map to 0).
    pub df: std::collections::HashMap<String, u64>,
}

impl TermStats {
    /// BM25's inverse document frequency, `ln(1 + (N − df + 0.5) / (df + 0.5))`.
    pub fn idf(&self, term: &str) -> f64 {
        let n = self.docs as f64;
        let df = self.df.get(term).copied().unwrap_or(0) as f64;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }
}
