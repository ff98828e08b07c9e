//! The gateway's ledger: every request with what it cost, what the always-strong baseline would
//! have cost for the same answer, and how it was decided; totals per key; Prometheus metrics.

use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use utoipa::ToSchema;

/// One request as the ledger records it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestEntry {
    /// Unix time in milliseconds.
    pub at_ms: u64,
    pub key: String,
    /// What the client asked for (`auto` or an upstream).
    pub requested: String,
    /// The upstream whose answer was returned (empty when none was).
    pub served_by: String,
    /// `requested`, `knn`, `boosted`, `cascade`, `complexity` or `cache`.
    pub policy: String,
    /// Why, in words.
    pub reason: String,
    /// The upstreams asked, in order (a cascade may ask several).
    pub asked: Vec<String>,
    pub cost_usd: f64,
    /// What the strong upstream would have cost for an answer of the same length.
    pub baseline_usd: f64,
    pub cached: bool,
    pub stream: bool,
    /// `ok`, or the error code returned.
    pub outcome: String,
    pub latency_ms: f64,
}

/// Totals of one key.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct KeyTotals {
    pub requests: u64,
    pub cost_usd: f64,
    pub baseline_usd: f64,
    pub cache_hits: u64,
}

/// Recent entries (bounded) and totals over every request.
#[derive(Debug)]
pub struct RequestLedger {
    keep: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    recent: VecDeque<RequestEntry>,
    totals: BTreeMap<String, KeyTotals>,
}

impl RequestLedger {
    pub fn new(keep: usize) -> Self {
        Self { keep: keep.max(1), state: Mutex::default() }
    }

    pub fn record(&self, e: RequestEntry) {
        let key = e.key.clone();
        metrics::counter!("cost_gateway_requests_total", "key" => key.clone(), "policy" => e.policy.clone(), "outcome" => e.outcome.clone())
            .increment(1);
        metrics::counter!("cost_gateway_spend_microdollars_total", "key" => key.clone(), "model" => e.served_by.clone())
            .increment((e.cost_usd * 1e6).round() as u64);
        metrics::counter!("cost_gateway_baseline_microdollars_total", "key" => key.clone())
            .increment((e.baseline_usd * 1e6).round() as u64);
        if e.cached {
            metrics::counter!("cost_gateway_cache_hits_total", "key" => key.clone()).increment(1);
        }
        metrics::histogram!("cost_gateway_request_seconds", "policy" => e.policy.clone()).record(e.latency_ms / 1e3);
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let t = s.totals.entry(key.clone()).or_default();
        t.requests += 1;
        t.cost_usd += e.cost_usd;
        t.baseline_usd += e.baseline_usd;
        t.cache_hits += u64::from(e.cached);
        let saved = t.baseline_usd - t.cost_usd;
        metrics::gauge!("cost_gateway_savings_usd", "key" => key).set(saved);
        if s.recent.len() == self.keep {
            s.recent.pop_front();
        }
        s.recent.push_back(e);
    }

    /// The last `n` entries, newest first.
    pub fn recent(&self, n: usize) -> Vec<RequestEntry> {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.recent.iter().rev().take(n).cloned().collect()
    }

    pub fn totals(&self) -> BTreeMap<String, KeyTotals> {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).totals.clone()
    }
}
