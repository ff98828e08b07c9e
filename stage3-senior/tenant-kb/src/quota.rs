//! Per-tenant limits: requests per minute and tokens per day, counted in fixed windows. The
//! counters live in this process by default, or in Redis when `redis_url` is set, so every
//! instance behind a load balancer draws on one budget per tenant. Over a limit is a 429 with
//! `Retry-After` (the end of the window).
//!
//! If Redis is unreachable, requests are let through and counted in
//! `tenant_kb_quota_errors_total`: a quota protects capacity and cost, and refusing every tenant
//! because the counter store is down would be the larger outage.
//!
//! Production note: fixed windows allow up to twice the limit across a window boundary; a
//! sliding window or GCRA in a Lua script is tighter, at one more round trip of code to keep
//! right. Limits are the same for every tenant (from configuration); plans per tenant would be
//! a column in the registry.

use crate::{Kb, KbError};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, thiserror::Error)]
#[error("quota store unavailable: {0}")]
pub struct QuotaError(pub String);

/// Counters in fixed windows.
#[async_trait]
pub trait QuotaStore: Send + Sync + std::fmt::Debug {
    fn kind(&self) -> &'static str;
    /// Adds `amount` to `key`'s counter for the window of length `window` that `now_ms` falls
    /// in; the counter's new value.
    async fn add(&self, key: &str, amount: u64, window: Duration, now_ms: u64) -> Result<u64, QuotaError>;
}

fn window_index(window: Duration, now_ms: u64) -> u64 {
    now_ms / (window.as_millis() as u64).max(1)
}

/// In this process only.
#[derive(Debug, Default)]
pub struct MemoryQuotas {
    counters: Mutex<HashMap<(String, u64), u64>>,
}

#[async_trait]
impl QuotaStore for MemoryQuotas {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn add(&self, key: &str, amount: u64, window: Duration, now_ms: u64) -> Result<u64, QuotaError> {
        let w = window_index(window, now_ms);
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        // Old windows are dropped as new ones open, so the map holds one window per key.
        c.retain(|(k, kw), _| k != key || *kw == w);
        let v = c.entry((key.to_owned(), w)).or_default();
        *v += amount;
        Ok(*v)
    }
}

/// Shared by every instance: `INCRBY` and `PEXPIRE` in one transaction per call.
pub struct RedisQuotas {
    client: redis::Client,
    prefix: String,
    conn: tokio::sync::Mutex<Option<redis::aio::ConnectionManager>>,
}

impl RedisQuotas {
    /// `prefix` namespaces the keys (several deployments can share a Redis).
    pub fn new(url: &str, prefix: &str) -> Result<Self, QuotaError> {
        let client = redis::Client::open(url).map_err(|e| QuotaError(format!("invalid Redis URL: {e}")))?;
        Ok(Self { client, prefix: prefix.to_owned(), conn: Default::default() })
    }

    async fn connection(&self) -> Result<redis::aio::ConnectionManager, QuotaError> {
        let mut conn = self.conn.lock().await;
        if let Some(c) = &*conn {
            return Ok(c.clone());
        }
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(1))
            .set_response_timeout(Duration::from_millis(500))
            .set_number_of_retries(1);
        let c = tokio::time::timeout(
            Duration::from_secs(2),
            redis::aio::ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await
        .map_err(|_| QuotaError("connecting to Redis timed out".into()))?
        .map_err(|e| QuotaError(e.to_string()))?;
        *conn = Some(c.clone());
        Ok(c)
    }
}

impl std::fmt::Debug for RedisQuotas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQuotas").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

#[async_trait]
impl QuotaStore for RedisQuotas {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn add(&self, key: &str, amount: u64, window: Duration, now_ms: u64) -> Result<u64, QuotaError> {
        let k = format!("{}:{key}:{}", self.prefix, window_index(window, now_ms));
        let mut conn = self.connection().await?;
        let (value,): (u64,) = redis::pipe()
            .atomic()
            .incr(&k, amount)
            .pexpire(&k, (window.as_millis() as i64) * 2)
            .ignore()
            .query_async(&mut conn)
            .await
            .map_err(|e| QuotaError(e.to_string()))?;
        Ok(value)
    }
}

/// A tenant's use, for its admins (`GET /v1/usage`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Usage {
    pub documents: u64,
    /// Chunks in the index.
    pub chunks: u64,
    /// Jobs by state.
    pub jobs: std::collections::BTreeMap<String, u64>,
    /// `null` when the counter store did not answer.
    pub requests_this_minute: Option<u64>,
    /// 0: unlimited.
    pub requests_per_minute: u64,
    pub tokens_today: Option<u64>,
    pub tokens_per_day: u64,
    /// The PII kinds new documents are redacted of.
    pub redacting: Vec<String>,
}

/// What a tenant may use; `0` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub requests_per_minute: u64,
    pub tokens_per_day: u64,
}

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn retry_after(window: Duration, now: u64) -> u64 {
    let w = window.as_millis() as u64;
    (w - now % w).div_ceil(1000).max(1)
}

impl Kb {
    /// Counts one request of `tenant`; a 429 once the minute's budget is spent.
    pub(crate) async fn admit(&self, tenant: &str) -> Result<(), KbError> {
        let limit = self.config().requests_per_minute;
        if limit == 0 {
            return Ok(());
        }
        let now = now_ms();
        let Some(used) = self.count(&format!("req:{tenant}"), 1, MINUTE, now).await else { return Ok(()) };
        if used > limit {
            metrics::counter!("tenant_kb_limited_total", "tenant" => tenant.to_owned(), "limit" => "requests")
                .increment(1);
            return Err(KbError::Limited {
                what: format!("{limit} requests per minute"),
                retry_after_secs: retry_after(MINUTE, now),
            });
        }
        Ok(())
    }

    /// A 429 when the tenant's tokens for today are spent (checked before answering).
    pub(crate) async fn check_tokens(&self, tenant: &str) -> Result<(), KbError> {
        let limit = self.config().tokens_per_day;
        if limit == 0 {
            return Ok(());
        }
        let now = now_ms();
        match self.count(&format!("tok:{tenant}"), 0, DAY, now).await {
            Some(used) if used >= limit => {
                metrics::counter!("tenant_kb_limited_total", "tenant" => tenant.to_owned(), "limit" => "tokens")
                    .increment(1);
                Err(KbError::Limited {
                    what: format!("{limit} tokens per day"),
                    retry_after_secs: retry_after(DAY, now),
                })
            }
            _ => Ok(()),
        }
    }

    /// Records the tokens a request used: the quota's counter, and the tenant's token and cost
    /// metrics (cost at the configured price; 0 for the offline answerer's own compute).
    pub(crate) async fn spend_tokens(&self, tenant: &str, tokens: u64) {
        metrics::counter!("tenant_kb_tokens_total", "tenant" => tenant.to_owned()).increment(tokens);
        let price = self.config().usd_per_million_tokens;
        if price > 0.0 {
            let micro_usd = (tokens as f64 * price).round() as u64;
            metrics::counter!("tenant_kb_cost_micro_usd_total", "tenant" => tenant.to_owned()).increment(micro_usd);
        }
        if self.config().tokens_per_day > 0 {
            self.count(&format!("tok:{tenant}"), tokens, DAY, now_ms()).await;
        }
    }

    /// What the caller's tenant has used (admin): documents, chunks, jobs, and the quota
    /// counters of the current windows.
    pub async fn usage(&self, m: &crate::auth::Member) -> Result<Usage, KbError> {
        crate::checks::need(m, crate::store::Role::Admin)?;
        let tenant = m.tenant();
        let documents = self.inner.store.documents(tenant).await?.len() as u64;
        let chunks = self.indexed_chunks(m, None).await?;
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM kb_jobs WHERE tenant = ? GROUP BY state")
                .bind(tenant)
                .fetch_all(self.inner.store.pool())
                .await
                .map_err(crate::store::StoreError::from)?;
        let jobs = rows.into_iter().map(|(s, n)| (s, n as u64)).collect();
        let now = now_ms();
        let requests = self.count(&format!("req:{tenant}"), 0, MINUTE, now).await;
        let tokens = self.count(&format!("tok:{tenant}"), 0, DAY, now).await;
        Ok(Usage {
            documents,
            chunks,
            jobs,
            requests_this_minute: requests,
            requests_per_minute: self.config().requests_per_minute,
            tokens_today: tokens,
            tokens_per_day: self.config().tokens_per_day,
            redacting: self.tenant_pii(tenant).await?.redact,
        })
    }

    /// The counter after adding, or `None` when the store failed (the request goes through).
    async fn count(&self, key: &str, amount: u64, window: Duration, now: u64) -> Option<u64> {
        match self.inner.quotas.add(key, amount, window, now).await {
            Ok(v) => Some(v),
            Err(e) => {
                metrics::counter!("tenant_kb_quota_errors_total").increment(1);
                tracing::warn!(error = %e, "quota store failed; the request is let through");
                None
            }
        }
    }
}

/// The suite every [`QuotaStore`] passes (`prefix` keeps runs apart on a shared server).
pub mod conformance {
    use super::*;

    pub async fn run(store: &dyn QuotaStore, prefix: &str) {
        let (minute, t0) = (Duration::from_secs(60), 1_700_000_000_000u64 - 1_700_000_000_000u64 % 60_000);
        let a = format!("{prefix}:a");
        let b = format!("{prefix}:b");
        assert_eq!(
            store.add(&a, 1, minute, t0).await.unwrap(),
            1,
            "{}: a new counter starts at the amount",
            store.kind()
        );
        assert_eq!(
            store.add(&a, 5, minute, t0 + 10_000).await.unwrap(),
            6,
            "{}: same window accumulates",
            store.kind()
        );
        assert_eq!(store.add(&a, 0, minute, t0 + 59_999).await.unwrap(), 6, "{}: adding 0 reads", store.kind());
        assert_eq!(store.add(&b, 2, minute, t0).await.unwrap(), 2, "{}: keys are independent", store.kind());
        assert_eq!(
            store.add(&a, 1, minute, t0 + 60_000).await.unwrap(),
            1,
            "{}: a new window starts again",
            store.kind()
        );
        // Concurrent additions are not lost.
        let c = format!("{prefix}:c");
        let adds = (0..50).map(|_| store.add(&c, 1, minute, t0));
        futures::future::join_all(adds).await.into_iter().for_each(|r| {
            r.unwrap();
        });
        assert_eq!(store.add(&c, 0, minute, t0).await.unwrap(), 50, "{}: concurrent additions", store.kind());
    }
}
