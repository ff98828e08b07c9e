//! One chat request end to end: cache, decision, upstream call(s), ledger.

use super::keys::Caller;
use super::ledger::RequestEntry;
use super::wire::{self, Parsed};
use super::{CachedReply, Gateway, Inner};
use crate::features::prompt_features;
use crate::policy::Plan;
use crate::router::Example;
use axum::http::StatusCode;
use futures::stream::{BoxStream, StreamExt};
use genai_cache::Scope;
use genai_core::{Classify, ErrorClass};
use genai_http::ApiError;
use genai_llm::{ChatModel, ChatResponse, LlmError, Resilient, StreamEvent, Usage};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// How a request was decided, for the response headers and the ledger.
#[derive(Debug, Clone)]
pub struct RouteInfo {
    pub served_by: String,
    pub policy: String,
    pub reason: String,
    pub cached: bool,
    /// Every upstream asked, in order.
    pub asked: Vec<String>,
}

/// A server-sent event of the OpenAI stream: a JSON chunk, or the closing `[DONE]`.
pub type SseData = String;

/// What the HTTP layer sends back.
pub enum Reply {
    Complete { body: Value, info: RouteInfo, cost_usd: f64 },
    Stream { events: BoxStream<'static, SseData>, info: RouteInfo },
}

/// Where a request goes.
enum Decision {
    One { upstream: usize, policy: String, reason: String },
    Cascade { steps: Vec<(usize, usize)>, thresholds: Vec<f64>, x: Example },
}

/// The request's record, filled in as it runs.
struct Record {
    gateway: Arc<Inner>,
    entry: RequestEntry,
    started: Instant,
}

impl Record {
    fn finish(mut self, outcome: &str) {
        self.entry.outcome = outcome.to_owned();
        self.entry.latency_ms = self.started.elapsed().as_secs_f64() * 1e3;
        self.gateway.ledger.record(self.entry);
    }
}

fn now() -> (u64, u64) {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (d.as_secs(), d.as_millis() as u64)
}

/// The ids OpenAI clients expect (`chatcmpl-…`), unique per request.
fn completion_id() -> String {
    format!("chatcmpl-{:016x}{:016x}", rand::random::<u64>(), rand::random::<u64>())
}

/// An upstream failure as the client sees it.
pub fn api_error(e: &LlmError, caller: &Caller) -> ApiError {
    match e {
        LlmError::BudgetExceeded { limit, spent, needed, .. } => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "budget_exceeded",
            format!(
                "key {:?} has ${spent:.6} of its ${limit:.6} budget spent or held by calls in flight; this call \
                 could cost up to ${needed:.6}. Retrying will not help until the budget is raised.",
                caller.id
            ),
            None,
        ),
        LlmError::ContextOverflow { .. } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "context_length_exceeded",
            "the prompt does not fit the model's context window",
            Some("/messages".into()),
        ),
        LlmError::Http { status, body, .. } if (400..500).contains(status) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "upstream_rejected",
            format!(
                "the model server refused the request (HTTP {status}): {}",
                body.chars().take(300).collect::<String>()
            ),
            None,
        ),
        e if e.class() == ErrorClass::Retryable => {
            ApiError::internal(StatusCode::SERVICE_UNAVAILABLE, "upstream_unavailable", e)
        }
        e => ApiError::internal(StatusCode::BAD_GATEWAY, "upstream_error", e),
    }
}

impl Gateway {
    /// Serves one parsed request for `caller`.
    pub async fn chat(&self, caller: Arc<Caller>, req: Parsed) -> Result<Reply, ApiError> {
        let g = &self.inner;
        let (created, at_ms) = now();
        let id = completion_id();
        let mut record = Record {
            gateway: g.clone(),
            entry: RequestEntry {
                at_ms,
                key: caller.id.clone(),
                requested: req.model.clone(),
                served_by: String::new(),
                policy: String::new(),
                reason: String::new(),
                asked: Vec::new(),
                cost_usd: 0.0,
                baseline_usd: 0.0,
                cached: false,
                stream: req.stream,
                outcome: String::new(),
                latency_ms: 0.0,
            },
            started: Instant::now(),
        };
        if req.model != "auto" && !g.by_name.contains_key(&req.model) {
            let e = ApiError::new(
                StatusCode::NOT_FOUND,
                "model_not_found",
                format!(
                    "model {:?} is not served here: use auto or one of {:?}",
                    req.model,
                    g.upstreams.iter().map(|u| u.name.as_str()).collect::<Vec<_>>()
                ),
                Some("/model".into()),
            );
            record.finish(e.code);
            return Err(e);
        }
        // Only deterministic requests are cached: at a temperature above 0 a client asked for variety.
        let cache = g.cache.as_ref().filter(|_| req.chat.temperature == Some(0.0));
        // The cache key (computed only when the request may be cached): who asks, for what, under
        // which policy, and a digest of everything the answer depends on.
        let cache_as = cache.map(|_| {
            let scope = Scope::new().with("key", &caller.id).with("model", &req.model).with("policy", policy_id(g));
            (scope, hex::encode(Sha256::digest(serde_json::to_vec(&req.chat).unwrap_or_default())))
        });
        if let (Some(cache), Some((scope, fingerprint))) = (cache, &cache_as)
            && let Some(hit) = cache.lookup(scope, fingerprint, None).await.value
        {
            record.entry.served_by = hit.served_by.clone();
            record.entry.policy = "cache".into();
            record.entry.reason = "the same request was answered before".into();
            record.entry.cached = true;
            record.entry.baseline_usd = baseline(g, &hit.response.usage);
            let info = info(&record.entry);
            record.finish("ok");
            return Ok(if req.stream {
                Reply::Stream { events: one_shot(&id, created, &hit, req.include_usage), info }
            } else {
                let body = wire::completion(&id, created, &hit.served_by, &hit.response);
                Reply::Complete { body, info, cost_usd: 0.0 }
            });
        }
        let decision = match self.decide(&req).await {
            Ok(d) => d,
            Err(e) => {
                record.finish(e.code);
                return Err(e);
            }
        };
        let upstream = match decision {
            Decision::One { upstream, policy, reason } => {
                record.entry.policy = policy;
                record.entry.reason = reason;
                upstream
            }
            Decision::Cascade { steps, thresholds, x } => {
                record.entry.policy = "cascade".into();
                return self.cascade(caller, req, record, (id, created), steps, thresholds, x, cache_as).await;
            }
        };
        self.call(&caller, &req, record, (id, created), upstream, cache_as).await
    }

    async fn decide(&self, req: &Parsed) -> Result<Decision, ApiError> {
        let g = &self.inner;
        if let Some(&upstream) = g.by_name.get(&req.model) {
            return Ok(Decision::One { upstream, policy: "requested".into(), reason: "asked for by name".into() });
        }
        let prompt = wire::prompt_of(&req.chat);
        let Some(policy) = &g.policy else {
            let route = g.complexity.route(prompt);
            let upstream = if route.tier == genai_llm::route::Tier::Strong { g.strong } else { g.cheap };
            let signals =
                if route.reasons.is_empty() { "no signal of a hard question".into() } else { route.reasons.join(", ") };
            let reason = format!("complexity {:.2} vs threshold {:.2}: {signals}", route.score, route.threshold);
            return Ok(Decision::One { upstream, policy: "complexity".into(), reason });
        };
        let embedding =
            policy.embedder.embed(&[prompt.to_owned()]).await.ok().and_then(|mut v| v.pop()).ok_or_else(|| {
                ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "internal", &"the router's embedder failed")
            })?;
        let x = Example { embedding, shape: prompt_features(prompt) };
        let saved = &policy.saved;
        match saved.plan(&x, &policy.available) {
            Some(Plan::Route { model, p }) => {
                let upstream = policy.upstream_of[model].unwrap_or(g.strong);
                let reason = format!(
                    "estimated P(correct) {:.2} at relative price {:.3} (best trade-off at lambda {:.3})",
                    p[model], saved.price[model], saved.train_point.knob
                );
                Ok(Decision::One { upstream, policy: saved.kind.name().into(), reason })
            }
            Some(Plan::Cascade { chain, thresholds }) => {
                let steps = chain.iter().map(|&m| (policy.upstream_of[m].unwrap_or(g.strong), m)).collect();
                Ok(Decision::Cascade { steps, thresholds, x })
            }
            None => Ok(Decision::One {
                upstream: g.strong,
                policy: saved.kind.name().into(),
                reason: "no policy model available".into(),
            }),
        }
    }

    fn model_for(&self, caller: &Caller, upstream: usize) -> Resilient {
        let m = &self.inner.upstreams[upstream].model;
        match &caller.budget {
            Some(b) => m.with_session(b.clone()),
            None => m.clone(),
        }
    }

    /// One upstream answers (streamed or whole).
    async fn call(
        &self,
        caller: &Caller,
        req: &Parsed,
        mut record: Record,
        (id, created): (String, u64),
        upstream: usize,
        cache_as: Option<(Scope, String)>,
    ) -> Result<Reply, ApiError> {
        let g = &self.inner;
        let name = g.upstreams[upstream].name.clone();
        record.entry.asked.push(name.clone());
        record.entry.served_by = name.clone();
        let model = self.model_for(caller, upstream);
        if req.stream {
            return match model.stream(&req.chat).await {
                Ok(events) => {
                    let info = info(&record.entry);
                    let stream = stream_out(events, record, upstream, (id, created), req.include_usage);
                    Ok(Reply::Stream { events: stream, info })
                }
                Err(e) => {
                    let e = api_error(&e, caller);
                    record.finish(e.code);
                    Err(e)
                }
            };
        }
        match model.chat(&req.chat).await {
            Ok(r) => {
                let cost = cost_of(g, upstream, &r.usage);
                record.entry.cost_usd += cost;
                record.entry.baseline_usd = baseline(g, &r.usage);
                if let (Some(cache), Some((scope, fp))) = (&g.cache, cache_as) {
                    cache
                        .insert(&scope, &fp, None, CachedReply { response: r.clone(), served_by: name.clone() }, &[])
                        .await;
                }
                let body = wire::completion(&id, created, &name, &r);
                let info = info(&record.entry);
                let total = record.entry.cost_usd;
                record.finish("ok");
                Ok(Reply::Complete { body, info, cost_usd: total })
            }
            Err(e) => {
                let e = api_error(&e, caller);
                record.finish(e.code);
                Err(e)
            }
        }
    }

    /// Asks the chain's models in turn until a step's scorer accepts an answer; a step that
    /// fails (its server down, its circuit open) is passed over, and its empty answer is what
    /// later scorers see (which makes them escalate: the safe direction).
    #[allow(clippy::too_many_arguments)]
    async fn cascade(
        &self,
        caller: Arc<Caller>,
        req: Parsed,
        mut record: Record,
        id: (String, u64),
        steps: Vec<(usize, usize)>,
        thresholds: Vec<f64>,
        x: Example,
        cache_as: Option<(Scope, String)>,
    ) -> Result<Reply, ApiError> {
        let g = &self.inner;
        let Some(policy) = &g.policy else { unreachable!("a cascade decision comes from a policy") };
        let chain: Vec<usize> = steps.iter().map(|&(_, m)| m).collect();
        let mut answers: Vec<String> = Vec::new();
        let mut notes: Vec<String> = Vec::new();
        for (k, &(upstream, _)) in steps.iter().enumerate() {
            let name = g.upstreams[upstream].name.clone();
            if k + 1 == steps.len() {
                notes.push(format!("{name}: the last step, always accepted"));
                record.entry.reason = notes.join("; ");
                return self.call(&caller, &req, record, id, upstream, cache_as).await;
            }
            record.entry.asked.push(name.clone());
            // Non-streamed: a step's answer must be scored before it can be sent on.
            match self.model_for(&caller, upstream).chat(&req.chat).await {
                Ok(r) => {
                    record.entry.cost_usd += cost_of(g, upstream, &r.usage);
                    answers.push(r.text().to_owned());
                    let texts: Vec<&str> = answers.iter().map(String::as_str).collect();
                    let score = policy.saved.score(&x, &chain[..=k], &texts).unwrap_or(0.0);
                    if score >= thresholds[k] {
                        notes.push(format!("{name}: score {score:.2} >= {:.2}, accepted", thresholds[k]));
                        record.entry.reason = notes.join("; ");
                        record.entry.served_by = name.clone();
                        record.entry.baseline_usd = baseline(g, &r.usage);
                        let info = info(&record.entry);
                        let total = record.entry.cost_usd;
                        record.finish("ok");
                        let reply = CachedReply { response: r, served_by: name };
                        if let (Some(cache), Some((scope, fp))) = (&g.cache, &cache_as) {
                            cache.insert(scope, fp, None, reply.clone(), &[]).await;
                        }
                        return Ok(if req.stream {
                            Reply::Stream { events: one_shot(&id.0, id.1, &reply, req.include_usage), info }
                        } else {
                            let body = wire::completion(&id.0, id.1, &reply.served_by, &reply.response);
                            Reply::Complete { body, info, cost_usd: total }
                        });
                    }
                    let t = thresholds[k];
                    let shown = if t.is_finite() { format!("{t:.2}") } else { "never (asked for agreement)".into() };
                    notes.push(format!("{name}: score {score:.2} < {shown}, escalated"));
                }
                Err(e @ LlmError::BudgetExceeded { .. }) => {
                    let e = api_error(&e, &caller);
                    record.finish(e.code);
                    return Err(e);
                }
                Err(e) => {
                    notes.push(format!("{name}: failed ({}), escalated", e.kind()));
                    answers.push(String::new());
                }
            }
        }
        unreachable!("a cascade has at least one step")
    }
}

fn policy_id(g: &Inner) -> String {
    g.policy.as_ref().map_or_else(
        || format!("complexity:{}", g.complexity.threshold),
        |p| format!("{}:{}:{}", p.saved.task, p.saved.kind.name(), p.saved.train_point.knob),
    )
}

fn info(e: &RequestEntry) -> RouteInfo {
    RouteInfo {
        served_by: e.served_by.clone(),
        policy: e.policy.clone(),
        reason: e.reason.clone(),
        cached: e.cached,
        asked: e.asked.clone(),
    }
}

fn cost_of(g: &Inner, upstream: usize, usage: &Usage) -> f64 {
    g.prices.cost(&g.upstreams[upstream].wire_model, usage)
}

/// What the strong upstream would have charged for an answer of the same length.
///
/// Production note: an estimate; the strong model's own answer would have had its own length.
fn baseline(g: &Inner, usage: &Usage) -> f64 {
    cost_of(g, g.strong, usage)
}

fn chunk(v: &Value) -> SseData {
    v.to_string()
}

/// A whole answer (cached, or accepted by a cascade step) as a stream.
fn one_shot(id: &str, created: u64, hit: &CachedReply, include_usage: bool) -> BoxStream<'static, SseData> {
    let r = &hit.response;
    let mut out = Vec::new();
    if !r.text().is_empty() {
        out.push(chunk(&wire::delta_chunk(id, created, &hit.served_by, r.text(), true)));
    }
    out.push(chunk(&wire::final_chunk(id, created, &hit.served_by, r)));
    if include_usage {
        out.push(chunk(&wire::usage_chunk(id, created, &hit.served_by, &r.usage)));
    }
    out.push("[DONE]".to_owned());
    futures::stream::iter(out).boxed()
}

/// The upstream's events as OpenAI chunks; the ledger entry is written when the stream ends,
/// fails, or is dropped by a client that went away.
fn stream_out(
    events: BoxStream<'static, Result<StreamEvent, LlmError>>,
    record: Record,
    upstream: usize,
    (id, created): (String, u64),
    include_usage: bool,
) -> BoxStream<'static, SseData> {
    struct State {
        events: BoxStream<'static, Result<StreamEvent, LlmError>>,
        record: Option<Record>,
        pending: std::collections::VecDeque<SseData>,
        first: bool,
    }
    impl Drop for State {
        fn drop(&mut self) {
            if let Some(r) = self.record.take() {
                r.finish("client_closed");
            }
        }
    }
    let name = record.entry.served_by.clone();
    let state = State { events, record: Some(record), pending: Default::default(), first: true };
    futures::stream::unfold(state, move |mut s| {
        let (id, name) = (id.clone(), name.clone());
        async move {
            loop {
                if let Some(next) = s.pending.pop_front() {
                    return Some((next, s));
                }
                s.record.as_ref()?;
                match s.events.next().await {
                    Some(Ok(StreamEvent::Delta(text))) => {
                        s.pending.push_back(chunk(&wire::delta_chunk(&id, created, &name, &text, s.first)));
                        s.first = false;
                    }
                    Some(Ok(StreamEvent::Done(r))) => {
                        finish_stream(&mut s.record, &r, upstream);
                        s.pending.push_back(chunk(&wire::final_chunk(&id, created, &name, &r)));
                        if include_usage {
                            s.pending.push_back(chunk(&wire::usage_chunk(&id, created, &name, &r.usage)));
                        }
                        s.pending.push_back("[DONE]".to_owned());
                    }
                    Some(Err(e)) => {
                        let code = if e.is_retryable() { "upstream_unavailable" } else { "upstream_error" };
                        if let Some(r) = s.record.take() {
                            r.finish(code);
                        }
                        let body = serde_json::json!({"error": {"code": code, "message": "the model's stream failed before the answer was complete", "at": null}});
                        s.pending.push_back(chunk(&body));
                    }
                    None => {
                        if let Some(r) = s.record.take() {
                            r.finish("upstream_error");
                        }
                    }
                }
            }
        }
    })
    .boxed()
}

fn finish_stream(record: &mut Option<Record>, r: &ChatResponse, upstream: usize) {
    if let Some(mut rec) = record.take() {
        let g = rec.gateway.clone();
        rec.entry.cost_usd += cost_of(&g, upstream, &r.usage);
        rec.entry.baseline_usd = baseline(&g, &r.usage);
        rec.finish("ok");
    }
}
