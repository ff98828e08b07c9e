//! Milestone 1: document Q&A.
//!
//! Ingest a folder of PDFs (and Markdown, HTML, text); ask questions; get an answer with numbered
//! citations to file, page and passage — or "the documents don't say". Offline by default (the
//! extractive answerer); with `OPENAI_BASE_URL`/`OPENAI_API_KEY` set, a model writes the answer
//! and every citation it makes is checked.
//!
//! - [`DocQa`] is the service: [`DocQa::ingest`], [`DocQa::ask`], [`DocQa::documents`].
//! - [`router`] / [`serve`] put it on HTTP with a web page; the `doc-qa` binary is the CLI.
//! - [`eval`] measures it on SQuAD articles rendered to PDF.

pub mod answer;
mod api;
pub mod cli;
pub mod config;
pub mod demo;
pub mod eval;
#[cfg(feature = "langchain")]
mod langchain;
mod library;
pub mod render;

pub use answer::{Answer, Answerer, Extractive, LlmAnswerer, NumberedCitation};
pub use api::{router, serve};
pub use config::{AnswererChoice, Config, EmbedderChoice, ModeChoice};
pub use library::{DocumentInfo, FileReport, Pipeline};

use genai_core::{ChunkId, Classify, ErrorClass};
use genai_embed::{CachedEmbedder, Embedder, EmbedderSpec};
use genai_ingest::{ChunkConfig, Chunker, LoadLimits};
use genai_llm::ChatModel;
use genai_retrieval::{EmbeddedConfig, EmbeddedIndex, Hit, Retriever, SearchMode, SearchRequest};
use library::Library;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Why a doc-qa operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DocQaError {
    #[error("invalid question: {reason}")]
    InvalidQuestion { reason: String },
    #[error(transparent)]
    Embed(#[from] genai_embed::EmbedError),
    #[error(transparent)]
    Index(#[from] genai_retrieval::IndexError),
    #[error(transparent)]
    Ingest(#[from] genai_ingest::IngestError),
    #[error(transparent)]
    Llm(#[from] genai_llm::LlmError),
    #[error("document registry {path} is unusable: {reason}")]
    Registry { path: PathBuf, reason: String },
    #[error("cannot create the data folder {path}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Classify for DocQaError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::InvalidQuestion { .. } => ErrorClass::InvalidInput,
            Self::Embed(e) => e.class(),
            Self::Index(e) => e.class(),
            Self::Ingest(e) => e.class(),
            Self::Llm(e) => e.class(),
            Self::Registry { .. } | Self::DataDir { .. } => ErrorClass::Permanent,
        }
    }
}

/// An answer with the passages it was drawn from and how long each step took.
#[derive(Debug, Clone, Serialize)]
pub struct Response {
    pub question: String,
    #[serde(flatten)]
    pub answer: Answer,
    pub mode: SearchMode,
    pub retrieval_ms: f64,
    pub answer_ms: f64,
}

/// The document Q&A service. Cheap to clone.
#[derive(Clone)]
pub struct DocQa {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    retriever: Retriever,
    library: Library,
    chunker: Chunker,
    answerer: Arc<dyn Answerer>,
    /// The offline answerer (the answerer itself, or the model answerer's fallback).
    extractive: Extractive,
    mode: SearchMode,
}

impl std::fmt::Debug for DocQa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocQa").field("config", &self.inner.config).finish()
    }
}

impl DocQa {
    /// Opens (or creates) the library in `config.data_dir`.
    pub async fn open(config: Config) -> Result<Self, DocQaError> {
        let dir = config.data_dir.clone();
        std::fs::create_dir_all(&dir).map_err(|source| DocQaError::DataDir { path: dir.clone(), source })?;
        let spec = match config.embedder {
            EmbedderChoice::Hashing => EmbedderSpec::default(),
            EmbedderChoice::Minilm => EmbedderSpec::Minilm { dir: config.model_dir.clone(), threads: Some(2) },
            EmbedderChoice::Remote => EmbedderSpec::Remote(Default::default()),
        };
        let embedder: Arc<dyn Embedder> =
            Arc::new(CachedEmbedder::open(genai_embed::build(&spec)?, &dir.join("vector-cache"))?);
        let index =
            EmbeddedIndex::open(&dir.join("index"), embedder.model_id(), embedder.dim(), EmbeddedConfig::default())?;
        let retriever = Retriever::new(embedder, Arc::new(index))?;
        let chunker = Chunker::new(ChunkConfig { max_tokens: config.chunk_tokens, overlap: config.chunk_overlap })?;
        let semantic = !matches!(config.embedder, EmbedderChoice::Hashing);
        let base = if semantic { answer::SEMANTIC_WEIGHTS } else { answer::LEXICAL_WEIGHTS };
        let weights = answer::Weights { threshold: config.refusal_threshold.unwrap_or(base.threshold), ..base };
        let extractive = Extractive::new(weights);
        let extractive = if semantic { extractive.with_semantic(retriever.embedder().clone()) } else { extractive };
        let model = match config.answerer {
            AnswererChoice::Extractive => None,
            AnswererChoice::Auto => genai_llm::from_env()?,
            AnswererChoice::Llm => Some(genai_llm::from_env()?.ok_or_else(|| {
                DocQaError::Llm(genai_llm::LlmError::InvalidRequest {
                    reason: "answerer = llm needs OPENAI_BASE_URL or OPENAI_API_KEY".into(),
                })
            })?),
        };
        let answerer: Arc<dyn Answerer> = match model {
            Some(m) => {
                let window = match config.context_tokens {
                    Some(n) => Some(n),
                    None => genai_llm::context::window_from_env(m.name()).await?,
                };
                tracing::info!(model = m.name(), context_tokens = ?window, "model answerer");
                Arc::new(LlmAnswerer::new(m, extractive.clone()).with_context_window(window))
            }
            None => Arc::new(extractive.clone()),
        };
        // `auto` is BM25: on SQuAD PDFs it found the answering passage in the top 5 for 93.9% of
        // questions, hybrid with MiniLM for 87.6% (500-token chunks, MiniLM reads only 256).
        // MiniLM earns its keep in sentence selection and refusal instead.
        let mode = match config.mode {
            ModeChoice::Auto | ModeChoice::Keyword => SearchMode::Keyword,
            ModeChoice::Hybrid => SearchMode::Hybrid,
            ModeChoice::Dense => SearchMode::Dense,
        };
        let library = Library::open(&dir)?;
        Ok(Self { inner: Arc::new(Inner { config, retriever, library, chunker, answerer, extractive, mode }) })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The search mode in use (`auto` resolved).
    pub fn mode(&self) -> SearchMode {
        self.inner.mode
    }

    /// Indexed documents, oldest first.
    pub fn documents(&self) -> Vec<DocumentInfo> {
        self.inner.library.documents()
    }

    /// Ingests `(name, bytes)` files, each independently; `on_file` sees each report.
    pub async fn ingest(&self, files: Vec<(String, Vec<u8>)>, on_file: impl FnMut(&FileReport)) -> Vec<FileReport> {
        self.ingest_with(Pipeline::Native, files, on_file).await
    }

    /// [`DocQa::ingest`] through a chosen pipeline (the langchain-rust baseline, for comparison).
    pub async fn ingest_with(
        &self,
        pipeline: Pipeline,
        files: Vec<(String, Vec<u8>)>,
        on_file: impl FnMut(&FileReport),
    ) -> Vec<FileReport> {
        let limits = LoadLimits { max_bytes: self.inner.config.max_file_bytes, ..LoadLimits::default() };
        let inner = &self.inner;
        let reports = inner.library.ingest(&inner.retriever, &inner.chunker, &limits, pipeline, files, on_file).await;
        if reports.iter().any(|r| matches!(r, FileReport::Indexed { .. }))
            && let Err(e) = self.inner.retriever.index().optimize().await
        {
            tracing::warn!(error = %e, "index optimisation failed; searches stay correct but slower");
        }
        reports
    }

    /// The chunks `pipeline` makes of a file, without indexing them (for evaluation).
    pub async fn chunk_file(
        &self,
        pipeline: Pipeline,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<Vec<genai_core::Chunk>, String> {
        let limits = LoadLimits { max_bytes: self.inner.config.max_file_bytes, ..LoadLimits::default() };
        library::load_and_chunk(pipeline, &self.inner.chunker, &limits, name, bytes)
            .await
            .map(|l| l.chunks)
            .map_err(|(r, _)| r)
    }

    /// The embedder of the index (to embed questions and answers in evaluations).
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        self.inner.retriever.embedder()
    }

    /// The top passages for `question` (no answer written).
    pub async fn retrieve(&self, question: &str) -> Result<Vec<Hit>, DocQaError> {
        let req = SearchRequest::new(question, self.inner.mode, self.inner.config.top_k);
        Ok(self.inner.retriever.search(&req).await?)
    }

    /// Answers `question` from the indexed documents.
    pub async fn ask(&self, question: &str) -> Result<Response, DocQaError> {
        Ok(self.ask_with_passages(question).await?.0)
    }

    /// [`DocQa::ask`], also returning the passages the answer was drawn from (for evaluation).
    pub async fn ask_with_passages(&self, question: &str) -> Result<(Response, Vec<Hit>), DocQaError> {
        let question = question.trim();
        let max = self.inner.config.max_question_chars;
        if question.is_empty() {
            return Err(DocQaError::InvalidQuestion { reason: "the question is empty".into() });
        }
        if question.chars().count() > max {
            return Err(DocQaError::InvalidQuestion {
                reason: format!("the question is longer than {max} characters"),
            });
        }
        let start = Instant::now();
        let hits = self.retrieve(question).await?;
        let stats = self.term_stats(question).await?;
        let retrieval_ms = start.elapsed().as_secs_f64() * 1e3;
        let start = Instant::now();
        let answer = self.inner.answerer.answer(question, &hits, stats.as_ref()).await;
        let response = Response {
            question: question.to_owned(),
            answer,
            mode: self.inner.mode,
            retrieval_ms,
            answer_ms: start.elapsed().as_secs_f64() * 1e3,
        };
        Ok((response, hits))
    }

    /// Document frequencies of the question's informative terms, when the index can tell.
    pub async fn term_stats(&self, question: &str) -> Result<Option<genai_retrieval::TermStats>, DocQaError> {
        Ok(self.inner.retriever.index().term_stats(&answer::evidence_terms(question)).await?)
    }

    /// The offline answerer's candidate sentences for `question` over `hits`, with their
    /// features (for evaluation and diagnostics).
    pub async fn candidates(&self, question: &str, hits: &[Hit]) -> Result<Vec<answer::Candidate>, DocQaError> {
        let stats = self.term_stats(question).await?;
        Ok(self.inner.extractive.candidates(question, hits, stats.as_ref()).await)
    }

    /// The stored passage `id` (for "open the cited passage").
    pub async fn passage(&self, id: ChunkId) -> Result<Option<Hit>, DocQaError> {
        Ok(self.inner.retriever.index().fetch(&[id]).await?.pop())
    }
}
