//! The error a saga step or event consumer reports. On AWS it becomes the Lambda error
//! (`errorType` / `errorMessage`), which Step Functions matches in Retry/Catch and EventBridge retries.
use reserveplace_domain::error::DomainError;
use serde::Serialize;

/// Retried with backoff by the saga and the bus.
pub const TRANSIENT: &str = "ReservePlace.Transient";
/// A malformed input: retrying cannot help.
pub const INVALID: &str = "ReservePlace.InvalidInput";
/// The reservation was cancelled while the saga waited (a callback failure).
pub const CANCELLED: &str = "Reservation.Cancelled";

#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct StepError {
    pub error: String,
    pub cause: String,
}

impl StepError {
    pub fn invalid(cause: impl Into<String>) -> Self {
        Self {
            error: INVALID.into(),
            cause: cause.into(),
        }
    }
    pub fn transient(cause: impl Into<String>) -> Self {
        Self {
            error: TRANSIENT.into(),
            cause: cause.into(),
        }
    }
}

impl From<DomainError> for StepError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Unavailable(c) => Self::transient(c),
            other => Self::invalid(other.to_string()),
        }
    }
}

pub type StepResult<T> = Result<T, StepError>;
