//! Online evaluation of live traffic: a configurable share of answered queries is scored with
//! offline metrics, written to `online-eval.jsonl` in the data folder and exported as metrics
//! that the alert rules in `alerts.yml` watch for drift (refusal rate, top retrieval score,
//! groundedness).
//!
//! Groundedness here is lexical: the share of the answer's content terms that appear in the
//! passages it cites (1.0 for an extractive answer by construction; lower when a model adds
//! words its sources do not contain). Production note: an LLM judge (faithfulness as RAGAS
//! defines it) is the stronger signal when a judge model is configured; this milestone ships
//! the offline metric only, and `genai-eval`'s RAG metrics do the judged version offline.

use crate::pipeline::{CachedAnswer, Trace};
use genai_retrieval::{Hit, terms};
use serde_json::json;
use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) struct OnlineEval {
    path: PathBuf,
    rate: f64,
    seen: AtomicU64,
    file: Mutex<()>,
}

/// Whether the `n`-th query is sampled at `rate`: the fractional parts of `n·φ` are spread
/// evenly over [0, 1), so exactly a `rate` share of any long run is sampled, without a random
/// source and without bunching.
pub(crate) fn sampled(n: u64, rate: f64) -> bool {
    const PHI: f64 = 0.618_033_988_749_894_9;
    (n as f64 * PHI).fract() < rate
}

/// The share of the answer's content terms found in the cited passages' text.
pub(crate) fn groundedness(answer: &CachedAnswer, hits: &[Hit]) -> Option<f64> {
    if answer.refused {
        return None;
    }
    let said: HashSet<String> = terms(&answer.text).into_iter().collect();
    if said.is_empty() {
        return None;
    }
    let cited: HashSet<&str> = answer.citations.iter().filter_map(|c| c["chunk_id"].as_str()).collect();
    let sources: HashSet<String> = hits
        .iter()
        .filter(|h| cited.contains(h.chunk.id.to_string().as_str()))
        .flat_map(|h| terms(&h.chunk.text))
        .collect();
    Some(said.iter().filter(|t| sources.contains(*t)).count() as f64 / said.len() as f64)
}

impl OnlineEval {
    pub fn open(dir: &std::path::Path, rate: f64) -> Self {
        Self {
            path: dir.join("online-eval.jsonl"),
            rate: rate.clamp(0.0, 1.0),
            seen: AtomicU64::new(0),
            file: Mutex::new(()),
        }
    }

    pub fn observe(&self, query: &str, answer: &CachedAnswer, hits: &[Hit], trace: &Trace) {
        let n = self.seen.fetch_add(1, Ordering::Relaxed);
        if !sampled(n, self.rate) {
            return;
        }
        let grounded = groundedness(answer, hits);
        metrics::counter!("rag_eval_samples_total", "refused" => answer.refused.to_string()).increment(1);
        if let Some(g) = grounded {
            metrics::histogram!("rag_eval_groundedness").record(g);
        }
        if let Some(s) = trace.top_score {
            metrics::histogram!("rag_eval_top_score").record(f64::from(s));
        }
        let line = json!({
            "at": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            "query": query,
            "engine": answer.engine,
            "refused": answer.refused,
            "citations": answer.citations.len(),
            "groundedness": grounded,
            "top_score": trace.top_score,
            "cache": trace.cache,
            "route": trace.route.as_ref().map(|r| r.tier),
            "total_ms": trace.since_start(),
        });
        let _one_writer = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = written {
            tracing::warn!(error = %e, path = %self.path.display(), "online evaluation sample not written");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_takes_the_configured_share() {
        for rate in [0.0, 0.1, 0.5, 1.0] {
            let n = (0..10_000).filter(|&i| sampled(i, rate)).count();
            assert!((n as f64 - rate * 10_000.0).abs() <= 2.0, "rate {rate}: {n}");
        }
    }
}
