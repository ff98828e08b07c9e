//! Milestone 4: the production RAG service.
//!
//! One pipeline, each stage a small piece behind a trait and switchable by configuration:
//!
//! ```text
//! normalise → exact cache → (embed) → semantic cache ┐
//!                                   └→ hybrid retrieval with fail-closed filters → rerank top N
//!           → route by complexity → answer (streamed) → output check → cache insert → online eval
//! ```
//!
//! - [`Rag`] is the service: [`Rag::query`] (a stream of [`QueryEvent`]s: answer deltas, the
//!   checked answer with citations, then a [`Trace`] with every stage's timing, the cache
//!   decision, the route and the cost), [`Rag::ingest`] (asynchronous jobs), [`Rag::delete`].
//! - [`router`] / [`serve`] put it on HTTP with an OpenAPI description and the `/rag` page.
//! - Offline by default (hashing embedder, BM25, the learned reranker, the extractive answerer,
//!   an in-process cache); a model through genai-llm and Redis when configured.

mod answer;
mod api;
pub mod bench;
pub mod cli;
pub mod config;
pub mod demo;
mod docs;
mod eval;
pub mod eval_cmd;
pub mod filters;
mod jobs;
mod pipeline;
mod spans;

pub use api::{ApiDoc, router, serve};
pub use config::{AnswererChoice, CacheBackend, Config, EmbedderChoice};
pub use docs::{DocumentInfo, FileReport, Upload};
pub use filters::Filters;
pub use jobs::{Job, JobState};
pub use pipeline::{CachedAnswer, QueryEvent, QueryRequest, QueryResponse, StageTiming, Trace};

use genai_answer::Extractive;
use genai_cache::{AnswerCache, CacheConfig, StoreSpec};
use genai_core::{Classify, ErrorClass};
use genai_embed::{CachedEmbedder, Embedder, EmbedderSpec};
use genai_ingest::{ChunkConfig, Chunker, LoadLimits};
use genai_llm::ChatModel;
use genai_llm::route::ComplexityRouter;
use genai_llm::{OpenAiConfig, OpenAiModel, PriceTable, ResilienceConfig, Resilient};
use genai_retrieval::rerank::LearnedReranker;
use genai_retrieval::rewrite::LlmRewriter;
use genai_retrieval::{EmbeddedConfig, EmbeddedIndex, Reranking, Retriever, SearchMode};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Chunks embedded and written together during ingest: one embedding call, one index write and
/// one registry write per batch instead of per file.
const BATCH_CHUNKS: usize = 256;

/// Why an operation failed; [`Classify`] says what the caller should do.
#[derive(Debug, thiserror::Error)]
pub enum RagError {
    #[error("{reason}")]
    InvalidQuery { reason: String, at: &'static str },
    #[error("unsupported filter at {}: {}", .0.at, .0.reason)]
    Filter(#[from] filters::FilterError),
    #[error("no document {0}")]
    UnknownDocument(String),
    #[error(transparent)]
    Embed(#[from] genai_embed::EmbedError),
    #[error(transparent)]
    Index(#[from] genai_retrieval::IndexError),
    #[error(transparent)]
    Ingest(#[from] genai_ingest::IngestError),
    #[error(transparent)]
    Llm(#[from] genai_llm::LlmError),
    #[error(transparent)]
    Registry(#[from] docs::RegistryError),
    #[error("cache: {0}")]
    Cache(String),
    #[error("bundled reranker: {0}")]
    Reranker(String),
    #[error("{0}")]
    Internal(String),
    #[error("cannot create the data folder {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
}

impl Classify for RagError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::InvalidQuery { .. } | Self::Filter(_) | Self::UnknownDocument(_) => ErrorClass::InvalidInput,
            Self::Embed(e) => e.class(),
            Self::Index(e) => e.class(),
            Self::Ingest(e) => e.class(),
            Self::Llm(e) => e.class(),
            Self::Cache(_) => ErrorClass::Retryable,
            Self::Registry(_) | Self::DataDir { .. } | Self::Reranker(_) | Self::Internal(_) => ErrorClass::Permanent,
        }
    }
}

/// The configured models: one per routing tier (the same one twice when only one is named).
#[derive(Debug, Clone)]
pub(crate) struct Models {
    pub cheap: Resilient,
    pub strong: Resilient,
    pub context_tokens: Option<u64>,
}

/// The service. Cheap to clone.
#[derive(Clone)]
pub struct Rag {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub config: Config,
    pub retriever: Retriever,
    pub registry: docs::Registry,
    pub chunker: Chunker,
    pub limits: LoadLimits,
    pub mode: SearchMode,
    pub reranking: Option<Reranking>,
    pub extractive: Extractive,
    pub models: Option<Models>,
    /// Multi-query rewriting (only with a model and `rewrite = true`).
    pub rewriter: Option<LlmRewriter>,
    pub router: ComplexityRouter,
    pub cache: Option<AnswerCache<CachedAnswer>>,
    pub jobs: jobs::Jobs,
    pub evaluator: eval::OnlineEval,
    pub prices: PriceTable,
}

impl std::fmt::Debug for Rag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rag").field("config", &self.inner.config).finish()
    }
}

/// A model named `name` on the configured OpenAI-compatible server, with the full resilience stack.
fn model_named(name: Option<&str>) -> Result<Resilient, genai_llm::LlmError> {
    let mut config = OpenAiConfig::default();
    if let Some(n) = name {
        config.model = n.to_owned();
    }
    let model = OpenAiModel::new(&config)?;
    Ok(Resilient::new(Arc::new(model), ResilienceConfig::default(), Arc::new(PriceTable::default()))
        .with_route("production-rag.answer"))
}

impl Rag {
    /// Opens (or creates) the service's data in `config.data_dir`, with the models the
    /// environment configures (`OPENAI_BASE_URL`/`OPENAI_API_KEY`; `cheap_model`, `strong_model`).
    pub async fn open(config: Config) -> Result<Self, RagError> {
        let models = Self::models(&config).await?;
        Self::open_with(config, models).await
    }

    /// Opens with these models instead of the environment's: `cheap` answers simple questions,
    /// `strong` (default: `cheap`) complex ones. Tests and embedders of the library use it.
    pub async fn open_with_models(
        config: Config,
        cheap: Resilient,
        strong: Option<Resilient>,
        context_tokens: Option<u64>,
    ) -> Result<Self, RagError> {
        let strong = strong.unwrap_or_else(|| cheap.clone());
        Self::open_with(config, Some(Models { cheap, strong, context_tokens })).await
    }

    async fn open_with(config: Config, models: Option<Models>) -> Result<Self, RagError> {
        // Metrics recorded before a recorder exists are lost: install it before the first query.
        let _ = genai_telemetry::prometheus();
        let dir = config.data_dir.clone();
        std::fs::create_dir_all(&dir).map_err(|source| RagError::DataDir { path: dir.clone(), source })?;
        let semantic = config.embedder == EmbedderChoice::Minilm;
        let spec = if semantic {
            EmbedderSpec::Minilm { dir: Some(config.model_dir()), threads: None }
        } else {
            EmbedderSpec::default()
        };
        let embedder: Arc<dyn Embedder> =
            Arc::new(CachedEmbedder::open(genai_embed::build(&spec)?, &dir.join("vector-cache"))?);
        let index =
            EmbeddedIndex::open(&dir.join("index"), embedder.model_id(), embedder.dim(), EmbeddedConfig::default())?;
        let retriever = Retriever::new(embedder.clone(), Arc::new(index))?;
        let chunker = Chunker::new(ChunkConfig { max_tokens: config.chunk_tokens, overlap: config.chunk_overlap })?;
        let reranking = if config.rerank_top_n > 0 {
            let reranker = LearnedReranker::bundled().map_err(|e| RagError::Reranker(e.to_string()))?;
            Some(Reranking {
                reranker: Arc::new(reranker),
                top_n: config.rerank_top_n,
                budget: Duration::from_millis(config.rerank_budget_ms),
            })
        } else {
            None
        };
        let base = if semantic { genai_answer::SEMANTIC_WEIGHTS } else { genai_answer::LEXICAL_WEIGHTS };
        let extractive = Extractive::new(base);
        let extractive = if semantic { extractive.with_semantic(embedder.clone()) } else { extractive };
        let cache = Self::cache(&config, embedder.as_ref())?;
        let registry = docs::Registry::open(&dir)?;
        let evaluator = eval::OnlineEval::open(&dir, config.eval_sample_rate);
        let mode = if semantic { SearchMode::Hybrid } else { SearchMode::Keyword };
        let rewriter = models.as_ref().filter(|_| config.rewrite).map(|m| {
            let mut r = LlmRewriter::new(Arc::new(m.cheap.clone()));
            r.budget = Duration::from_millis(config.rewrite_budget_ms);
            r
        });
        tracing::info!(
            documents = registry.count(),
            embedder = embedder.model_id(),
            ?mode,
            cache = ?config.cache,
            answerer = if models.is_some() { "llm" } else { "extractive" },
            "production-rag ready"
        );
        Ok(Self {
            inner: Arc::new(Inner {
                router: ComplexityRouter::new(config.route_threshold),
                config,
                retriever,
                registry,
                chunker,
                limits: LoadLimits::default(),
                mode,
                reranking,
                extractive,
                models,
                rewriter,
                cache,
                jobs: jobs::Jobs::default(),
                evaluator,
                prices: PriceTable::default(),
            }),
        })
    }

    async fn models(config: &Config) -> Result<Option<Models>, RagError> {
        let configured = genai_llm::configured_in_env();
        let wanted = match config.answerer {
            AnswererChoice::Extractive => false,
            AnswererChoice::Auto => configured,
            AnswererChoice::Llm if configured => true,
            AnswererChoice::Llm => {
                return Err(RagError::Llm(genai_llm::LlmError::InvalidRequest {
                    reason: "answerer = llm needs OPENAI_BASE_URL or OPENAI_API_KEY".into(),
                }));
            }
        };
        if !wanted {
            return Ok(None);
        }
        let cheap = model_named(config.cheap_model.as_deref())?;
        let strong = match &config.strong_model {
            Some(name) => model_named(Some(name))?.with_ledger(cheap.ledger().clone()),
            None => cheap.clone(),
        };
        let context_tokens = genai_llm::context::window_from_env(cheap.name()).await?;
        tracing::info!(cheap = cheap.name(), strong = strong.name(), ?context_tokens, "model answerer");
        Ok(Some(Models { cheap, strong, context_tokens }))
    }

    fn cache(config: &Config, embedder: &dyn Embedder) -> Result<Option<AnswerCache<CachedAnswer>>, RagError> {
        let spec = match config.cache {
            CacheBackend::Off => return Ok(None),
            CacheBackend::Memory => StoreSpec::Memory,
            CacheBackend::Redis => StoreSpec::Redis { url: config.redis_url.clone() },
        };
        let store = genai_cache::store::open(&spec).map_err(|e| RagError::Cache(e.to_string()))?;
        let cache_config = CacheConfig {
            namespace: "rag".into(),
            ttl_secs: config.cache_ttl_secs,
            semantic: config.semantic_cache,
            ..CacheConfig::default()
        };
        let cache = AnswerCache::new(store, cache_config);
        if !config.semantic_cache {
            return Ok(Some(cache));
        }
        match genai_cache::guard::bundled(embedder.model_id()) {
            Ok(guard) => Ok(Some(
                cache
                    .with_semantic(Arc::new(guard), embedder.model_id(), embedder.dim())
                    .map_err(|e| RagError::Cache(e.to_string()))?,
            )),
            Err(e) => {
                tracing::warn!(error = %e, "no pair guard for this embedder: exact cache only");
                Ok(Some(cache))
            }
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn documents(&self) -> Vec<DocumentInfo> {
        self.inner.registry.documents()
    }

    /// A job's progress.
    pub fn job(&self, id: &str) -> Option<Job> {
        self.inner.jobs.get(id)
    }

    /// Starts an ingest job for `uploads` and returns it at once; the files are indexed in the
    /// background, one at a time, each completely or not at all.
    pub fn ingest(&self, uploads: Vec<Upload>) -> Job {
        let job = self.inner.jobs.create(uploads.len());
        let (me, id) = (self.clone(), job.id.clone());
        tokio::spawn(async move { me.run_ingest(&id, uploads, |_| {}).await });
        job
    }

    /// Indexes `uploads` now, calling `on_file` after each (the CLI's progress bar).
    pub async fn ingest_now(&self, uploads: Vec<Upload>, on_file: impl FnMut(&FileReport)) -> Job {
        let job = self.inner.jobs.create(uploads.len());
        self.run_ingest(&job.id, uploads, on_file).await;
        self.inner.jobs.get(&job.id).unwrap_or(job)
    }

    async fn run_ingest(&self, id: &str, uploads: Vec<Upload>, mut on_file: impl FnMut(&FileReport)) {
        let inner = &self.inner;
        let _one_at_a_time = inner.registry.ingest_lock.lock().await;
        inner.jobs.running(id);
        let mut batch: Vec<docs::Prepared> = Vec::new();
        let mut seen = std::collections::BTreeMap::new();
        let done = |report: FileReport, on_file: &mut dyn FnMut(&FileReport)| {
            let outcome = match &report {
                FileReport::Indexed { .. } => "indexed",
                FileReport::AlreadyIndexed { .. } => "already_indexed",
                FileReport::Skipped { .. } => "skipped",
            };
            metrics::counter!("rag_ingested_files_total", "outcome" => outcome).increment(1);
            on_file(&report);
            inner.jobs.file_done(id, report);
        };
        let mut uploads = uploads.into_iter().peekable();
        while let Some(upload) = uploads.next() {
            match inner.registry.prepare(&inner.chunker, &inner.limits, upload, &seen).await {
                Ok(p) => {
                    seen.insert(p.info.doc_id.to_string(), p.info.source.clone());
                    batch.push(p);
                }
                Err(report) => done(report, &mut on_file),
            }
            let chunks: usize = batch.iter().map(|p| p.chunks.len()).sum();
            if chunks >= BATCH_CHUNKS || (uploads.peek().is_none() && !batch.is_empty()) {
                for report in inner.registry.commit(&inner.retriever, std::mem::take(&mut batch)).await {
                    done(report, &mut on_file);
                }
            }
        }
        if let Err(e) = inner.retriever.index().optimize().await {
            tracing::warn!(error = %e, "index optimisation after ingest failed; searches stay correct, maybe slower");
        }
        inner.jobs.finish(id);
    }

    /// Removes a document from the index and the registry, and every cached answer citing it.
    pub async fn delete(&self, doc_id: &str) -> Result<DocumentInfo, RagError> {
        let inner = &self.inner;
        let _one_at_a_time = inner.registry.ingest_lock.lock().await;
        let info = inner.registry.get(doc_id).ok_or_else(|| RagError::UnknownDocument(doc_id.to_owned()))?;
        inner.retriever.index().delete(&docs::doc_filter(&info.doc_id)).await?;
        inner.registry.record_delete(&info.doc_id)?;
        if let Some(cache) = &inner.cache
            && let Err(e) = cache.invalidate_documents(&[info.doc_id.to_string()]).await
        {
            // The answers citing it could not be removed: move the corpus version instead, so
            // no cached answer of the old corpus is served again.
            tracing::warn!(error = %e, "cache invalidation failed; bumping the corpus version");
            inner.registry.bump()?;
        }
        Ok(info)
    }

    /// Ready when the index answers and, if configured, the cache store does.
    pub async fn ready(&self) -> Result<(), String> {
        self.inner.retriever.index().count(None).await.map_err(|e| format!("index: {e}"))?;
        if let Some(cache) = &self.inner.cache {
            cache.store().ping().await.map_err(|e| format!("cache store: {e}"))?;
        }
        Ok(())
    }
}
