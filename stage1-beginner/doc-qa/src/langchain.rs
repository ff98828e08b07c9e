//! The same ingestion built with langchain-rust (feature `langchain`): its `LoPdfLoader` reads
//! pages, its `TokenSplitter` (cl100k_base, 500 tokens, 50 overlap) cuts each page, and the
//! chunks go to the same index. The roadmap starts beginners on LangChain; `doc-qa eval
//! --pipeline langchain` measures what that choice costs (see ADR 0009).

use crate::library::Loaded;
use futures::StreamExt;
use genai_core::{Chunk, ChunkId, DocId, PAGE_SEPARATOR, PageRange, SourceKind};
use langchain_rust::document_loaders::{Loader, lo_loader::LoPdfLoader};
use langchain_rust::text_splitter::{SplitterOptions, TextSplitter, TokenSplitter};

/// Loads and chunks a PDF the langchain-rust way; `Err` is a reason for the user.
pub(crate) async fn load_and_chunk(name: &str, bytes: &[u8], tokens: usize, overlap: usize) -> Result<Loaded, String> {
    if !bytes.starts_with(b"%PDF-") {
        return Err("the langchain pipeline reads PDFs only".into());
    }
    let loader = LoPdfLoader::new(std::io::Cursor::new(bytes.to_vec()))
        .map_err(|e| format!("langchain-rust could not open the PDF: {e}"))?;
    let mut stream = loader.load().await.map_err(|e| format!("langchain-rust could not read the PDF: {e}"))?;
    let mut pages = Vec::new();
    while let Some(page) = stream.next().await {
        pages.push(page.map_err(|e| format!("langchain-rust could not read a page: {e}"))?.page_content);
    }
    let splitter = TokenSplitter::new(
        SplitterOptions::new()
            .with_chunk_size(tokens)
            .with_chunk_overlap(overlap)
            .with_encoding_name("cl100k_base")
            .with_trim_chunks(true),
    );
    let id = DocId::from_content(bytes);
    let tag = format!("langchain:{tokens}:{overlap}");
    let mut chunks = Vec::new();
    let mut page_start = 0usize;
    for (i, page) in pages.iter().enumerate() {
        let pieces = splitter
            .split_text(page)
            .await
            .map_err(|e| format!("langchain-rust could not split page {}: {e}", i + 1))?;
        let mut cursor = 0usize;
        for text in pieces.into_iter().filter(|t| !t.trim().is_empty()) {
            // TokenSplitter returns strings, not offsets: find each piece in its page.
            let at = page[cursor..].find(&text).map_or(cursor, |p| cursor + p);
            cursor = at;
            let start = page_start + page[..at].chars().count();
            let ordinal = chunks.len();
            chunks.push(Chunk {
                id: ChunkId::derive(&id, &tag, ordinal),
                doc_id: id.clone(),
                source: name.to_owned(),
                ordinal: ordinal as u32,
                pages: PageRange::single(i as u32 + 1),
                char_span: start..start + text.chars().count(),
                token_count: genai_ingest::count_tokens(&text) as u32,
                text,
            });
        }
        page_start += page.chars().count() + PAGE_SEPARATOR.chars().count();
    }
    if chunks.is_empty() {
        return Err("no extractable text in this PDF (langchain-rust found none)".into());
    }
    Ok(Loaded { kind: SourceKind::Pdf, title: None, pages: pages.len(), chunks })
}
