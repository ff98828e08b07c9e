//! The answer stage: route, generate (streamed), check, cache, evaluate.
//!
//! The answer is produced by a task that sends events into a bounded channel; the HTTP layer
//! reads the other end. A client that disconnects drops the receiver: the task's next send fails,
//! it drops the model stream (which cancels the model call) and records what was spent so far.
//! A slow client fills the channel and the task waits (back-pressure), it never buffers without
//! bound.

use crate::pipeline::{CachedAnswer, Prepared, QueryEvent, Trace};
use crate::spans::Outcome;
use crate::{Models, Rag};
use doc_qa::answer::{LlmAnswerer, MAX_ANSWER_TOKENS, REFUSAL_TOKEN, check_citations};
use futures::StreamExt;
use futures::stream::BoxStream;
use genai_answer::Answerer;
use genai_cache::Scope;
use genai_llm::route::Tier;
use genai_llm::{ChatModel, ChatRequest, StreamEvent, Usage};
use genai_retrieval::{Hit, TermStats};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;
use std::time::Instant;
use tokio::sync::mpsc;

/// The answer prompt's version in cache scopes: a hash of its text, so editing the prompt never
/// serves answers written under the old one.
pub static PROMPT_VERSION: LazyLock<String> =
    LazyLock::new(|| hex::encode(&Sha256::digest(doc_qa::answer::ANSWER_PROMPT.as_bytes())[..6]));

/// Events buffered between the answer task and a client.
const CHANNEL: usize = 64;

impl Rag {
    pub(crate) fn answer_stream(
        &self,
        p: Prepared,
        scope: Scope,
        vector: Option<Vec<f32>>,
        hits: Vec<Hit>,
        stats: Option<TermStats>,
        trace: Trace,
    ) -> BoxStream<'static, QueryEvent> {
        let (tx, rx) = mpsc::channel(CHANNEL);
        let me = self.clone();
        tokio::spawn(async move { me.answer_task(p, scope, vector, hits, stats, trace, tx).await });
        Box::pin(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) }))
    }

    #[allow(clippy::too_many_arguments)]
    async fn answer_task(
        self,
        p: Prepared,
        scope: Scope,
        vector: Option<Vec<f32>>,
        hits: Vec<Hit>,
        stats: Option<TermStats>,
        mut trace: Trace,
        tx: mpsc::Sender<QueryEvent>,
    ) {
        let inner = &self.inner;
        let t = Instant::now();
        let route = inner.router.route(&p.query);
        let tier = route.tier;
        trace.stage("route", t, json!({ "tier": route.tier, "score": route.score }));
        trace.route = Some(route);
        let (answer, cacheable) = match &inner.models {
            Some(models) if !hits.is_empty() => {
                match self.generate(models, tier, &p.query, &hits, &mut trace, &tx).await {
                    Generated::Answer(a) => (a, true),
                    Generated::Cancelled => {
                        crate::spans::export(&trace, Outcome::Cancelled);
                        return;
                    }
                    Generated::Failed(reason) => {
                        metrics::counter!("rag_model_fallbacks_total").increment(1);
                        if tx.send(QueryEvent::Reset { reason: reason.clone() }).await.is_err() {
                            crate::spans::export(&trace, Outcome::Cancelled);
                            return;
                        }
                        let mut a = self.offline(&p.query, &hits, stats.as_ref(), &mut trace, &tx).await;
                        a.flagged.push(format!("{reason}; this is the offline extractive answer"));
                        // Not cached: the model's answer is wanted once it is back.
                        (a, false)
                    }
                }
            }
            _ => (self.offline(&p.query, &hits, stats.as_ref(), &mut trace, &tx).await, true),
        };
        if tx.is_closed() {
            crate::spans::export(&trace, Outcome::Cancelled);
            return;
        }
        let answer = CachedAnswer::from_answer(&answer);
        if answer.refused {
            metrics::counter!("rag_refusals_total").increment(1);
        }
        if cacheable && let Some(cache) = inner.cache.as_ref().filter(|_| p.use_cache) {
            let t = Instant::now();
            let stored =
                cache.insert(&scope, &p.query, vector.as_deref(), answer.clone(), &answer.cited_documents()).await;
            trace.stage("cache_insert", t, json!({ "stored": stored }));
        }
        metrics::counter!("rag_queries_total", "cache" => trace.cache).increment(1);
        inner.evaluator.observe(&p.query, &answer, &hits, &trace);
        trace.total_ms = trace.since_start();
        metrics::histogram!("rag_query_seconds").record(trace.total_ms / 1e3);
        if let Some(ms) = trace.first_token_ms {
            metrics::histogram!("rag_first_token_seconds").record(ms / 1e3);
        }
        crate::spans::export(&trace, Outcome::Answered);
        let _ = tx.send(QueryEvent::Answer(answer)).await;
        let _ = tx.send(QueryEvent::Summary(Box::new(trace))).await;
    }

    /// The extractive answer, streamed sentence by sentence.
    async fn offline(
        &self,
        query: &str,
        hits: &[Hit],
        stats: Option<&TermStats>,
        trace: &mut Trace,
        tx: &mpsc::Sender<QueryEvent>,
    ) -> genai_answer::Answer {
        let t = Instant::now();
        let answer = self.inner.extractive.answer(query, hits, stats).await;
        trace.stage("generate", t, json!({ "engine": answer.engine, "evidence": answer.evidence }));
        trace.first_token_ms.get_or_insert(trace.since_start());
        for r in genai_ingest::sentence_spans(&answer.text) {
            if tx.send(QueryEvent::Delta { text: answer.text[r].to_owned() + " " }).await.is_err() {
                break;
            }
        }
        answer
    }

    /// The model's answer, streamed as it is generated, then checked.
    async fn generate(
        &self,
        models: &Models,
        tier: Tier,
        query: &str,
        hits: &[Hit],
        trace: &mut Trace,
        tx: &mpsc::Sender<QueryEvent>,
    ) -> Generated {
        let model = match tier {
            Tier::Cheap => &models.cheap,
            Tier::Strong => &models.strong,
        };
        let fitted = match models.context_tokens {
            Some(w) => LlmAnswerer::fit(model.name(), query, hits, w),
            None => hits.to_vec(),
        };
        if fitted.is_empty() {
            return Generated::Failed("the question alone does not fit the model's context window".into());
        }
        let mut req = ChatRequest::new(LlmAnswerer::messages(query, &fitted));
        req.temperature = Some(0.0);
        req.max_tokens = MAX_ANSWER_TOKENS;
        let input_tokens = genai_llm::tokens::count_chat_tokens(model.name(), &req.messages);
        let t = Instant::now();
        let mut text = String::new();
        let mut spend = Spend { rag: self, model: model.name(), input_tokens, output: 0, done: false };
        let mut stream = match model.stream(&req).await {
            Ok(s) => s,
            Err(e) => {
                trace.stage("generate", t, json!({ "model": model.name(), "error": e.kind() }));
                return Generated::Failed(format!("the model was unavailable ({})", e.kind()));
            }
        };
        let usage = loop {
            match stream.next().await {
                Some(Ok(StreamEvent::Delta(d))) => {
                    if trace.first_token_ms.is_none() {
                        trace.first_token_ms = Some(trace.since_start());
                    }
                    text.push_str(&d);
                    spend.output += genai_llm::tokens::count_text_tokens(model.name(), &d);
                    if tx.send(QueryEvent::Delta { text: d }).await.is_err() {
                        metrics::counter!("rag_cancelled_total").increment(1);
                        trace.output_tokens = spend.output;
                        trace.input_tokens = spend.input_tokens;
                        trace.stage("generate", t, json!({ "model": model.name(), "error": "cancelled" }));
                        return Generated::Cancelled; // `spend` records the partial cost on drop
                    }
                }
                Some(Ok(StreamEvent::Done(r))) => break r.usage,
                Some(Err(e)) => {
                    trace.stage("generate", t, json!({ "model": model.name(), "error": e.kind() }));
                    return Generated::Failed(format!("the model stream failed ({})", e.kind()));
                }
                None => {
                    trace.stage("generate", t, json!({ "model": model.name(), "error": "stream ended early" }));
                    return Generated::Failed("the model stream ended without finishing".into());
                }
            }
        };
        let usage = if usage.input_tokens + usage.output_tokens == 0 {
            Usage { input_tokens, output_tokens: spend.output, counted: true, ..usage }
        } else {
            usage
        };
        spend.done = true;
        trace.input_tokens = usage.input_tokens;
        trace.output_tokens = usage.output_tokens;
        trace.cost_usd = self.inner.prices.cost(model.name(), &usage);
        record_cost(model.name(), usage.input_tokens, usage.output_tokens, trace.cost_usd);
        trace.stage(
            "generate",
            t,
            json!({
                "model": model.name(),
                "tier": tier,
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens
            }),
        );
        let t = Instant::now();
        let engine = format!("llm:{}", model.name());
        let answer = if text.contains(REFUSAL_TOKEN) {
            let mut a = genai_answer::refusal(0.0, &engine);
            a.evidence = None;
            a
        } else {
            check_citations(text.trim(), &fitted, engine)
        };
        trace.stage("check", t, json!({ "citations": answer.citations.len(), "flagged": answer.flagged.len() }));
        Generated::Answer(answer)
    }
}

enum Generated {
    /// The checked answer.
    Answer(genai_answer::Answer),
    /// The client went away.
    Cancelled,
    /// The model failed; the reason is shown to the client.
    Failed(String),
}

fn record_cost(model: &str, input: u64, output: u64, usd: f64) {
    metrics::counter!("rag_tokens_total", "model" => model.to_owned(), "kind" => "input").increment(input);
    metrics::counter!("rag_tokens_total", "model" => model.to_owned(), "kind" => "output").increment(output);
    metrics::counter!("rag_cost_usd_micros_total", "model" => model.to_owned()).increment((usd * 1e6).round() as u64);
}

/// Records what a model call spent if it ends without its usage report (a cancelled stream):
/// the prompt's tokens and the output tokens streamed so far, counted here.
struct Spend<'a> {
    rag: &'a Rag,
    model: &'a str,
    input_tokens: u64,
    output: u64,
    done: bool,
}

impl Drop for Spend<'_> {
    fn drop(&mut self) {
        if !self.done {
            let usage = Usage {
                input_tokens: self.input_tokens,
                output_tokens: self.output,
                counted: true,
                ..Usage::default()
            };
            let usd = self.rag.inner.prices.cost(self.model, &usage);
            record_cost(self.model, self.input_tokens, self.output, usd);
        }
    }
}
