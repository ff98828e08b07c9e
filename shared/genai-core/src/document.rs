use crate::ids::{ChunkId, DocId};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::Range;

/// What separates two pages in [`Document::text`]. A blank line, so sentence and paragraph
/// splitters treat a page break as a paragraph break.
pub const PAGE_SEPARATOR: &str = "\n\n";

/// The format a document was loaded from (detected from its bytes, never from its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Pdf,
    Markdown,
    Html,
    Text,
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pdf => "pdf",
            Self::Markdown => "markdown",
            Self::Html => "html",
            Self::Text => "text",
        })
    }
}

/// One page of extracted text. Formats without pages (Markdown, HTML, text) have one page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// 1-based page number, as a reader would cite it.
    pub number: u32,
    pub text: String,
}

/// A loaded, normalised document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// SHA-256 of the original bytes.
    pub id: DocId,
    /// Where it came from: a file path or an upload's name. Shown in citations.
    pub source: String,
    pub kind: SourceKind,
    /// Title when the format carries one (HTML `<title>`, first Markdown heading, PDF Info).
    pub title: Option<String>,
    /// Never empty: a document with no pages is an error at load time.
    pub pages: Vec<Page>,
}

impl Document {
    /// The whole text: pages joined by [`PAGE_SEPARATOR`]. Chunk spans index into this string.
    pub fn text(&self) -> String {
        let pages: Vec<&str> = self.pages.iter().map(|p| p.text.as_str()).collect();
        pages.join(PAGE_SEPARATOR)
    }

    /// Char offset in [`Document::text`] where each page starts, in page order.
    pub fn page_starts(&self) -> Vec<usize> {
        let sep = PAGE_SEPARATOR.chars().count();
        let mut starts = Vec::with_capacity(self.pages.len());
        let mut at = 0;
        for page in &self.pages {
            starts.push(at);
            at += page.text.chars().count() + sep;
        }
        starts
    }

    /// The pages a char span of [`Document::text`] touches.
    pub fn pages_of(&self, starts: &[usize], span: &Range<usize>) -> PageRange {
        let page_at = |offset: usize| {
            let idx = starts.partition_point(|&s| s <= offset).saturating_sub(1);
            self.pages.get(idx).map_or(1, |p| p.number)
        };
        let last = span.end.saturating_sub(1).max(span.start);
        PageRange::new(page_at(span.start), page_at(last))
    }

    /// Total characters across pages (without separators).
    pub fn char_len(&self) -> usize {
        self.pages.iter().map(|p| p.text.chars().count()).sum()
    }
}

/// An inclusive range of 1-based page numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PageRange {
    pub start: u32,
    pub end: u32,
}

impl PageRange {
    /// `start..=end`, swapped into order if given backwards.
    pub fn new(start: u32, end: u32) -> Self {
        Self { start: start.min(end), end: start.max(end) }
    }

    pub fn single(page: u32) -> Self {
        Self { start: page, end: page }
    }
}

impl fmt::Display for PageRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "p. {}", self.start)
        } else {
            write!(f, "pp. {}-{}", self.start, self.end)
        }
    }
}

/// A retrievable piece of a document, with the provenance a citation needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    pub id: ChunkId,
    pub doc_id: DocId,
    /// Copied from [`Document::source`] so a hit can be cited without another lookup.
    pub source: String,
    /// Position among the document's chunks, from 0.
    pub ordinal: u32,
    pub text: String,
    pub pages: PageRange,
    /// Char offsets into [`Document::text`]: `text == doc.text().chars().skip(start).take(end - start)`.
    pub char_span: Range<usize>,
    /// Tokens in `text` under the chunker's tokenizer (cl100k_base by default).
    pub token_count: u32,
}

/// A passage an answer relies on, pointing back to its file and page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Citation {
    pub chunk_id: ChunkId,
    pub doc_id: DocId,
    pub source: String,
    pub pages: PageRange,
    /// The exact supporting text, a substring of the chunk's text.
    pub quote: String,
    /// Char offsets of `quote` in [`Document::text`].
    pub char_span: Range<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(pages: &[&str]) -> Document {
        Document {
            id: DocId::from_content(pages.concat().as_bytes()),
            source: "t.pdf".into(),
            kind: SourceKind::Pdf,
            title: None,
            pages: pages.iter().enumerate().map(|(i, t)| Page { number: i as u32 + 1, text: (*t).into() }).collect(),
        }
    }

    #[test]
    fn page_starts_and_lookup_use_char_offsets() {
        let d = doc(&["héllo", "wörld", "x"]);
        let text = d.text();
        assert_eq!(text, "héllo\n\nwörld\n\nx");
        let starts = d.page_starts();
        assert_eq!(starts, vec![0, 7, 14]);
        assert_eq!(d.pages_of(&starts, &(0..5)), PageRange::single(1));
        assert_eq!(d.pages_of(&starts, &(3..9)), PageRange::new(1, 2));
        assert_eq!(d.pages_of(&starts, &(14..15)), PageRange::single(3));
        assert_eq!(PageRange::new(3, 2).to_string(), "pp. 2-3");
    }
}
