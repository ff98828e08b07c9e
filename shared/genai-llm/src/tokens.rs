//! Token counting with the encoding each model family uses, for budgets before a call and for
//! usage when a server does not report it.

use crate::Message;
use tiktoken_rs::{CoreBPE, cl100k_base_singleton, o200k_base_singleton};

/// The tokenizer of `model`: o200k_base for the GPT-4o, GPT-4.1, GPT-5 and o-series families,
/// cl100k_base for GPT-4, GPT-3.5 and anything unknown (a fair proxy for open models).
pub fn encoding_for(model: &str) -> &'static CoreBPE {
    let m = model.to_ascii_lowercase();
    let o200k = ["gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o"];
    if o200k.iter().any(|p| m.starts_with(p)) { o200k_base_singleton() } else { cl100k_base_singleton() }
}

pub fn count_text_tokens(model: &str, text: &str) -> u64 {
    encoding_for(model).encode_ordinary(text).len() as u64
}

/// Tokens of a chat prompt as OpenAI counts them: 3 per message for the framing, the role and
/// the content (and tool-call names and arguments), plus 3 that prime the reply.
pub fn count_chat_tokens(model: &str, messages: &[Message]) -> u64 {
    let bpe = encoding_for(model);
    let count = |s: &str| bpe.encode_ordinary(s).len() as u64;
    3 + messages
        .iter()
        .map(|m| {
            let calls: u64 = m.tool_calls.iter().map(|c| count(&c.name) + count(&c.arguments) + 3).sum();
            3 + 1 + m.content.as_deref().map_or(0, count) + calls
        })
        .sum::<u64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_use_their_encodings() {
        // "hello world" is 2 tokens in both; a rarer word differs between the two vocabularies.
        assert_eq!(count_text_tokens("gpt-4o-mini", "hello world"), 2);
        assert!(std::ptr::eq(encoding_for("gpt-4o-mini"), o200k_base_singleton()));
        assert!(std::ptr::eq(encoding_for("llama-3.1-8b"), cl100k_base_singleton()));
        let msgs = [Message::system("You are terse."), Message::user("hello world")];
        assert_eq!(count_chat_tokens("gpt-4", &msgs), 3 + (4 + 4) + (4 + 2));
    }
}
