//! PDF text, one string per page, with pdf-extract (ADR 0006 records why not lopdf's own).

use crate::{IngestError, LoadLimits};
use pdf_extract::{Document as PdfDoc, Object, OutputError, PlainTextOutput};
use std::sync::mpsc;

type Extracted = (Option<String>, Vec<String>);

/// Extracts `(title, pages)`. Runs on a separate thread so a pathological file can be abandoned
/// after `limits.pdf_timeout`, and under `catch_unwind` because the parser panics on some
/// malformed inputs.
///
/// Production note: an abandoned extraction thread keeps running until it finishes; a service
/// exposed to hostile uploads should extract in a child process it can kill.
pub(crate) fn extract(bytes: &[u8], limits: &LoadLimits) -> Result<Extracted, IngestError> {
    let (tx, rx) = mpsc::channel();
    let owned = bytes.to_vec();
    let max_pages = limits.max_pages;
    std::thread::Builder::new()
        .name("pdf-extract".into())
        .spawn(move || {
            let result = std::panic::catch_unwind(|| extract_blocking(&owned, max_pages))
                .unwrap_or_else(|_| Err(corrupt(Panicked)));
            let _ = tx.send(result);
        })
        .map_err(|source| IngestError::Io { path: "<pdf-extract thread>".into(), source })?;
    rx.recv_timeout(limits.pdf_timeout).unwrap_or(Err(IngestError::Timeout { seconds: limits.pdf_timeout.as_secs() }))
}

fn extract_blocking(bytes: &[u8], max_pages: usize) -> Result<Extracted, IngestError> {
    let mut doc = PdfDoc::load_mem(bytes).map_err(|e| classify(OutputError::PdfError(e)))?;
    if doc.is_encrypted() {
        // Many "encrypted" PDFs only restrict printing and open with the empty user password.
        doc.decrypt("").map_err(|_| IngestError::Encrypted)?;
    }
    let pages = doc.get_pages();
    if pages.len() > max_pages {
        return Err(IngestError::TooManyPages { pages: pages.len(), limit: max_pages });
    }
    let mut texts = Vec::with_capacity(pages.len());
    for &number in pages.keys() {
        let mut text = String::new();
        let mut out = PlainTextOutput::new(&mut text);
        // One broken page (a bad font, a missing object) costs that page, not the document.
        match pdf_extract::output_doc_page(&doc, &mut out, number) {
            Ok(()) => texts.push(text),
            Err(e) => {
                tracing::warn!(page = number, error = %e, "page text extraction failed; page kept empty");
                texts.push(String::new());
            }
        }
    }
    Ok((title(&doc), texts))
}

fn title(doc: &PdfDoc) -> Option<String> {
    let info = doc.trailer.get(b"Info").ok()?;
    let info = match info {
        Object::Reference(id) => doc.get_dictionary(*id).ok()?,
        Object::Dictionary(d) => d,
        _ => return None,
    };
    match info.get(b"Title").ok()? {
        Object::String(bytes, _) => Some(pdf_string(bytes)),
        _ => None,
    }
}

/// PDF text strings are UTF-16BE with a BOM or PDFDocEncoding (Latin-1 for our purposes).
fn pdf_string(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        let units: Vec<u16> = rest.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
        String::from_utf16_lossy(&units)
    } else {
        bytes.iter().map(|&b| b as char).collect()
    }
}

fn classify(e: OutputError) -> IngestError {
    match e {
        OutputError::PdfError(pdf_extract::Error::Decryption(_) | pdf_extract::Error::InvalidPassword) => {
            IngestError::Encrypted
        }
        other => corrupt(other),
    }
}

fn corrupt(e: impl std::error::Error + Send + Sync + 'static) -> IngestError {
    IngestError::CorruptPdf { source: Box::new(e) }
}

#[derive(Debug, thiserror::Error)]
#[error("the PDF parser crashed on this file")]
struct Panicked;
