//! The two context levers: fewer, better chunks under a token budget, and compression to the
//! question's best sentences. Both return ordinary [`Hit`]s, so any answerer (the offline
//! readers here, a model through doc-qa's `LlmAnswerer`) takes them unchanged.

use genai_answer::Extractive;
use genai_retrieval::{Hit, TermStats};
use std::ops::Range;

/// The chunks of `ranked` (best first, e.g. after reranking) that fit in `budget` tokens. The
/// first is always kept, so a question never goes out with no context; the list stops at the
/// first chunk that does not fit (a lower-ranked small chunk does not jump the queue).
pub fn within_budget(ranked: &[Hit], budget: u32) -> Vec<Hit> {
    let mut used = 0u32;
    let mut kept = Vec::new();
    for h in ranked {
        if !kept.is_empty() && used.saturating_add(h.chunk.token_count) > budget {
            break;
        }
        used = used.saturating_add(h.chunk.token_count);
        kept.push(h.clone());
    }
    kept
}

/// Question-aware compression: the `keep` sentences of `hits` that `scorer` ranks highest,
/// each run of adjacent kept sentences as one passage, in the passages' original order.
///
/// The scorer is the cheap lexical one (IDF coverage, passage coverage, bigrams), never the
/// reader that will answer: a compressor as good as the reader would hide what compression
/// costs. Passages keep their document coordinates (`char_span`), so a citation of a kept
/// sentence still points at the right place in the source.
pub async fn compress(
    scorer: &Extractive,
    question: &str,
    hits: &[Hit],
    stats: Option<&TermStats>,
    keep: usize,
) -> Vec<Hit> {
    let mut candidates = scorer.candidates(question, hits, stats).await;
    candidates.sort_by(|a, b| scorer.score(b).total_cmp(&scorer.score(a)).then(a.hit.cmp(&b.hit)));
    candidates.truncate(keep.max(1));
    let mut out = Vec::new();
    for (i, hit) in hits.iter().enumerate() {
        let mut ranges: Vec<Range<usize>> = candidates.iter().filter(|c| c.hit == i).map(|c| c.range.clone()).collect();
        ranges.sort_by_key(|r| r.start);
        for range in merge_adjacent(&hit.chunk.text, ranges) {
            out.push(sub_hit(hit, range));
        }
    }
    out
}

/// Joins ranges separated only by whitespace.
fn merge_adjacent(text: &str, ranges: Vec<Range<usize>>) -> Vec<Range<usize>> {
    let mut merged: Vec<Range<usize>> = Vec::new();
    for r in ranges {
        match merged.last_mut() {
            Some(last) if last.end <= r.start && text[last.end..r.start].trim().is_empty() => last.end = r.end,
            Some(last) if r.start < last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

/// The part of `hit` at byte `range` of its text, as a passage in document coordinates.
fn sub_hit(hit: &Hit, range: Range<usize>) -> Hit {
    let mut h = hit.clone();
    let text = hit.chunk.text[range.clone()].to_owned();
    let start = hit.chunk.char_span.start + hit.chunk.text[..range.start].chars().count();
    h.chunk.char_span = start..start + text.chars().count();
    h.chunk.token_count = u32::try_from(genai_llm::tokens::count_text_tokens("gpt-4o", &text)).unwrap_or(u32::MAX);
    h.chunk.text = text;
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use genai_core::{Chunk, ChunkId, DocId, PageRange};

    fn hit(text: &str, tokens: u32, at: usize) -> Hit {
        Hit {
            chunk: Chunk {
                id: ChunkId::from_raw(at as u64),
                doc_id: DocId::from_content(b"d"),
                source: "d.pdf".into(),
                ordinal: 0,
                text: text.into(),
                pages: PageRange::single(1),
                char_span: at..at + text.chars().count(),
                token_count: tokens,
            },
            score: 1.0,
            dense_score: None,
            keyword_score: None,
            tenant: None,
            attrs: Default::default(),
        }
    }

    #[test]
    fn the_budget_keeps_the_best_first_and_stops_at_the_first_misfit() {
        let ranked = [hit("a", 100, 0), hit("b", 200, 10), hit("c", 50, 20)];
        let texts = |hs: Vec<Hit>| hs.into_iter().map(|h| h.chunk.text).collect::<Vec<_>>();
        assert_eq!(texts(within_budget(&ranked, 250)), ["a"]);
        assert_eq!(texts(within_budget(&ranked, 300)), ["a", "b"]);
        assert_eq!(texts(within_budget(&ranked, 10)), ["a"], "never an empty context");
    }

    #[tokio::test]
    async fn compression_keeps_the_question_sentences_with_their_document_offsets() {
        let text = "The bridge opened in 1937. Fog is common in summer. Its main span is 1,280 metres long.";
        let hits = [hit(text, 30, 1000)];
        let scorer = Extractive::new(genai_answer::LEXICAL_WEIGHTS);
        let kept = compress(&scorer, "How long is the bridge's main span?", &hits, None, 1).await;
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].chunk.text, "Its main span is 1,280 metres long.");
        let offset = text.find("Its").expect("present");
        assert_eq!(kept[0].chunk.char_span.start, 1000 + offset);
        assert_eq!(kept[0].chunk.char_span.len(), kept[0].chunk.text.chars().count());
        // Two adjacent sentences become one passage.
        let two = compress(&scorer, "When did the bridge open, and how long is its main span?", &hits, None, 3).await;
        assert!(two.iter().map(|h| h.chunk.text.len()).sum::<usize>() <= text.len());
        assert!(two.iter().any(|h| h.chunk.text.contains("1937")), "{two:?}");
    }
}
