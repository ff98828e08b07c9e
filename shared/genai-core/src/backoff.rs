//! Retry delays: exponential backoff with full jitter, honouring a server's `Retry-After`.
//!
//! Full jitter (a uniform draw in `[0, min(cap, base * 2^attempt)]`) spreads retries of many
//! clients that failed together, which is what a rate-limited provider needs; see
//! "Exponential Backoff And Jitter", AWS Architecture Blog, 2015.

use std::time::Duration;

/// How to wait between attempts. Defaults: 4 attempts in all, 250 ms base, 8 s cap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Attempts in all, including the first. 1 means never retry.
    pub max_attempts: u32,
    /// Upper bound of the first retry's delay.
    pub base: Duration,
    /// No single computed delay exceeds this.
    pub cap: Duration,
    /// A `Retry-After` above this is not waited for: the error is returned instead.
    pub max_retry_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The delay before retry number `retry` (0 for the first retry), given a uniform draw
    /// `unit` in `[0, 1)` and the server's `Retry-After`, if any. `None` means "do not retry":
    /// attempts are exhausted or the server asked for a longer wait than we accept.
    pub fn delay(&self, retry: u32, unit: f64, retry_after: Option<Duration>) -> Option<Duration> {
        if retry + 1 >= self.max_attempts {
            return None;
        }
        if let Some(after) = retry_after {
            return (after <= self.max_retry_after).then_some(after);
        }
        let ceiling = self.base.as_secs_f64() * 2f64.powi(retry.min(30) as i32);
        let ceiling = ceiling.min(self.cap.as_secs_f64());
        Some(Duration::from_secs_f64(ceiling * unit.clamp(0.0, 1.0)))
    }

    /// [`Backoff::delay`] with a fresh random draw.
    pub fn next_delay(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        self.delay(retry, rand::random::<f64>(), retry_after)
    }
}

/// Parses an HTTP `Retry-After` value given in seconds (the form providers send).
/// HTTP-dates are not parsed: `None` falls back to computed backoff.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn delays_stay_within_bounds(retry in 0u32..40, unit in 0.0f64..1.0) {
            let b = Backoff::default();
            match b.delay(retry, unit, None) {
                None => prop_assert!(retry + 1 >= b.max_attempts),
                Some(d) => {
                    prop_assert!(d <= b.cap);
                    prop_assert!(d.as_secs_f64() <= b.base.as_secs_f64() * 2f64.powi(retry as i32) + 1e-9);
                }
            }
        }
    }

    #[test]
    fn retry_after_wins_but_is_capped() {
        let b = Backoff::default();
        assert_eq!(b.delay(0, 0.5, Some(Duration::from_secs(3))), Some(Duration::from_secs(3)));
        assert_eq!(b.delay(0, 0.5, Some(Duration::from_secs(600))), None);
        assert_eq!(parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
