use genai_core::{DocId, Document, Page, SourceKind};
use genai_ingest::{ChunkConfig, Chunker, count_tokens};
use proptest::prelude::*;

fn document(pages: Vec<String>) -> Document {
    Document {
        id: DocId::from_content(pages.concat().as_bytes()),
        source: "prop.txt".into(),
        kind: SourceKind::Text,
        title: None,
        pages: pages.into_iter().enumerate().map(|(i, text)| Page { number: i as u32 + 1, text }).collect(),
    }
}

/// Words (some non-ASCII, some very long), sentences, paragraphs and pages.
fn pages_strategy() -> impl Strategy<Value = Vec<String>> {
    let word = prop_oneof![
        8 => "[a-z]{1,9}",
        1 => "(café|naïve|Größe|数据|🚀|ümlaut)",
        1 => "[a-z]{30,80}",
        1 => "[0-9]{1,6}",
    ];
    let sentence = prop::collection::vec(word, 1..25).prop_map(|w| format!("{}.", w.join(" ")));
    let paragraph = prop::collection::vec(sentence, 1..6).prop_map(|s| s.join(" "));
    let page = prop::collection::vec(paragraph, 1..5).prop_map(|p| p.join("\n\n"));
    prop::collection::vec(page, 1..4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn chunks_are_bounded_exact_covering_and_overlap_as_configured(
        pages in pages_strategy(),
        max_tokens in 16usize..160,
        overlap_share in 0.0f64..0.5,
    ) {
        let overlap = (max_tokens as f64 * overlap_share) as usize;
        let chunker = Chunker::new(ChunkConfig { max_tokens, overlap }).unwrap();
        let doc = document(pages);
        let text: Vec<char> = doc.text().chars().collect();
        let chunks = chunker.chunk(&doc);
        prop_assert!(!chunks.is_empty());

        let mut covered = vec![false; text.len()];
        for (i, chunk) in chunks.iter().enumerate() {
            // Bounded: never above the token limit, and the recorded count is the real one.
            prop_assert!(chunk.token_count as usize <= max_tokens, "chunk {i} has {} tokens", chunk.token_count);
            prop_assert_eq!(chunk.token_count as usize, count_tokens(&chunk.text));
            // Exact: the span maps back to exactly the chunk's text.
            let span_text: String = text[chunk.char_span.clone()].iter().collect();
            prop_assert_eq!(&span_text, &chunk.text);
            // Provenance: the page range is the pages the span touches.
            prop_assert_eq!(chunk.pages, doc.pages_of(&doc.page_starts(), &chunk.char_span));
            prop_assert_eq!(chunk.ordinal as usize, i);
            covered[chunk.char_span.clone()].iter_mut().for_each(|c| *c = true);
            if let Some(prev) = i.checked_sub(1).map(|p| &chunks[p]) {
                // Ordered, and consecutive chunks share at most `overlap` tokens.
                prop_assert!(prev.char_span.start < chunk.char_span.start);
                let shared = chunk.char_span.start..prev.char_span.end.max(chunk.char_span.start);
                let shared_text: String = text[shared].iter().collect();
                prop_assert!(count_tokens(shared_text.trim()) <= overlap.max(1),
                    "chunks {} and {i} share {:?}", i - 1, shared_text);
            }
        }
        // Covering: every character that is not whitespace belongs to some chunk.
        for (at, c) in text.iter().enumerate() {
            prop_assert!(covered[at] || c.is_whitespace(), "char {at} ({c:?}) is in no chunk");
        }
    }
}

#[test]
fn defaults_are_500_and_50_and_overlap_is_validated() {
    assert_eq!(ChunkConfig::default(), ChunkConfig { max_tokens: 500, overlap: 50 });
    assert!(Chunker::new(ChunkConfig { max_tokens: 50, overlap: 50 }).is_err());
    assert!(Chunker::new(ChunkConfig { max_tokens: 0, overlap: 0 }).is_err());
}

#[test]
fn overlapping_chunks_really_overlap() {
    let sentences: Vec<String> =
        (0..200).map(|i| format!("Sentence number {i} talks about pumps and valves.")).collect();
    let doc = document(vec![sentences.join(" ")]);
    let chunks = Chunker::new(ChunkConfig { max_tokens: 100, overlap: 30 }).unwrap().chunk(&doc);
    assert!(chunks.len() > 5);
    let overlapping = chunks.windows(2).filter(|w| w[1].char_span.start < w[0].char_span.end).count();
    assert_eq!(overlapping, chunks.len() - 1, "every consecutive pair shares text");
}
