//! Logging set-up shared by every binary in the workspace.
//!
//! Logs go to stderr so that stdout stays clean for a command's output (tables, JSON reports).
//! The level comes from `RUST_LOG` (default `info`); `LOG_FORMAT=json` switches to one JSON object
//! per line for log shippers.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

pub mod otel;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable, for a terminal.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// `LOG_FORMAT=json` selects JSON; anything else is pretty.
    pub fn from_env() -> Self {
        match std::env::var("LOG_FORMAT") {
            Ok(v) if v.eq_ignore_ascii_case("json") => Self::Json,
            _ => Self::Pretty,
        }
    }
}

/// Installs the global subscriber. Safe to call more than once: later calls are ignored, so tests
/// and binaries can both call it.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(
        |_| // qdrant-edge logs internals (WAL opened, feature flags) at info/warn; its failures reach us as errors.
        EnvFilter::new("info,qdrant_edge=error"),
    );
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Pretty => registry.with(fmt::layer().with_writer(std::io::stderr)).try_init(),
        LogFormat::Json => registry.with(fmt::layer().json().with_writer(std::io::stderr)).try_init(),
    };
    // An error only means a subscriber is already installed.
    drop(result);
}

/// The process-wide Prometheus recorder: every `metrics::counter!`/`histogram!` in the workspace
/// (the LLM layer's requests, errors, retries, latency, tokens and cost) lands here. Installed on
/// first use; later calls return the same handle.
pub fn prometheus() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> = std::sync::OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; metrics then go there instead.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// The metrics in Prometheus' text format, for a `/metrics` route.
pub fn render_metrics() -> String {
    prometheus().render()
}
