//! Error types: definition errors (`AslError`), API errors (`SfnError`) and task errors
//! (`TaskError`, what a resource or a callback reports).

use reserveplace_domain::store::StoreError;

/// A state machine definition the interpreter cannot run. Every variant names where the problem
/// is, so a definition never runs with a silently ignored field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AslError {
    #[error("state machine definition is not valid JSON: {0}")]
    Json(String),
    /// The definition breaks the Amazon States Language.
    #[error("{}: {reason}", location(.state, .field))]
    Invalid {
        state: Option<String>,
        field: String,
        reason: String,
    },
    /// Valid ASL that this interpreter does not implement (Map, Parallel, intrinsic functions…).
    #[error("{}: not supported by the local interpreter: {reason}", location(.state, .field))]
    Unsupported {
        state: Option<String>,
        field: String,
        reason: String,
    },
    #[error("invalid state machine name {0:?}: 1-80 characters, no whitespace or ARN separators")]
    InvalidMachineName(String),
}

fn location(state: &Option<String>, field: &str) -> String {
    match state {
        Some(s) => format!("state {s:?}, field {field:?}"),
        None => format!("top level, field {field:?}"),
    }
}

impl AslError {
    /// The state the error is about (`None` for top-level fields).
    pub fn state(&self) -> Option<&str> {
        match self {
            AslError::Invalid { state, .. } | AslError::Unsupported { state, .. } => {
                state.as_deref()
            }
            _ => None,
        }
    }

    /// The field path the error is about, e.g. `Retry[0].BackoffRate` or `Parameters.id.$`.
    pub fn field(&self) -> Option<&str> {
        match self {
            AslError::Invalid { field, .. } | AslError::Unsupported { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// Errors of the execution API, named after the Step Functions API errors they mirror.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SfnError {
    #[error("invalid execution name {0:?}: 1-80 characters, no whitespace or special characters")]
    InvalidName(String),
    /// The execution input is larger than 256 KiB (or otherwise unusable).
    #[error("invalid execution input: {0}")]
    InvalidExecutionInput(String),
    /// A start with an existing name but a different input (Step Functions semantics).
    #[error("execution {0} already exists with a different input")]
    ExecutionAlreadyExists(String),
    /// The token was never issued.
    #[error("task token does not exist")]
    TaskDoesNotExist,
    /// The task of the token already finished (completed, failed or timed out).
    #[error("task timed out or already completed")]
    TaskTimedOut,
    /// A stored record could not be read back: the table holds data this crate did not write.
    #[error("corrupt stored record {key}: {reason}")]
    Corrupt { key: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The failure of a task: what a resource returns, what `send_task_failure` reports, or a
/// `States.*` error raised by the interpreter. Catchers and retriers match on `error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct TaskError {
    pub error: String,
    pub cause: String,
}

impl TaskError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }
}
