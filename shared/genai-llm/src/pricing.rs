//! Prices, the cost ledger, and budgets.

use crate::{LlmError, Usage};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Price {
    pub input: f64,
    pub cached_input: f64,
    pub output: f64,
}

/// Prices by model name (longest matching prefix wins) and the date they were read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceTable {
    /// When and where the prices were read; shown in reports.
    pub source: String,
    pub models: BTreeMap<String, Price>,
}

impl Default for PriceTable {
    /// OpenAI's published API prices (standard tier) as read by the authors in June 2025, from
    /// openai.com/api/pricing. Prices change: load your own with [`PriceTable::from_json`].
    fn default() -> Self {
        let p = |input, cached_input, output| Price { input, cached_input, output };
        let models = [
            ("gpt-4o-mini", p(0.15, 0.075, 0.60)),
            ("gpt-4o", p(2.50, 1.25, 10.00)),
            ("gpt-4.1-nano", p(0.10, 0.025, 0.40)),
            ("gpt-4.1-mini", p(0.40, 0.10, 1.60)),
            ("gpt-4.1", p(2.00, 0.50, 8.00)),
            ("o4-mini", p(1.10, 0.275, 4.40)),
            ("o3-mini", p(1.10, 0.55, 4.40)),
            ("o3", p(2.00, 0.50, 8.00)),
            ("gpt-3.5-turbo", p(0.50, 0.50, 1.50)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Self { source: "OpenAI API pricing, standard tier, read 2025-06".into(), models }
    }
}

impl PriceTable {
    /// Parses `{"source": "...", "models": {"name": {"input": .., "cached_input": .., "output": ..}}}`.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Reads a price table file (the JSON shape of [`PriceTable::from_json`]).
    pub fn from_file(path: &std::path::Path) -> Result<Self, LlmError> {
        let text = std::fs::read_to_string(path).map_err(|e| LlmError::InvalidRequest {
            reason: format!("cannot read price table {}: {e}", path.display()),
        })?;
        Self::from_json(&text)
            .map_err(|e| LlmError::InvalidRequest { reason: format!("invalid price table {}: {e}", path.display()) })
    }

    /// The price of `model`: exact name, else the longest known prefix (`gpt-4o-mini-2024-07-18`
    /// → `gpt-4o-mini`). Unknown models (local servers) cost nothing.
    pub fn price(&self, model: &str) -> Option<Price> {
        self.models
            .iter()
            .filter(|(name, _)| model.starts_with(name.as_str()))
            .max_by_key(|(name, _)| name.len())
            .map(|(_, p)| *p)
    }

    pub fn cost(&self, model: &str, usage: &Usage) -> f64 {
        let Some(p) = self.price(model) else { return 0.0 };
        let fresh = usage.input_tokens.saturating_sub(usage.cached_input_tokens) as f64;
        (fresh * p.input + usage.cached_input_tokens as f64 * p.cached_input + usage.output_tokens as f64 * p.output)
            / 1e6
    }

    /// The most a call can cost: every input token uncached, every allowed output token used.
    pub fn worst_case(&self, model: &str, input_tokens: u64, max_output: u32) -> f64 {
        self.cost(
            model,
            &Usage { input_tokens, cached_input_tokens: 0, output_tokens: max_output as u64, counted: true },
        )
    }
}

/// One call as the ledger records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerEntry {
    pub model: String,
    /// What the call was for (`answer`, `extract`, `fallback:<step>` ...).
    pub route: String,
    pub attempts: u32,
    pub latency_ms: f64,
    pub usage: Usage,
    pub cost_usd: f64,
    /// `ok`, or the error kind that ended the call.
    pub outcome: String,
}

/// Every call, in order, and running totals. Shared by clones of a resilient model.
///
/// By default it keeps every entry (a command's or a test's calls); a long-running service
/// keeps the last `n` with [`Ledger::bounded`], while the totals still count every call.
#[derive(Debug)]
pub struct Ledger {
    entries: Mutex<std::collections::VecDeque<LedgerEntry>>,
    keep: usize,
    calls: AtomicU64,
    cost_nanos: AtomicU64,
}

impl Default for Ledger {
    fn default() -> Self {
        Self::bounded(usize::MAX)
    }
}

impl Ledger {
    /// A ledger that keeps only the last `keep` entries.
    pub fn bounded(keep: usize) -> Self {
        Self { entries: Mutex::default(), keep: keep.max(1), calls: AtomicU64::new(0), cost_nanos: AtomicU64::new(0) }
    }

    pub fn record(&self, e: LedgerEntry) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.cost_nanos.fetch_add(nanos(e.cost_usd), Ordering::Relaxed);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() == self.keep {
            entries.pop_front();
        }
        entries.push_back(e);
    }

    /// The entries kept, oldest first.
    pub fn entries(&self) -> Vec<LedgerEntry> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }

    /// What every call recorded so far cost, kept entries or not.
    pub fn total_cost(&self) -> f64 {
        self.cost_nanos.load(Ordering::Relaxed) as f64 / 1e9
    }

    /// How many calls were recorded, kept entries or not.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

/// A spending cap shared by every call of one session (a conversation, a job, an API key).
///
/// Calls *reserve* their worst case before they are sent and *settle* at what they really cost,
/// so concurrent calls can never jointly cross the limit: a check-then-charge would let every
/// call that checked before the first one was charged through.
#[derive(Debug)]
pub struct SessionBudget {
    limit_usd: f64,
    /// Spent so far, in nano-dollars (fine enough that rounding never matters at these prices).
    spent_nanos: AtomicU64,
    /// Spent plus what calls in flight have reserved: never above the limit, except when a call
    /// costs more than the worst case it reserved (a provider billing past `max_tokens`).
    committed_nanos: AtomicU64,
}

fn nanos(usd: f64) -> u64 {
    (usd.max(0.0) * 1e9).round() as u64
}

impl SessionBudget {
    pub fn new(limit_usd: f64) -> Self {
        Self { limit_usd, spent_nanos: AtomicU64::new(0), committed_nanos: AtomicU64::new(0) }
    }

    pub fn spent(&self) -> f64 {
        self.spent_nanos.load(Ordering::Acquire) as f64 / 1e9
    }

    /// Spent plus reserved by calls in flight.
    pub fn committed(&self) -> f64 {
        self.committed_nanos.load(Ordering::Acquire) as f64 / 1e9
    }

    pub fn limit(&self) -> f64 {
        self.limit_usd
    }

    /// Holds `needed` for one call, or fails if it would cross the limit. Returns what was held
    /// (pass it to [`Self::settle`] or [`Self::release`]).
    pub(crate) fn reserve(&self, needed: f64) -> Result<u64, LlmError> {
        let (n, limit) = (nanos(needed), nanos(self.limit_usd));
        self.committed_nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| c.checked_add(n).filter(|&t| t <= limit))
            .map(|_| n)
            .map_err(|c| LlmError::BudgetExceeded {
                scope: "session",
                limit: self.limit_usd,
                spent: c as f64 / 1e9,
                needed,
            })
    }

    /// Gives back a hold whose call was not billed (it failed, or was never completed).
    pub(crate) fn release(&self, held: u64) {
        let _ =
            self.committed_nanos.fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| Some(c.saturating_sub(held)));
    }

    /// Replaces a hold by what the call cost.
    pub(crate) fn settle(&self, held: u64, usd: f64) {
        let cost = nanos(usd);
        self.spent_nanos.fetch_add(cost, Ordering::AcqRel);
        let _ = self
            .committed_nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| Some(c.saturating_sub(held).saturating_add(cost)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_by_longest_prefix_and_counts_cached_tokens() {
        let t = PriceTable::default();
        assert_eq!(t.price("gpt-4o-mini-2024-07-18"), t.price("gpt-4o-mini"));
        assert_ne!(t.price("gpt-4o-2024-08-06"), t.price("gpt-4o-mini"));
        assert_eq!(t.price("llama3.1:8b"), None);
        let u = Usage { input_tokens: 1_000_000, cached_input_tokens: 500_000, output_tokens: 100_000, counted: false };
        assert!((t.cost("gpt-4o-mini", &u) - (0.075 + 0.0375 + 0.06)).abs() < 1e-9);
        let b = SessionBudget::new(0.01);
        let held = b.reserve(0.009).unwrap();
        assert!(matches!(b.reserve(0.002), Err(LlmError::BudgetExceeded { scope: "session", .. })), "held counts");
        b.settle(held, 0.001);
        assert!((b.spent() - 0.001).abs() < 1e-12 && (b.committed() - 0.001).abs() < 1e-12);
        let again = b.reserve(0.008).unwrap();
        b.release(again);
        assert!((b.committed() - 0.001).abs() < 1e-12, "a released hold costs nothing");
    }

    #[test]
    fn a_bounded_ledger_keeps_the_last_entries_and_counts_all() {
        let l = Ledger::bounded(2);
        for i in 0..5 {
            l.record(LedgerEntry {
                model: format!("m{i}"),
                route: "chat".into(),
                attempts: 1,
                latency_ms: 1.0,
                usage: Usage::default(),
                cost_usd: 0.001,
                outcome: "ok".into(),
            });
        }
        let kept: Vec<String> = l.entries().into_iter().map(|e| e.model).collect();
        assert_eq!(kept, ["m3", "m4"]);
        assert_eq!(l.calls(), 5);
        assert!((l.total_cost() - 0.005).abs() < 1e-12);
    }

    #[test]
    fn concurrent_reservations_never_cross_the_limit() {
        // 8 threads × 1,000 calls, each holding $0.003 and then costing $0.001..0.003, against
        // a $0.5 limit: whatever the interleaving, what is spent stays under the limit.
        let b = std::sync::Arc::new(SessionBudget::new(0.5));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let b = b.clone();
                std::thread::spawn(move || {
                    for i in 0..1_000u64 {
                        if let Ok(h) = b.reserve(0.003) {
                            assert!(b.committed() <= 0.5 + 1e-12);
                            std::thread::yield_now();
                            b.settle(h, 0.001 * ((t + i) % 3 + 1) as f64);
                        }
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|h| h.join().unwrap());
        assert!(b.spent() <= 0.5 + 1e-12 && b.spent() > 0.49, "{}", b.spent());
        assert!((b.committed() - b.spent()).abs() < 1e-12, "no hold is left behind");
    }
}
