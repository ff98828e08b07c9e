//! Client-side rate limiting: two token buckets, requests per minute and tokens per minute, so a
//! burst is smoothed here instead of being answered with 429s by the provider.

use crate::LlmError;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Defaults: no limits; waits of up to 10 s are absorbed, longer ones fail.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RateConfig {
    pub requests_per_minute: Option<f64>,
    pub tokens_per_minute: Option<f64>,
    /// The longest a call may wait for capacity before failing with `RateLimited`.
    pub max_wait: Option<Duration>,
}

#[derive(Debug)]
pub struct RateLimiter {
    config: RateConfig,
    state: Mutex<Buckets>,
}

#[derive(Debug)]
struct Buckets {
    requests: f64,
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    pub fn new(config: RateConfig) -> Self {
        let full = |limit: Option<f64>| limit.unwrap_or(0.0);
        Self {
            state: Mutex::new(Buckets {
                requests: full(config.requests_per_minute),
                tokens: full(config.tokens_per_minute),
                at: Instant::now(),
            }),
            config,
        }
    }

    /// Reserves one request and `tokens` tokens, waiting if needed.
    pub async fn acquire(&self, tokens: u64) -> Result<(), LlmError> {
        let wait = self.reserve(tokens as f64)?;
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }

    /// Takes capacity now (going into debt) and says how long to wait until the debt is paid.
    fn reserve(&self, tokens: f64) -> Result<Duration, LlmError> {
        let mut b = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let minutes = now.duration_since(b.at).as_secs_f64() / 60.0;
        b.at = now;
        let mut wait: f64 = 0.0;
        let mut plan = |level: &mut f64, limit: Option<f64>, need: f64| {
            if let Some(per_minute) = limit {
                *level = (*level + minutes * per_minute).min(per_minute);
                let after = *level - need;
                if after < 0.0 {
                    wait = wait.max(-after / per_minute * 60.0);
                }
                after
            } else {
                0.0
            }
        };
        let requests_after = plan(&mut b.requests, self.config.requests_per_minute, 1.0);
        let tokens_after = plan(&mut b.tokens, self.config.tokens_per_minute, tokens);
        let wait = Duration::from_secs_f64(wait);
        let max_wait = self.config.max_wait.unwrap_or(Duration::from_secs(10));
        if wait > max_wait {
            return Err(LlmError::RateLimited { wait, max_wait });
        }
        b.requests = requests_after;
        b.tokens = tokens_after;
        Ok(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_within_limits_pass_and_excess_waits_or_fails() {
        let l = RateLimiter::new(RateConfig {
            requests_per_minute: Some(60.0),
            tokens_per_minute: Some(6_000.0),
            max_wait: Some(Duration::from_secs(2)),
        });
        for _ in 0..60 {
            assert_eq!(l.reserve(10.0).unwrap(), Duration::ZERO);
        }
        let w = l.reserve(10.0).unwrap();
        assert!(w > Duration::from_millis(900) && w <= Duration::from_millis(1100), "{w:?}: one request per second");
        assert!(matches!(l.reserve(10_000.0), Err(LlmError::RateLimited { .. })), "too many tokens to wait for");
    }
}
