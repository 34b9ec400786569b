//! The saga engine as a port: owner decisions and cancellations resume a waiting execution through
//! its callback token (Step Functions `SendTaskSuccess` / `SendTaskFailure`, or the local interpreter).
use async_trait::async_trait;
use serde_json::Value;

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum SagaError {
    /// The task already finished or timed out: nothing to resume (callers treat this as done).
    #[error("task no longer waiting: {0}")]
    TaskGone(String),
    #[error("saga engine unavailable: {0}")]
    Unavailable(String),
    /// Permanent: the state machine does not exist or a permission is missing; retrying cannot help.
    #[error("saga engine misconfigured: {0}")]
    Misconfigured(String),
}

pub type SagaResult<T = ()> = Result<T, SagaError>;

#[async_trait]
pub trait SagaCallbacks: Send + Sync {
    async fn send_task_success(&self, token: &str, output: Value) -> SagaResult;
    async fn send_task_failure(&self, token: &str, error: &str, cause: &str) -> SagaResult;
}

/// What a start found. Either way exactly one execution has this name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SagaStart {
    /// Started now (or the same start repeated while it runs, which Step Functions answers alike).
    Started,
    /// An execution of this name already existed, running or finished: nothing was started.
    AlreadyStarted,
}

/// Starts saga executions of one state machine by name (Step Functions `StartExecution`, or the
/// local interpreter). The name makes a start idempotent: one execution per name, ever.
#[async_trait]
pub trait SagaStarter: Send + Sync {
    async fn start_execution(&self, name: &str, input: Value) -> Result<SagaStart, SagaError>;
}
