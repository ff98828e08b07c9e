use doc_qa::answer::{Answerer, Extractive, LlmAnswerer};
use genai_core::{Chunk, ChunkId, DocId, PageRange};
use genai_retrieval::Hit;
use genai_testkit::{MockOpenAi, Reply};

const CHAT: &str = "/v1/chat/completions";

fn hits() -> Vec<Hit> {
    [
        ("manual.pdf", 3, "The coolant pump must be inspected every six months by a certified technician."),
        ("policy.md", 1, "Rotating equipment is lubricated weekly."),
    ]
    .iter()
    .enumerate()
    .map(|(i, (source, page, text))| {
        let doc = DocId::from_content(source.as_bytes());
        Hit::new(Chunk {
            id: ChunkId::derive(&doc, "t", i),
            doc_id: doc,
            source: (*source).into(),
            ordinal: 0,
            text: (*text).into(),
            pages: PageRange::single(*page),
            char_span: 0..text.chars().count(),
            token_count: 0,
        })
    })
    .collect()
}

fn answerer(mock: &MockOpenAi, attempts: u32) -> LlmAnswerer {
    let model = mock.resilient_model("gpt-4o-mini", attempts);
    LlmAnswerer::new(
        model,
        Extractive::new(doc_qa::answer::Weights { threshold: 0.3, ..doc_qa::answer::LEXICAL_WEIGHTS }),
    )
}

#[test]
fn the_prompt_and_the_messages_are_pinned() {
    insta::assert_snapshot!("answer_prompt", doc_qa::answer::ANSWER_PROMPT);
    let msgs = LlmAnswerer::messages("How often is the pump inspected?", &hits());
    insta::assert_snapshot!("answer_user_message", msgs[1].content.as_deref().unwrap());
}

#[tokio::test]
async fn unsupported_citations_are_removed_and_flagged() {
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(CHAT, [Reply::chat_text("The pump is inspected every six months [1][7]. Lubrication is weekly [1]. Equipment is lubricated weekly [2].")]);
    let a = answerer(&mock, 1).answer("How often?", &hits(), None).await;
    assert!(!a.refused);
    assert_eq!(
        a.text,
        "The pump is inspected every six months [1]. Lubrication is weekly . Equipment is lubricated weekly [2]."
    );
    assert_eq!(a.citations.iter().map(|c| c.number).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(a.citations[0].citation.source, "manual.pdf");
    assert_eq!(a.citations[0].citation.pages, PageRange::single(3));
    assert_eq!(
        a.flagged,
        vec![
            "citation [7] is not one of the retrieved passages; removed".to_owned(),
            "citation [1] does not support the sentence citing it; removed".to_owned(),
        ]
    );
    assert_eq!(a.engine, "llm:gpt-4o-mini");
}

#[tokio::test]
async fn the_models_refusal_is_honoured() {
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(CHAT, [Reply::chat_text("NOT_IN_DOCUMENTS")]);
    let a = answerer(&mock, 1).answer("Who won the Tour de France?", &hits(), None).await;
    assert!(a.refused);
    assert!(a.citations.is_empty());
}

#[tokio::test]
async fn when_the_model_is_down_the_offline_answer_is_given_and_flagged() {
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(CHAT, (0..3).map(|_| Reply::Status { code: 503, retry_after: None, body: "down".into() }));
    let a = answerer(&mock, 2).answer("How often must the coolant pump be inspected?", &hits(), None).await;
    assert_eq!(a.engine, "extractive");
    assert!(a.text.contains("every six months"));
    assert!(a.flagged[0].starts_with("the model was unavailable (server_error)"), "{:?}", a.flagged);
}

/// A passage of about `words` words that still answers the coolant question.
fn long_hits(n: usize, words: usize) -> Vec<Hit> {
    let filler = "The maintenance log records routine checks of the plant and its equipment.";
    let mut out = hits();
    let first = out.remove(0);
    (0..n)
        .map(|i| {
            let mut h = first.clone();
            h.chunk.id = ChunkId::derive(&h.chunk.doc_id, "long", i);
            let mut text = h.chunk.text.clone();
            while text.split_whitespace().count() < words {
                text.push(' ');
                text.push_str(filler);
            }
            h.chunk.text = text;
            h
        })
        .collect()
}

#[test]
fn prompts_are_cut_to_the_context_window_least_useful_passages_first() {
    let hits = long_hits(5, 400);
    let count = |hs: &[Hit]| {
        genai_llm::tokens::count_chat_tokens(
            "gpt-4o-mini",
            &LlmAnswerer::messages("How often is the pump inspected?", hs),
        )
    };
    let all = count(&hits);
    // A window that holds about three of the five passages after the answer's share.
    let window = (count(&hits[..3]) + 400) * 10 / 9 + 10;
    let fitted = LlmAnswerer::fit("gpt-4o-mini", "How often is the pump inspected?", &hits, window);
    assert_eq!(fitted.len(), 3, "the two lowest-ranked passages are left out");
    assert_eq!(fitted[0].chunk.id, hits[0].chunk.id);
    assert!(count(&fitted) + 400 <= window * 9 / 10 && all > window);
    // A window smaller than one passage: the best one is cut, never dropped.
    let tiny = LlmAnswerer::fit("gpt-4o-mini", "How often is the pump inspected?", &hits, 700);
    assert_eq!(tiny.len(), 1);
    assert!(tiny[0].chunk.text.len() < hits[0].chunk.text.len());
    assert!(count(&tiny) + 400 <= 630);
    // No room even for the question: nothing is sent.
    assert!(LlmAnswerer::fit("gpt-4o-mini", "How often is the pump inspected?", &hits, 300).is_empty());
}

#[tokio::test]
async fn a_context_overflow_is_classified_retried_with_less_then_answered_offline() {
    // llama-server's answer to a prompt over its window, as a real one sent it.
    let overflow = || {
        Reply::Status {
        code: 400,
        retry_after: None,
        body: r#"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error","n_prompt_tokens":2414,"n_ctx":2048}}"#.into(),
    }
    };
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(CHAT, [overflow(), Reply::chat_text("Every six months [1].")]);
    let hits = long_hits(5, 400);
    let a = answerer(&mock, 3).answer("How often must the coolant pump be inspected?", &hits, None).await;
    assert_eq!(a.engine, "llm:gpt-4o-mini", "{a:?}");
    let sent = mock.requests_to(CHAT);
    assert_eq!(sent.len(), 2, "a context overflow is not retried as is");
    let size = |r: &genai_testkit::Recorded| r.body["messages"].to_string().len();
    assert!(size(&sent[1]) < size(&sent[0]) * 2 / 3, "the second prompt is cut");

    let mock = MockOpenAi::start(8).await;
    mock.enqueue(CHAT, [overflow(), overflow()]);
    let a = answerer(&mock, 3).answer("How often must the coolant pump be inspected?", &hits, None).await;
    assert_eq!(a.engine, "extractive");
    assert!(a.flagged[0].contains("context_overflow"), "{:?}", a.flagged);
    assert_eq!(mock.requests_to(CHAT).len(), 2);
}

#[tokio::test]
async fn the_context_window_is_read_from_the_server() {
    let mock = MockOpenAi::start(8).await;
    mock.enqueue("/props", [Reply::Json(serde_json::json!({"default_generation_settings": {"n_ctx": 2048}}))]);
    let d = std::time::Duration::from_secs(2);
    assert_eq!(genai_llm::context::discover_window(&mock.base_url(), None, d).await, Some(2048));
    // vLLM says it in the model list.
    mock.enqueue("/props", [Reply::Status { code: 404, retry_after: None, body: "not found".into() }]);
    mock.enqueue("/v1/models", [Reply::Json(serde_json::json!({"data": [{"id": "m", "max_model_len": 32768}]}))]);
    assert_eq!(genai_llm::context::discover_window(&mock.base_url(), None, d).await, Some(32768));
}
