//! Text normalisation: one canonical form for whatever a loader produced, so that chunking,
//! BM25 and exact-match evaluation see the same words a reader sees.

use genai_core::Page;
use regex::Regex;
use std::collections::HashMap;
use std::sync::LazyLock;
use unicode_normalization::UnicodeNormalization;

/// Normalises one page of extracted text:
/// - Unicode NFKC (ligatures `ﬁ` → `fi`, no-break spaces → spaces, full-width forms);
/// - the private-use ligature glyphs some PDF fonts emit (U+F001 `fi`, U+F002 `fl`);
/// - words hyphenated across a line break are joined (`tem-\nperature` → `temperature`);
/// - lines inside a paragraph are joined with a space, paragraphs are separated by one blank
///   line, runs of spaces collapse, control characters go.
pub fn normalize_page(raw: &str) -> String {
    static HYPHEN_BREAK: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(\p{Ll})-[ \t]*\n[ \t]*(\p{Ll})").expect("valid regex"));
    static PARAGRAPH_BREAK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\n[ \t]*\n").expect("valid regex"));

    let mut cleaned = String::with_capacity(raw.len());
    for c in raw.replace("\r\n", "\n").nfkc() {
        match c {
            '\u{F001}' => cleaned.push_str("fi"),
            '\u{F002}' => cleaned.push_str("fl"),
            '\u{00AD}' | '\u{200B}' | '\u{FEFF}' => {}
            '\n' => cleaned.push('\n'),
            c if c.is_whitespace() => cleaned.push(' '),
            c if c.is_control() => {}
            c => cleaned.push(c),
        }
    }
    let joined = HYPHEN_BREAK.replace_all(&cleaned, "$1$2");
    let paragraphs: Vec<String> = PARAGRAPH_BREAK
        .split(&joined)
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect();
    paragraphs.join("\n\n")
}

/// Rejoins paragraphs that PDF extraction split inside a sentence. PDF has no paragraphs, only
/// positioned lines; generous line spacing comes out as a blank line. A "paragraph" that does not
/// end a sentence, followed by one that starts in lower case, is the same paragraph.
pub(crate) fn reflow_pdf(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for para in text.split("\n\n") {
        let continues = para.chars().next().is_some_and(char::is_lowercase)
            && out.last().is_some_and(|prev| !prev.ends_with(['.', '!', '?', ':', ';', '"', '\u{201D}', ')']));
        match out.last_mut() {
            Some(prev) if continues => {
                prev.push(' ');
                prev.push_str(para);
            }
            _ => out.push(para.to_owned()),
        }
    }
    out.join("\n\n")
}

/// Removes running heads and feet: a first or last paragraph that repeats (digits ignored) on at
/// least 60% of the pages of a document of 3 or more pages, and bare page numbers ("-2-",
/// "Page 2 of 9") in those positions. They would otherwise pollute every chunk and every BM25
/// score with the same words.
pub(crate) fn strip_running_lines(pages: &mut [Page]) {
    static PAGE_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^[\s\-–—\[(]*(page\s+)?\d{1,4}(\s*(of|/)\s*\d{1,4})?[\s\-–—\])]*$").expect("valid regex")
    });
    let shape = |p: &str| p.chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).collect::<String>();
    let edges = |text: &str| -> Vec<String> {
        let paras: Vec<&str> = text.split("\n\n").collect();
        let mut out = vec![shape(paras[0])];
        if paras.len() > 1 {
            out.push(shape(paras[paras.len() - 1]));
        }
        out
    };
    let mut counts: HashMap<String, usize> = HashMap::new();
    if pages.len() >= 3 {
        for page in pages.iter() {
            for s in edges(&page.text) {
                *counts.entry(s).or_default() += 1;
            }
        }
    }
    let threshold = (pages.len() * 6).div_ceil(10);
    let running = |p: &str| PAGE_NUMBER.is_match(p) || counts.get(&shape(p)).is_some_and(|&n| n >= threshold.max(3));
    for page in pages.iter_mut() {
        let mut paras: Vec<&str> = page.text.split("\n\n").collect();
        if paras.first().is_some_and(|p| running(p)) {
            paras.remove(0);
        }
        if paras.last().is_some_and(|p| running(p)) {
            paras.pop();
        }
        page.text = paras.join("\n\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_pdf_artifacts() {
        let raw =
            "\n\nThe ﬁrst  column talks\nabout tem-\nperature and \u{F001}nance.\r\n \n\nNext\tparagraph\u{00AD}.\u{7}";
        assert_eq!(normalize_page(raw), "The first column talks about temperature and finance.\n\nNext paragraph.");
    }

    #[test]
    fn reflows_sentences_split_by_pdf_line_spacing() {
        let text = "reported to the shift supervisor\n\nwithin one day.\n\nNext one\n\nStarts upper.";
        assert_eq!(reflow_pdf(text), "reported to the shift supervisor within one day.\n\nNext one\n\nStarts upper.");
    }

    #[test]
    fn strips_page_numbers_and_repeated_heads() {
        let mut pages: Vec<Page> = (1..=4)
            .map(|n| Page { number: n, text: format!("ACME manual rev {n}\n\nBody of page {n}.\n\n-{n}-") })
            .collect();
        strip_running_lines(&mut pages);
        assert_eq!(pages[2].text, "Body of page 3.");
    }
}
