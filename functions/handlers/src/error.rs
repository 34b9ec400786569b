//! The error a saga step or event consumer reports. On AWS it becomes the Lambda error
//! (`errorType` / `errorMessage`), which Step Functions matches in Retry/Catch and EventBridge retries.
use reserveplace_domain::error::DomainError;
use reserveplace_domain::saga::SagaError;
use serde::Serialize;

/// Retried with backoff by the saga and the bus.
pub const TRANSIENT: &str = "ReservePlace.Transient";
/// A malformed input: retrying cannot help.
pub const INVALID: &str = "ReservePlace.InvalidInput";
/// A permanent fault of the deployment (missing table, missing permission, undecodable stored
/// record): retrying cannot help. The saga catches it into its compensation path; the bus gives
/// up after the target's bounded retries.
pub const MISCONFIGURED: &str = "ReservePlace.Misconfigured";
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
    pub fn misconfigured(cause: impl Into<String>) -> Self {
        Self {
            error: MISCONFIGURED.into(),
            cause: cause.into(),
        }
    }
}

impl From<DomainError> for StepError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Unavailable(c) => Self::transient(c),
            DomainError::Misconfigured(c) => {
                tracing::error!(cause = %c, "step failed: the service is misconfigured");
                Self::misconfigured(c)
            }
            other => Self::invalid(other.to_string()),
        }
    }
}

/// A saga engine error of a step or consumer that has no use for `TaskGone` itself.
impl From<SagaError> for StepError {
    fn from(e: SagaError) -> Self {
        match e {
            SagaError::Unavailable(c) => Self::transient(c),
            SagaError::Misconfigured(c) => {
                tracing::error!(cause = %c, "step failed: the saga engine is misconfigured");
                Self::misconfigured(c)
            }
            other @ SagaError::TaskGone(_) => Self::invalid(other.to_string()),
        }
    }
}

pub type StepResult<T> = Result<T, StepError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_permanent_fault_has_its_own_error_type_for_the_saga() {
        let e = StepError::from(DomainError::Misconfigured(
            "AccessDeniedException: x".into(),
        ));
        assert_eq!(e.error, "ReservePlace.Misconfigured");
        assert!(e.cause.contains("AccessDeniedException"));
        assert_eq!(
            StepError::from(DomainError::Unavailable("throttled".into())).error,
            TRANSIENT
        );
        assert_eq!(
            StepError::from(SagaError::Misconfigured("StateMachineDoesNotExist".into())).error,
            MISCONFIGURED
        );
        assert_eq!(
            StepError::from(SagaError::Unavailable("down".into())).error,
            TRANSIENT
        );
    }
}
