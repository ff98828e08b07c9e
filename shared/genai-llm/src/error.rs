use genai_core::{Classify, ErrorClass};
use std::time::Duration;

/// Every way a model call can fail, classified by what the caller should do.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("model server answered HTTP {status}: {body}")]
    Http { status: u16, retry_after: Option<Duration>, body: String },
    #[error("cannot reach the model server")]
    Connect {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("attempt timed out after {0:?}")]
    AttemptTimeout(Duration),
    #[error("deadline of {0:?} exceeded before an answer arrived")]
    DeadlineExceeded(Duration),
    #[error("model server sent a malformed answer: {reason}")]
    Malformed { reason: String },
    #[error("model server returned no choices")]
    EmptyChoices,
    #[error("answer cut off at the output limit ({max_tokens} tokens)")]
    Truncated { max_tokens: u32 },
    #[error("answer withheld by the provider's content filter")]
    ContentFiltered,
    #[error("stream ended before the answer was complete")]
    StreamCut,
    #[error("tool call {tool} has arguments that are not valid JSON")]
    InvalidToolArguments {
        tool: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("answer did not match the schema after {attempts} attempt(s): {last_error}")]
    SchemaMismatch { attempts: u32, last_error: String },
    #[error(
        "{scope} budget of ${limit:.6} would be exceeded (spent ${spent:.6}, this call may cost up to ${needed:.6})"
    )]
    BudgetExceeded { scope: &'static str, limit: f64, spent: f64, needed: f64 },
    #[error("circuit for {endpoint} is open after repeated failures; retry in {retry_in:?}")]
    CircuitOpen { endpoint: String, retry_in: Duration },
    #[error("client-side rate limit: would have to wait {wait:?}, more than the allowed {max_wait:?}")]
    RateLimited { wait: Duration, max_wait: Duration },
    #[error("every step of the fallback chain failed: {}", summary(.0))]
    FallbackExhausted(Vec<(String, LlmError)>),
    #[error("invalid request: {reason}")]
    InvalidRequest { reason: String },
    /// The server refused the prompt as longer than its context window (llama.cpp's
    /// `exceed_context_size_error`, OpenAI's `context_length_exceeded`, vLLM's "maximum context
    /// length"): send less, do not retry the same request.
    #[error("the prompt does not fit the model's context window (HTTP {status}): {body}")]
    ContextOverflow { status: u16, body: String },
}

/// Phrases servers use for a prompt longer than the context window.
const OVERFLOW_PHRASES: &[&str] = &[
    "exceed_context_size",
    "exceeds the available context size",
    "context_length_exceeded",
    "maximum context length",
    "context window",
    "prompt is too long",
    "too many tokens",
];

impl LlmError {
    /// The error for an HTTP failure: a context overflow when the body says so, else `Http`.
    pub fn from_http(status: u16, retry_after: Option<Duration>, body: String) -> Self {
        let lower = body.to_ascii_lowercase();
        if matches!(status, 400 | 413 | 422) && OVERFLOW_PHRASES.iter().any(|p| lower.contains(p)) {
            Self::ContextOverflow { status, body }
        } else {
            Self::Http { status, retry_after, body }
        }
    }
}

fn summary(steps: &[(String, LlmError)]) -> String {
    steps.iter().map(|(name, e)| format!("{name}: {e}")).collect::<Vec<_>>().join("; ")
}

impl LlmError {
    /// Whether the retry layer should try the same request again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Http { status, .. } => *status == 408 || *status == 429 || *status >= 500,
            Self::Connect { .. }
            | Self::AttemptTimeout(_)
            | Self::StreamCut
            | Self::Malformed { .. }
            | Self::EmptyChoices => true,
            _ => false,
        }
    }

    /// A short, stable label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Http { status, .. } if *status == 429 => "rate_limited",
            Self::Http { status, .. } if *status >= 500 => "server_error",
            Self::Http { .. } => "client_error",
            Self::Connect { .. } => "connect",
            Self::AttemptTimeout(_) => "timeout",
            Self::DeadlineExceeded(_) => "deadline",
            Self::Malformed { .. } => "malformed",
            Self::EmptyChoices => "empty_choices",
            Self::Truncated { .. } => "truncated",
            Self::ContentFiltered => "content_filter",
            Self::StreamCut => "stream_cut",
            Self::InvalidToolArguments { .. } => "invalid_tool_arguments",
            Self::SchemaMismatch { .. } => "schema_mismatch",
            Self::BudgetExceeded { .. } => "budget",
            Self::CircuitOpen { .. } => "circuit_open",
            Self::RateLimited { .. } => "client_rate_limit",
            Self::FallbackExhausted(_) => "fallback_exhausted",
            Self::InvalidRequest { .. } => "invalid_request",
            Self::ContextOverflow { .. } => "context_overflow",
        }
    }
}

impl Classify for LlmError {
    fn class(&self) -> ErrorClass {
        match self {
            e if e.is_retryable() => ErrorClass::Retryable,
            Self::CircuitOpen { .. } | Self::RateLimited { .. } | Self::DeadlineExceeded(_) => ErrorClass::Retryable,
            Self::BudgetExceeded { .. } | Self::Truncated { .. } => ErrorClass::Budget,
            Self::Http { .. } | Self::InvalidRequest { .. } | Self::ContentFiltered | Self::ContextOverflow { .. } => {
                ErrorClass::InvalidInput
            }
            _ => ErrorClass::Permanent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_overflows_are_told_apart_from_other_bad_requests() {
        let llama = r#"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error"}}"#;
        let openai =
            "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.";
        for body in [llama, openai] {
            let e = LlmError::from_http(400, None, body.into());
            assert_eq!(e.kind(), "context_overflow", "{e}");
            assert!(!e.is_retryable());
            assert_eq!(e.class(), ErrorClass::InvalidInput);
        }
        assert_eq!(LlmError::from_http(400, None, "unknown field `foo`".into()).kind(), "client_error");
        // A 5xx that mentions the context is still the server's failure, retried.
        assert!(LlmError::from_http(503, None, "context window warming up".into()).is_retryable());
    }
}
