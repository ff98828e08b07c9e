//! A circuit breaker per endpoint: after `failure_threshold` consecutive failures it opens and
//! fails calls at once for `cooldown`; then it lets one probe through (half-open) and closes on
//! its success or opens again on its failure. A dead provider then costs microseconds per call,
//! not a timeout each.

use crate::LlmError;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Defaults: open after 5 consecutive failures, probe again after 30 s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    pub failure_threshold: u32,
    pub cooldown: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self { failure_threshold: 5, cooldown: Duration::from_secs(30) }
    }
}

/// The breaker's state, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed { consecutive_failures: u32 },
    Open { until: Instant },
    HalfOpen { probe_in_flight: bool },
}

#[derive(Debug)]
pub struct CircuitBreaker {
    endpoint: String,
    config: BreakerConfig,
    state: Mutex<BreakerState>,
}

impl CircuitBreaker {
    pub fn new(endpoint: impl Into<String>, config: BreakerConfig) -> Self {
        Self { endpoint: endpoint.into(), config, state: Mutex::new(BreakerState::Closed { consecutive_failures: 0 }) }
    }

    pub fn state(&self) -> BreakerState {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a call may go out now.
    pub fn allow(&self) -> Result<(), LlmError> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match *s {
            BreakerState::Closed { .. } => Ok(()),
            BreakerState::Open { until } => {
                let now = Instant::now();
                if now >= until {
                    *s = BreakerState::HalfOpen { probe_in_flight: true };
                    Ok(())
                } else {
                    Err(LlmError::CircuitOpen { endpoint: self.endpoint.clone(), retry_in: until - now })
                }
            }
            BreakerState::HalfOpen { probe_in_flight: false } => {
                *s = BreakerState::HalfOpen { probe_in_flight: true };
                Ok(())
            }
            BreakerState::HalfOpen { probe_in_flight: true } => {
                Err(LlmError::CircuitOpen { endpoint: self.endpoint.clone(), retry_in: Duration::ZERO })
            }
        }
    }

    pub fn on_success(&self) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = BreakerState::Closed { consecutive_failures: 0 };
    }

    /// Records a failure that says the endpoint is unhealthy (timeouts, 5xx, 429, resets).
    pub fn on_failure(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let open = BreakerState::Open { until: Instant::now() + self.config.cooldown };
        *s = match *s {
            BreakerState::Closed { consecutive_failures }
                if consecutive_failures + 1 >= self.config.failure_threshold =>
            {
                open
            }
            BreakerState::Closed { consecutive_failures } => {
                BreakerState::Closed { consecutive_failures: consecutive_failures + 1 }
            }
            BreakerState::HalfOpen { .. } | BreakerState::Open { .. } => open,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_probes_after_cooldown_and_closes_on_success() {
        let b = CircuitBreaker::new("x", BreakerConfig { failure_threshold: 2, cooldown: Duration::from_millis(30) });
        b.on_failure();
        assert!(b.allow().is_ok());
        b.on_failure();
        assert!(matches!(b.allow(), Err(LlmError::CircuitOpen { .. })));
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.allow().is_ok(), "one probe after the cool-down");
        assert!(b.allow().is_err(), "only one probe at a time");
        b.on_success();
        assert_eq!(b.state(), BreakerState::Closed { consecutive_failures: 0 });
        b.on_failure();
        b.on_failure();
        std::thread::sleep(Duration::from_millis(40));
        b.allow().unwrap();
        b.on_failure();
        assert!(matches!(b.state(), BreakerState::Open { .. }), "a failed probe reopens");
    }
}
