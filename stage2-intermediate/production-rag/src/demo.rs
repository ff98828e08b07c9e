//! The demo corpus the showcase ingests on first start: document Q&A's (the project's book
//! chapters as Markdown, its decision records rendered to PDF), with the category `book` or
//! `decision`, so the page's filters have something to filter.

use crate::{Job, Rag, Upload};

/// Ingests the demo corpus when nothing is indexed; `None` if something was.
pub async fn ingest_if_empty(rag: &Rag) -> Option<Job> {
    if !rag.documents().is_empty() {
        return None;
    }
    let uploads: Vec<Upload> = doc_qa::demo::demo_files()
        .into_iter()
        .map(|(name, bytes)| {
            let category = if name.starts_with("adr/") { "decision" } else { "book" };
            Upload { name, bytes, category: Some(category.into()), date: None }
        })
        .collect();
    tracing::info!(files = uploads.len(), "first start: ingesting the demo corpus (the project's book and ADRs)");
    Some(rag.ingest_now(uploads, |_| {}).await)
}
