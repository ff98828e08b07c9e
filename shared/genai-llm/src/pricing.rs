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

/// Every call, in order. Shared by clones of a resilient model.
#[derive(Debug, Default)]
pub struct Ledger {
    entries: Mutex<Vec<LedgerEntry>>,
}

impl Ledger {
    pub fn record(&self, e: LedgerEntry) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).push(e);
    }

    pub fn entries(&self) -> Vec<LedgerEntry> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn total_cost(&self) -> f64 {
        self.entries().iter().map(|e| e.cost_usd).sum()
    }
}

/// A spending cap shared by every call of one session (a conversation, a job).
#[derive(Debug)]
pub struct SessionBudget {
    limit_usd: f64,
    /// Spent so far, in nano-dollars (atomic, so concurrent calls account correctly; fine enough
    /// that rounding never matters at these prices).
    spent_nanos: AtomicU64,
}

impl SessionBudget {
    pub fn new(limit_usd: f64) -> Self {
        Self { limit_usd, spent_nanos: AtomicU64::new(0) }
    }

    pub fn spent(&self) -> f64 {
        self.spent_nanos.load(Ordering::Relaxed) as f64 / 1e9
    }

    pub fn limit(&self) -> f64 {
        self.limit_usd
    }

    pub(crate) fn add(&self, usd: f64) {
        self.spent_nanos.fetch_add((usd * 1e9).round() as u64, Ordering::Relaxed);
    }

    /// Fails if spending `needed` more would cross the limit.
    pub(crate) fn check(&self, needed: f64) -> Result<(), LlmError> {
        let spent = self.spent();
        if spent + needed > self.limit_usd {
            return Err(LlmError::BudgetExceeded { scope: "session", limit: self.limit_usd, spent, needed });
        }
        Ok(())
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
        b.add(0.009);
        assert!(b.check(0.0005).is_ok());
        assert!(matches!(b.check(0.002), Err(LlmError::BudgetExceeded { scope: "session", .. })));
    }
}
