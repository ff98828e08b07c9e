//! Text to multi-page PDF with printpdf: SQuAD articles for the evaluation and the demo corpus.
//!
//! With a TrueType font (DejaVu Sans where installed, or `DOC_QA_PDF_FONT`) the text is embedded
//! with a Unicode map, so any PDF reader — and our loader — gets the exact text back. Without
//! one, the built-in Helvetica is used and characters outside its Latin-1 encoding become `?`.

use printpdf::{
    BuiltinFont, Mm, Op, ParsedFont, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, TextItem,
};
use std::path::PathBuf;

const LINE_CHARS: usize = 80;
const LINES_PER_PAGE: usize = 50;
const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// The TrueType font to embed: `DOC_QA_PDF_FONT`, else a common system location.
pub fn find_font() -> Option<PathBuf> {
    std::env::var_os("DOC_QA_PDF_FONT")
        .map(PathBuf::from)
        .into_iter()
        .chain(FONT_PATHS.iter().map(PathBuf::from))
        .find(|p| p.is_file())
}

/// A PDF writer with its font loaded once.
pub struct PdfWriter {
    font: Option<ParsedFont>,
}

impl std::fmt::Debug for PdfWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdfWriter").field("embedded_font", &self.font.is_some()).finish()
    }
}

impl PdfWriter {
    /// Uses [`find_font`]; falls back to Helvetica (and logs it) when no font is found.
    pub fn new() -> Self {
        let font = find_font()
            .and_then(|p| std::fs::read(&p).ok())
            .and_then(|b| ParsedFont::from_bytes(&b, 0, &mut Vec::new()));
        if font.is_none() {
            tracing::warn!(
                "no TrueType font found (set DOC_QA_PDF_FONT); PDFs use Helvetica, non-Latin-1 characters become '?'"
            );
        }
        Self { font }
    }

    /// Renders a title and paragraphs onto as many A4 pages as they need.
    pub fn render(&self, title: &str, paragraphs: &[String]) -> Vec<u8> {
        let mut doc = PdfDocument::new(title);
        let handle = match &self.font {
            Some(f) => PdfFontHandle::External(doc.add_font(f)),
            None => PdfFontHandle::Builtin(BuiltinFont::Helvetica),
        };
        let mut lines: Vec<(String, f32)> = vec![(title.to_owned(), 16.0), (String::new(), 11.0)];
        for p in paragraphs {
            lines.extend(wrap(p, LINE_CHARS).into_iter().map(|l| (l, 11.0)));
            lines.push((String::new(), 11.0));
        }
        let pages = lines
            .chunks(LINES_PER_PAGE)
            .map(|page_lines| {
                let mut ops = vec![
                    Op::StartTextSection,
                    Op::SetTextCursor { pos: Point::new(Mm(20.0), Mm(277.0)) },
                    Op::SetLineHeight { lh: Pt(14.0) },
                ];
                for (text, size) in page_lines {
                    ops.push(Op::SetFont { font: handle.clone(), size: Pt(*size) });
                    if !text.is_empty() {
                        ops.push(Op::ShowText { items: vec![TextItem::Text(text.clone())] });
                    }
                    ops.push(Op::AddLineBreak);
                }
                ops.push(Op::EndTextSection);
                PdfPage::new(Mm(210.0), Mm(297.0), ops)
            })
            .collect();
        doc.with_pages(pages).save(&PdfSaveOptions::default(), &mut Vec::new())
    }
}

impl Default for PdfWriter {
    fn default() -> Self {
        Self::new()
    }
}

/// Greedy word wrap at `width` characters; a longer word gets a line of its own.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_our_own_loader_page_by_page() {
        let para = "The coolant pump must be inspected every six months — café, naïve, Zürich. ".repeat(12);
        let paragraphs: Vec<String> = (0..40).map(|i| format!("Paragraph {i}. {para}")).collect();
        let bytes = PdfWriter::new().render("Maintenance handbook", &paragraphs);
        let doc = genai_ingest::load_bytes(&bytes, "h.pdf", &Default::default()).unwrap();
        assert!(doc.pages.len() > 5, "multi-page: {}", doc.pages.len());
        assert!(doc.pages[0].text.starts_with("Maintenance handbook"));
        let text = doc.text();
        for i in [0, 17, 39] {
            assert!(text.contains(&format!("Paragraph {i}. The coolant pump")), "paragraph {i} survives");
        }
        if find_font().is_some() {
            assert!(text.contains("café, naïve, Zürich"), "Unicode survives with an embedded font");
        }
        assert_eq!(wrap("a bb ccc", 4), vec!["a bb", "ccc"]);
    }
}
