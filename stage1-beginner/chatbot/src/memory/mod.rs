//! Memory, composed of small policies (each with a documented default):
//!
//! - [`window`]: the newest whole units of the conversation that fit the token budget, computed
//!   with the model's context size and tokenizer, with room reserved for the answer;
//! - [`summary`]: a rolling summary updated from evicted turns only (bounded cost per turn);
//! - [`recall`]: evicted turns are indexed and the relevant ones come back when a later message
//!   needs them;
//! - overflow: a single message larger than the budget is refused (or compressed, by config).
//!
//! The system prompt, the summary and recalled turns travel in one system message at the front;
//! the window follows. The provider always receives a conversation that is valid by its rules.

pub mod recall;
pub mod summary;
pub mod window;

use genai_llm::{Message, tokens::count_chat_tokens};
use serde::{Deserialize, Serialize};

/// What to do with one message larger than the whole budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Overflow {
    /// Refuse it with a clear error (the default): nothing is silently cut.
    #[default]
    Reject,
    /// Keep its sentences in order until the budget is full, and say so in the reply.
    Compress,
}

/// Memory settings. Defaults: an 8,192-token context (or the model's, when known), 1,024
/// reserved for the answer, a 256-token summary, 2 recalled turns of up to 120 tokens each.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryConfig {
    pub context_tokens: u64,
    pub reserve_output: u64,
    pub summary_tokens: u64,
    pub recall_k: usize,
    pub recall_tokens_each: u64,
    pub overflow: Overflow,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            context_tokens: 8_192,
            reserve_output: 1_024,
            summary_tokens: 256,
            recall_k: 2,
            recall_tokens_each: 120,
            overflow: Overflow::Reject,
        }
    }
}

impl MemoryConfig {
    /// Context sizes of known model families (tokens), for `context_tokens` when a model is set.
    pub fn context_of(model: &str) -> Option<u64> {
        genai_llm::context::known_window(model)
    }

    // ANCHOR: budget
    /// Tokens the window may use once the system prompt, the summary and recall are reserved.
    pub fn window_budget(&self, system_prompt: &str, model: &str) -> u64 {
        let system = count_chat_tokens(model, &[Message::system(system_prompt)]);
        let reserved =
            self.reserve_output + self.summary_tokens + self.recall_k as u64 * self.recall_tokens_each + system;
        self.context_tokens.saturating_sub(reserved)
    }
    // ANCHOR_END: budget
}

/// The tokens one message costs in a chat request (framing included).
pub fn message_tokens(model: &str, m: &Message) -> u64 {
    count_chat_tokens(model, std::slice::from_ref(m)).saturating_sub(3)
}

/// The one system message: the prompt, then the summary and recalled turns when there are any.
pub fn system_message(prompt: &str, summary: &str, recalled: &[String]) -> Message {
    let mut text = prompt.trim_end().to_owned();
    if !summary.trim().is_empty() {
        text.push_str("\n\nSummary of the earlier conversation:\n");
        text.push_str(summary.trim());
    }
    if !recalled.is_empty() {
        text.push_str("\n\nEarlier messages that may be relevant now:\n");
        for r in recalled {
            text.push_str(&format!("- {r}\n"));
        }
    }
    Message::system(text)
}

/// Cuts `text` to at most `max_tokens` (whole sentences, in order); `None` if nothing fits.
pub fn compress(model: &str, text: &str, max_tokens: u64) -> Option<String> {
    let mut out = String::new();
    for r in genai_ingest::sentence_spans(text) {
        let candidate = if out.is_empty() { text[r].to_owned() } else { format!("{out} {}", &text[r]) };
        if genai_llm::tokens::count_text_tokens(model, &candidate) > max_tokens {
            break;
        }
        out = candidate;
    }
    (!out.is_empty()).then_some(out)
}

/// `text` cut to at most `max_tokens`, marked with an ellipsis when cut (for recalled turns).
pub fn clip(model: &str, text: &str, max_tokens: u64) -> String {
    let bpe = genai_llm::tokens::encoding_for(model);
    let ids = bpe.encode_ordinary(text);
    if ids.len() as u64 <= max_tokens {
        return text.to_owned();
    }
    let cut = bpe.decode(&ids[..max_tokens.saturating_sub(1) as usize]).unwrap_or_default();
    format!("{}…", cut.trim_end())
}
