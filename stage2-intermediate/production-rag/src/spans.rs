//! A finished query's trace as OpenTelemetry spans, named and attributed by the GenAI semantic
//! conventions (development status; the names below follow the conventions as published in
//! open-telemetry/semantic-conventions-genai, `docs/gen-ai/gen-ai-spans.md`, in 2026).
//!
//! The spans are built from [`Trace`] once the query ends, with the stage timings it measured,
//! rather than by entering spans around each await: the stages run on several tasks (retrieval
//! is spawned, the answer streams from its own task), and one place that turns the same timings
//! the page shows into spans keeps the two views from disagreeing. The cost is that a span
//! appears only when its query ends; a query that never ends (a hung process) leaves none.
//!
//! Tree: `rag query` (root; a child of the caller's `traceparent` when one was sent) with one
//! child per stage, in order:
//! - `embeddings {model}`: `gen_ai.operation.name=embeddings`, in-process (kind `INTERNAL`);
//! - `retrieval {data source}`: `gen_ai.operation.name=retrieval`, `gen_ai.data_source.id`;
//! - `chat {model}` for a model's answer: kind `CLIENT`, `gen_ai.operation.name=chat`, the
//!   provider, request settings, token usage and time to first chunk, `error.type` on failure;
//! - `rag.{stage}` for the project's own stages (cache lookups, rerank, route, the extractive
//!   answer, the citation check, the cache insert), with the stage's details as `rag.*`
//!   attributes.

use crate::pipeline::{StageTiming, Trace};
use genai_telemetry::otel::{KeyValue, Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _};
use serde_json::Value;
use std::time::Duration;

/// `gen_ai.provider.name` for a model behind the OpenAI-compatible client: the conventions'
/// well-known `openai` would claim OpenAI's service, so a custom value names the protocol.
const PROVIDER: &str = "openai_compatible";
/// `gen_ai.data_source.id` of the service's one index.
const DATA_SOURCE: &str = "production-rag";

/// How the query ended, on the root span (`rag.outcome`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Answered,
    Cached,
    /// The client went away before the answer was complete.
    Cancelled,
}

/// Exports `trace` when a collector is configured; otherwise does nothing.
pub(crate) fn export(trace: &Trace, outcome: Outcome) {
    let Some(tracer) = genai_telemetry::otel::tracer() else { return };
    let at = |ms: f64| trace.started_at + Duration::from_secs_f64(ms.max(0.0) / 1e3);
    let end = at(trace.since_start());
    let mut root_attrs = vec![
        KeyValue::new("rag.outcome", format!("{outcome:?}").to_lowercase()),
        KeyValue::new("rag.cache", trace.cache),
        KeyValue::new("gen_ai.usage.input_tokens", trace.input_tokens as i64),
        KeyValue::new("gen_ai.usage.output_tokens", trace.output_tokens as i64),
        KeyValue::new("rag.cost_usd", trace.cost_usd),
        KeyValue::new("rag.passages", trace.passages.len() as i64),
    ];
    if let Some(s) = trace.top_score {
        root_attrs.push(KeyValue::new("rag.top_score", f64::from(s)));
    }
    if let Some(ms) = trace.first_token_ms {
        root_attrs.push(KeyValue::new("rag.first_token_ms", ms));
    }
    if let Some(r) = &trace.route {
        root_attrs.push(KeyValue::new("rag.route.tier", format!("{:?}", r.tier).to_lowercase()));
    }
    let root = tracer
        .span_builder("rag query")
        .with_kind(SpanKind::Server)
        .with_start_time(trace.started_at)
        .with_attributes(root_attrs)
        .start_with_context(tracer, &trace.parent);
    let cx = trace.parent.with_span(root);
    for stage in &trace.stages {
        let (name, kind, mut attrs) = describe(stage, trace);
        attrs.push(KeyValue::new("rag.stage", stage.name));
        let failed = stage.detail.get("error").and_then(Value::as_str).map(str::to_owned);
        if let Some(e) = &failed {
            attrs.push(KeyValue::new("error.type", e.clone()));
        }
        let mut span = tracer
            .span_builder(name)
            .with_kind(kind)
            .with_start_time(at(stage.start_ms))
            .with_attributes(attrs)
            .start_with_context(tracer, &cx);
        if let Some(e) = failed {
            span.set_status(Status::error(e));
        }
        span.end_with_timestamp(at(stage.start_ms + stage.ms));
    }
    cx.span().end_with_timestamp(end);
}

// ANCHOR: describe
/// A stage's span name, kind and attributes.
fn describe(stage: &StageTiming, trace: &Trace) -> (String, SpanKind, Vec<KeyValue>) {
    let d = &stage.detail;
    let text = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("unknown").to_owned();
    match stage.name {
        "embed" => {
            let model = text("model");
            let attrs = vec![
                KeyValue::new("gen_ai.operation.name", "embeddings"),
                KeyValue::new("gen_ai.provider.name", "genai-roadmap"),
                KeyValue::new("gen_ai.request.model", model.clone()),
            ];
            (format!("embeddings {model}"), SpanKind::Internal, attrs)
        }
        "retrieve" => {
            let mut attrs = vec![
                KeyValue::new("gen_ai.operation.name", "retrieval"),
                KeyValue::new("gen_ai.data_source.id", DATA_SOURCE),
            ];
            attrs.extend(detail_attrs("retrieve", d));
            (format!("retrieval {DATA_SOURCE}"), SpanKind::Internal, attrs)
        }
        "generate" if d.get("model").is_some() => {
            let model = text("model");
            let mut attrs = vec![
                KeyValue::new("gen_ai.operation.name", "chat"),
                KeyValue::new("gen_ai.provider.name", PROVIDER),
                KeyValue::new("gen_ai.request.model", model.clone()),
                KeyValue::new("gen_ai.request.stream", true),
                KeyValue::new("gen_ai.request.temperature", 0.0),
                KeyValue::new("gen_ai.request.max_tokens", i64::from(doc_qa::answer::MAX_ANSWER_TOKENS)),
            ];
            if d.get("error").is_none() {
                attrs.push(KeyValue::new("gen_ai.usage.input_tokens", trace.input_tokens as i64));
                attrs.push(KeyValue::new("gen_ai.usage.output_tokens", trace.output_tokens as i64));
            }
            if let Some(first) = trace.first_token_ms.filter(|&f| f >= stage.start_ms) {
                attrs.push(KeyValue::new("gen_ai.response.time_to_first_chunk", (first - stage.start_ms) / 1e3));
            }
            if let Some(tier) = d.get("tier").and_then(Value::as_str) {
                attrs.push(KeyValue::new("rag.route.tier", tier.to_owned()));
            }
            (format!("chat {model}"), SpanKind::Client, attrs)
        }
        other => (format!("rag.{other}"), SpanKind::Internal, detail_attrs(other, d)),
    }
}
// ANCHOR_END: describe

/// A stage's scalar details as `rag.{stage}.{key}` attributes (nested values are skipped).
fn detail_attrs(stage: &str, d: &Value) -> Vec<KeyValue> {
    let Some(map) = d.as_object() else { return Vec::new() };
    map.iter()
        .filter_map(|(k, v)| {
            let key = format!("rag.{stage}.{k}");
            match v {
                Value::String(s) => Some(KeyValue::new(key, s.clone())),
                Value::Bool(b) => Some(KeyValue::new(key, *b)),
                Value::Number(n) if n.is_i64() => n.as_i64().map(|i| KeyValue::new(key, i)),
                Value::Number(n) => n.as_f64().map(|f| KeyValue::new(key, f)),
                _ => None,
            }
        })
        .collect()
}
