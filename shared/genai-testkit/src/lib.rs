//! Test helpers. Never a dependency of product code.
//!
//! [`ScriptedModel`] is a `ChatModel` fake with a script of answers, failures and delays, for
//! tests of code above the HTTP layer; it records every request.
//!
//! [`MockOpenAi`] is a real HTTP server on a random loopback port that speaks the
//! OpenAI-compatible API (and the `/rerank` API of Cohere, Jina and vLLM). Replies are scripted per route ([`Reply`]): normal answers, HTTP errors
//! with `Retry-After`, delays past a client's timeout, malformed bodies. Every request is recorded
//! so a test can assert exactly what was sent and how many attempts were made.

pub mod browser;
mod chat;
mod llama;
pub mod qdrant;
mod scripted;

pub use chat::ordering_error;
pub use llama::llama_server;
pub use scripted::{ScriptedModel, Step};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One scripted reply.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with this JSON body.
    Json(Value),
    /// The route's default success (embeddings: deterministic vectors for the inputs).
    Default,
    /// An HTTP error, with an optional `Retry-After` in seconds.
    Status { code: u16, retry_after: Option<u64>, body: String },
    /// 200 with a body that is not valid JSON.
    Malformed(String),
    /// Wait, then send the inner reply (a client with a shorter timeout gives up first).
    Delay(Duration, Box<Reply>),
    /// 200 with a server-sent-event stream of these JSON chunks, then `[DONE]` if `done`
    /// (otherwise the connection just closes, as when a stream is cut).
    Sse { chunks: Vec<Value>, done: bool },
    /// Like `Sse` (with `[DONE]`), but paced as a model writes: the first chunk after `first`,
    /// each next one `every` later.
    Paced { chunks: Vec<Value>, first: Duration, every: Duration },
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
}

#[derive(Debug, Default)]
struct Inner {
    script: HashMap<String, VecDeque<Reply>>,
    defaults: HashMap<String, Reply>,
    requests: Vec<Recorded>,
}

/// A mock OpenAI-compatible server; stops when dropped.
#[derive(Debug)]
pub struct MockOpenAi {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    embedding_dim: usize,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl MockOpenAi {
    /// Starts on `127.0.0.1:0`. Embedding replies have `embedding_dim` dimensions.
    pub async fn start(embedding_dim: usize) -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let state = (inner.clone(), embedding_dim);
        let app = Router::new().fallback(handle).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Self { addr, inner, embedding_dim, _shutdown: tx }
    }

    /// Base URL including `/v1`, as clients expect in `OPENAI_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `model` on this server through genai-llm's resilience layer, with up to `attempts`
    /// attempts 5 ms apart (tests stay fast) and no API key.
    pub fn resilient_model(&self, model: &str, attempts: u32) -> genai_llm::Resilient {
        let config = genai_llm::OpenAiConfig {
            base_url: self.base_url(),
            model: model.into(),
            api_key_env: "NONE".into(),
            ..genai_llm::OpenAiConfig::default()
        };
        let mut resilience = genai_llm::ResilienceConfig::default();
        resilience.backoff.max_attempts = attempts;
        resilience.backoff.base = Duration::from_millis(5);
        let openai = genai_llm::OpenAiModel::new(&config).expect("a valid mock client config");
        genai_llm::Resilient::new(Arc::new(openai), resilience, Arc::new(genai_llm::PriceTable::default()))
    }

    pub fn embedding_dim(&self) -> usize {
        self.embedding_dim
    }

    /// Queues replies for a route such as `/v1/embeddings`; once used up, the default applies.
    pub fn enqueue(&self, path: &str, replies: impl IntoIterator<Item = Reply>) {
        let mut inner = self.inner.lock().expect("mock state");
        inner.script.entry(path.to_owned()).or_default().extend(replies);
    }

    /// The reply a route gives whenever its queue is empty (instead of the built-in default).
    pub fn set_default(&self, path: &str, reply: Reply) {
        self.inner.lock().expect("mock state").defaults.insert(path.to_owned(), reply);
    }

    /// Forgets the requests recorded so far (a long benchmark would otherwise keep them all).
    pub fn clear_requests(&self) {
        self.inner.lock().expect("mock state").requests.clear();
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().expect("mock state").requests.clone()
    }

    /// Requests received on one route.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.path == path).collect()
    }
}

type AppState = (Arc<Mutex<Inner>>, usize);

async fn handle(State((inner, dim)): State<AppState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_owned();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let reply = {
        let mut inner = inner.lock().expect("mock state");
        inner.requests.push(Recorded {
            path: path.clone(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
                .collect(),
            body: body.clone(),
        });
        // Like OpenAI, reject an invalid tool-message order whatever was scripted.
        if path.ends_with("/chat/completions")
            && let Some(message) = ordering_error(&body)
        {
            let error = json!({"error": {"message": message, "type": "invalid_request_error", "param": "messages", "code": null}});
            return (StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
        }
        let queued = inner.script.get_mut(&path).and_then(VecDeque::pop_front);
        queued.or_else(|| inner.defaults.get(&path).cloned()).unwrap_or(Reply::Default)
    };
    respond(reply, &path, &body, dim).await
}

async fn respond(mut reply: Reply, path: &str, body: &Value, dim: usize) -> Response {
    while let Reply::Delay(d, next) = reply {
        tokio::time::sleep(d).await;
        reply = *next;
    }
    match reply {
        Reply::Json(v) => axum::Json(v).into_response(),
        Reply::Malformed(text) => ([("content-type", "application/json")], text).into_response(),
        Reply::Status { code, retry_after, body } => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = (status, body).into_response();
            if let Some(secs) = retry_after {
                resp.headers_mut().insert("retry-after", secs.into());
            }
            resp
        }
        Reply::Sse { chunks, done } => chat::sse(chunks, done),
        Reply::Paced { chunks, first, every } => chat::sse_paced(chunks, first, every),
        Reply::Default if path.ends_with("/embeddings") => axum::Json(embeddings(body, dim)).into_response(),
        Reply::Default if path.ends_with("/rerank") => axum::Json(rerank(body)).into_response(),
        Reply::Default if path.ends_with("/chat/completions") => {
            Box::pin(respond(chat::default_reply(body), path, body, dim)).await
        }
        Reply::Default | Reply::Delay(..) => {
            (StatusCode::NOT_FOUND, axum::Json(json!({"error": {"message": format!("no mock for {path}")}})))
                .into_response()
        }
    }
}

/// A stand-in cross-encoder in the Cohere/Jina `/rerank` shape: each document scores the share of
/// the query's lower-cased words it contains. Results come best first (as real servers send
/// them), each with its original `index`, so clients must map by index, not by position.
fn rerank(body: &Value) -> Value {
    let query: Vec<String> =
        body["query"].as_str().unwrap_or_default().split_whitespace().map(str::to_lowercase).collect();
    let docs: Vec<&str> = body["documents"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let mut results: Vec<(usize, f64)> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let words: Vec<String> = d.split_whitespace().map(str::to_lowercase).collect();
            let hits = query.iter().filter(|q| words.contains(q)).count();
            (i, hits as f64 / query.len().max(1) as f64)
        })
        .collect();
    results.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let results: Vec<Value> = results.into_iter().map(|(i, s)| json!({"index": i, "relevance_score": s})).collect();
    json!({"model": body["model"], "results": results})
}

/// Deterministic vectors: each input's bytes folded into `dim` buckets. Items are returned in
/// reverse order (with correct `index`), as servers may, so clients must sort by index.
fn embeddings(body: &Value, dim: usize) -> Value {
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().map(|v| v.as_str().unwrap_or_default().to_owned()).collect(),
        _ => Vec::new(),
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .rev()
        .map(|(index, text)| {
            let n = dim.max(1);
            let mut v = vec![0.0f64; n];
            for (i, b) in text.bytes().enumerate() {
                v[(i * 31 + b as usize) % n] += 1.0 + b as f64 / 255.0;
            }
            v[0] += 1.0;
            json!({"object": "embedding", "index": index, "embedding": v})
        })
        .collect();
    json!({"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 0, "total_tokens": 0}})
}
