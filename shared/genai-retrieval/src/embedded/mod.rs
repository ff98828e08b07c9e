//! The embedded (in-process) index: a Qdrant Edge shard for vectors and payloads, a tantivy
//! index for BM25, both in one folder, written by one writer.
//!
//! ```text
//! <dir>/index.json   format version, embedder model id and dimension (refuses a mismatch)
//! <dir>/dense/       Qdrant Edge shard: vectors + payload (chunk text, provenance, attributes)
//! <dir>/keyword/     tantivy: BM25 over chunk text + filterable fields
//! <dir>/PENDING      present while a write is in flight; on open it triggers recovery
//! ```
//!
//! Durability: a write returns only after the shard is flushed and tantivy has committed. A crash
//! in between leaves `PENDING`; the next open reconciles tantivy with the shard (the shard holds
//! every chunk's text, so tantivy can be rebuilt from it). What was acknowledged is never lost.

mod dense;
mod keyword;

use crate::{Filter, Hit, Index, IndexError, IndexInfo, Record, ScoredId, record};
use async_trait::async_trait;
use dense::Dense;
use genai_core::ChunkId;
use keyword::{Keyword, KeywordWriter};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Separates an attribute's name from its value in the keyword index's `attrs` terms.
pub(crate) const ATTR_SEPARATOR: char = '\u{1f}';

const FORMAT: u32 = 1;
const META: &str = "index.json";
const PENDING: &str = "PENDING";

#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    format: u32,
    model_id: String,
    dim: usize,
}

/// Settings. Default: 1 keyword-indexing thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedConfig {
    pub keyword_threads: usize,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        Self { keyword_threads: 1 }
    }
}

/// The in-process index. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct EmbeddedIndex {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    info: IndexInfo,
    dense: Dense,
    keyword: Keyword,
    /// The single writer: every mutation, flush and optimize happens under this lock.
    writer: Mutex<KeywordWriter>,
}

impl std::fmt::Debug for EmbeddedIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedIndex").field("dir", &self.inner.dir).field("info", &self.inner.info).finish()
    }
}

impl EmbeddedIndex {
    /// Opens the index in `dir` for vectors of `model_id`/`dim`, creating it if absent.
    /// Fails with [`IndexError::EmbedderMismatch`] if it was built with another embedder.
    pub fn open(dir: &Path, model_id: &str, dim: usize, config: EmbeddedConfig) -> Result<Self, IndexError> {
        let io = |source| IndexError::Io { path: dir.to_owned(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        let meta_path = dir.join(META);
        let fresh = !meta_path.exists();
        if fresh {
            // No index.json means no write was ever acknowledged: anything here is a failed create.
            for sub in ["dense", "keyword"] {
                if dir.join(sub).exists() {
                    std::fs::remove_dir_all(dir.join(sub)).map_err(io)?;
                }
            }
        } else {
            let meta: Meta = serde_json::from_slice(&std::fs::read(&meta_path).map_err(io)?)
                .map_err(|e| IndexError::CorruptPayload { id: 0, reason: format!("index.json: {e}") })?;
            if meta.model_id != model_id || meta.dim != dim {
                return Err(IndexError::EmbedderMismatch {
                    location: dir.display().to_string(),
                    stored_model: meta.model_id,
                    stored_dim: meta.dim,
                    requested_model: model_id.to_owned(),
                    requested_dim: dim,
                });
            }
        }
        let dense = if fresh { Dense::create(&dir.join("dense"), dim)? } else { Dense::open(&dir.join("dense"))? };
        let (keyword, writer) = keyword::open_or_create(&dir.join("keyword"), config.keyword_threads)?;
        if fresh {
            let meta = Meta { format: FORMAT, model_id: model_id.to_owned(), dim };
            write_atomic(&meta_path, &serde_json::to_vec_pretty(&meta).expect("meta serialises")).map_err(io)?;
        }
        let index = Self {
            inner: Arc::new(Inner {
                dir: dir.to_owned(),
                info: IndexInfo { backend: "embedded", model_id: model_id.to_owned(), dim },
                dense,
                keyword,
                writer: Mutex::new(writer),
            }),
        };
        if dir.join(PENDING).exists() {
            tracing::warn!(dir = %dir.display(), "an earlier write did not finish; reconciling keyword index with vector store");
            let mut w = index.inner.lock();
            index.inner.reconcile(&mut w)?;
        }
        Ok(index)
    }

    /// Opens an existing index with the embedder recorded in it (to copy or inspect it).
    pub fn open_existing(dir: &Path, config: EmbeddedConfig) -> Result<Self, IndexError> {
        let path = dir.join(META);
        let bytes = std::fs::read(&path).map_err(|source| IndexError::Io { path: path.clone(), source })?;
        let meta: Meta = serde_json::from_slice(&bytes)
            .map_err(|e| IndexError::CorruptPayload { id: 0, reason: format!("index.json: {e}") })?;
        Self::open(dir, &meta.model_id, meta.dim, config)
    }

    /// The keyword index's average analysed length per chunk, the `avg_len` a server collection
    /// needs for BM25 scores identical to this index's (`None` when empty).
    pub fn bm25_avg_len(&self) -> Result<Option<f32>, IndexError> {
        self.inner.keyword.avg_len()
    }

    /// Bytes on disk under the index folder (apparent file sizes).
    pub fn disk_usage(&self) -> u64 {
        dir_size(&self.inner.dir)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T, IndexError> + Send + 'static,
    ) -> Result<T, IndexError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner)).await?
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, KeywordWriter> {
        // A panic while writing leaves PENDING on disk; the data is recovered on next open, so
        // the lock itself can be taken over.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    // ANCHOR: write_path
    /// Runs a mutation under the writer lock with the PENDING marker around it. On failure the
    /// two stores are reconciled before the error is returned.
    fn write(&self, f: impl FnOnce(&Dense, &mut KeywordWriter) -> Result<(), IndexError>) -> Result<(), IndexError> {
        let mut w = self.lock();
        let io = |source| IndexError::Io { path: self.dir.clone(), source };
        write_atomic(&self.dir.join(PENDING), b"write in progress\n").map_err(io)?;
        let result = f(&self.dense, &mut w).and_then(|()| {
            w.commit()?;
            self.dense.flush();
            Ok(())
        });
        match result {
            Ok(()) => {
                remove_synced(&self.dir.join(PENDING)).map_err(io)?;
                self.keyword.reload()
            }
            Err(e) => {
                if let Err(again) = self.reconcile(&mut w) {
                    tracing::error!(error = %again, "reconciliation after a failed write also failed; retried on next open");
                }
                Err(e)
            }
        }
    }
    // ANCHOR_END: write_path

    /// Makes the keyword index hold exactly the shard's ids, then clears PENDING.
    fn reconcile(&self, w: &mut KeywordWriter) -> Result<(), IndexError> {
        let dense: HashSet<ChunkId> = self.dense.all_ids()?.into_iter().collect();
        self.keyword.reload()?;
        let keyword: HashSet<ChunkId> = self.keyword.all_ids()?.into_iter().collect();
        let missing: Vec<ChunkId> = dense.difference(&keyword).copied().collect();
        let extra: Vec<ChunkId> = keyword.difference(&dense).copied().collect();
        for batch in missing.chunks(1_000) {
            let hits = self.fetch(batch)?;
            w.upsert_hits(&hits)?;
        }
        w.delete_ids(&extra);
        w.commit()?;
        self.dense.flush();
        tracing::info!(added = missing.len(), removed = extra.len(), "keyword index reconciled");
        remove_synced(&self.dir.join(PENDING)).map_err(|source| IndexError::Io { path: self.dir.clone(), source })?;
        self.keyword.reload()
    }

    fn fetch(&self, ids: &[ChunkId]) -> Result<Vec<Hit>, IndexError> {
        let payloads = self.dense.payloads(ids)?;
        let by_id: std::collections::HashMap<ChunkId, _> = payloads.into_iter().collect();
        ids.iter().filter_map(|id| by_id.get(id).map(|p| record::from_payload(id.get(), 0.0, p))).collect()
    }
}

#[async_trait]
impl Index for EmbeddedIndex {
    fn info(&self) -> &IndexInfo {
        &self.inner.info
    }

    async fn upsert(&self, records: Vec<Record>) -> Result<(), IndexError> {
        let dim = self.inner.info.dim;
        if let Some(r) = records.iter().find(|r| r.vector.len() != dim) {
            return Err(IndexError::WrongDimension { expected: dim, got: r.vector.len() });
        }
        self.blocking(move |inner| {
            inner.write(|dense, kw| {
                kw.upsert(&records)?;
                let points = records
                    .into_iter()
                    .map(|r| (r.chunk.id, record::to_payload(&r), r.vector))
                    .map(|(id, p, v)| (id, v, p))
                    .collect();
                dense.upsert(points)
            })
        })
        .await
    }

    async fn delete(&self, filter: &Filter) -> Result<(), IndexError> {
        if !Filter::admits(Some(filter))? {
            return Ok(());
        }
        let filter = filter.clone();
        self.blocking(move |inner| {
            inner.write(|dense, kw| {
                dense.delete(&filter)?;
                kw.delete(&filter)
            })
        })
        .await
    }

    async fn count(&self, filter: Option<&Filter>) -> Result<u64, IndexError> {
        if !Filter::admits(filter)? {
            return Ok(0);
        }
        let filter = filter.cloned();
        self.blocking(move |inner| inner.dense.count(filter.as_ref())).await
    }

    async fn dense(
        &self,
        vector: Vec<f32>,
        limit: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<ScoredId>, IndexError> {
        if vector.len() != self.inner.info.dim {
            return Err(IndexError::WrongDimension { expected: self.inner.info.dim, got: vector.len() });
        }
        if !Filter::admits(filter)? {
            return Ok(Vec::new());
        }
        let filter = filter.cloned();
        self.blocking(move |inner| inner.dense.search(vector, limit, filter.as_ref())).await
    }

    async fn keyword(&self, text: &str, limit: usize, filter: Option<&Filter>) -> Result<Vec<ScoredId>, IndexError> {
        if !Filter::admits(filter)? {
            return Ok(Vec::new());
        }
        let (text, filter) = (text.to_owned(), filter.cloned());
        self.blocking(move |inner| inner.keyword.search(&text, limit, filter.as_ref())).await
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
        let (weighted, filter) = (weighted.to_vec(), filter.cloned());
        self.blocking(move |inner| inner.keyword.search_terms(&weighted, limit, filter.as_ref())).await
    }

    async fn fetch(&self, ids: &[ChunkId]) -> Result<Vec<Hit>, IndexError> {
        let ids = ids.to_vec();
        self.blocking(move |inner| inner.fetch(&ids)).await
    }

    async fn term_stats(&self, terms: &[String]) -> Result<Option<crate::TermStats>, IndexError> {
        let terms = terms.to_vec();
        self.blocking(move |inner| inner.keyword.term_stats(&terms).map(Some)).await
    }

    async fn export(&self, from: Option<ChunkId>, limit: usize) -> Result<crate::ExportPage, IndexError> {
        let limit = limit.clamp(1, 10_000);
        self.blocking(move |inner| {
            let (points, next) = inner.dense.export(from, limit)?;
            let mut records = Vec::with_capacity(points.len());
            for (id, vector, payload) in points {
                let hit = record::from_payload(id.get(), 0.0, &payload)?;
                records.push(Record { chunk: hit.chunk, vector, tenant: hit.tenant, attrs: hit.attrs });
            }
            Ok(crate::ExportPage { records, next })
        })
        .await
    }

    async fn optimize(&self) -> Result<(), IndexError> {
        self.blocking(|inner| {
            let _w = inner.lock();
            inner.dense.optimize()?;
            inner.dense.flush();
            Ok(())
        })
        .await
    }
}

/// Writes a file so that it is either absent or complete after a crash: temp file, fsync, rename,
/// fsync of the folder.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    sync_parent(path)
}

fn remove_synced(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => sync_parent(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) => std::fs::File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
