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
