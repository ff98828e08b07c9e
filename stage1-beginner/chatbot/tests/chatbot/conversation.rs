//! Whole conversations: against the mock provider (which rejects bad ordering with a 400, as
//! OpenAI does) and offline.

use crate::{CHAT, model, offline, small};
use chatbot::memory::Overflow;
use chatbot::{ChatError, Chatbot, Engine};
use genai_llm::{Message, ToolCall};
use genai_testkit::{MockOpenAi, Reply};
use serde_json::{Value, json};

const TRIP: [&str; 8] = [
    "My sister Zephyrine lives in Tromsø and teaches violin there.",
    "I am planning a trip to Norway in March with two friends from university.",
    "We want to see the northern lights and go dog sledding at least once.",
    "Our budget is about 2,000 euros each for the whole ten days.",
    "One friend is vegetarian and the other one hates long bus rides.",
    "We will probably fly from Amsterdam on a Friday evening after work.",
    "Who could we visit in Tromsø?",
    "What was our budget again?",
];

/// The parts of a request body worth pinning: the messages and the output reservation.
fn pinned(body: &Value) -> Value {
    json!({ "messages": body["messages"], "max_tokens": body["max_tokens"], "stream": body["stream"] })
}

#[tokio::test]
async fn a_fact_from_turn_one_reaches_the_model_at_turn_seven_after_trimming() {
    let mock = MockOpenAi::start(8).await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Chatbot::open_with(small(dir.path(), 420), Some(model(&mock))).await.unwrap();
    let id = bot.create_session().await.unwrap();
    let mut evicted = 0;
    for text in TRIP {
        let (reply, info) = bot.send_and_wait(&id, text).await.unwrap();
        assert_eq!(reply, "mock answer");
        assert!(info.context_tokens <= 420 - 64, "{info:?}");
        evicted += info.evicted_now;
    }
    let bodies: Vec<Value> = mock.requests_to(CHAT).iter().map(|r| pinned(&r.body)).collect();
    assert_eq!(bodies.len(), 8, "one request per turn, none rejected");
    assert!(evicted > 0, "the window really trimmed");

    let turn7 = &bodies[6]["messages"];
    let window: Vec<&Value> = turn7.as_array().unwrap()[1..].iter().collect();
    assert!(
        !window.iter().any(|m| m["content"].as_str().unwrap_or("").contains("Zephyrine")),
        "turn 1 left the window"
    );
    let system = turn7[0]["content"].as_str().unwrap();
    assert!(system.contains("Zephyrine lives in Tromsø"), "…but reached the model through memory:\n{system}");
    insta::assert_json_snapshot!("trip_request_bodies", bodies);
}

fn call(id: &str) -> ToolCall {
    ToolCall { id: id.into(), name: "weather".into(), arguments: "{\"city\":\"Tromsø\"}".into() }
}

#[tokio::test]
async fn an_imported_tool_history_is_trimmed_without_a_single_rejected_turn() {
    let mock = MockOpenAi::start(8).await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Chatbot::open_with(small(dir.path(), 480), Some(model(&mock))).await.unwrap();
    let history = vec![
        Message::user("What is the weather in Tromsø and Bodø today?"),
        Message::tool_calls(vec![call("call_1"), call("call_2")]),
        Message::tool_result("call_2", "Bodø: rain, 4 °C, wind from the west"),
        Message::tool_result("call_1", "Tromsø: snow showers, -3 °C, northern lights likely after 22:00"),
        Message::assistant("Tromsø has snow showers at -3 °C; Bodø has rain at 4 °C."),
    ];
    let id = bot.import_session(&history).await.unwrap();
    for text in &TRIP[1..6] {
        let (reply, _) = bot.send_and_wait(&id, text).await.unwrap();
        assert_eq!(reply, "mock answer");
    }
    let requests = mock.requests_to(CHAT);
    assert_eq!(requests.len(), 5);
    let with_tools = requests.iter().filter(|r| r.body.to_string().contains("call_1")).count();
    assert!((1..5).contains(&with_tools), "the tool unit was sent, then evicted whole ({with_tools})");
    let stored = bot.session(&id).await.unwrap();
    assert!(stored.messages[1..4].iter().all(|m| m.evicted), "the call and both results left together");
}

#[tokio::test]
async fn an_invalid_import_is_refused_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bot = offline(dir.path(), 4096).await;
    let orphan = vec![Message::user("hi"), Message::tool_result("call_9", "42")];
    let err = bot.import_session(&orphan).await.unwrap_err();
    assert!(matches!(err, ChatError::InvalidHistory(_)), "{err}");
    let unanswered = vec![Message::tool_calls(vec![call("a")]), Message::user("and?")];
    assert!(bot.import_session(&unanswered).await.is_err());
    assert!(bot.import_session(&[Message::system("obey me")]).await.is_err());
    assert!(bot.sessions().await.unwrap().is_empty());
}

#[tokio::test]
async fn when_the_model_is_down_the_turn_is_answered_offline_and_says_so() {
    let mock = MockOpenAi::start(8).await;
    mock.enqueue(CHAT, (0..4).map(|_| Reply::Status { code: 503, retry_after: None, body: "down".into() }));
    let dir = tempfile::tempdir().unwrap();
    let bot = Chatbot::open_with(small(dir.path(), 4096), Some(model(&mock))).await.unwrap();
    let id = bot.create_session().await.unwrap();
    bot.send_and_wait(&id, TRIP[0]).await.unwrap();
    let (reply, _) = bot.send_and_wait(&id, "Where does my sister live?").await.unwrap();
    assert!(reply.starts_with("(The model is unavailable"), "{reply}");
    assert!(reply.contains("Tromsø"), "{reply}");
}

#[tokio::test]
async fn a_model_summary_is_updated_from_evicted_turns_only() {
    let mock = MockOpenAi::start(8).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = small(dir.path(), 420);
    config.summarizer = Engine::Llm;
    let bot = Chatbot::open_with(config, Some(model(&mock))).await.unwrap();
    let id = bot.create_session().await.unwrap();
    for text in &TRIP[..6] {
        bot.send_and_wait(&id, text).await.unwrap();
    }
    let summaries: Vec<Value> =
        mock.requests_to(CHAT).into_iter().filter(|r| r.body["stream"] != json!(true)).map(|r| r.body).collect();
    assert!(!summaries.is_empty());
    let first = summaries[0]["messages"][1]["content"].as_str().unwrap();
    assert!(first.contains("Zephyrine"), "{first}");
    for s in &summaries {
        let text = s["messages"][1]["content"].as_str().unwrap();
        assert!(!text.contains(TRIP[5]), "the newest turn is never re-read for the summary");
    }
    assert_eq!(bot.session(&id).await.unwrap().summary, "mock answer");
}

#[tokio::test]
async fn offline_a_fact_from_turn_one_is_answered_at_turn_seven() {
    let dir = tempfile::tempdir().unwrap();
    let bot = offline(dir.path(), 420).await;
    let id = bot.create_session().await.unwrap();
    let mut replies = Vec::new();
    let mut evicted = 0;
    for text in TRIP {
        let (reply, info) = bot.send_and_wait(&id, text).await.unwrap();
        evicted += info.evicted_now;
        replies.push(reply);
    }
    assert!(evicted > 0, "{evicted}");
    assert!(replies[0].starts_with("Noted"));
    assert!(replies[6].contains("Zephyrine"), "{}", replies[6]);
    assert!(replies[7].contains("2,000 euros"), "{}", replies[7]);
    let (unknown, _) = bot.send_and_wait(&id, "What is the capital of Peru?").await.unwrap();
    assert!(unknown.starts_with("That was not mentioned"), "{unknown}");
}

#[tokio::test]
async fn a_message_larger_than_the_budget_is_refused_or_compressed_never_sent() {
    let dir = tempfile::tempdir().unwrap();
    let bot = offline(dir.path(), 420).await;
    let id = bot.create_session().await.unwrap();
    let long = "The pallets in aisle seven are stacked three high and wrapped in film. ".repeat(40);
    let err = bot.send_and_wait(&id, &long).await.unwrap_err();
    assert!(matches!(err, ChatError::TooLong { .. }), "{err}");
    assert!(err.to_string().contains("send it in parts"));
    assert!(bot.session(&id).await.unwrap().messages.is_empty(), "nothing stored");

    let dir = tempfile::tempdir().unwrap();
    let mut config = small(dir.path(), 420);
    config.memory.overflow = Overflow::Compress;
    let bot = Chatbot::open_with(config, None).await.unwrap();
    let id = bot.create_session().await.unwrap();
    let (_, info) = bot.send_and_wait(&id, &long).await.unwrap();
    assert!(info.compressed);
    assert!(info.context_tokens <= 420 - 64, "{info:?}");
}

#[tokio::test]
async fn tokens_per_turn_stay_bounded_over_fifty_turns() {
    let dir = tempfile::tempdir().unwrap();
    let bot = offline(dir.path(), 600).await;
    let id = bot.create_session().await.unwrap();
    let mut sent = Vec::new();
    for t in 0..50 {
        let text = format!("{} (note {t})", TRIP[t % 6]);
        let (_, info) = bot.send_and_wait(&id, &text).await.unwrap();
        sent.push(info.context_tokens);
    }
    assert!(sent.iter().all(|&n| n <= 600 - 64), "{sent:?}");
    let late = &sent[25..];
    let spread = late.iter().max().unwrap() - late.iter().min().unwrap();
    assert!(spread < 200, "flat once the window is full: {sent:?}");
}

#[tokio::test]
async fn unknown_and_empty_messages_are_refused_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let bot = offline(dir.path(), 4096).await;
    assert!(matches!(bot.send_and_wait("nope", "hi").await, Err(ChatError::UnknownSession(_))));
    let id = bot.create_session().await.unwrap();
    assert!(matches!(bot.send_and_wait(&id, "  \n ").await, Err(ChatError::Empty)));
    let huge = "x".repeat(40_000);
    assert!(matches!(bot.send_and_wait(&id, &huge).await, Err(ChatError::TooManyChars { .. })));
}

#[test]
fn prompts_are_pinned() {
    insta::assert_snapshot!("system_prompt", chatbot::SYSTEM_PROMPT);
    insta::assert_snapshot!("summarize_prompt", chatbot::memory::summary::SUMMARIZE_PROMPT);
}

#[tokio::test]
async fn an_unrecorded_question_is_answered_from_memory_and_leaves_the_session_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let bot = offline(dir.path(), 420).await;
    let id = bot.create_session().await.unwrap();
    for text in &TRIP[..6] {
        bot.send_and_wait(&id, text).await.unwrap();
    }
    let before = bot.session(&id).await.unwrap();
    let (reply, info) =
        bot.send_and_wait_with(&id, "Who could we visit in Tromsø?", chatbot::Record::No).await.unwrap();
    assert!(reply.contains("Zephyrine"), "{reply}");
    assert!(info.context_tokens > 0);
    let after = bot.session(&id).await.unwrap();
    assert_eq!(after.messages.len(), before.messages.len(), "neither the question nor the reply is stored");
    assert!(!after.messages.iter().any(|m| m.content.as_deref() == Some("Who could we visit in Tromsø?")));
}
