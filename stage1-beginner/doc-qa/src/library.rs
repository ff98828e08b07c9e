//! The document library: ingestion with per-file reports, and the registry of what is indexed.
//!
//! A file is indexed completely or not at all: it is loaded and chunked before anything is
//! written, its chunks go to the index in one durable upsert, and if that fails its chunks are
//! deleted again. The same bytes under any name are recognised by content hash.

use crate::DocQaError;
use genai_core::{Classify, DocId, ErrorClass, SourceKind};
use genai_ingest::{Chunker, LoadLimits, NearDuplicates, load_bytes};
use genai_retrieval::{Condition, Field, Filter, Retriever};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Mutex;

/// One indexed document, as listed to users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentInfo {
    pub doc_id: DocId,
    pub source: String,
    pub kind: SourceKind,
    pub title: Option<String>,
    pub pages: usize,
    pub chunks: usize,
    pub bytes: u64,
    /// Seconds since the Unix epoch.
    pub ingested_at: u64,
}

/// What happened to one file of an ingest request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FileReport {
    Indexed {
        file: String,
        doc_id: DocId,
        pages: usize,
        chunks: usize,
        near_duplicates_dropped: usize,
    },
    /// The same bytes were indexed before (possibly under another name).
    AlreadyIndexed {
        file: String,
        doc_id: DocId,
        indexed_as: String,
    },
    /// Nothing was stored for this file; `reason` says why in plain words.
    Skipped {
        file: String,
        reason: String,
        class: ErrorClass,
    },
}

impl FileReport {
    pub fn file(&self) -> &str {
        match self {
            Self::Indexed { file, .. } | Self::AlreadyIndexed { file, .. } | Self::Skipped { file, .. } => file,
        }
    }
}

/// How files become chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Pipeline {
    /// genai-ingest: type sniffing, pdf-extract per page, normalisation, text-splitter chunks.
    #[default]
    Native,
    /// langchain-rust's LoPdfLoader and TokenSplitter (feature `langchain`; PDFs only).
    #[cfg(feature = "langchain")]
    Langchain,
}

/// A file loaded and chunked, before indexing.
pub(crate) struct Loaded {
    pub kind: SourceKind,
    pub title: Option<String>,
    pub pages: usize,
    pub chunks: Vec<genai_core::Chunk>,
}

/// Loads and chunks one file through `pipeline`; `Err` carries a reason for the user.
pub(crate) async fn load_and_chunk(
    pipeline: Pipeline,
    chunker: &Chunker,
    limits: &LoadLimits,
    name: &str,
    bytes: Vec<u8>,
) -> Result<Loaded, (String, ErrorClass)> {
    match pipeline {
        Pipeline::Native => {
            let (source, limits) = (name.to_owned(), limits.clone());
            match tokio::task::spawn_blocking(move || load_bytes(&bytes, &source, &limits)).await {
                Ok(Ok(doc)) => Ok(Loaded {
                    kind: doc.kind,
                    title: doc.title.clone(),
                    pages: doc.pages.len(),
                    chunks: chunker.chunk(&doc),
                }),
                Ok(Err(e)) => Err((e.to_string(), e.class())),
                Err(e) => Err((format!("loader failed: {e}"), ErrorClass::Permanent)),
            }
        }
        #[cfg(feature = "langchain")]
        Pipeline::Langchain => {
            let config = chunker.config();
            crate::langchain::load_and_chunk(name, &bytes, config.max_tokens, config.overlap)
                .await
                .map_err(|reason| (reason, ErrorClass::InvalidInput))
        }
    }
}

/// The registry of indexed documents, persisted as `documents.json`.
///
/// Production note: the registry is one JSON file rewritten per ingested document, and ingests
/// are serialised by a lock; a library of tens of thousands of documents, or several writers,
/// wants a table in SQLite or PostgreSQL with the content hash as key.
#[derive(Debug)]
pub struct Library {
    path: PathBuf,
    docs: Mutex<Vec<DocumentInfo>>,
    /// One ingest at a time: duplicate checks and writes must not interleave.
    ingest_lock: tokio::sync::Mutex<()>,
}

impl Library {
    pub fn open(data_dir: &std::path::Path) -> Result<Self, DocQaError> {
        let path = data_dir.join("documents.json");
        let docs = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| DocQaError::Registry { path: path.clone(), reason: e.to_string() })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(DocQaError::Registry { path, reason: e.to_string() }),
        };
        Ok(Self { path, docs: Mutex::new(docs), ingest_lock: tokio::sync::Mutex::new(()) })
    }

    pub fn documents(&self) -> Vec<DocumentInfo> {
        self.docs.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn find(&self, id: &DocId) -> Option<DocumentInfo> {
        self.documents().into_iter().find(|d| &d.doc_id == id)
    }

    fn persist(&self, docs: &[DocumentInfo]) -> Result<(), DocQaError> {
        let tmp = self.path.with_extension("json.tmp");
        let err = |e: std::io::Error| DocQaError::Registry { path: self.path.clone(), reason: e.to_string() };
        std::fs::write(&tmp, serde_json::to_vec_pretty(docs).expect("registry serialises")).map_err(err)?;
        std::fs::rename(&tmp, &self.path).map_err(err)
    }

    /// Ingests files; one report per file, in order. `on_file` is called after each file.
    pub async fn ingest(
        &self,
        retriever: &Retriever,
        chunker: &Chunker,
        limits: &LoadLimits,
        pipeline: Pipeline,
        files: Vec<(String, Vec<u8>)>,
        mut on_file: impl FnMut(&FileReport),
    ) -> Vec<FileReport> {
        let _one_at_a_time = self.ingest_lock.lock().await;
        let mut near = NearDuplicates::default();
        let mut reports = Vec::with_capacity(files.len());
        for (name, bytes) in files {
            let report = self.ingest_one(retriever, chunker, limits, pipeline, &mut near, name, bytes).await;
            on_file(&report);
            reports.push(report);
        }
        reports
    }

    #[allow(clippy::too_many_arguments)]
    async fn ingest_one(
        &self,
        retriever: &Retriever,
        chunker: &Chunker,
        limits: &LoadLimits,
        pipeline: Pipeline,
        near: &mut NearDuplicates,
        name: String,
        bytes: Vec<u8>,
    ) -> FileReport {
        let skipped = |reason: String, class: ErrorClass| FileReport::Skipped { file: name.clone(), reason, class };
        let id = DocId::from_content(&bytes);
        if let Some(existing) = self.find(&id) {
            return FileReport::AlreadyIndexed { file: name, doc_id: id, indexed_as: existing.source };
        }
        let size = bytes.len() as u64;
        let loaded = match load_and_chunk(pipeline, chunker, limits, &name, bytes).await {
            Ok(l) => l,
            Err((reason, class)) => return skipped(reason, class),
        };
        let Loaded { kind, title, pages, chunks } = loaded;
        let before = chunks.len();
        let (chunks, dedup) = near.filter(chunks);
        if chunks.is_empty() {
            return skipped(
                format!("all {before} chunks duplicate text that is already indexed"),
                ErrorClass::InvalidInput,
            );
        }
        let n = chunks.len();
        if let Err(e) = retriever.add(chunks, None, &Default::default()).await {
            // Leave the index as it was: remove whatever part of this document got in.
            let this_doc = Filter::default().and(Condition::Match { field: Field::DocId, value: id.to_string() });
            if let Err(undo) = retriever.index().delete(&this_doc).await {
                tracing::error!(error = %undo, doc = %id, "could not remove a partly indexed document");
            }
            return skipped(format!("indexing failed: {e}"), e.class());
        }
        let info = DocumentInfo {
            doc_id: id.clone(),
            source: name.clone(),
            kind,
            title,
            pages,
            chunks: n,
            bytes: size,
            ingested_at: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        };
        let mut docs = self.documents();
        docs.push(info);
        if let Err(e) = self.persist(&docs) {
            tracing::error!(error = %e, "document registry not saved; the document is indexed but unlisted until the next ingest");
        }
        *self.docs.lock().unwrap_or_else(|p| p.into_inner()) = docs;
        FileReport::Indexed { file: name, doc_id: id, pages, chunks: n, near_duplicates_dropped: dedup.dropped }
    }
}
