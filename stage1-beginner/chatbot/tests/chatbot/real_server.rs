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
    // Four messages of about 350 tokens: more than the window holds after the reserves.
    for i in 0..4 {
        let text =
            format!("Note {i}: the pump in hall {i} was serviced on day {i} and the filter was replaced. ").repeat(18);
        let (reply, info) = bot.send_and_wait(&id, &text).await.unwrap_or_else(|e| panic!("turn {i}: {e}"));
        assert!(!reply.trim().is_empty(), "turn {i}: an empty reply");
        assert!(info.engine.starts_with("llm:"), "{}", info.engine);
        assert!(
            info.context_tokens + 192 <= window,
            "turn {i}: {} context tokens against a {window}-token window",
            info.context_tokens
        );
        if i == 3 {
            let session = bot.session(&id).await.unwrap();
            assert!(!session.summary.is_empty(), "older turns were summarised once the window filled");
        }
    }
}
