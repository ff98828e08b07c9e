//! The server backend: one collection on a Qdrant server or cluster, over gRPC (qdrant-client).
//!
//! The collection mirrors the embedded layout: a named dense vector (cosine) and a named sparse
//! `bm25` vector with the server's IDF modifier, filled by [`bm25_document`] with the same
//! analyzer and length quantisation as the embedded tantivy index, so keyword scores match
//! (ADR 0012). The embedder's model id and dimension, the BM25 parameters and the tenancy layout
//! are stored in the collection's metadata and win over the configuration on open: every client
//! of a collection writes the same way. Hybrid fusion happens in [`Retriever`](crate::Retriever),
//! identically for both backends.

mod collection;
mod config;
mod convert;
mod tiered;

pub use config::{ServerConfig, ServerLayout, Tenancy, split_urls};

pub use convert::ServerFailure;

use crate::analyzer::{Bm25Params, bm25_document, bm25_query};
use crate::record;
use crate::{Filter, Hit, Index, IndexError, IndexInfo, Record, ScoredId, TenantPlacement};
use async_trait::async_trait;
use convert::{classify, pinned_tenant, point_id, to_qdrant};
use genai_core::ChunkId;
use qdrant_client::qdrant::{
    CountPointsBuilder, DeletePointsBuilder, GetPointsBuilder, PointId, PointStruct, Query, QueryPointsBuilder,
    ScrollPointsBuilder, SearchParamsBuilder, UpsertPointsBuilder, Vector, VectorInput,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const DENSE: &str = "dense";
const SPARSE: &str = "bm25";
/// Points per upsert request (~0.5 MB with a 384-d vector, BM25 terms and the chunk text).
const UPSERT_BATCH: usize = 256;
const UPSERTS_IN_FLIGHT: usize = 4;

/// A collection on a Qdrant server or cluster.
pub struct ServerIndex {
    clients: Vec<Qdrant>,
    /// The node requests go to first; moves on when a node is unavailable.
    current: AtomicUsize,
    config: ServerConfig,
    info: IndexInfo,
    tenancy: Tenancy,
}

impl std::fmt::Debug for ServerIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerIndex")
            .field("urls", &self.config.urls)
            .field("collection", &self.config.collection)
            .field("tenancy", &self.tenancy)
            .finish()
    }
}

impl ServerIndex {
    /// Connects and opens the collection, creating it (with its payload indexes) if absent.
    /// Fails with [`IndexError::EmbedderMismatch`] if it holds another embedder's vectors.
    pub async fn open(mut config: ServerConfig, model_id: &str, dim: usize) -> Result<Self, IndexError> {
        if config.urls.is_empty() {
            return Err(IndexError::InvalidRequest { reason: "no Qdrant URL configured" });
        }
        let mut clients = Vec::new();
        for url in &config.urls {
            // The client's own compatibility check prints to stdout; we log the version instead.
            let client = Qdrant::from_url(url)
                .api_key(config.api_key.clone())
                .timeout(config.timeout)
                .connect_timeout(Duration::from_secs(3))
                .skip_compatibility_check()
                .build()
                .map_err(|e| server_error(url, e))?;
            clients.push(client);
        }
        let info = IndexInfo { backend: "qdrant-server", model_id: model_id.to_owned(), dim };
        let mut index =
            Self { clients, current: AtomicUsize::new(0), config: config.clone(), info, tenancy: Tenancy::Payload };
        let health = index.call(|c| async move { c.health_check().await }).await?;
        tracing::info!(version = %health.version, urls = ?config.urls, "connected to Qdrant");

        let name = config.collection.clone();
        let exists = index
            .call(|c| {
                let name = name.clone();
                async move { c.collection_exists(name).await }
            })
            .await?;
        if exists {
            let info = index
                .call(|c| {
                    let name = name.clone();
                    async move { c.collection_info(name).await }
                })
                .await?;
            let meta = info.result.and_then(|r| r.config).map(|c| c.metadata).unwrap_or_default();
            let stored_model = meta.get("model_id").and_then(|v| v.as_str()).cloned().unwrap_or_default();
            let stored_dim = meta.get("dim").and_then(|v| v.as_integer()).unwrap_or(-1);
            if stored_model != model_id || stored_dim != dim as i64 {
                return Err(IndexError::EmbedderMismatch {
                    location: format!("{}/{}", index.url(), name),
                    stored_model,
                    stored_dim: stored_dim.max(0) as usize,
                    requested_model: model_id.to_owned(),
                    requested_dim: dim,
                });
            }
            let num = |k: &str, default: f32| meta.get(k).and_then(|v| v.as_double()).map_or(default, |x| x as f32);
            config.bm25 = Bm25Params {
                k1: num("bm25_k1", config.bm25.k1),
                b: num("bm25_b", config.bm25.b),
                avg_len: num("bm25_avg_len", config.bm25.avg_len),
            };
            index.tenancy = match meta.get("tenancy").and_then(|v| v.as_str()).map(String::as_str) {
                Some("tiered") => Tenancy::Tiered,
                _ => Tenancy::Payload,
            };
        } else {
            index.tenancy = config.layout.tenancy;
            index.create(model_id, dim).await?;
        }
        index.config = config;
        Ok(index)
    }

    /// Deletes the whole collection (tests use throwaway collections).
    pub async fn drop_collection(&self) -> Result<(), IndexError> {
        let name = self.config.collection.clone();
        self.call(|c| {
            let name = name.clone();
            async move { c.delete_collection(name).await }
        })
        .await?;
        Ok(())
    }

    /// The BM25 parameters this collection's sparse vectors were built with.
    pub fn bm25(&self) -> Bm25Params {
        self.config.bm25
    }

    pub fn tenancy(&self) -> Tenancy {
        self.tenancy
    }

    fn url(&self) -> &str {
        &self.config.urls[self.current.load(Ordering::Relaxed) % self.config.urls.len()]
    }

    // ANCHOR: failover
    /// Runs `op` against the current node; when that node is unavailable, tries each other
    /// configured node once. Every operation here is idempotent (upserts by id, deletes by
    /// filter), so repeating one whose answer was lost is safe.
    async fn call<T, F, Fut>(&self, op: F) -> Result<T, IndexError>
    where
        F: Fn(Qdrant) -> Fut,
        Fut: Future<Output = Result<T, QdrantError>>,
    {
        let n = self.clients.len();
        let start = self.current.load(Ordering::Relaxed);
        let mut last = None;
        for i in 0..n {
            let at = (start + i) % n;
            match op(self.clients[at].clone()).await {
                Ok(v) => {
                    if at != start {
                        self.current.store(at, Ordering::Relaxed);
                        tracing::warn!(url = %self.config.urls[at], "failed over to another Qdrant node");
                    }
                    return Ok(v);
                }
                Err(e) => {
                    let err = server_error(&self.config.urls[at], e);
                    let retry_elsewhere =
                        matches!(&err, IndexError::Server { failure: ServerFailure::Unavailable, .. });
                    last = Some(err);
                    if !retry_elsewhere {
                        break;
                    }
                }
            }
        }
        Err(last.expect("at least one client"))
    }
    // ANCHOR_END: failover

    fn selector_for(&self, filter: Option<&Filter>) -> Option<qdrant_client::qdrant::ShardKeySelector> {
        (self.tenancy == Tenancy::Tiered).then(|| pinned_tenant(filter).map(|t| tiered::selector(Some(t)))).flatten()
    }

    async fn query(
        &self,
        query: Query,
        using: &str,
        limit: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<ScoredId>, IndexError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut q = QueryPointsBuilder::new(&self.config.collection)
            .query(query)
            .using(using)
            .limit(limit as u64)
            .with_payload(false);
        if let Some(f) = filter {
            q = q.filter(to_qdrant(f));
        }
        if let Some(s) = self.selector_for(filter) {
            q = q.shard_key_selector(s);
        }
        if self.config.layout.quantization && using == DENSE {
            q = q.params(SearchParamsBuilder::default().quantization(
                qdrant_client::qdrant::QuantizationSearchParamsBuilder::default().rescore(true).oversampling(2.0),
            ));
        }
        let resp = self
            .call(|c| {
                let q = q.clone();
                async move { c.query(q).await }
            })
            .await?;
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(resp.result.len());
        for p in resp.result {
            let id = point_id(p.id)?;
            // A promotion in progress briefly holds a tenant in two shard keys.
            if seen.insert(id) {
                out.push(ScoredId { id, score: p.score });
            }
        }
        Ok(out)
    }

    /// Exact nearest neighbours (no HNSW, no quantisation): the ground truth for recall.
    pub async fn dense_exact(&self, vector: Vec<f32>, limit: usize) -> Result<Vec<ScoredId>, IndexError> {
        let q = QueryPointsBuilder::new(&self.config.collection)
            .query(Query::new_nearest(VectorInput::new_dense(vector)))
            .using(DENSE)
            .limit(limit as u64)
            .params(
                SearchParamsBuilder::default()
                    .exact(true)
                    .quantization(qdrant_client::qdrant::QuantizationSearchParamsBuilder::default().ignore(true)),
            );
        let resp = self
            .call(|c| {
                let q = q.clone();
                async move { c.query(q).await }
            })
            .await?;
        resp.result.into_iter().map(|p| Ok(ScoredId { id: point_id(p.id)?, score: p.score })).collect()
    }

    fn point(&self, r: &Record) -> Result<PointStruct, IndexError> {
        if r.vector.len() != self.info.dim {
            return Err(IndexError::WrongDimension { expected: self.info.dim, got: r.vector.len() });
        }
        let (idx, val) = bm25_document(&r.chunk.text, self.config.bm25);
        let vectors: HashMap<String, Vector> = [
            (DENSE.to_owned(), Vector::new_dense(r.vector.clone())),
            (SPARSE.to_owned(), Vector::new_sparse(idx, val)),
        ]
        .into();
        let payload = Payload::try_from(record::to_payload(r))
            .map_err(|e| IndexError::CorruptPayload { id: r.chunk.id.get(), reason: e.to_string() })?;
        Ok(PointStruct::new(r.chunk.id.get(), vectors, payload))
    }
}

fn server_error(url: &str, e: QdrantError) -> IndexError {
    let (failure, message) = classify(&e);
    IndexError::Server { url: url.to_owned(), failure, message, source: Box::new(e) }
}

#[async_trait]
impl Index for ServerIndex {
    fn info(&self) -> &IndexInfo {
        &self.info
    }

    async fn upsert(&self, records: Vec<Record>) -> Result<(), IndexError> {
        // Grouped by tenant so each write carries one shard-key selector (tiered layout).
        let mut groups: Vec<(Option<String>, Vec<PointStruct>)> = Vec::new();
        for r in &records {
            let point = self.point(r)?;
            let key = if self.tenancy == Tenancy::Tiered { r.tenant.clone() } else { None };
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, points)) => points.push(point),
                None => groups.push((key, vec![point])),
            }
        }
        let mut ops = Vec::new();
        for (tenant, points) in groups {
            for batch in points.chunks(UPSERT_BATCH) {
                let mut op = UpsertPointsBuilder::new(&self.config.collection, batch.to_vec()).wait(true);
                if self.tenancy == Tenancy::Tiered {
                    op = op.shard_key_selector(tiered::selector(tenant.as_deref()));
                }
                ops.push(op);
            }
        }
        // A few requests in flight hide the round trip; the call returns only when all are
        // acknowledged (`wait=true`), so it is durable as a whole or reports an error.
        use futures::StreamExt;
        let mut results = futures::stream::iter(ops)
            .map(|op| {
                self.call(move |c| {
                    let op = op.clone();
                    async move { c.upsert_points(op).await }
                })
            })
            .buffer_unordered(UPSERTS_IN_FLIGHT);
        while let Some(r) = results.next().await {
            r?;
        }
        Ok(())
    }

    async fn delete(&self, filter: &Filter) -> Result<(), IndexError> {
        if !Filter::admits(Some(filter))? {
            return Ok(());
        }
        let mut op = DeletePointsBuilder::new(&self.config.collection).points(to_qdrant(filter)).wait(true);
        if let Some(s) = self.selector_for(Some(filter)) {
            op = op.shard_key_selector(s);
        }
        self.call(|c| {
            let op = op.clone();
            async move { c.delete_points(op).await }
        })
        .await?;
        Ok(())
    }

    async fn count(&self, filter: Option<&Filter>) -> Result<u64, IndexError> {
        if !Filter::admits(filter)? {
            return Ok(0);
        }
        let mut req = CountPointsBuilder::new(&self.config.collection).exact(true);
        if let Some(f) = filter {
            req = req.filter(to_qdrant(f));
        }
        if let Some(s) = self.selector_for(filter) {
            req = req.shard_key_selector(s);
        }
        let resp = self
            .call(|c| {
                let req = req.clone();
                async move { c.count(req).await }
            })
            .await?;
        Ok(resp.result.map_or(0, |r| r.count))
    }

    async fn dense(
        &self,
        vector: Vec<f32>,
        limit: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<ScoredId>, IndexError> {
        if vector.len() != self.info.dim {
            return Err(IndexError::WrongDimension { expected: self.info.dim, got: vector.len() });
        }
        if !Filter::admits(filter)? {
            return Ok(Vec::new());
        }
        self.query(Query::new_nearest(VectorInput::new_dense(vector)), DENSE, limit, filter).await
    }

    async fn keyword(&self, text: &str, limit: usize, filter: Option<&Filter>) -> Result<Vec<ScoredId>, IndexError> {
        if !Filter::admits(filter)? {
            return Ok(Vec::new());
        }
        let (idx, val) = bm25_query(text);
        if idx.is_empty() {
            return Ok(Vec::new());
        }
        self.query(Query::new_nearest(VectorInput::new_sparse(idx, val)), SPARSE, limit, filter).await
    }

    async fn keyword_terms(
        &self,
        weighted: &[(String, f32)],
        limit: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<ScoredId>, IndexError> {
        if !Filter::admits(filter)? {
            return Ok(Vec::new());
        }
        let (idx, val) = crate::analyzer::bm25_weighted_query(weighted);
        if idx.is_empty() {
            return Ok(Vec::new());
        }
        self.query(Query::new_nearest(VectorInput::new_sparse(idx, val)), SPARSE, limit, filter).await
    }

    async fn fetch(&self, ids: &[ChunkId]) -> Result<Vec<Hit>, IndexError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let pids: Vec<PointId> = ids.iter().map(|id| PointId::from(id.get())).collect();
        let req = GetPointsBuilder::new(&self.config.collection, pids).with_payload(true);
        let resp = self
            .call(|c| {
                let req = req.clone();
                async move { c.get_points(req).await }
            })
            .await?;
        let mut by_id: HashMap<ChunkId, Hit> = HashMap::new();
        for p in resp.result {
            let id = point_id(p.id)?;
            let json: serde_json::Map<String, serde_json::Value> =
                p.payload.into_iter().map(|(k, v)| (k, v.into_json())).collect();
            by_id.insert(id, record::from_payload(id.get(), 0.0, &json)?);
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    /// The server indexes in the background; this waits until it has caught up (collection
    /// status green), so a benchmark or a migration measures a finished index.
    async fn optimize(&self) -> Result<(), IndexError> {
        let name = self.config.collection.clone();
        let deadline = std::time::Instant::now() + Duration::from_secs(3 * 3600);
        loop {
            let info = self
                .call(|c| {
                    let name = name.clone();
                    async move { c.collection_info(name).await }
                })
                .await?;
            let status = info.result.map(|r| r.status).unwrap_or_default();
            if status == qdrant_client::qdrant::CollectionStatus::Green as i32 || std::time::Instant::now() > deadline {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn export(&self, from: Option<ChunkId>, limit: usize) -> Result<crate::ExportPage, IndexError> {
        let mut req = ScrollPointsBuilder::new(&self.config.collection)
            .limit(limit.clamp(1, 10_000) as u32)
            .with_payload(true)
            .with_vectors(qdrant_client::qdrant::VectorsSelector::from(vec![DENSE.to_owned()]));
        if let Some(a) = from {
            req = req.offset(PointId::from(a.get()));
        }
        let resp = self
            .call(|c| {
                let req = req.clone();
                async move { c.scroll(req).await }
            })
            .await?;
        let mut records = Vec::with_capacity(resp.result.len());
        for p in resp.result {
            let id = point_id(p.id)?;
            let json: serde_json::Map<String, serde_json::Value> =
                p.payload.into_iter().map(|(k, v)| (k, v.into_json())).collect();
            let hit = record::from_payload(id.get(), 0.0, &json)?;
            let vector = p
                .vectors
                .and_then(|v| v.get_vector_by_name(DENSE))
                .and_then(|v| match v {
                    qdrant_client::qdrant::vector_output::Vector::Dense(d) => Some(d.data),
                    _ => None,
                })
                .ok_or_else(|| IndexError::CorruptPayload { id: id.get(), reason: "no dense vector".into() })?;
            records.push(Record { chunk: hit.chunk, vector, tenant: hit.tenant, attrs: hit.attrs });
        }
        let next = resp.next_page_offset.map(|p| point_id(Some(p))).transpose()?;
        Ok(crate::ExportPage { records, next })
    }

    async fn dedicate_tenant(&self, tenant: &str) -> Result<TenantPlacement, IndexError> {
        match self.tenancy {
            Tenancy::Payload => Ok(TenantPlacement::Shared),
            Tenancy::Tiered => self.promote(tenant).await,
        }
    }
}
