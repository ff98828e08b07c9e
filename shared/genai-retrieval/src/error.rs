use genai_core::{Classify, ErrorClass};
use std::path::PathBuf;

/// Why an index operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(
        "index at {location} was built with embedder {stored_model} ({stored_dim} dims), not {requested_model} \
         ({requested_dim} dims); vectors from different models cannot be mixed: re-index or pick the same embedder"
    )]
    EmbedderMismatch {
        location: String,
        stored_model: String,
        stored_dim: usize,
        requested_model: String,
        requested_dim: usize,
    },
    #[error("vector has {got} dimensions, the index expects {expected}")]
    WrongDimension { expected: usize, got: usize },
    #[error("unsupported filter: {reason}")]
    UnsupportedFilter { reason: String },
    #[error("invalid search request: {reason}")]
    InvalidRequest { reason: &'static str },
    #[error("embedding failed")]
    Embed(#[from] genai_embed::EmbedError),
    #[error("embedded vector store failed")]
    Qdrant {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("keyword index failed")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("Qdrant server at {url}: {message}")]
    Server {
        url: String,
        /// Whether to retry, fix the request, or fix the credentials.
        failure: crate::ServerFailure,
        /// What the server said.
        message: String,
        #[source]
        source: Box<qdrant_client::QdrantError>,
    },
    #[error("promoting tenant {tenant} to its own shard did not finish in {waited:?}; call again to keep waiting")]
    PromotionTimeout { tenant: String, waited: std::time::Duration },
    #[error("stored point {id} has a malformed payload: {reason}")]
    CorruptPayload { id: u64, reason: String },
    #[error("index folder {path} is unusable")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("index worker thread failed")]
    Join(#[from] tokio::task::JoinError),
}

impl IndexError {
    pub(crate) fn qdrant(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Qdrant { source: Box::new(e) }
    }
}

impl Classify for IndexError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::UnsupportedFilter { .. } | Self::InvalidRequest { .. } | Self::WrongDimension { .. } => {
                ErrorClass::InvalidInput
            }
            Self::Embed(e) => e.class(),
            Self::Server { failure: crate::ServerFailure::Unavailable, .. } | Self::PromotionTimeout { .. } => {
                ErrorClass::Retryable
            }
            _ => ErrorClass::Permanent,
        }
    }
}
