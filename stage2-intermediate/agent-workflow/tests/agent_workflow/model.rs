use crate::corpus;
use agent_workflow::agents::researcher::Strategy;
use agent_workflow::research_graph;
use agent_workflow::state::Research;
use genai_agent::{Event, Outcome, RunLimits, Runtime, SqliteJournal};
use genai_testkit::{MockOpenAi, Reply};
use std::sync::Arc;

const CHAT: &str = "/v1/chat/completions";
const Q: &str = "The director of the romantic comedy Big Stone Gap is based in what New York city neighborhood?";

async fn runtime(dir: &std::path::Path, mock: &MockOpenAi) -> Runtime<Research> {
    let corpus = corpus(dir).await;
    let journal = Arc::new(SqliteJournal::open(&dir.join("runs.db")).await.unwrap());
    let model: Arc<dyn genai_llm::ChatModel> = Arc::new(mock.resilient_model("gpt-4o-mini", 1));
    let graph = research_graph(corpus, Some(model), Strategy::default()).unwrap();
    Runtime::new(Arc::new(graph), journal, RunLimits::default())
}

#[tokio::test]
async fn the_model_writes_a_cited_answer_and_the_reviewer_checks_it() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(
        CHAT,
        [Reply::chat_text(
            "Answer: Greenwich Village\n\nAdriana Trigiani directed it [1] and is based in Greenwich Village [2].",
        )],
    );
    let rt = runtime(dir.path(), &mock).await;
    let id = rt.start(None, &Research { question: Q.into(), ..Research::default() }).await.unwrap();
    let Outcome::Finished(s) = rt.drive(&id).await.unwrap() else { panic!() };
    let draft = s.draft.unwrap();
    assert_eq!((draft.answer.as_str(), draft.engine.as_str()), ("Greenwich Village", "llm:gpt-4o-mini"));
    assert!(s.review.unwrap().supported);
    let sent = mock.requests_to(CHAT);
    assert_eq!(sent.len(), 1);
    let prompt = sent[0].body["messages"][1]["content"].as_str().unwrap().to_string();
    assert!(prompt.contains("[2] Adriana Trigiani"), "the passages are numbered in the prompt: {prompt}");
    // The call is in the journal with its tokens, so a resumed run replays it.
    let spent = rt
        .history(&id)
        .await
        .unwrap()
        .iter()
        .any(|e| matches!(e, Event::Call { name, spend, .. } if name == "model:gpt-4o-mini" && spend.tokens() > 0));
    assert!(spent);
}

#[tokio::test]
async fn a_model_outage_falls_back_to_the_offline_writer() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockOpenAi::start(8).await;
    mock.set_default(CHAT, Reply::Status { code: 500, retry_after: None, body: "down".into() });
    let rt = runtime(dir.path(), &mock).await;
    let id = rt.start(None, &Research { question: Q.into(), ..Research::default() }).await.unwrap();
    let Outcome::Finished(s) = rt.drive(&id).await.unwrap() else { panic!() };
    let draft = s.draft.unwrap();
    assert_eq!(draft.engine, "extractive");
    assert!(draft.answer.contains("Greenwich Village"));
    let events = rt.history(&id).await.unwrap();
    let failed = events.iter().filter(|e| matches!(e, Event::StepFailed { node, .. } if node == "write")).count();
    assert_eq!(failed, 3, "three attempts of the model writer, then the fallback");
    assert!(events.iter().any(
        |e| matches!(e, Event::Checkpoint { node, next: Some(n), .. } if node == "write" && n == "write_offline")
    ));
}

#[tokio::test]
async fn a_draft_without_an_answer_line_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(
        CHAT,
        [Reply::chat_text("I think it is Greenwich Village."), Reply::chat_text("Answer: Greenwich Village [2]")],
    );
    let rt = runtime(dir.path(), &mock).await;
    let id = rt.start(None, &Research { question: Q.into(), ..Research::default() }).await.unwrap();
    let Outcome::Finished(s) = rt.drive(&id).await.unwrap() else { panic!() };
    assert_eq!(s.draft.as_ref().unwrap().answer, "Greenwich Village");
    let reviews: Vec<String> = rt
        .history(&id)
        .await
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Checkpoint { node, state, .. } if node == "review" => Some(state["review"].to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(mock.requests_to(CHAT).len(), 2, "{reviews:?}");
}

#[tokio::test]
async fn with_a_model_the_analyst_uses_its_tools_and_the_writer_reads_the_findings() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockOpenAi::start(8).await;
    let q = "Which magazine was started first, Arthur's Magazine or First for Women?";
    mock.enqueue(
        CHAT,
        [
            // The analyst: a tool that does not exist (fed back), arguments that are not JSON (an
            // error from genai-llm: the step is retried, the first turn replayed from the
            // journal, the bad one asked again), a query on the corpus table, the calculator,
            // then its finding.
            Reply::chat_tool_call("c1", "web_search", r#"{"q": "magazines"}"#),
            Reply::chat_tool_call("c2", "calculator", "{expression: 1844"),
            Reply::chat_tool_call(
                "c3",
                "sql",
                r#"{"query": "SELECT title, year FROM documents WHERE title IN ('Arthur''s Magazine', 'First for Women') ORDER BY year"}"#,
            ),
            Reply::chat_tool_call("c4", "calculator", r#"{"expression": "1844 - 1989"}"#),
            Reply::chat_text("Arthur's Magazine started in 1844, 145 years before First for Women (1989)."),
            // The writer.
            Reply::chat_text("Answer: Arthur's Magazine [1]\n\nIt was published from 1844 [1]; First for Women began in 1989 [2]."),
        ],
    );
    let rt = runtime(dir.path(), &mock).await;
    let id = rt.start(None, &Research { question: q.into(), ..Research::default() }).await.unwrap();
    let out = rt.drive(&id).await.unwrap();
    let Outcome::Finished(s) = out else { panic!("{out:?}") };
    let facts: Vec<(&str, &str)> = s.facts.iter().map(|f| (f.tool.as_str(), f.output.as_str())).collect();
    assert!(facts[0].1.starts_with("error: unknown tool \"web_search\""), "{facts:?}");
    let failed = rt.history(&id).await.unwrap().into_iter().find_map(|e| match e {
        Event::StepFailed { node, error, retry_in_ms, .. } if node == "analyse" => Some((error, retry_in_ms)),
        _ => None,
    });
    let (error, retry) = failed.expect("the malformed call failed an attempt");
    assert!(error.contains("not valid JSON") && retry.is_some(), "{error}");
    assert_eq!(
        facts[1],
        ("sql", r#"[{"title":"Arthur's Magazine","year":1844},{"title":"First for Women","year":1989}]"#),
        "the SQL tool read the corpus table"
    );
    assert_eq!(facts[2], ("calculator", "-145.0"));
    assert_eq!(facts[3].0, "analyst");
    assert_eq!(s.draft.as_ref().unwrap().answer, "Arthur's Magazine");
    let sent = mock.requests_to(CHAT);
    assert_eq!(sent.len(), 6);
    let writer_prompt = sent[5].body["messages"][1]["content"].as_str().unwrap().to_string();
    assert!(writer_prompt.contains("calculator({\"expression\": \"1844 - 1989\"}) = -145.0"), "{writer_prompt}");
    let tools: Vec<&str> =
        sent[0].body["tools"].as_array().unwrap().iter().map(|t| t["function"]["name"].as_str().unwrap()).collect();
    assert_eq!(tools, ["calculator", "days_between", "sql"]);
}
