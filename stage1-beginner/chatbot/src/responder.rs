//! Who writes the reply: a model through genai-llm (streamed), or — offline — an honest grounded
//! responder that answers questions from the conversation's own memory and says plainly when it
//! cannot.

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use genai_core::Classify;
use genai_llm::{ChatModel, ChatRequest, ChatResponse, FinishReason, LlmError, Message, Resilient, StreamEvent, Usage};

pub use crate::offline::{OfflineResponder, is_question};

/// What a responder sees for one turn.
#[derive(Debug, Clone)]
pub struct TurnContext {
    /// The request a model gets: one system message (prompt, summary, recall), then the window.
    pub messages: Vec<Message>,
    /// The summary's facts and the recalled turns, for the offline responder.
    pub summary: String,
    pub recalled: Vec<String>,
    /// The new user message.
    pub user: String,
}

/// Writes the reply as a stream: text deltas, then one `Done` with the whole answer.
#[async_trait]
pub trait Responder: Send + Sync + std::fmt::Debug {
    async fn respond(
        &self,
        turn: &TurnContext,
        max_tokens: u32,
    ) -> Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError>;
    /// `offline` or `llm:<model>`.
    fn engine(&self) -> String;
}

/// A model, streamed, through the resilience layer (retries, breaker, budget). When the model
/// cannot be reached at all, the turn is answered offline and the reply says so: a chat that
/// goes silent is worse than a plainly labelled lesser answer.
#[derive(Debug, Clone)]
pub struct LlmResponder {
    pub model: Resilient,
    pub fallback: OfflineResponder,
}

impl LlmResponder {
    pub fn new(model: Resilient) -> Self {
        Self { model, fallback: OfflineResponder::default() }
    }
}

#[async_trait]
impl Responder for LlmResponder {
    async fn respond(
        &self,
        turn: &TurnContext,
        max_tokens: u32,
    ) -> Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError> {
        let mut req = ChatRequest::new(turn.messages.clone());
        req.max_tokens = max_tokens;
        match self.model.with_route("chatbot.reply").stream(&req).await {
            Ok(stream) => Ok(stream),
            Err(e) if e.class() == genai_core::ErrorClass::Retryable => {
                tracing::warn!(error = %e, "the model is unavailable; answering offline");
                let text = format!(
                    "(The model is unavailable right now, so this answer comes from memory only.) {}",
                    self.fallback.reply(turn)
                );
                Ok(done_stream(text))
            }
            Err(e) => Err(e),
        }
    }

    fn engine(&self) -> String {
        format!("llm:{}", self.model.name())
    }
}

/// A whole reply as a stream: one delta, then `Done`.
pub(crate) fn done_stream(text: String) -> BoxStream<'static, Result<StreamEvent, LlmError>> {
    let done = ChatResponse {
        message: Message::assistant(text.clone()),
        finish_reason: FinishReason::Stop,
        usage: Usage { counted: true, ..Usage::default() },
        model: "offline".into(),
    };
    futures::stream::iter([Ok(StreamEvent::Delta(text)), Ok(StreamEvent::Done(done))]).boxed()
}

#[async_trait]
impl Responder for OfflineResponder {
    async fn respond(
        &self,
        turn: &TurnContext,
        _max_tokens: u32,
    ) -> Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError> {
        Ok(done_stream(self.reply(turn)))
    }

    fn engine(&self) -> String {
        "offline".into()
    }
}
