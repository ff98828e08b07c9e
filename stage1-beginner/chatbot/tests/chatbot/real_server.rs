//! The chatbot's model path against a real llama-server (`LLAMA_SERVER_URL`; `.ci/run` starts
//! one with Gemma 3 270M and a 2,048-token context). Protocol and behaviour only: replies stream
//! and are stored, and a conversation longer than the server's window keeps every request inside
//! it (older turns summarised and recalled) instead of meeting the server's overflow error.

use chatbot::{Chatbot, Config, Engine};

#[tokio::test]
async fn a_conversation_longer_than_the_servers_window_stays_inside_it() {
    let Some((model, window)) = genai_testkit::llama_server().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config { data_dir: dir.path().to_owned(), responder: Engine::Llm, ..Config::default() };
    config.memory.context_tokens = window;
    config.memory.reserve_output = 192;
    config.memory.summary_tokens = 192;
    config.memory.recall_k = 2;
    config.memory.recall_tokens_each = 96;
    let bot = Chatbot::open_with(config, Some(model)).await.expect("a 2,048-token window is enough for the chat");
    let id = bot.create_session().await.unwrap();
    // Four messages of about 350 tokens: more than the window holds after the reserves. The
    // 270M base model rambles to the output limit, so a turn may end `Truncated`; what must
    // never happen is a request the server refuses as too long.
    for i in 0..4 {
        let text =
            format!("Note {i}: the pump in hall {i} was serviced on day {i} and the filter was replaced. ").repeat(18);
        let turn = bot.send(&id, &text).await.unwrap_or_else(|e| panic!("turn {i}: {e}"));
        assert!(turn.info.engine.starts_with("llm:"), "{}", turn.info.engine);
        assert!(
            turn.info.context_tokens + 192 <= window,
            "turn {i}: {} context tokens against a {window}-token window",
            turn.info.context_tokens
        );
        let mut events = turn.events;
        let mut text_seen = false;
        while let Some(event) = futures::StreamExt::next(&mut events).await {
            match event {
                Ok(_) => text_seen = true,
                Err(genai_llm::LlmError::Truncated { .. }) => break,
                Err(e) => panic!("turn {i}: the server refused or failed: {e}"),
            }
        }
        assert!(text_seen, "turn {i}: the server streamed nothing");
    }
}
