//! The llm engine against a real llama-server (`LLAMA_SERVER_URL`; `.ci/run` starts one with
//! Gemma 3 270M). The model is tiny, so these check protocol and behaviour — a JSON-Schema
//! answer parsed, validated and span-resolved; a text that cannot fit the server's window
//! refused before the call — never the quality of what it extracts.

use extraction_api::{Config, EngineKind, ExtractError, ExtractRequest, Extractor};

const TEXT: &str = "Minutes: Jana Nováková (ACME s.r.o.) met Tom Berg in Brno on 3 June; next call 17 June.";

fn request(text: String) -> ExtractRequest {
    ExtractRequest { text, schema: Some("meeting".into()), json_schema: None, engine: Some(EngineKind::Llm) }
}

#[tokio::test]
async fn a_real_server_answers_in_the_schema_and_every_kept_value_is_in_the_text() {
    let Some((model, window)) = genai_testkit::llama_server().await else { return };
    let ex = Extractor::new(Config::default(), Some(model)).with_context_window(Some(window));
    // The 270M model may fill the schema's arrays until the output limit: a `Truncated` error is
    // the protocol's correct answer then; anything else but a validated answer is a failure.
    let out = match ex.extract(&request(TEXT.into())).await {
        Ok(out) => out,
        Err(ExtractError::Model(genai_llm::LlmError::Truncated { .. })) => return,
        Err(e) => panic!("a real server's answer should validate or be reported truncated: {e:?}"),
    };
    assert_eq!(out.engine, "llm");
    let usage = out.usage.as_ref().expect("usage is reported");
    assert!(usage.input_tokens > 0 && usage.output_tokens > 0, "{usage:?}");
    let chars: Vec<char> = TEXT.chars().collect();
    for e in &out.entities {
        let span: String = chars[e.start..e.end].iter().collect();
        assert_eq!(span, e.value, "every kept value is exactly the text at its span");
    }
}

#[tokio::test]
async fn a_text_beyond_the_servers_window_is_refused_before_the_call() {
    let Some((model, window)) = genai_testkit::llama_server().await else { return };
    let ex = Extractor::new(Config::default(), Some(model)).with_context_window(Some(window));
    // About 25 tokens a sentence: well past a 2,048-token window.
    let long = TEXT.repeat((window as usize / 20).max(120));
    match ex.extract(&request(long)).await {
        Err(ExtractError::TooLongForModel { window: w, .. }) => assert_eq!(w, window),
        other => panic!("expected a refusal naming the window, got {other:?}"),
    }
}
