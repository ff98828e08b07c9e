//! Type detection from content. File names lie (a `.pdf` that is a ZIP, a `.txt` that is HTML);
//! the bytes do not.

use crate::IngestError;
use genai_core::SourceKind;
use regex::Regex;
use std::sync::LazyLock;

/// Binary formats we recognise only to name them in the error message.
const BINARY_MAGIC: &[(&[u8], &str)] = &[
    (b"PK\x03\x04", "a ZIP archive (or DOCX/XLSX/EPUB)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xFF\xD8\xFF", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1F\x8B", "a gzip archive"),
    (b"\xD0\xCF\x11\xE0", "a legacy Office document"),
    (b"\x7FELF", "an executable"),
    (b"MZ", "an executable"),
    (b"{\\rtf", "an RTF document"),
    (b"%!PS", "a PostScript file"),
    (b"SQLite format 3", "a SQLite database"),
];

/// Detects the format from the bytes. Empty input and recognised binaries are errors.
pub fn detect(bytes: &[u8]) -> Result<SourceKind, IngestError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::Empty);
    }
    if looks_like_pdf(bytes) {
        return Ok(SourceKind::Pdf);
    }
    if let Some((_, name)) = BINARY_MAGIC.iter().find(|(magic, _)| bytes.starts_with(magic)) {
        return Err(IngestError::Unsupported { detected: name });
    }
    let text = decode_text(bytes)?;
    if looks_like_html(&text) {
        Ok(SourceKind::Html)
    } else if looks_like_markdown(&text) {
        Ok(SourceKind::Markdown)
    } else {
        Ok(SourceKind::Text)
    }
}

/// A PDF starts with `%PDF-`; readers also accept the header after some junk within the first
/// KiB, but then we also want the body's markers, so a text that merely mentions "%PDF-" (this
/// project's own docs do) stays text.
fn looks_like_pdf(bytes: &[u8]) -> bool {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(0);
    if bytes[start..].starts_with(b"%PDF-") {
        return true;
    }
    let head = &bytes[..bytes.len().min(1024)];
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    head.windows(5).any(|w| w == b"%PDF-") && contains(b"endobj") && contains(b"%%EOF")
}

/// Decodes text: UTF-8 (BOM optional) or UTF-16 with a BOM. NUL bytes mean binary.
pub(crate) fn decode_text(bytes: &[u8]) -> Result<String, IngestError> {
    let utf16 = |le: bool| {
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| if le { u16::from_le_bytes([c[0], c[1]]) } else { u16::from_be_bytes([c[0], c[1]]) })
            .collect();
        String::from_utf16(&units).map_err(|_| IngestError::InvalidEncoding { offset: 0 })
    };
    let text = match bytes {
        [0xFF, 0xFE, ..] => utf16(true)?,
        [0xFE, 0xFF, ..] => utf16(false)?,
        _ => {
            let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            match std::str::from_utf8(body) {
                Ok(s) => s.to_owned(),
                Err(e) => return Err(IngestError::InvalidEncoding { offset: e.valid_up_to() }),
            }
        }
    };
    if text.contains('\0') {
        return Err(IngestError::Unsupported { detected: "binary data" });
    }
    Ok(text)
}

fn looks_like_html(text: &str) -> bool {
    static TAG: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]").expect("valid regex"));
    let head: String = text.chars().take(4096).collect();
    TAG.is_match(&head)
}

fn looks_like_markdown(text: &str) -> bool {
    static FEATURES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
        [
            r"(?m)^#{1,6}\s+\S",                   // ATX heading
            r"(?m)^\s{0,3}([-*+]|\d{1,3}\.)\s+\S", // list item
            r"\[[^\]\n]+\]\([^)\s]+\)",            // inline link
            r"(?m)^```",                           // code fence
            r"(?m)^>\s",                           // block quote
            r"(?m)^\|?.*\|\s*:?-{3,}",             // table rule
            r"(\*\*|__)\S[^*\n]*\S(\*\*|__)",      // strong emphasis
        ]
        .iter()
        .map(|p| Regex::new(p).expect("valid regex"))
        .collect()
    });
    static HEADING: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?m)^#{1,6}\s+\S").expect("valid regex"));
    let head: String = text.chars().take(16 * 1024).collect();
    // Two distinct features, or several headings: one feature alone (a numbered list, a single
    // "# " line) appears in plain text too, but a text structured by "#" headings is Markdown.
    FEATURES.iter().filter(|re| re.is_match(&head)).count() >= 2 || HEADING.find_iter(&head).count() >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_content_not_name() {
        assert_eq!(detect(b"%PDF-1.7\n...").unwrap(), SourceKind::Pdf);
        assert_eq!(detect(b"junk\n%PDF-1.4\n1 0 obj endobj\n%%EOF").unwrap(), SourceKind::Pdf);
        assert_eq!(
            detect(b"Files starting with `%PDF-` are PDFs.").unwrap(),
            SourceKind::Text,
            "a mention is not a header"
        );
        assert_eq!(detect(b"  <!DOCTYPE html><html><body>x</body></html>").unwrap(), SourceKind::Html);
        assert_eq!(detect(b"# Title\n\nSome *text* with a [link](http://x.y).\n").unwrap(), SourceKind::Markdown);
        assert_eq!(detect(b"Just a plain note.\n1. but one numbered line").unwrap(), SourceKind::Text);
        assert_eq!(detect(b"# Handbook\n\n## Pumps\n\nInspect them.").unwrap(), SourceKind::Markdown, "headings alone");
        assert!(matches!(detect(b"PK\x03\x04rest"), Err(IngestError::Unsupported { .. })));
        assert!(matches!(detect(b" \n\t"), Err(IngestError::Empty)));
        assert!(matches!(detect(b"ab\0cd"), Err(IngestError::Unsupported { detected: "binary data" })));
        assert!(matches!(detect(b"caf\xE9"), Err(IngestError::InvalidEncoding { offset: 3 })));
    }

    #[test]
    fn decodes_utf16_with_bom() {
        let mut bytes = vec![0xFF, 0xFE];
        for u in "héllo".encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(decode_text(&bytes).unwrap(), "héllo");
    }
}
