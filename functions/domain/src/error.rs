//! Errors a use case reports. Client mistakes are distinguishable from faults so the HTTP layer
//! answers 4xx for the former and never 5xx for them.
use crate::store::StoreError;

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum DomainError {
    /// The request is malformed or breaks a rule (field, detail).
    #[error("invalid {field}: {detail}")]
    Invalid { field: String, detail: String },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The request conflicts with the current state (e.g. deciding an already decided stay).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A booking's quote no longer holds and the price differs now: `total` is today's.
    #[error("price changed: {detail}")]
    PriceChanged { detail: String, total: i64 },
    /// Transient infrastructure failure; retrying may succeed.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Permanent infrastructure failure (a missing table or permission, a stored record that no
    /// longer decodes, a request the store refuses): retrying cannot help until an operator fixes
    /// the deployment. The detail is for the logs only.
    #[error("misconfigured: {0}")]
    Misconfigured(String),
}

impl DomainError {
    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_string(),
            detail: detail.into(),
        }
    }
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }
    /// The same error about a field nested in `parent` (e.g. `roomTypes[1]` + `priceRules[0].to`).
    pub fn within(self, parent: &str) -> Self {
        match self {
            Self::Invalid { field, detail } => Self::Invalid {
                field: format!("{parent}.{field}"),
                detail,
            },
            other => other,
        }
    }
}

/// A use case that does not handle a failed condition itself lost a race: retrying re-reads the
/// state. A request the store refuses was built by this code, so it is refused again, like a
/// missing table: both are permanent.
impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ConditionFailed { .. } | StoreError::Unavailable(_) => {
                DomainError::Unavailable(e.to_string())
            }
            StoreError::Invalid(_) | StoreError::Misconfigured(_) => {
                DomainError::Misconfigured(e.to_string())
            }
        }
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
