//! The server backend: one collection on a Qdrant server or cluster, over gRPC (qdrant-client).
//!
//! The collection mirrors the embedded layout: a named dense vector (cosine) and a named sparse
//! `bm25` vector with the server's IDF modifier, filled by [`bm25_document`] with the same
//! analyzer as the embedded tantivy index, so keyword scores mean the same thing on both. The
//! embedder's model id and dimension are stored in the collection's metadata and checked on open.
//! Hybrid fusion happens in [`Retriever`](crate::Retriever), identically for both backends.

use crate::analyzer::{Bm25Params, bm25_document, bm25_query};
use crate::filter::Condition as Cond;
use crate::record::{self, keys};
use crate::{Filter, Hit, Index, IndexError, IndexInfo, Record, ScoredId};
use async_trait::async_trait;
use genai_core::ChunkId;
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder, DeletePointsBuilder,
    Distance, FieldType, Filter as QFilter, GetPointsBuilder, KeywordIndexParamsBuilder, Modifier, PointId,
    PointStruct, Query, QueryPointsBuilder, Range, SparseVectorParamsBuilder, SparseVectorsConfigBuilder,
    UpsertPointsBuilder, Vector, VectorInput, VectorParamsBuilder, VectorsConfigBuilder, point_id::PointIdOptions,
};
use qdrant_client::{Payload, Qdrant};
use std::collections::HashMap;
use std::time::Duration;

const DENSE: &str = "dense";
const SPARSE: &str = "bm25";

/// Where the server is. Defaults: `QDRANT_URL` or `http://localhost:6334`, collection `chunks`,
/// key from `QDRANT_API_KEY`, 10 s timeout.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub url: String,
    pub collection: String,
    pub api_key: Option<String>,
    pub timeout: Duration,
    pub bm25: Bm25Params,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            url: std::env::var("QDRANT_URL").unwrap_or_else(|_| "http://localhost:6334".into()),
            collection: "chunks".into(),
            api_key: std::env::var("QDRANT_API_KEY").ok().filter(|k| !k.is_empty()),
            timeout: Duration::from_secs(10),
            bm25: Bm25Params::default(),
        }
    }
}

/// A collection on a Qdrant server.
pub struct ServerIndex {
    client: Qdrant,
    config: ServerConfig,
    info: IndexInfo,
}

impl std::fmt::Debug for ServerIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerIndex")
            .field("url", &self.config.url)
            .field("collection", &self.config.collection)
            .finish()
    }
}

impl ServerIndex {
    /// Connects and opens the collection, creating it (with its payload indexes) if absent.
    pub async fn open(config: ServerConfig, model_id: &str, dim: usize) -> Result<Self, IndexError> {
        let err = |e: qdrant_client::QdrantError| IndexError::Server { url: config.url.clone(), source: Box::new(e) };
        let client = Qdrant::from_url(&config.url)
            .api_key(config.api_key.clone())
            .timeout(config.timeout)
            .build()
            .map_err(err)?;
        let name = config.collection.clone();
        if client.collection_exists(&name).await.map_err(err)? {
            let info = client.collection_info(&name).await.map_err(err)?;
            let metadata = info.result.and_then(|r| r.config).map(|c| c.metadata).unwrap_or_default();
            let stored_model =
                metadata.get("model_id").and_then(|v| v.as_str()).map(|s| s.to_string()).unwrap_or_default();
            let stored_dim = metadata.get("dim").and_then(|v| v.as_integer()).unwrap_or(-1);
            if stored_model != model_id || stored_dim != dim as i64 {
                return Err(IndexError::EmbedderMismatch {
                    location: format!("{}/{}", config.url, name),
                    stored_model,
                    stored_dim: stored_dim.max(0) as usize,
                    requested_model: model_id.to_owned(),
                    requested_dim: dim,
                });
            }
        } else {
            let mut vectors = VectorsConfigBuilder::default();
            vectors.add_named_vector_params(DENSE, VectorParamsBuilder::new(dim as u64, Distance::Cosine));
            let mut sparse = SparseVectorsConfigBuilder::default();
            sparse.add_named_vector_params(SPARSE, SparseVectorParamsBuilder::default().modifier(Modifier::Idf));
            let metadata: HashMap<String, serde_json::Value> =
                [("model_id".to_owned(), model_id.into()), ("dim".to_owned(), dim.into())].into();
            client
                .create_collection(
                    CreateCollectionBuilder::new(&name)
                        .vectors_config(vectors)
                        .sparse_vectors_config(sparse)
                        .metadata(metadata),
                )
                .await
                .map_err(err)?;
            let tenant = CreateFieldIndexCollectionBuilder::new(&name, keys::TENANT, FieldType::Keyword)
                .field_index_params(KeywordIndexParamsBuilder::default().is_tenant(true))
                .wait(true);
            client.create_field_index(tenant).await.map_err(err)?;
            for (field, kind) in [
                (keys::DOC_ID, FieldType::Keyword),
                (keys::SOURCE, FieldType::Keyword),
                (keys::PAGE_START, FieldType::Integer),
                (keys::PAGE_END, FieldType::Integer),
            ] {
                client
                    .create_field_index(CreateFieldIndexCollectionBuilder::new(&name, field, kind).wait(true))
                    .await
                    .map_err(err)?;
            }
        }
        let info = IndexInfo { backend: "qdrant-server", model_id: model_id.to_owned(), dim };
        Ok(Self { client, config, info })
    }

    /// Deletes the whole collection (tests use throwaway collections).
    pub async fn drop_collection(&self) -> Result<(), IndexError> {
        self.client.delete_collection(&self.config.collection).await.map_err(|e| self.err(e))?;
        Ok(())
    }

    fn err(&self, e: qdrant_client::QdrantError) -> IndexError {
        IndexError::Server { url: self.config.url.clone(), source: Box::new(e) }
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
        let resp = self.client.query(q).await.map_err(|e| self.err(e))?;
        resp.result.into_iter().map(|p| Ok(ScoredId { id: point_id(p.id)?, score: p.score })).collect()
    }
}

fn point_id(id: Option<PointId>) -> Result<ChunkId, IndexError> {
    match id.and_then(|p| p.point_id_options) {
        Some(PointIdOptions::Num(n)) => Ok(ChunkId::from_raw(n)),
        other => Err(IndexError::CorruptPayload { id: 0, reason: format!("unexpected point id {other:?}") }),
    }
}

fn to_qdrant(f: &Filter) -> QFilter {
    let must: Vec<Condition> = f.must.iter().map(condition).collect();
    let must_not: Vec<Condition> = f
        .must_not
        .iter()
        .filter(|c| !matches!(c, Cond::AnyOf { values, .. } if values.is_empty()))
        .map(condition)
        .collect();
    QFilter { must, must_not, ..Default::default() }
}

fn condition(c: &Cond) -> Condition {
    match c {
        Cond::Match { field, value } => Condition::matches(field.payload_key(), value.clone()),
        Cond::AnyOf { field, values } => Condition::matches(field.payload_key(), values.clone()),
        Cond::Pages { from, to } => {
            let mut parts = Vec::new();
            if let Some(f) = from {
                parts.push(Condition::range(keys::PAGE_END, Range { gte: Some(*f as f64), ..Default::default() }));
            }
            if let Some(t) = to {
                parts.push(Condition::range(keys::PAGE_START, Range { lte: Some(*t as f64), ..Default::default() }));
            }
            QFilter::must(parts).into()
        }
    }
}

#[async_trait]
impl Index for ServerIndex {
    fn info(&self) -> &IndexInfo {
        &self.info
    }

    async fn upsert(&self, records: Vec<Record>) -> Result<(), IndexError> {
        for batch in records.chunks(256) {
            let mut points = Vec::with_capacity(batch.len());
            for r in batch {
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
                points.push(PointStruct::new(r.chunk.id.get(), vectors, payload));
            }
            let op = UpsertPointsBuilder::new(&self.config.collection, points).wait(true);
            self.client.upsert_points(op).await.map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    async fn delete(&self, filter: &Filter) -> Result<(), IndexError> {
        if !Filter::admits(Some(filter))? {
            return Ok(());
        }
        let op = DeletePointsBuilder::new(&self.config.collection).points(to_qdrant(filter)).wait(true);
        self.client.delete_points(op).await.map_err(|e| self.err(e))?;
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
        let resp = self.client.count(req).await.map_err(|e| self.err(e))?;
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

    async fn fetch(&self, ids: &[ChunkId]) -> Result<Vec<Hit>, IndexError> {
        let pids: Vec<PointId> = ids.iter().map(|id| PointId::from(id.get())).collect();
        let req = GetPointsBuilder::new(&self.config.collection, pids).with_payload(true);
        let resp = self.client.get_points(req).await.map_err(|e| self.err(e))?;
        let mut by_id: HashMap<ChunkId, Hit> = HashMap::new();
        for p in resp.result {
            let id = point_id(p.id)?;
            let json: serde_json::Map<String, serde_json::Value> =
                p.payload.into_iter().map(|(k, v)| (k, v.into_json())).collect();
            by_id.insert(id, record::from_payload(id.get(), 0.0, &json)?);
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    async fn optimize(&self) -> Result<(), IndexError> {
        // The server indexes in the background.
        Ok(())
    }
}
