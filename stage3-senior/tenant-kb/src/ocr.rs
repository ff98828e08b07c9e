//! Text out of PDFs, scanned ones included. pdf-extract (through genai-ingest) reads each page's
//! text layer; a page without one is a scan, so the images it draws are handed to Tesseract
//! (Debian's `tesseract-ocr`, run as a child process with a time limit) and its text is used.
//!
//! Images are passed to Tesseract as the files it reads natively: JPEG streams (`DCTDecode`, what
//! scanners write) as they are, 8-bit grey or RGB and 1-bit images (Flate or uncompressed) as
//! PGM/PPM/PBM written here.
//!
//! Production note: CCITT fax and JBIG2 images (some office scanners) are not decoded and such a
//! page fails with a clear error; a PDF rasteriser (pdftoppm) would cover every kind at the cost
//! of one more system dependency. The PDF's page numbers are not kept in citations: the pages are
//! joined into the document's text.

use crate::KbError;
use pdf_extract::{Document as Pdf, Object, ObjectId};
use std::path::Path;
use std::time::Duration;

/// Pages OCR'd per document at most: a 500-page scan is a batch job for a dedicated pipeline.
const MAX_OCR_PAGES: usize = 50;
/// A page whose text layer has fewer visible characters than this is treated as a scan.
const MIN_PAGE_CHARS: usize = 8;

/// How scans are read: the Tesseract command, or none (a scan is then refused).
#[derive(Debug, Clone)]
pub struct Ocr {
    pub command: Option<String>,
    pub timeout: Duration,
}

/// A PDF's text and how it was obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct PdfText {
    pub text: String,
    pub pages: usize,
    /// Pages whose text came from OCR.
    pub ocr_pages: usize,
}

/// The text of `bytes` (a PDF), OCR'ing the pages that have no text layer. `at` is the request
/// field errors point at.
pub async fn pdf_text(bytes: Vec<u8>, ocr: &Ocr, at: &str) -> Result<PdfText, KbError> {
    let limits = genai_ingest::LoadLimits::default();
    let layer = match genai_ingest::load_bytes(&bytes, "upload.pdf", &limits) {
        Ok(doc) => Some(doc),
        Err(genai_ingest::IngestError::NoText { .. }) => None,
        Err(e) => return Err(KbError::invalid("unreadable_pdf", e.to_string(), at)),
    };
    let parsed = {
        let bytes = bytes.clone();
        tokio::task::spawn_blocking(move || scans(&bytes, layer))
            .await
            .map_err(|e| KbError::invalid("unreadable_pdf", format!("the PDF parser failed: {e}"), at))?
            .map_err(|e| KbError::invalid("unreadable_pdf", e, at))?
    };
    let pages = parsed.len();
    let needs_ocr = parsed.iter().filter(|p| p.images.is_some()).count();
    if needs_ocr > MAX_OCR_PAGES {
        let msg = format!("{needs_ocr} pages have no text layer; at most {MAX_OCR_PAGES} are OCR'd per document");
        return Err(KbError::invalid("too_many_scanned_pages", msg, at));
    }
    let mut texts = Vec::with_capacity(pages);
    for (i, page) in parsed.into_iter().enumerate() {
        match page.images {
            None => texts.push(page.text),
            Some(images) => {
                let Some(command) = &ocr.command else {
                    let msg = format!("page {} has no text layer and OCR is off (set ocr_command)", i + 1);
                    return Err(KbError::invalid("scanned_pdf", msg, at));
                };
                if images.is_empty() {
                    texts.push(String::new());
                    continue;
                }
                let mut page_text = String::new();
                for image in images {
                    let image =
                        image.map_err(|e| KbError::invalid("unreadable_scan", format!("page {}: {e}", i + 1), at))?;
                    page_text.push_str(&tesseract(command, &image, ocr.timeout, at).await?);
                    page_text.push('\n');
                }
                texts.push(page_text);
            }
        }
    }
    let text = texts.join("\n\n");
    if text.trim().is_empty() {
        return Err(KbError::invalid("no_text", "no text in the PDF, even by OCR", at));
    }
    Ok(PdfText { text, pages, ocr_pages: needs_ocr })
}

struct Page {
    text: String,
    /// `Some` when the page needs OCR: its images, each ready for Tesseract or why not.
    images: Option<Vec<Result<Image, String>>>,
}

/// An image file for Tesseract: its bytes and the file extension that says the format.
pub(crate) struct Image {
    bytes: Vec<u8>,
    ext: &'static str,
}

fn scans(bytes: &[u8], layer: Option<genai_core::Document>) -> Result<Vec<Page>, String> {
    let pdf = Pdf::load_mem(bytes).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (i, (_, page_id)) in pdf.get_pages().into_iter().enumerate() {
        let text = layer.as_ref().and_then(|d| d.pages.get(i)).map(|p| p.text.clone()).unwrap_or_default();
        let visible = text.chars().filter(|c| !c.is_whitespace()).count();
        let images = (visible < MIN_PAGE_CHARS).then(|| {
            pdf.get_page_images(page_id)
                .map(|imgs| imgs.iter().map(|img| image_file(&pdf, img.id)).collect())
                .unwrap_or_default()
        });
        out.push(Page { text, images });
    }
    Ok(out)
}

/// The image object `id` as a file Tesseract reads.
pub(crate) fn image_file(pdf: &Pdf, id: ObjectId) -> Result<Image, String> {
    let stream = pdf.get_object(id).and_then(Object::as_stream).map_err(|e| e.to_string())?;
    let dict = &stream.dict;
    let int = |k: &[u8]| dict.get(k).and_then(Object::as_i64).ok();
    let name = |k: &[u8]| dict.get(k).and_then(Object::as_name).ok().map(|n| String::from_utf8_lossy(n).into_owned());
    let filters: Vec<String> = match dict.get(b"Filter") {
        Ok(Object::Name(n)) => vec![String::from_utf8_lossy(n).into_owned()],
        Ok(Object::Array(a)) => {
            a.iter().filter_map(|o| o.as_name().ok()).map(|n| String::from_utf8_lossy(n).into_owned()).collect()
        }
        _ => Vec::new(),
    };
    if filters.iter().any(|f| f == "DCTDecode") {
        return Ok(Image { bytes: stream.content.clone(), ext: "jpg" });
    }
    if let Some(f) = filters.iter().find(|f| *f != "FlateDecode") {
        return Err(format!("images encoded with {f} are not supported for OCR"));
    }
    let (w, h) = (int(b"Width").unwrap_or(0) as usize, int(b"Height").unwrap_or(0) as usize);
    let bpc = int(b"BitsPerComponent").unwrap_or(8);
    if w == 0 || h == 0 || w > 20_000 || h > 20_000 {
        return Err(format!("image size {w}x{h} is not usable"));
    }
    let raw = if filters.is_empty() {
        stream.content.clone()
    } else {
        stream.decompressed_content().map_err(|e| e.to_string())?
    };
    let space = name(b"ColorSpace").unwrap_or_else(|| "DeviceGray".into());
    let (magic, ext, row_bytes) = match (space.as_str(), bpc) {
        ("DeviceGray", 8) => ("P5", "pgm", w),
        ("DeviceRGB", 8) => ("P6", "ppm", w * 3),
        ("DeviceGray", 1) => ("P4", "pbm", w.div_ceil(8)),
        (s, b) => return Err(format!("{s} images with {b} bits per component are not supported for OCR")),
    };
    if raw.len() < row_bytes * h {
        return Err(format!("image data is {} bytes, {}x{} needs {}", raw.len(), w, h, row_bytes * h));
    }
    let mut pixels = raw[..row_bytes * h].to_vec();
    if magic == "P4" {
        // PDF grey: 1 is white; PBM: 1 is black.
        pixels.iter_mut().for_each(|b| *b = !*b);
    }
    let mut bytes =
        if magic == "P4" { format!("{magic}\n{w} {h}\n") } else { format!("{magic}\n{w} {h}\n255\n") }.into_bytes();
    bytes.extend_from_slice(&pixels);
    Ok(Image { bytes, ext })
}

/// Runs Tesseract on one image; its text. A command that cannot be started is the server's
/// problem (503, retried); an image it refuses is the document's (422).
async fn tesseract(command: &str, image: &Image, timeout: Duration, at: &str) -> Result<String, KbError> {
    let unavailable = |detail: String| KbError::Unavailable { what: "ocr", detail };
    let dir = tempfile::tempdir().map_err(|e| unavailable(e.to_string()))?;
    let path = dir.path().join(format!("page.{}", image.ext));
    tokio::fs::write(&path, &image.bytes).await.map_err(|e| unavailable(e.to_string()))?;
    let mut cmd = tokio::process::Command::new(command);
    // Tesseract's OpenMP threads spin-wait for each other: on this project's 2-core machine one
    // thread per process OCR'd 7.7 times as many pages per second (bench --scans). An
    // operator's own OMP_THREAD_LIMIT wins.
    if std::env::var_os("OMP_THREAD_LIMIT").is_none() {
        cmd.env("OMP_THREAD_LIMIT", "1");
    }
    let run = cmd.arg(Path::new(&path)).arg("stdout").stdin(std::process::Stdio::null()).kill_on_drop(true).output();
    let output = tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| unavailable(format!("{command} took over {} s", timeout.as_secs())))?
        .map_err(|e| unavailable(format!("cannot run {command:?} (install tesseract-ocr or set ocr_command): {e}")))?;
    if !output.status.success() {
        // The command ran and refused the image: retrying will not help.
        let err = String::from_utf8_lossy(&output.stderr);
        return Err(KbError::invalid("unreadable_scan", format!("{command} failed: {}", err.trim()), at));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
