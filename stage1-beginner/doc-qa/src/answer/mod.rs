//! Answering from retrieved passages, behind one trait with two implementations: the offline
//! [`Extractive`] answerer (shared, in genai-answer) and [`LlmAnswerer`] (a model, with every
//! citation checked against the passages).

mod llm;

pub use genai_answer::*;
pub use llm::{ANSWER_PROMPT, LlmAnswerer, MAX_ANSWER_TOKENS, REFUSAL_TOKEN, check_citations};
