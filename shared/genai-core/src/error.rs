use serde::{Deserialize, Serialize};

/// What the caller of a failed operation should do next.
///
/// Every crate's error type implements [`Classify`], so a service maps any failure to a status
/// code and a retry decision in one place instead of matching on foreign variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Transient: the same request may succeed later (timeouts, 429, 5xx, lock contention).
    Retryable,
    /// The input is wrong; retrying the same input fails the same way. Maps to HTTP 4xx.
    InvalidInput,
    /// A configured limit was reached (token or cost budget, size cap). Maps to HTTP 413/429/402.
    Budget,
    /// Nothing the caller can change fixes it (misconfiguration, corrupted state, a bug).
    Permanent,
}

impl ErrorClass {
    /// Whether an automatic retry of the same request is worthwhile.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Retryable)
    }
}

/// Implemented by every error type in the workspace.
pub trait Classify {
    /// What the caller should do about this error.
    fn class(&self) -> ErrorClass;
}
