//! OpenTelemetry traces, exported over OTLP/HTTP (protobuf) when a collector is configured.
//!
//! Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, so
//! an offline run never tries to reach a collector. Spans are batched on the SDK's own thread
//! (`OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_MAX_QUEUE_SIZE` and the other standard variables apply):
//! a slow or absent collector costs the request path nothing, and a full queue drops spans
//! rather than memory.
//!
//! The process has one tracer provider, installed by the first successful [`init_from_env`] or
//! [`init_to`]; [`shutdown`] flushes it (call it after a server's graceful shutdown).

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use std::collections::HashMap;
use std::sync::OnceLock;

pub use opentelemetry::trace::{Span, SpanKind, Status, TraceContextExt, Tracer};
pub use opentelemetry::{Context, KeyValue};

static TRACING: OnceLock<(SdkTracerProvider, SdkTracer)> = OnceLock::new();

/// Why traces could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("OpenTelemetry traces could not be set up: {0}")]
pub struct OtelError(String);

/// Exports traces when the standard environment variables name a collector; returns whether it
/// does. `OTEL_SDK_DISABLED=true` turns it off.
pub fn init_from_env(service: &str) -> Result<bool, OtelError> {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    if disabled || !(set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
        return Ok(false);
    }
    install(service, None)?;
    Ok(true)
}

/// Exports traces to `traces_url` (the full URL, e.g. `http://127.0.0.1:4318/v1/traces`),
/// whatever the environment says. A second call keeps the first provider.
pub fn init_to(traces_url: &str, service: &str) -> Result<(), OtelError> {
    install(service, Some(traces_url))
}

fn install(service: &str, url: Option<&str>) -> Result<(), OtelError> {
    if TRACING.get().is_some() {
        return Ok(());
    }
    use opentelemetry_otlp::WithExportConfig;
    let mut builder = opentelemetry_otlp::SpanExporter::builder().with_http();
    if let Some(url) = url {
        builder = builder.with_endpoint(url);
    }
    let exporter = builder.build().map_err(|e| OtelError(e.to_string()))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service.to_owned()).build())
        .build();
    let tracer = provider.tracer(service.to_owned());
    if TRACING.set((provider.clone(), tracer)).is_err() {
        // Another thread won the race; this provider was never used.
        let _ = provider.shutdown();
    }
    Ok(())
}

/// The process's tracer, or `None` when traces are not exported (callers skip building spans).
pub fn tracer() -> Option<&'static SdkTracer> {
    TRACING.get().map(|(_, t)| t)
}

/// Sends every finished span now. Blocks: call it from a blocking context.
pub fn flush() {
    if let Some((p, _)) = TRACING.get()
        && let Err(e) = p.force_flush()
    {
        tracing::warn!(error = %e, "flushing traces failed");
    }
}

/// Flushes and stops the exporter. Blocks: call it from a blocking context.
pub fn shutdown() {
    if let Some((p, _)) = TRACING.get()
        && let Err(e) = p.shutdown()
    {
        tracing::warn!(error = %e, "stopping the trace exporter failed");
    }
}

/// The caller's trace context from W3C `traceparent` / `tracestate` header values, so a
/// request's spans join the trace its client started. Invalid or absent headers give an empty
/// context: the spans then start a new trace.
pub fn parent_from_headers(traceparent: Option<&str>, tracestate: Option<&str>) -> Context {
    let mut carrier = HashMap::new();
    if let Some(v) = traceparent {
        carrier.insert("traceparent".to_owned(), v.to_owned());
    }
    if let Some(v) = tracestate {
        carrier.insert("tracestate".to_owned(), v.to_owned());
    }
    TraceContextPropagator::new().extract(&carrier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_traceparent_becomes_the_remote_parent() {
        let cx = parent_from_headers(Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), None);
        let sc = cx.span().span_context().clone();
        assert!(sc.is_valid() && sc.is_remote());
        assert_eq!(sc.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
    }

    #[test]
    fn a_malformed_traceparent_starts_a_new_trace() {
        for bad in [Some("00-zz-00f067aa0ba902b7-01"), Some(""), None] {
            assert!(!parent_from_headers(bad, None).span().span_context().is_valid(), "{bad:?}");
        }
    }
}
