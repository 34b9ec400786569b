//! Resumes a waiting saga on Step Functions through its task token.
use async_trait::async_trait;
pub use aws_sdk_sfn::Client;
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use reserveplace_domain::saga::{SagaCallbacks, SagaError};
use serde_json::Value;

pub struct StepFunctionsCallbacks {
    client: Client,
}

impl StepFunctionsCallbacks {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

/// A token that finished, timed out or never existed has nothing left to resume.
fn saga_error<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    e: SdkError<E, R>,
) -> SagaError {
    let code = e
        .as_service_error()
        .and_then(|s| s.code())
        .map(str::to_owned);
    let message = e
        .as_service_error()
        .and_then(|s| s.message())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{e:?}"));
    match code.as_deref() {
        Some("TaskDoesNotExist" | "TaskTimedOut" | "InvalidToken") => {
            SagaError::TaskGone(format!("{}: {message}", code.unwrap_or_default()))
        }
        _ => SagaError::Unavailable(message),
    }
}

#[async_trait]
impl SagaCallbacks for StepFunctionsCallbacks {
    async fn send_task_success(&self, token: &str, output: Value) -> Result<(), SagaError> {
        self.client
            .send_task_success()
            .task_token(token)
            .output(output.to_string())
            .send()
            .await
            .map(|_| ())
            .map_err(saga_error)
    }

    async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), SagaError> {
        self.client
            .send_task_failure()
            .task_token(token)
            .error(error)
            .cause(cause)
            .send()
            .await
            .map(|_| ())
            .map_err(saga_error)
    }
}
