//! The document registry and ingestion of one file.
//!
//! A file is indexed completely or not at all: it is loaded and chunked before anything is
//! written, its chunks go to the index in one durable upsert, and if that fails its chunks are
//! deleted again. The same bytes under any name are recognised by content hash.
//!
//! The registry is an append-only log (`documents.jsonl`: one `add` or `delete` per line), so
//! ingesting the 10,000th document costs what the first did. The corpus version that scopes
//! cached answers is a hash of the set of indexed documents (plus a counter of forced bumps):
//! any ingest makes every earlier answer unservable, because a new document can change the
//! answer to any question, and replicas sharing a Redis share answers only when they hold the
//! same documents.

use crate::filters::{CATEGORY, DOC_TYPE, MONTH, month_key, parse_month, valid_value};
use genai_core::{Classify, DocId, ErrorClass};
use genai_ingest::{Chunker, LoadLimits, load_bytes};
use genai_retrieval::{Condition, Field, Filter, Record, Retriever};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use utoipa::ToSchema;

/// One indexed document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DocumentInfo {
    #[schema(value_type = String)]
    pub doc_id: DocId,
    pub source: String,
    pub doc_type: String,
    pub category: Option<String>,
    /// `YYYY-MM`, when the document was dated at ingest.
    pub month: Option<String>,
    pub title: Option<String>,
    pub chunks: usize,
    pub bytes: u64,
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FileReport {
    Indexed {
        file: String,
        #[schema(value_type = String)]
        doc_id: DocId,
        chunks: usize,
    },
    /// The same bytes are indexed already (possibly under another name).
    AlreadyIndexed {
        file: String,
        #[schema(value_type = String)]
        doc_id: DocId,
        indexed_as: String,
    },
    /// Nothing was stored for this file.
    Skipped { file: String, reason: String },
}

/// A file to ingest, with the metadata filters search on.
#[derive(Debug, Clone)]
pub struct Upload {
    pub name: String,
    pub bytes: Vec<u8>,
    pub category: Option<String>,
    /// `YYYY-MM` or `YYYY-MM-DD`.
    pub date: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Entry {
    Add(DocumentInfo),
    Delete {
        doc_id: DocId,
    },
    /// The corpus version moved without a document change (an invalidation that failed).
    Bump,
}

/// Why the registry could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("document registry {path}: {reason}")]
pub struct RegistryError {
    pub path: PathBuf,
    pub reason: String,
}

#[derive(Debug, Default)]
struct State {
    docs: BTreeMap<String, DocumentInfo>,
    /// XOR of a 64-bit hash of every indexed document id: order-free, updated per entry.
    set_hash: u64,
    bumps: u64,
}

fn id_hash(id: &DocId) -> u64 {
    // Ids are SHA-256 hex already: their first 16 hex digits are a uniform 64-bit hash.
    u64::from_str_radix(&id.as_str()[..16], 16).unwrap_or_default()
}

/// The registry of indexed documents.
///
/// Production note: one process writes it (ingests are serialised by `ingest_lock`); replicas
/// sharing an index want this table in PostgreSQL with the content hash as key.
#[derive(Debug)]
pub struct Registry {
    path: PathBuf,
    state: Mutex<State>,
    pub(crate) ingest_lock: tokio::sync::Mutex<()>,
}

impl Registry {
    pub fn open(data_dir: &std::path::Path) -> Result<Self, RegistryError> {
        let path = data_dir.join("documents.jsonl");
        let mut state = State::default();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                    // A torn last line (a crash mid-append) is skipped; any other bad line is
                    // corruption worth stopping for.
                    let entry: Entry = match serde_json::from_str(line) {
                        Ok(e) => e,
                        Err(_) if i + 1 == text.lines().count() => break,
                        Err(e) => {
                            return Err(RegistryError { path, reason: format!("line {}: {e}", i + 1) });
                        }
                    };
                    state.apply(entry);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(RegistryError { path, reason: e.to_string() }),
        }
        Ok(Self { path, state: Mutex::new(state), ingest_lock: tokio::sync::Mutex::new(()) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn documents(&self) -> Vec<DocumentInfo> {
        self.lock().docs.values().cloned().collect()
    }

    pub fn get(&self, id: &str) -> Option<DocumentInfo> {
        self.lock().docs.get(id).cloned()
    }

    pub fn count(&self) -> usize {
        self.lock().docs.len()
    }

    /// The corpus version: it changes whenever the set of documents does.
    pub fn version(&self) -> String {
        let s = self.lock();
        format!("{:016x}.{}", s.set_hash, s.bumps)
    }

    /// Appends entries with one write and one `fsync`, then applies them.
    fn append(&self, entries: Vec<Entry>) -> Result<(), RegistryError> {
        let err = |e: std::io::Error| RegistryError { path: self.path.clone(), reason: e.to_string() };
        let mut text = String::new();
        for entry in &entries {
            text.push_str(&serde_json::to_string(entry).expect("registry entries serialise"));
            text.push('\n');
        }
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&self.path).map_err(err)?;
        f.write_all(text.as_bytes()).map_err(err)?;
        f.sync_data().map_err(err)?;
        let mut state = self.lock();
        for entry in entries {
            state.apply(entry);
        }
        Ok(())
    }

    pub(crate) fn record_delete(&self, doc_id: &DocId) -> Result<(), RegistryError> {
        self.append(vec![Entry::Delete { doc_id: doc_id.clone() }])
    }

    pub(crate) fn bump(&self) -> Result<(), RegistryError> {
        self.append(vec![Entry::Bump])
    }

    /// Checks, loads and chunks one file: ready to index, or why not. `seen` holds the ids
    /// already prepared in this batch (the same bytes twice in one request).
    pub(crate) async fn prepare(
        &self,
        chunker: &Chunker,
        limits: &LoadLimits,
        upload: Upload,
        seen: &BTreeMap<String, String>,
    ) -> Result<Prepared, FileReport> {
        let Upload { name, bytes, category, date } = upload;
        let skipped = |reason: String| FileReport::Skipped { file: name.clone(), reason };
        let id = DocId::from_content(&bytes);
        let earlier = self.get(id.as_str()).map(|d| d.source).or_else(|| seen.get(id.as_str()).cloned());
        if let Some(indexed_as) = earlier {
            return Err(FileReport::AlreadyIndexed { file: name, doc_id: id, indexed_as });
        }
        let month = match date.as_deref().map(|d| parse_month(d, true)) {
            None => None,
            Some(Some(m)) => Some(month_key(m)),
            Some(None) => {
                return Err(skipped(format!("date {:?} is not YYYY-MM or YYYY-MM-DD", date.unwrap_or_default())));
            }
        };
        if let Some(c) = &category
            && !valid_value(c)
        {
            return Err(skipped("category must be 1-128 characters without control characters".into()));
        }
        let size = bytes.len() as u64;
        let (source, limits) = (name.clone(), limits.clone());
        let doc = match tokio::task::spawn_blocking(move || load_bytes(&bytes, &source, &limits)).await {
            Ok(Ok(doc)) => doc,
            Ok(Err(e)) => return Err(skipped(e.to_string())),
            Err(e) => return Err(skipped(format!("loader failed: {e}"))),
        };
        let chunks = chunker.chunk(&doc);
        if chunks.is_empty() {
            return Err(skipped("the file has no text".into()));
        }
        let doc_type = doc.kind.to_string();
        let mut attrs = BTreeMap::from([(DOC_TYPE.to_owned(), vec![doc_type.clone()])]);
        if let Some(c) = &category {
            attrs.insert(CATEGORY.to_owned(), vec![c.clone()]);
        }
        if let Some(m) = &month {
            attrs.insert(MONTH.to_owned(), vec![m.clone()]);
        }
        let info = DocumentInfo {
            doc_id: id,
            source: name,
            doc_type,
            category,
            month,
            title: doc.title.clone(),
            chunks: chunks.len(),
            bytes: size,
        };
        Ok(Prepared { info, chunks, attrs })
    }

    /// Indexes prepared files: their chunks embedded and upserted together, then listed with one
    /// registry write. If the batch fails, each file is tried alone, so one bad file costs only
    /// itself. Call with `ingest_lock` held.
    pub(crate) async fn commit(&self, retriever: &Retriever, batch: Vec<Prepared>) -> Vec<FileReport> {
        if batch.is_empty() {
            return Vec::new();
        }
        if batch.len() > 1 {
            let ids: Vec<DocId> = batch.iter().map(|p| p.info.doc_id.clone()).collect();
            match self.commit_together(retriever, batch.clone()).await {
                Ok(reports) => return reports,
                Err(e) => {
                    tracing::warn!(error = %e, files = batch.len(), "batch indexing failed; indexing its files one by one");
                    for id in &ids {
                        undo(retriever, id).await;
                    }
                }
            }
        }
        let mut reports = Vec::with_capacity(batch.len());
        for p in batch {
            let (file, id) = (p.info.source.clone(), p.info.doc_id.clone());
            reports.push(match self.commit_together(retriever, vec![p]).await {
                Ok(mut r) => r.remove(0),
                Err(e) => {
                    undo(retriever, &id).await;
                    FileReport::Skipped { file, reason: e }
                }
            });
        }
        reports
    }

    async fn commit_together(&self, retriever: &Retriever, batch: Vec<Prepared>) -> Result<Vec<FileReport>, String> {
        let texts: Vec<String> = batch.iter().flat_map(|p| p.chunks.iter().map(|c| c.text.clone())).collect();
        let hint = |e: &dyn Classify| if e.class() == ErrorClass::Retryable { "; try again" } else { "" };
        let vectors =
            retriever.embedder().embed(&texts).await.map_err(|e| format!("embedding failed: {e}{}", hint(&e)))?;
        let mut vectors = vectors.into_iter();
        let mut records = Vec::with_capacity(texts.len());
        let mut infos = Vec::with_capacity(batch.len());
        for p in batch {
            for chunk in p.chunks {
                let vector = vectors.next().ok_or("the embedder returned too few vectors")?;
                records.push(Record { chunk, vector, tenant: None, attrs: p.attrs.clone() });
            }
            infos.push(p.info);
        }
        retriever.index().upsert(records).await.map_err(|e| format!("indexing failed: {e}{}", hint(&e)))?;
        let reports = infos
            .iter()
            .map(|i| FileReport::Indexed { file: i.source.clone(), doc_id: i.doc_id.clone(), chunks: i.chunks })
            .collect();
        // Unlisted chunks would be unreachable by DELETE: the caller takes them out again.
        self.append(infos.into_iter().map(Entry::Add).collect()).map_err(|e| e.to_string())?;
        Ok(reports)
    }
}

/// A file loaded and chunked, ready to index.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub info: DocumentInfo,
    pub chunks: Vec<genai_core::Chunk>,
    pub attrs: BTreeMap<String, Vec<String>>,
}

impl State {
    fn apply(&mut self, entry: Entry) {
        match entry {
            Entry::Add(info) => {
                if !self.docs.contains_key(info.doc_id.as_str()) {
                    self.set_hash ^= id_hash(&info.doc_id);
                }
                self.docs.insert(info.doc_id.to_string(), info);
            }
            Entry::Delete { doc_id } => {
                if self.docs.remove(doc_id.as_str()).is_some() {
                    self.set_hash ^= id_hash(&doc_id);
                }
            }
            Entry::Bump => self.bumps += 1,
        }
    }
}

/// The index filter of one document's chunks.
pub fn doc_filter(id: &DocId) -> Filter {
    Filter::default().and(Condition::Match { field: Field::DocId, value: id.to_string() })
}

async fn undo(retriever: &Retriever, id: &DocId) {
    if let Err(e) = retriever.index().delete(&doc_filter(id)).await {
        tracing::error!(error = %e, doc = %id, "could not remove a partly indexed document");
    }
}
