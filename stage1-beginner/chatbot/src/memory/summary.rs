//! The rolling summary: updated from the turns being evicted only, so its cost per turn is
//! bounded by what leaves the window, not by the length of the conversation.

use async_trait::async_trait;
use genai_llm::{ChatModel, ChatRequest, Message, Resilient, Role};

/// Folds evicted messages into a summary of at most `max_tokens` tokens.
#[async_trait]
pub trait Summarizer: Send + Sync + std::fmt::Debug {
    async fn update(&self, summary: &str, evicted: &[Message], max_tokens: u64) -> String;
}

/// The offline summarizer: keeps what the user stated (their sentences, newest first when the
/// summary is full), and a count of what was dropped. Extractive: nothing is invented.
#[derive(Debug, Clone, Default)]
pub struct ExtractiveSummarizer;

// ANCHOR: extractive
#[async_trait]
impl Summarizer for ExtractiveSummarizer {
    async fn update(&self, summary: &str, evicted: &[Message], max_tokens: u64) -> String {
        let mut facts: Vec<String> = summary.lines().filter_map(|l| l.strip_prefix("- ")).map(str::to_owned).collect();
        for m in evicted.iter().filter(|m| m.role == Role::User) {
            let text = m.content.as_deref().unwrap_or_default();
            for r in genai_ingest::sentence_spans(text) {
                let sentence = text[r].trim();
                // Questions are not facts; statements are.
                if !sentence.ends_with('?') && !facts.iter().any(|f| f == sentence) {
                    facts.push(sentence.to_owned());
                }
            }
        }
        // Over budget: drop the oldest facts first (recall can still find them).
        let cost = |facts: &[String]| genai_llm::tokens::count_text_tokens("", &render(facts));
        while facts.len() > 1 && cost(&facts) > max_tokens {
            facts.remove(0);
        }
        render(&facts)
    }
}
// ANCHOR_END: extractive

fn render(facts: &[String]) -> String {
    facts.iter().map(|f| format!("- {f}")).collect::<Vec<_>>().join("\n")
}

/// The prompt that asks a model to update the summary (snapshot-tested).
pub const SUMMARIZE_PROMPT: &str = include_str!("../../prompts/summarize.md");

/// A model updates the summary; falls back to the extractive one if the model fails.
#[derive(Debug, Clone)]
pub struct LlmSummarizer {
    pub model: Resilient,
}

#[async_trait]
impl Summarizer for LlmSummarizer {
    async fn update(&self, summary: &str, evicted: &[Message], max_tokens: u64) -> String {
        let transcript: String = evicted
            .iter()
            .filter_map(|m| m.content.as_deref().map(|c| format!("{}: {c}\n", crate::role_label(m.role))))
            .collect();
        let user = format!("Current summary:\n{summary}\n\nMessages leaving the context:\n{transcript}");
        let mut req = ChatRequest::new(vec![Message::system(SUMMARIZE_PROMPT), Message::user(user)]);
        req.max_tokens = max_tokens.min(u32::MAX as u64) as u32;
        req.temperature = Some(0.0);
        match self.model.with_route("chatbot.summary").chat(&req).await {
            Ok(r) => r.text().trim().to_owned(),
            Err(e) => {
                tracing::warn!(error = %e, "summary model failed; summarising extractively");
                ExtractiveSummarizer.update(summary, evicted, max_tokens).await
            }
        }
    }
}
