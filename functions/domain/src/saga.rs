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
}

#[async_trait]
pub trait SagaCallbacks: Send + Sync {
    async fn send_task_success(&self, token: &str, output: Value) -> Result<(), SagaError>;
    async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), SagaError>;
}
