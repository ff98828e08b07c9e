//! From files to chunks: sniff the type from the bytes, extract text page by page, normalise it,
//! split it into token-bounded chunks that remember where they came from, drop near-duplicates.
//!
//! ```text
//! bytes ──detect──▶ SourceKind ──load_*──▶ pages ──normalize──▶ Document ──Chunker──▶ Vec<Chunk>
//!                                                                              └─dedup─▶ kept + dropped count
//! ```
//!
//! Every failure is a typed [`IngestError`]; [`load_many`] turns a batch of paths into one result
//! per file, so a corrupt file never takes its neighbours down.

mod chunk;
mod dedup;
mod detect;
mod error;
mod html;
mod markdown;
mod normalize;
mod pdf;
mod sentences;

pub use chunk::{ChunkConfig, Chunker, count_tokens};
pub use dedup::{DedupReport, NearDuplicates};
pub use detect::detect;
pub use error::IngestError;
pub use normalize::normalize_page;
pub use sentences::sentence_spans;

use genai_core::{DocId, Document, Page, SourceKind};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Limits applied while loading. Defaults: 50 MiB per file, 2,000 pages, 60 s of PDF extraction.
#[derive(Debug, Clone)]
pub struct LoadLimits {
    pub max_bytes: u64,
    pub max_pages: usize,
    /// PDF text extraction runs on its own thread and is abandoned after this long.
    pub pdf_timeout: Duration,
}

impl Default for LoadLimits {
    fn default() -> Self {
        Self { max_bytes: 50 * 1024 * 1024, max_pages: 2_000, pdf_timeout: Duration::from_secs(60) }
    }
}

/// Loads one document from its bytes. `source` is the name shown in citations.
pub fn load_bytes(bytes: &[u8], source: &str, limits: &LoadLimits) -> Result<Document, IngestError> {
    if bytes.len() as u64 > limits.max_bytes {
        return Err(IngestError::TooLarge { size: bytes.len() as u64, limit: limits.max_bytes });
    }
    let kind = detect(bytes)?;
    let (title, raw_pages) = match kind {
        SourceKind::Pdf => pdf::extract(bytes, limits)?,
        SourceKind::Html => html::extract(&detect::decode_text(bytes)?),
        SourceKind::Markdown => markdown::extract(&detect::decode_text(bytes)?),
        SourceKind::Text => (None, vec![detect::decode_text(bytes)?]),
    };
    let mut pages: Vec<Page> = raw_pages
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let text = normalize_page(text);
            let text = if kind == SourceKind::Pdf { normalize::reflow_pdf(&text) } else { text };
            Page { number: i as u32 + 1, text }
        })
        .collect();
    normalize::strip_running_lines(&mut pages);
    if pages.iter().all(|p| p.text.trim().is_empty()) {
        return Err(IngestError::NoText { kind, pages: pages.len() });
    }
    Ok(Document {
        id: DocId::from_content(bytes),
        source: source.to_owned(),
        kind,
        title: title.map(|t| normalize_page(&t)).filter(|t| !t.is_empty()),
        pages,
    })
}

/// Loads one file. The size limit is checked before the file is read.
pub fn load_path(path: &Path, limits: &LoadLimits) -> Result<Document, IngestError> {
    let io = |source| IngestError::Io { path: path.to_owned(), source };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > limits.max_bytes {
        return Err(IngestError::TooLarge { size, limit: limits.max_bytes });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    load_bytes(&bytes, &path.display().to_string(), limits)
}

/// Expands files and folders (recursively, sorted, hidden entries skipped) into file paths.
pub fn collect_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, IngestError> {
    let mut out = Vec::new();
    for input in inputs {
        walk(input, &mut out)?;
    }
    Ok(out)
}

fn walk(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), IngestError> {
    let io = |source| IngestError::Io { path: path.to_owned(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_file() {
        out.push(path.to_owned());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(path).map_err(io)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for entry in entries {
        let hidden = entry.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        if !hidden {
            walk(&entry, out)?;
        }
    }
    Ok(())
}

/// Loads every file independently: one result per path, in order. A failure is reported for its
/// file only.
pub fn load_many(paths: &[PathBuf], limits: &LoadLimits) -> Vec<(PathBuf, Result<Document, IngestError>)> {
    paths.iter().map(|p| (p.clone(), load_path(p, limits))).collect()
}
