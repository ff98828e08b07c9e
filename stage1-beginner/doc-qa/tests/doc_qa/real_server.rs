//! doc-qa's model answerer against a real llama-server (`LLAMA_SERVER_URL`, see genai-llm's
//! `tests/llm/real_server.rs`): the failure a real server first showed — a 2,414-token prompt
//! sent to a 2,048-token context, answered offline as "model unavailable" — must not come back.
//! Passages that cannot all fit are sent in rank order up to the window the server reports
//! (and, were the server's tokenizer to count more than ours, an overflow is retried once with
//! half the budget: either way the server's refusal never reaches the user as "unavailable").

use doc_qa::answer::{Answerer, Extractive, LlmAnswerer};
use genai_core::{Chunk, ChunkId, DocId, PageRange};
use genai_retrieval::Hit;

#[tokio::test]
async fn passages_over_the_servers_window_are_budgeted_not_refused_as_overflow() {
    let Some((model, window)) = genai_testkit::llama_server().await else { return };
    // Eight passages of about 400 tokens each: about 3,200 tokens against a 2,048 window.
    let hits: Vec<Hit> = (0..8)
        .map(|i| {
            let text = format!("Pump P-{i} is inspected every {} months by a certified technician. ", i + 2).repeat(28);
            let doc = DocId::from_content(format!("manual-{i}").as_bytes());
            Hit::new(Chunk {
                id: ChunkId::derive(&doc, "t", i),
                doc_id: doc,
                source: format!("manual-{i}.pdf"),
                ordinal: 0,
                char_span: 0..text.chars().count(),
                text,
                pages: PageRange::single(1),
                token_count: 0,
            })
        })
        .collect();
    let answerer =
        LlmAnswerer::new(model, Extractive::new(doc_qa::answer::LEXICAL_WEIGHTS)).with_context_window(Some(window));
    let answer = answerer.answer("How often is pump P-0 inspected?", &hits, None).await;
    // The tiny model may ramble to its token limit (then the answer is offline and says why);
    // what must never happen is a prompt the server refuses as too long.
    assert!(
        answer.flagged.iter().all(|f| !f.contains("context")),
        "the prompt must fit the server's window: {:?}",
        answer.flagged
    );
}
