//! The dense side of the embedded index: one Qdrant Edge shard holding each chunk's vector and
//! its payload (the chunk text and provenance, so the shard is the source of truth).
//!
//! qdrant-edge 0.7.2 has two defects this wrapper is shaped around (see ADR 0001):
//! - its WAL is written but never replayed, so a write is durable only after `flush()`;
//! - `flush()` panics if another thread is inside `update()`/`optimize()`, so every mutation and
//!   flush goes through the caller's single writer lock (`EmbeddedIndex::writer`).
//!
//! Production note: 0.7.2 never truncates its WAL, so disk use grows with every write (not with
//! the data kept). Ingestion is idempotent, which keeps re-runs free; a long-lived index with
//! heavy churn needs a periodic rebuild into a fresh shard, or qdrant-edge 0.9 (acks its WAL).

use crate::record::keys;
use crate::{Filter, IndexError, ScoredId};
use genai_core::ChunkId;
use qdrant_edge::{
    CountRequest, CreateIndex, Distance, EdgeConfig, EdgeShard, EdgeVectorParams, FieldIndexOperations, JsonPath,
    NamedQuery, PointId, PointInsertOperations, PointOperations, PointStruct, QueryEnum, QueryRequest, ScoringQuery,
    ScrollRequest, UpdateOperation, VectorInternal, Vectors, WithPayloadInterface, WithVector,
};
use serde_json::{Map, Value, json};
use std::path::Path;

/// A stored payload as JSON.
pub(crate) type Payload = Map<String, Value>;

/// Points with their vectors and payloads, and where the next page starts.
pub(crate) type ExportedPage = (Vec<(ChunkId, Vec<f32>, Payload)>, Option<ChunkId>);

const VECTOR: &str = "dense";
/// Points per `update()` call: one WAL record each, kept well under the 32 MiB WAL segment.
const UPSERT_BATCH: usize = 1_000;

pub(crate) struct Dense {
    /// `Some` until dropped: see the `Drop` impl.
    shard: Option<EdgeShard>,
}

impl Drop for Dense {
    /// `EdgeShard`'s own `Drop` flushes and panics if that fails (say, the folder was deleted).
    /// A panic in a destructor can abort the process, so the shard is dropped here, where the
    /// panic is caught and logged. Nothing unacknowledged is lost: every write was flushed.
    fn drop(&mut self) {
        if let Some(shard) = self.shard.take() {
            let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(shard)));
            if dropped.is_err() {
                tracing::error!(
                    "closing the vector store failed (is its folder gone?); acknowledged writes were already flushed"
                );
            }
        }
    }
}

impl Dense {
    pub fn create(dir: &Path, dim: usize) -> Result<Self, IndexError> {
        let config = EdgeConfig::builder()
            .vector(VECTOR, EdgeVectorParams::builder(dim, Distance::Cosine).build())
            .on_disk_payload(true)
            .build();
        std::fs::create_dir_all(dir).map_err(|source| IndexError::Io { path: dir.to_owned(), source })?;
        let shard = EdgeShard::new(dir, config).map_err(IndexError::qdrant)?;
        let index = |field: &str, schema: Value| -> Result<(), IndexError> {
            let op = UpdateOperation::FieldIndexOperation(FieldIndexOperations::CreateIndex(CreateIndex {
                field_name: JsonPath::try_from(field).map_err(|_| IndexError::qdrant(BadPath))?,
                field_schema: Some(serde_json::from_value(schema).map_err(IndexError::qdrant)?),
            }));
            shard.update(op).map_err(IndexError::qdrant)
        };
        index(keys::TENANT, json!({"type": "keyword", "is_tenant": true}))?;
        index(keys::DOC_ID, json!("keyword"))?;
        index(keys::SOURCE, json!("keyword"))?;
        index(keys::PAGE_START, json!("integer"))?;
        index(keys::PAGE_END, json!("integer"))?;
        shard.flush();
        Ok(Self { shard: Some(shard) })
    }

    pub fn open(dir: &Path) -> Result<Self, IndexError> {
        Ok(Self { shard: Some(EdgeShard::load(dir, None).map_err(IndexError::qdrant)?) })
    }

    fn shard(&self) -> &EdgeShard {
        self.shard.as_ref().expect("the shard is present until drop")
    }

    /// Caller holds the writer lock. Not durable until [`Dense::flush`].
    pub fn upsert(&self, points: Vec<(ChunkId, Vec<f32>, Value)>) -> Result<(), IndexError> {
        let mut points = points.into_iter().peekable();
        while points.peek().is_some() {
            let batch: Vec<_> = points
                .by_ref()
                .take(UPSERT_BATCH)
                .map(|(id, vector, payload)| {
                    PointStruct::new(PointId::NumId(id.get()), Vectors::new_named([(VECTOR, vector)]), payload).into()
                })
                .collect();
            let op = UpdateOperation::PointOperation(PointOperations::UpsertPoints(PointInsertOperations::PointsList(
                batch,
            )));
            self.shard().update(op).map_err(IndexError::qdrant)?;
        }
        Ok(())
    }

    /// Caller holds the writer lock.
    pub fn delete(&self, filter: &Filter) -> Result<(), IndexError> {
        let op = UpdateOperation::PointOperation(PointOperations::DeletePointsByFilter(qdrant_filter(filter)?));
        self.shard().update(op).map_err(IndexError::qdrant)
    }

    /// Caller holds the writer lock: qdrant-edge 0.7.2 panics on a concurrent flush.
    pub fn flush(&self) {
        self.shard().flush();
    }

    /// Caller holds the writer lock. Builds HNSW for segments past the indexing threshold.
    pub fn optimize(&self) -> Result<(), IndexError> {
        self.shard().optimize().map(drop).map_err(IndexError::qdrant)
    }

    pub fn search(&self, vector: Vec<f32>, limit: usize, filter: Option<&Filter>) -> Result<Vec<ScoredId>, IndexError> {
        let request = QueryRequest {
            prefetches: vec![],
            query: Some(ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery {
                query: VectorInternal::Dense(vector),
                using: Some(VECTOR.into()),
            }))),
            filter: filter.map(qdrant_filter).transpose()?,
            score_threshold: None,
            limit,
            offset: 0,
            params: None,
            with_vector: WithVector::Bool(false),
            with_payload: WithPayloadInterface::Bool(false),
        };
        let points = self.shard().query(request).map_err(IndexError::qdrant)?;
        points.into_iter().map(|p| Ok(ScoredId { id: chunk_id(p.id)?, score: p.score })).collect()
    }

    /// Payloads of these ids, keyed by id; missing ids are absent.
    pub fn payloads(&self, ids: &[ChunkId]) -> Result<Vec<(ChunkId, Payload)>, IndexError> {
        let ids: Vec<PointId> = ids.iter().map(|id| PointId::NumId(id.get())).collect();
        let records =
            self.shard().retrieve(&ids, Some(WithPayloadInterface::Bool(true)), None).map_err(IndexError::qdrant)?;
        records
            .into_iter()
            .map(|r| Ok((chunk_id(r.id)?, r.payload.map(|p| p.0.into_iter().collect()).unwrap_or_default())))
            .collect()
    }

    pub fn count(&self, filter: Option<&Filter>) -> Result<u64, IndexError> {
        let request = CountRequest { filter: filter.map(qdrant_filter).transpose()?, exact: true };
        Ok(self.shard().count(request).map_err(IndexError::qdrant)? as u64)
    }

    /// A page of points with vectors and payloads, from `from` (inclusive), and the next start.
    pub fn export(&self, from: Option<ChunkId>, limit: usize) -> Result<ExportedPage, IndexError> {
        let request = ScrollRequest {
            offset: from.map(|id| PointId::NumId(id.get())),
            limit: Some(limit),
            filter: None,
            with_payload: Some(WithPayloadInterface::Bool(true)),
            with_vector: WithVector::Bool(true),
            order_by: None,
        };
        let (records, next) = self.shard().scroll(request).map_err(IndexError::qdrant)?;
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            let id = chunk_id(r.id)?;
            let vector = r
                .vector
                .and_then(|v| match v {
                    qdrant_edge::VectorStructInternal::Named(mut named) => named.remove(VECTOR),
                    _ => None,
                })
                .and_then(|v| match v {
                    VectorInternal::Dense(d) => Some(d),
                    _ => None,
                })
                .ok_or_else(|| IndexError::CorruptPayload { id: id.get(), reason: "no dense vector".into() })?;
            out.push((id, vector, r.payload.map(|p| p.0.into_iter().collect()).unwrap_or_default()));
        }
        Ok((out, next.map(chunk_id).transpose()?))
    }

    /// Every stored id, in pages (used by recovery).
    pub fn all_ids(&self) -> Result<Vec<ChunkId>, IndexError> {
        let mut out = Vec::new();
        let mut offset = None;
        loop {
            let request = ScrollRequest {
                offset,
                limit: Some(10_000),
                filter: None,
                with_payload: Some(WithPayloadInterface::Bool(false)),
                with_vector: WithVector::Bool(false),
                order_by: None,
            };
            let (records, next) = self.shard().scroll(request).map_err(IndexError::qdrant)?;
            for r in records {
                out.push(chunk_id(r.id)?);
            }
            match next {
                Some(n) => offset = Some(n),
                None => return Ok(out),
            }
        }
    }
}

fn chunk_id(id: PointId) -> Result<ChunkId, IndexError> {
    match id {
        PointId::NumId(n) => Ok(ChunkId::from_raw(n)),
        PointId::Uuid(u) => Err(IndexError::CorruptPayload { id: 0, reason: format!("unexpected uuid point id {u}") }),
    }
}

fn qdrant_filter(filter: &Filter) -> Result<qdrant_edge::Filter, IndexError> {
    serde_json::from_value(filter.to_qdrant_json()).map_err(|e| IndexError::UnsupportedFilter { reason: e.to_string() })
}

#[derive(Debug, thiserror::Error)]
#[error("invalid payload path")]
struct BadPath;
