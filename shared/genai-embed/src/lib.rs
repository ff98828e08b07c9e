//! Text embeddings behind one trait.
//!
//! | embedder | needs | quality | speed |
//! |---|---|---|---|
//! | [`HashingEmbedder`] | nothing | lexical only | ~10^5 passages/s |
//! | `MiniLmEmbedder` (feature `minilm`) | the all-MiniLM-L6-v2 files in a local folder | semantic | ~10^1–10^2 passages/s |
//! | [`RemoteEmbedder`] | an OpenAI-compatible `/embeddings` endpoint | the server's model | network-bound |
//!
//! Vectors from different embedders live in different spaces. Nothing here falls back from one
//! to another: every vector's space is named by [`Embedder::model_id`], and indexes refuse to mix.

mod cache;
mod error;
mod hashing;
#[cfg(feature = "minilm")]
mod minilm;
mod remote;

pub use cache::CachedEmbedder;
pub use error::EmbedError;
pub use hashing::HashingEmbedder;
#[cfg(feature = "minilm")]
pub use minilm::{MINILM_SAFETENSORS_SHA256, MiniLmConfig, MiniLmEmbedder, measure_gemm_gflops, resolve_model_dir};
pub use remote::{RemoteConfig, RemoteEmbedder};

use async_trait::async_trait;

/// Turns texts into L2-normalised vectors of a fixed dimension.
#[async_trait]
pub trait Embedder: Send + Sync + std::fmt::Debug {
    /// Names the vector space, e.g. `hashing-v1-384` or `all-MiniLM-L6-v2@53aa5117:256`.
    /// Stored beside every index; two embedders with the same id must produce the same vectors.
    fn model_id(&self) -> &str;

    /// Length of every vector.
    fn dim(&self) -> usize;

    /// One unit-length vector per text, in input order.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;

    /// Embeds a search query. Symmetric models (all three here) embed it like a passage.
    async fn embed_query(&self, query: &str) -> Result<Vec<f32>, EmbedError> {
        let mut v = self.embed(&[query.to_owned()]).await?;
        v.pop().ok_or(EmbedError::WrongCount { expected: 1, got: 0 })
    }
}

/// Scales `v` to unit length in place. A zero vector stays zero.
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Which embedder to build, as chosen on a command line or in a config file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum EmbedderSpec {
    /// The zero-setup default.
    Hashing { dim: usize },
    /// all-MiniLM-L6-v2; `dir` overrides the search order of [`resolve_model_dir`].
    #[cfg(feature = "minilm")]
    Minilm { dir: Option<std::path::PathBuf>, threads: Option<usize> },
    /// An OpenAI-compatible server.
    Remote(RemoteConfig),
}

impl Default for EmbedderSpec {
    fn default() -> Self {
        Self::Hashing { dim: HashingEmbedder::DEFAULT_DIM }
    }
}

/// Builds the embedder a spec names. Fails (never falls back) when it cannot.
pub fn build(spec: &EmbedderSpec) -> Result<std::sync::Arc<dyn Embedder>, EmbedError> {
    Ok(match spec {
        EmbedderSpec::Hashing { dim } => std::sync::Arc::new(HashingEmbedder::new(*dim)),
        #[cfg(feature = "minilm")]
        EmbedderSpec::Minilm { dir, threads } => {
            let dir = resolve_model_dir(dir.as_deref())?;
            let mut config = MiniLmConfig::default();
            if let Some(t) = threads {
                config.threads = *t;
            }
            std::sync::Arc::new(MiniLmEmbedder::load(&dir, config)?)
        }
        EmbedderSpec::Remote(config) => std::sync::Arc::new(RemoteEmbedder::new(config.clone())?),
    })
}
