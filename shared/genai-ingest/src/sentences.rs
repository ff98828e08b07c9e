//! Sentence boundaries for extractive answering: rule-based, with byte ranges into the text.
//!
//! A sentence ends at `.`, `!` or `?` (optionally followed by closing quotes or brackets) when
//! whitespace and then an upper-case letter, a digit or an opening quote follow, or at a blank
//! line. Common abbreviations, initials ("J. R. R."), decimals and "U.S."-style acronyms do
//! not end a sentence.

use std::ops::Range;

const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e", "no", "fig", "vol", "inc",
    "ltd", "co", "corp", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "approx",
    "gen", "gov", "sen", "rep", "rev", "col", "lt", "capt", "ca", "c",
];

/// Byte ranges of the sentences of `text`, trimmed, in order. Never empty for non-blank text.
pub fn sentence_spans(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let paragraph_break = c == b'\n' && bytes.get(i + 1) == Some(&b'\n');
        if paragraph_break || (matches!(c, b'.' | b'!' | b'?') && ends_sentence(text, i)) {
            let mut end = i + 1;
            while end < bytes.len() && matches!(bytes[end], b'"' | b'\'' | b')' | b']') {
                end += 1;
            }
            push_trimmed(text, start..end, &mut spans);
            start = end;
            i = end;
            continue;
        }
        i += 1;
    }
    push_trimmed(text, start..text.len(), &mut spans);
    spans
}

fn push_trimmed(text: &str, r: Range<usize>, out: &mut Vec<Range<usize>>) {
    let s = &text[r.clone()];
    let lead = s.len() - s.trim_start().len();
    let trail = s.len() - s.trim_end().len();
    if lead + trail < s.len() {
        out.push(r.start + lead..r.end - trail);
    }
}

fn ends_sentence(text: &str, at: usize) -> bool {
    let after = &text[at + 1..];
    let after = after.trim_start_matches(['"', '\'', ')', ']', '\u{201D}']);
    let rest = after.trim_start();
    if rest.len() == after.len() && !rest.is_empty() {
        return false; // no whitespace after: "3.14", "U.S.A", "example.com"
    }
    let Some(next) = rest.chars().next() else { return true };
    if !(next.is_uppercase() || next.is_ascii_digit() || matches!(next, '"' | '\u{201C}' | '(' | '\'')) {
        return false;
    }
    if text.as_bytes()[at] != b'.' {
        return true;
    }
    let word = text[..at].rsplit(|c: char| c.is_whitespace() || c == '(').next().unwrap_or_default();
    let lower = word.to_lowercase();
    let single_initial = word.chars().count() == 1 && word.chars().all(char::is_uppercase);
    let acronym = word.contains('.') && word.chars().filter(|c| c.is_alphabetic()).count() <= 4;
    !(single_initial || acronym || ABBREVIATIONS.contains(&lower.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(t: &str) -> Vec<&str> {
        sentence_spans(t).into_iter().map(|r| &t[r]).collect()
    }

    #[test]
    fn splits_on_sentence_ends_but_not_abbreviations_or_decimals() {
        let t = "Dr. Smith paid $3.50 in the U.S. on Jan. 5. It rained! \"Why?\" she asked.\n\nNew paragraph without a stop";
        assert_eq!(
            split(t),
            vec![
                "Dr. Smith paid $3.50 in the U.S. on Jan. 5.",
                "It rained!",
                "\"Why?\" she asked.",
                "New paragraph without a stop"
            ]
        );
        assert_eq!(
            split("J. R. R. Tolkien wrote it. Then he slept."),
            vec!["J. R. R. Tolkien wrote it.", "Then he slept."]
        );
        assert_eq!(split("  "), Vec::<&str>::new());
        assert_eq!(split("the end is lower case. and continues"), vec!["the end is lower case. and continues"]);
    }
}
