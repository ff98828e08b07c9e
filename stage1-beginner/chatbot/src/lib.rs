//! Milestone 3: a chatbot with memory that never breaks the conversation.
//!
//! Sessions persist in SQLite and survive restarts. Each turn assembles a context that fits the
//! model's window — system prompt, rolling summary, recalled turns, then the newest whole turns —
//! and is valid by the provider's ordering rules, whatever the history holds. Offline, an honest
//! grounded responder answers from the conversation itself; with a model, replies stream.
//!
//! [`Chatbot`] is the service; [`router`]/[`serve`] put it on HTTP (with server-sent events and a
//! chat page); the `chatbot` binary is a terminal chat.

mod api;
pub mod cli;
pub mod eval;
pub mod memory;
pub mod offline;
pub mod responder;
pub mod store;

pub use api::{router, serve};

use futures::stream::{BoxStream, StreamExt};
use genai_core::{Classify, ErrorClass};
use genai_llm::{LlmError, Message, Role, StreamEvent, tokens::count_chat_tokens};
use memory::summary::{ExtractiveSummarizer, LlmSummarizer, Summarizer};
use memory::{MemoryConfig, Overflow, recall::Recall, window};
use responder::{LlmResponder, OfflineResponder, Responder, TurnContext};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use store::Store;

/// The default system prompt (snapshot-tested).
pub const SYSTEM_PROMPT: &str = include_str!("../prompts/system.md");

/// The smallest window worth chatting in: a few short turns.
pub const MIN_WINDOW_TOKENS: u64 = 32;

/// Who replies and who summarises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// The model in `OPENAI_BASE_URL`/`OPENAI_API_KEY` when set, otherwise offline.
    #[default]
    Auto,
    Offline,
    Llm,
}

/// Settings. Defaults: data in `data/chatbot`, the prompt in `prompts/system.md`, memory defaults,
/// replies by `auto`, summaries extractive (deterministic and free; `llm` by config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub system_prompt: String,
    pub memory: MemoryConfig,
    pub responder: Engine,
    pub summarizer: Engine,
    /// Longest accepted message in characters, before any token accounting (default 32,000).
    pub max_message_chars: usize,
    /// Offline responder: the share of a question's weighted terms a remembered sentence must
    /// hold to be given as the answer (default [`offline::DEFAULT_THRESHOLD`]).
    pub answer_threshold: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data/chatbot"),
            system_prompt: SYSTEM_PROMPT.to_owned(),
            memory: MemoryConfig::default(),
            responder: Engine::Auto,
            summarizer: Engine::Offline,
            max_message_chars: 32_000,
            answer_threshold: offline::DEFAULT_THRESHOLD,
        }
    }
}

/// The chatbot's layers: `chatbot.toml`, `CHATBOT_*` variables (nested with `__`, e.g.
/// `CHATBOT_MEMORY__CONTEXT_TOKENS`), and the short names `CHATBOT_ENGINE` (the responder) and
/// `CHATBOT_CONTEXT_TOKENS`.
pub const LAYERS: genai_config::Layers<'static> = genai_config::Layers {
    default_file: "chatbot.toml",
    env_prefix: "CHATBOT",
    aliases: &[("CHATBOT_ENGINE", "responder"), ("CHATBOT_CONTEXT_TOKENS", "memory.context_tokens")],
    ignore: &["CHATBOT_ADDR"],
};

impl Config {
    /// Defaults < `file` (or `chatbot.toml` in the working directory when present) < the
    /// environment ([`LAYERS`]).
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ChatError> {
        Ok(LAYERS.load(file)?)
    }
}

/// Why a turn or a session operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("no session {0}")]
    UnknownSession(String),
    #[error("the message is empty")]
    Empty,
    #[error("the imported history is invalid: {0}")]
    InvalidHistory(String),
    #[error("the message is {tokens} tokens; at most {limit} fit in the context window (send it in parts)")]
    TooLong { tokens: u64, limit: u64 },
    #[error("the message is {chars} characters; the limit is {limit}")]
    TooManyChars { chars: usize, limit: usize },
    #[error("session store failed")]
    Store(#[from] sqlx::Error),
    #[error("recall index failed")]
    Recall(#[from] genai_retrieval::IndexError),
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error(transparent)]
    Config(#[from] genai_config::ConfigError),
    #[error("invalid setting {what}: {reason}")]
    Settings { what: &'static str, reason: String },
    #[error("cannot create the data folder {path}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Classify for ChatError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::UnknownSession(_) | Self::Empty | Self::InvalidHistory(_) => ErrorClass::InvalidInput,
            Self::TooLong { .. } | Self::TooManyChars { .. } => ErrorClass::Budget,
            Self::Store(_) | Self::Recall(_) => ErrorClass::Retryable,
            Self::Llm(e) => e.class(),
            Self::DataDir { .. } | Self::Config(_) | Self::Settings { .. } => ErrorClass::Permanent,
        }
    }
}

/// Whether a turn joins the stored conversation ([`Chatbot::send_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    Yes,
    No,
}

/// What the memory did this turn (returned with every reply; the book's cost table uses it).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TurnInfo {
    /// Tokens of the request the responder got (system + summary + recall + window).
    pub context_tokens: u64,
    pub window_messages: usize,
    /// Messages that left the window this turn (summarised and indexed for recall).
    pub evicted_now: usize,
    pub recalled: usize,
    pub summary_tokens: u64,
    /// The user's message was cut to fit (overflow = compress).
    pub compressed: bool,
    pub engine: String,
}

/// A turn in progress: the reply's events, and what the memory did.
pub struct Turn {
    pub info: TurnInfo,
    pub events: BoxStream<'static, Result<StreamEvent, LlmError>>,
}

/// A session as stored.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    pub id: String,
    pub summary: String,
    pub messages: Vec<MessageView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub seq: i64,
    pub role: Role,
    pub content: Option<String>,
    pub evicted: bool,
}

/// The chatbot service. Cheap to clone.
#[derive(Clone)]
pub struct Chatbot {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: Store,
    recall: Recall,
    responder: Arc<dyn Responder>,
    summarizer: Arc<dyn Summarizer>,
    /// The tokenizer family and price key of the responder's model (`offline` counts with cl100k).
    model: String,
    /// One turn at a time per session.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for Chatbot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chatbot").field("config", &self.inner.config).finish()
    }
}

impl Chatbot {
    /// Opens the store and recall index in `config.data_dir`, and the configured engines. With
    /// a model, the context never exceeds the model's real window: `OPENAI_CONTEXT_TOKENS`, else
    /// what the server reports (llama.cpp `/props`, vLLM `/v1/models`), else the family's.
    pub async fn open(mut config: Config) -> Result<Self, ChatError> {
        let model = genai_llm::from_env()?;
        if let Some(m) = model.as_ref().filter(|_| config.responder != Engine::Offline)
            && let Some(window) = genai_llm::context::window_from_env(genai_llm::ChatModel::name(m)).await?
        {
            config.memory.context_tokens = config.memory.context_tokens.min(window);
        }
        Self::open_with(config, model).await
    }

    /// [`Chatbot::open`] with an explicit model (`None`: offline) instead of the environment's.
    pub async fn open_with(mut config: Config, model: Option<genai_llm::Resilient>) -> Result<Self, ChatError> {
        let dir = config.data_dir.clone();
        std::fs::create_dir_all(&dir).map_err(|source| ChatError::DataDir { path: dir.clone(), source })?;
        let store = Store::open(&dir.join("sessions.sqlite")).await?;
        let recall = Recall::open(&dir.join("recall"))?;
        let pick = |engine: Engine| -> Result<Option<genai_llm::Resilient>, ChatError> {
            match engine {
                Engine::Offline => Ok(None),
                Engine::Auto => Ok(model.clone()),
                Engine::Llm => model.clone().map(Some).ok_or_else(|| {
                    ChatError::Llm(LlmError::InvalidRequest {
                        reason: "engine = llm needs OPENAI_BASE_URL or OPENAI_API_KEY".into(),
                    })
                }),
            }
        };
        let responder: Arc<dyn Responder> = match pick(config.responder)? {
            Some(m) => Arc::new(LlmResponder::new(m)),
            None => Arc::new(OfflineResponder::with_threshold(config.answer_threshold)),
        };
        let summarizer: Arc<dyn Summarizer> = match pick(config.summarizer)? {
            Some(m) => Arc::new(LlmSummarizer { model: m }),
            None => Arc::new(ExtractiveSummarizer),
        };
        let model_name = model
            .as_ref()
            .filter(|_| config.responder != Engine::Offline)
            .map(|m| genai_llm::ChatModel::name(m).to_owned());
        if let Some(window) = model_name.as_deref().and_then(MemoryConfig::context_of) {
            config.memory.context_tokens = config.memory.context_tokens.min(window);
        }
        let budget = config.memory.window_budget(&config.system_prompt, model_name.as_deref().unwrap_or("offline"));
        if budget < MIN_WINDOW_TOKENS {
            return Err(ChatError::Settings {
                what: "memory",
                reason: format!(
                    "context_tokens = {} leaves {budget} tokens for the conversation after reserve_output, summary_tokens, \
                     recall and the system prompt; at least {MIN_WINDOW_TOKENS} are needed (raise context_tokens or lower the reserves)",
                    config.memory.context_tokens
                ),
            });
        }
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                store,
                recall,
                responder,
                summarizer,
                model: model_name.unwrap_or_else(|| "offline".into()),
                locks: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Starts a session; returns its id (128 random bits, hex).
    pub async fn create_session(&self) -> Result<String, ChatError> {
        let id = format!("{:032x}", rand::random::<u128>());
        self.inner.store.create_session_with(&id, &[]).await?;
        Ok(id)
    }

    /// Starts a session that continues an existing conversation (say, one exported from another
    /// assistant, tool calls included). The history is checked first: no system messages (the
    /// prompt is the chatbot's own), tool results right after the call they answer, every call
    /// answered, no message over the size limit. Nothing is stored unless all of it is valid.
    pub async fn import_session(&self, history: &[Message]) -> Result<String, ChatError> {
        if let Some(i) = history.iter().position(|m| m.role == Role::System) {
            return Err(ChatError::InvalidHistory(format!(
                "message {} is a system message; the chatbot sets its own",
                i + 1
            )));
        }
        let limit = self.inner.config.max_message_chars;
        if let Some(i) = history.iter().position(|m| m.content.as_deref().is_some_and(|c| c.chars().count() > limit)) {
            return Err(ChatError::InvalidHistory(format!("message {} is longer than {limit} characters", i + 1)));
        }
        if let Some(problem) = window::ordering_problem(history) {
            return Err(ChatError::InvalidHistory(problem));
        }
        let id = format!("{:032x}", rand::random::<u128>());
        self.inner.store.create_session_with(&id, history).await?;
        Ok(id)
    }

    pub async fn sessions(&self) -> Result<Vec<String>, ChatError> {
        Ok(self.inner.store.sessions().await?)
    }

    /// Deletes a session: its messages, summary and recall entries. `false` if unknown.
    pub async fn delete_session(&self, id: &str) -> Result<bool, ChatError> {
        let lock = self.lock(id);
        let _turn = lock.lock().await;
        self.inner.recall.forget(id).await?;
        Ok(self.inner.store.delete(id).await?)
    }

    /// Everything stored for a session.
    pub async fn session(&self, id: &str) -> Result<SessionView, ChatError> {
        if !self.inner.store.exists(id).await? {
            return Err(ChatError::UnknownSession(id.to_owned()));
        }
        let messages = self.inner.store.messages(id).await?;
        Ok(SessionView {
            id: id.to_owned(),
            summary: self.inner.store.summary(id).await?,
            messages: messages
                .into_iter()
                .map(|s| MessageView {
                    seq: s.seq,
                    role: s.message.role,
                    content: s.message.content,
                    evicted: s.evicted,
                })
                .collect(),
        })
    }

    fn lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.inner.locks.lock().unwrap_or_else(|p| p.into_inner()).entry(id.to_owned()).or_default().clone()
    }

    /// Sends a user message. The reply streams from [`Turn::events`]; it is stored when complete,
    /// even if nobody reads the stream to the end.
    pub async fn send(&self, id: &str, text: &str) -> Result<Turn, ChatError> {
        self.send_with(id, text, Record::Yes).await
    }

    /// [`Chatbot::send`], choosing whether the message and its reply join the conversation.
    /// With [`Record::No`] the memory is maintained exactly as for a recorded turn (turns that no
    /// longer fit are summarised and indexed for recall), but the question and its answer are
    /// not stored: an aside that leaves the session as it was, which is how the LoCoMo
    /// evaluation asks its questions one after another about the same conversation.
    pub async fn send_with(&self, id: &str, text: &str, record: Record) -> Result<Turn, ChatError> {
        let guard = self.lock(id).lock_owned().await;
        let inner = &self.inner;
        let cfg = &inner.config.memory;
        if !inner.store.exists(id).await? {
            return Err(ChatError::UnknownSession(id.to_owned()));
        }
        let text = text.trim();
        if text.is_empty() {
            return Err(ChatError::Empty);
        }
        let chars = text.chars().count();
        if chars > inner.config.max_message_chars {
            return Err(ChatError::TooManyChars { chars, limit: inner.config.max_message_chars });
        }
        let budget = cfg.window_budget(&inner.config.system_prompt, &inner.model);
        let tokens = |m: &Message| memory::message_tokens(&inner.model, m);
        let mut user = Message::user(text);
        let mut compressed = false;
        if tokens(&user) > budget {
            match cfg.overflow {
                Overflow::Reject => return Err(ChatError::TooLong { tokens: tokens(&user), limit: budget }),
                Overflow::Compress => {
                    let cut = memory::compress(&inner.model, text, budget.saturating_sub(8))
                        .ok_or(ChatError::TooLong { tokens: tokens(&user), limit: budget })?;
                    user = Message::user(cut);
                    compressed = true;
                }
            }
        }
        if record == Record::Yes {
            inner.store.append(id, &user).await?;
        }

        // ANCHOR: turn
        // The window, and what leaves it this turn.
        let active: Vec<store::Stored> = inner.store.messages(id).await?.into_iter().filter(|s| !s.evicted).collect();
        let mut history: Vec<Message> = active.iter().map(|s| s.message.clone()).collect();
        if record == Record::No {
            history.push(user.clone());
        }
        let start = window::fit(&history, budget, tokens);
        let mut summary = inner.store.summary(id).await?;
        if start > 0 {
            // Index first, then mark evicted and store the summary in one transaction: a crash in
            // between leaves the turns in the window, and the next turn redoes this idempotently
            // (recall ids derive from the sequence number; the extractive summary skips repeats).
            let leaving = &active[..start];
            let turns: Vec<(i64, &str, String)> = leaving
                .iter()
                .filter_map(|s| s.message.content.clone().map(|c| (s.seq, role_label(s.message.role), c)))
                .collect();
            inner.recall.add(id, &turns).await?;
            let evicted: Vec<Message> = leaving.iter().map(|s| s.message.clone()).collect();
            summary = inner.summarizer.update(&summary, &evicted, cfg.summary_tokens).await;
            summary = memory::clip(&inner.model, &summary, cfg.summary_tokens);
            inner.store.evict_with_summary(id, leaving[start - 1].seq, &summary).await?;
        }
        let recalled: Vec<String> = inner
            .recall
            .search(id, user.content.as_deref().unwrap_or_default(), cfg.recall_k)
            .await?
            .iter()
            // A turn the summary already holds word for word would only cost tokens twice.
            .filter(|r| !r.strip_prefix("user: ").is_some_and(|t| summary.contains(t.trim())))
            .map(|r| memory::clip(&inner.model, r, cfg.recall_tokens_each))
            .collect();
        let mut messages = vec![memory::system_message(&inner.config.system_prompt, &summary, &recalled)];
        messages.extend_from_slice(&history[start..]);
        // ANCHOR_END: turn
        let info = TurnInfo {
            context_tokens: count_chat_tokens(&inner.model, &messages),
            window_messages: history.len() - start,
            evicted_now: start,
            recalled: recalled.len(),
            summary_tokens: genai_llm::tokens::count_text_tokens(&inner.model, &summary),
            compressed,
            engine: inner.responder.engine(),
        };
        let turn = TurnContext { messages, summary, recalled, user: user.content.clone().unwrap_or_default() };
        let max_tokens = cfg.reserve_output.min(u32::MAX as u64) as u32;
        let mut upstream = inner.responder.respond(&turn, max_tokens).await?;

        // Drive the reply on its own task so it is stored even if the client goes away; the
        // session stays locked until then.
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let (store, session) = (inner.store.clone(), id.to_owned());
        tokio::spawn(async move {
            let _guard = guard;
            while let Some(event) = upstream.next().await {
                if let Ok(StreamEvent::Done(r)) = &event
                    && record == Record::Yes
                    && let Err(e) = store.append(&session, &r.message).await
                {
                    tracing::error!(error = %e, "the reply could not be stored");
                }
                let _ = tx.send(event).await;
            }
        });
        Ok(Turn { info, events: tokio_stream_from(rx) })
    }

    /// [`Chatbot::send`] and wait for the whole reply.
    pub async fn send_and_wait(&self, id: &str, text: &str) -> Result<(String, TurnInfo), ChatError> {
        self.send_and_wait_with(id, text, Record::Yes).await
    }

    /// [`Chatbot::send_with`] and wait for the whole reply.
    pub async fn send_and_wait_with(
        &self,
        id: &str,
        text: &str,
        record: Record,
    ) -> Result<(String, TurnInfo), ChatError> {
        let mut turn = self.send_with(id, text, record).await?;
        let mut reply = String::new();
        while let Some(event) = turn.events.next().await {
            match event? {
                StreamEvent::Delta(d) => reply.push_str(&d),
                StreamEvent::Done(r) => reply = r.text().to_owned(),
            }
        }
        Ok((reply, turn.info))
    }

    /// Closes the store cleanly (graceful shutdown).
    pub async fn close(&self) {
        self.inner.store.close().await;
    }
}

pub(crate) fn role_label(r: Role) -> &'static str {
    match r {
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
        Role::System => "system",
    }
}

fn tokio_stream_from<T: Send + 'static>(mut rx: tokio::sync::mpsc::Receiver<T>) -> BoxStream<'static, T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}
