//! Query rewriting before retrieval.
//!
//! - [`Prf`]: pseudo-relevance feedback (RM3), offline; set on a [`SearchRequest`](crate::SearchRequest).
//! - [`LlmRewriter`]: with a model configured, multi-query rewriting and HyDE through genai-llm,
//!   each candidate query searched and all fused with RRF, under a latency budget with a
//!   fallback to the original query.

mod llm;
mod prf;

pub use llm::{LlmRewriter, RewriteMode, RewriteOutcome};
pub use prf::Prf;
