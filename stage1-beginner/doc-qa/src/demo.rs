//! The demo corpus the showcase ingests on first start: the project's book chapters as Markdown
//! and its decision records as PDFs rendered here — so a fresh `cargo run --release` can answer
//! "Why does the index use tantivy?" with a cited page. (Ingesting an ADR in both forms would
//! only show the near-duplicate filter at work.)

use crate::render::PdfWriter;
use crate::{DocQa, FileReport};

include!(concat!(env!("OUT_DIR"), "/demo_files.rs"));

/// The demo files: book chapters as Markdown, ADRs rendered to PDF.
pub fn demo_files() -> Vec<(String, Vec<u8>)> {
    let writer = PdfWriter::new();
    let mut files: Vec<(String, Vec<u8>)> = DEMO_FILES
        .iter()
        .filter(|(n, _)| !n.starts_with("adr/"))
        .map(|(name, text)| ((*name).to_owned(), text.as_bytes().to_vec()))
        .collect();
    for (name, text) in DEMO_FILES.iter().filter(|(n, _)| n.starts_with("adr/") && !n.contains("0000-template")) {
        let title = text.lines().next().unwrap_or(name).trim_start_matches('#').trim();
        let paragraphs: Vec<String> =
            text.split("\n\n").skip(1).map(|p| p.replace('\n', " ")).filter(|p| !p.trim().is_empty()).collect();
        files.push((name.replace(".md", ".pdf"), writer.render(title, &paragraphs)));
    }
    files
}

/// Ingests the demo corpus when the library is empty; returns the reports (empty if skipped).
pub async fn ingest_if_empty(qa: &DocQa) -> Vec<FileReport> {
    if !qa.documents().is_empty() {
        return Vec::new();
    }
    let files = demo_files();
    tracing::info!(files = files.len(), "first start: ingesting the demo corpus (the project's ADRs and book)");
    qa.ingest(files, |_| {}).await
}
