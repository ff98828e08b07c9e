use genai_core::{Classify, ErrorClass, SourceKind};
use std::path::PathBuf;

/// Why a document could not be loaded. Messages are written for the person who uploaded it.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("file is {size} bytes, above the limit of {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("file is empty")]
    Empty,
    #[error(
        "unsupported file type: the content looks like {detected}; supported are PDF, Markdown, HTML and plain text"
    )]
    Unsupported { detected: &'static str },
    #[error("text is not valid UTF-8 or UTF-16 (byte {offset}); save it as UTF-8")]
    InvalidEncoding { offset: usize },
    #[error("PDF is encrypted and needs a password; upload a decrypted copy")]
    Encrypted,
    #[error("PDF is corrupt or unreadable")]
    CorruptPdf {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("PDF has {pages} pages, above the limit of {limit}")]
    TooManyPages { pages: usize, limit: usize },
    #[error("PDF text extraction took longer than {seconds} s")]
    Timeout { seconds: u64 },
    #[error("no extractable text in this {kind} ({pages} page(s)); a scanned PDF needs OCR first")]
    NoText { kind: SourceKind, pages: usize },
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid chunking settings: overlap {overlap} must be smaller than chunk size {size}")]
    InvalidChunkConfig { size: usize, overlap: usize },
}

impl Classify for IngestError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Io { .. } => ErrorClass::Retryable,
            Self::TooLarge { .. } | Self::TooManyPages { .. } | Self::Timeout { .. } => ErrorClass::Budget,
            Self::InvalidChunkConfig { .. } => ErrorClass::Permanent,
            _ => ErrorClass::InvalidInput,
        }
    }
}
