//! Who writes the reply: a model through genai-llm (streamed), or — offline — an honest grounded
//! responder that answers questions from the conversation's own memory and says plainly when it
//! cannot.

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use genai_answer::{Answerer, Extractive, LEXICAL_WEIGHTS, Weights};
use genai_core::Classify;
use genai_core::{Chunk, ChunkId, DocId, PageRange};
use genai_llm::{
    ChatModel, ChatRequest, ChatResponse, FinishReason, LlmError, Message, Resilient, Role, StreamEvent, Usage,
};
use genai_retrieval::Hit;

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
                    self.fallback.reply(turn).await
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

/// The offline responder. Statements are acknowledged (and remembered by the store); questions
/// are answered extractively from what the user said earlier — in the window, the summary or a
/// recalled turn — with the source turn cited, or honestly declined.
#[derive(Debug, Clone)]
pub struct OfflineResponder {
    answerer: Extractive,
}

/// Scoring for answers from memory. Each source is one thing the user said, so passage and
/// sentence coverage coincide; a third of the question's informative terms in one statement is
/// enough, because the reply quotes that statement and the user can judge it.
///
/// Production note: unlike doc-qa's threshold (fitted on SQuAD), this one is set by reasoning,
/// not calibrated: there is no conversational-memory set among the project's datasets yet.
pub const MEMORY_WEIGHTS: Weights = Weights { threshold: 0.3, max_sentences: 1, ..LEXICAL_WEIGHTS };

impl Default for OfflineResponder {
    fn default() -> Self {
        Self { answerer: Extractive::new(MEMORY_WEIGHTS) }
    }
}

/// Whether `text` asks something.
pub fn is_question(text: &str) -> bool {
    let t = text.trim().to_lowercase();
    t.ends_with('?')
        || [
            "what", "who", "whom", "whose", "when", "where", "why", "how", "which", "do ", "does ", "did ", "is ",
            "are ", "can ", "could ",
        ]
        .iter()
        .any(|w| t.starts_with(w))
}

impl OfflineResponder {
    /// The reply text (pure apart from the answerer).
    pub async fn reply(&self, turn: &TurnContext) -> String {
        if !is_question(&turn.user) {
            return "Noted — I'll keep that in mind. (No language model is configured, so I answer questions from \
                    what you have told me in this conversation.)"
                .to_owned();
        }
        // Everything the user said that is still known: the window, the summary, recalled turns.
        let mut sources: Vec<(String, String)> = Vec::new();
        let window_user: Vec<&Message> = turn.messages.iter().filter(|m| m.role == Role::User).collect();
        for (i, m) in window_user.iter().enumerate().take(window_user.len().saturating_sub(1)) {
            sources.push((format!("earlier message {}", i + 1), m.content.clone().unwrap_or_default()));
        }
        for line in turn.summary.lines().filter_map(|l| l.strip_prefix("- ")) {
            sources.push(("the conversation summary".into(), line.to_owned()));
        }
        for r in &turn.recalled {
            if let Some(text) = r.strip_prefix("user: ") {
                sources.push(("a recalled earlier message".into(), text.to_owned()));
            }
        }
        let hits: Vec<Hit> = sources.iter().enumerate().map(|(i, (label, text))| hit(i, label, text)).collect();
        let answer = self.answerer.answer(&content_words(&turn.user), &hits, None).await;
        match answer.citations.first() {
            Some(c) if !answer.refused => {
                let lead = answer.short.as_deref().map_or(String::new(), |s| format!("{s} — "));
                format!("{lead}you told me: “{}” ({}).", c.citation.quote, c.citation.source)
            }
            _ => "I can't answer that from our conversation, and no language model is configured to answer it otherwise. \
                  (Set OPENAI_BASE_URL and OPENAI_API_KEY to use one.)"
                .to_owned(),
        }
    }
}

/// A whole reply as a stream: one delta, then `Done`.
fn done_stream(text: String) -> BoxStream<'static, Result<StreamEvent, LlmError>> {
    let done = ChatResponse {
        message: Message::assistant(text.clone()),
        finish_reason: FinishReason::Stop,
        usage: Usage { counted: true, ..Usage::default() },
        model: "offline".into(),
    };
    futures::stream::iter([Ok(StreamEvent::Delta(text)), Ok(StreamEvent::Done(done))]).boxed()
}

/// Words that carry no topic in a chat question. Pronouns flip between the statement and the
/// question ("my budget" / "what was our budget?"), so they must not count as missing evidence.
const FUNCTION_WORDS: &[&str] = &[
    "i", "me", "my", "mine", "we", "us", "our", "ours", "you", "your", "yours", "he", "she", "it", "they", "them",
    "their", "his", "her", "its", "could", "would", "should", "can", "will", "shall", "may", "might", "must", "again",
    "please", "tell", "remind", "the", "a", "an", "of", "in", "on", "at", "to", "for", "and", "or", "with", "about",
    "that", "this",
];

/// The question without function words (the answerer scores the rest).
pub fn content_words(question: &str) -> String {
    question
        .split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '-')
        .filter(|w| !w.is_empty() && !FUNCTION_WORDS.contains(&w.to_lowercase().as_str()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn hit(i: usize, label: &str, text: &str) -> Hit {
    let doc = DocId::from_content(format!("{i}:{text}").as_bytes());
    Hit::new(Chunk {
        id: ChunkId::derive(&doc, "memory", i),
        doc_id: doc,
        source: label.to_owned(),
        ordinal: i as u32,
        text: text.to_owned(),
        pages: PageRange::single(1),
        char_span: 0..text.chars().count(),
        token_count: 0,
    })
}

#[async_trait]
impl Responder for OfflineResponder {
    async fn respond(
        &self,
        turn: &TurnContext,
        _max_tokens: u32,
    ) -> Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError> {
        Ok(done_stream(self.reply(turn).await))
    }

    fn engine(&self) -> String {
        "offline".into()
    }
}
