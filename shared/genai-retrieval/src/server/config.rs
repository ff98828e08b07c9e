//! Where the server is and how a new collection is laid out.

use crate::analyzer::Bm25Params;
use std::time::Duration;

/// How tenants are laid out in the collection (ADR 0012).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tenancy {
    /// One collection, tenants partitioned by the `tenant` payload index (`is_tenant`), the
    /// layout Qdrant recommends for many small tenants. Works on a single node or a cluster.
    #[default]
    Payload,
    /// Payload partitioning in a `shared` shard key, plus a dedicated shard key per promoted
    /// tenant ([`Index::dedicate_tenant`]). Needs a server in cluster mode (a one-node cluster
    /// is fine).
    Tiered,
}

/// Collection settings used when the collection is created (an existing collection keeps its
/// own). `None` means the server's default.
#[derive(Debug, Clone, Default)]
pub struct ServerLayout {
    /// Shards (per shard key when tiered).
    pub shards: Option<u32>,
    /// Copies of every shard, on different nodes.
    pub replication_factor: Option<u32>,
    /// Replicas that must apply a write before it is acknowledged.
    pub write_consistency: Option<u32>,
    pub tenancy: Tenancy,
    /// Scalar int8 quantisation of the dense vectors (kept in RAM, originals on disk, results
    /// rescored with the originals).
    pub quantization: bool,
}

/// Where the server is and how to talk to it. Defaults: `QDRANT_URL` (several nodes of one
/// cluster may be listed, comma-separated; requests fail over between them) or
/// `http://localhost:6334`, collection `chunks`, key from `QDRANT_API_KEY`, 10 s timeout.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub urls: Vec<String>,
    pub collection: String,
    pub api_key: Option<String>,
    pub timeout: Duration,
    /// BM25 parameters for a new collection; set `avg_len` to the corpus's average analysed
    /// length (see [`crate::terms`]) for scores identical to the embedded index.
    pub bm25: Bm25Params,
    pub layout: ServerLayout,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let urls = std::env::var("QDRANT_URL").unwrap_or_else(|_| "http://localhost:6334".into());
        Self {
            urls: split_urls(&urls),
            collection: "chunks".into(),
            api_key: std::env::var("QDRANT_API_KEY").ok().filter(|k| !k.is_empty()),
            timeout: Duration::from_secs(10),
            bm25: Bm25Params::default(),
            layout: ServerLayout::default(),
        }
    }
}

/// `a,b , c` → `["a", "b", "c"]`.
pub fn split_urls(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned).collect()
}
