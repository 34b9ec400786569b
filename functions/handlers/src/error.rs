//! The error a saga step or event consumer reports. On AWS it becomes the Lambda error
//! (`errorType` / `errorMessage`), which Step Functions matches in Retry/Catch and EventBridge retries.
use reserveplace_domain::error::DomainError;
use reserveplace_domain::saga::SagaError;

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

/// What a step or consumer can fail with: exactly the errors the state machine's `Retry` and
/// `Catch` tell apart (by [`StepError::error_type`], their `ErrorEquals` names).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepError {
    /// A dependency is down or throttled: retried with backoff.
    #[error("{TRANSIENT}: {0}")]
    Transient(String),
    /// The input cannot be handled, however often it is retried.
    #[error("{INVALID}: {0}")]
    InvalidInput(String),
    /// The deployment is broken (see [`MISCONFIGURED`]).
    #[error("{MISCONFIGURED}: {0}")]
    Misconfigured(String),
}

impl StepError {
    pub fn invalid(cause: impl Into<String>) -> Self {
        Self::InvalidInput(cause.into())
    }
    pub fn transient(cause: impl Into<String>) -> Self {
        Self::Transient(cause.into())
    }
    pub fn misconfigured(cause: impl Into<String>) -> Self {
        Self::Misconfigured(cause.into())
    }

    /// The Lambda `errorType` the state machine matches.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Transient(_) => TRANSIENT,
            Self::InvalidInput(_) => INVALID,
            Self::Misconfigured(_) => MISCONFIGURED,
        }
    }

    /// The Lambda `errorMessage`: what went wrong, for the execution history and the logs.
    pub fn cause(&self) -> &str {
        match self {
            Self::Transient(c) | Self::InvalidInput(c) | Self::Misconfigured(c) => c,
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

/// A saga engine error of a step or consumer that has no use for `TaskGone` itself. The engine is
/// a dependency like the store: its outage is transient and its misconfiguration permanent, as
/// the domain's errors say.
impl From<SagaError> for StepError {
    fn from(e: SagaError) -> Self {
        let as_domain = match e {
            SagaError::Unavailable(c) => DomainError::Unavailable(c),
            SagaError::Misconfigured(c) => DomainError::Misconfigured(c),
            gone @ SagaError::TaskGone(_) => return Self::invalid(gone.to_string()),
        };
        as_domain.into()
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
        assert_eq!(e.error_type(), "ReservePlace.Misconfigured");
        assert!(e.cause().contains("AccessDeniedException"));
        assert_eq!(
            e.to_string(),
            "ReservePlace.Misconfigured: AccessDeniedException: x"
        );
        assert_eq!(
            StepError::from(DomainError::Unavailable("throttled".into())).error_type(),
            TRANSIENT
        );
        assert_eq!(
            StepError::from(SagaError::Misconfigured("StateMachineDoesNotExist".into()))
                .error_type(),
            MISCONFIGURED
        );
        assert_eq!(
            StepError::from(SagaError::Unavailable("down".into())).error_type(),
            TRANSIENT
        );
    }

    /// The state machine matches errors by name: every name of ours it matches is one a step
    /// reports (or, for a callback, one a consumer fails the task with).
    #[test]
    fn the_saga_matches_only_error_names_we_report() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../infra/reservation-saga.asl.json"
        );
        let asl = std::fs::read_to_string(path).expect("the saga definition");
        let ours = [
            StepError::transient("").error_type(),
            StepError::invalid("").error_type(),
            StepError::misconfigured("").error_type(),
            CANCELLED,
        ];
        assert_eq!(ours, [TRANSIENT, INVALID, MISCONFIGURED, CANCELLED]);
        let def: serde_json::Value = serde_json::from_str(&asl).expect("json");
        let mut matched = Vec::new();
        for state in def["States"].as_object().expect("states").values() {
            for handler in ["Retry", "Catch"] {
                for h in state[handler].as_array().into_iter().flatten() {
                    for name in h["ErrorEquals"].as_array().into_iter().flatten() {
                        let name = name.as_str().expect("an error name");
                        // States.*, Lambda.* and Sandbox.* are the service's own names.
                        let aws = ["States.", "Lambda.", "Sandbox."];
                        if !aws.iter().any(|p| name.starts_with(p)) {
                            assert!(ours.contains(&name), "the saga matches {name}");
                            matched.push(name.to_owned());
                        }
                    }
                }
            }
        }
        assert!(matched.iter().any(|n| n == TRANSIENT), "{matched:?}");
        assert!(matched.iter().any(|n| n == CANCELLED), "{matched:?}");
    }
}
