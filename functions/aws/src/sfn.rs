//! Resumes a waiting saga on Step Functions through its task token.
use async_trait::async_trait;
pub use aws_sdk_sfn::Client;
use aws_sdk_sfn::config::http::HttpResponse;
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use reserveplace_domain::saga::{SagaCallbacks, SagaError, SagaResult, SagaStart, SagaStarter};
use serde_json::Value;

use crate::classify::{ErrorClass, classify, describe};

pub struct StepFunctionsCallbacks {
    client: Client,
}

impl StepFunctionsCallbacks {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

/// A token that finished, timed out or never existed has nothing left to resume; otherwise the
/// shared classification decides between a retry and a permanent failure.
fn saga_error<E>(e: SdkError<E, HttpResponse>) -> SagaError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = describe(&e);
    match e.as_service_error().and_then(|s| s.code()) {
        Some("TaskDoesNotExist" | "TaskTimedOut" | "InvalidToken") => SagaError::TaskGone(detail),
        _ => match classify(&e) {
            ErrorClass::Transient => SagaError::Unavailable(detail),
            ErrorClass::Permanent => SagaError::Misconfigured(detail),
        },
    }
}

#[async_trait]
impl SagaCallbacks for StepFunctionsCallbacks {
    async fn send_task_success(&self, token: &str, output: Value) -> SagaResult {
        self.client
            .send_task_success()
            .task_token(token)
            .output(output.to_string())
            .send()
            .await
            .map(|_| ())
            .map_err(saga_error)
    }

    async fn send_task_failure(&self, token: &str, error: &str, cause: &str) -> SagaResult {
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

/// Starts executions of one state machine, named so that a start is idempotent.
pub struct StepFunctionsStarter {
    client: Client,
    state_machine_arn: String,
}

impl StepFunctionsStarter {
    pub fn new(client: Client, state_machine_arn: impl Into<String>) -> Self {
        Self {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }
}

#[async_trait]
impl SagaStarter for StepFunctionsStarter {
    /// A Standard workflow answers a repeated start with the same name and input as the running
    /// execution's (idempotent), and `ExecutionAlreadyExists` once it has closed or if the input
    /// differs. Both mean this name's saga exists: the name is the reservation id, and each
    /// reservation has one ReservationPlaced, so another input can only be the same event
    /// published again (every `PutEvents` gives the envelope a new `id` and `time`). Starting
    /// anything else under that name is exactly what naming prevents, so it counts as started.
    async fn start_execution(&self, name: &str, input: Value) -> Result<SagaStart, SagaError> {
        match self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await
        {
            Ok(_) => Ok(SagaStart::Started),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_execution_already_exists()) =>
            {
                Ok(SagaStart::AlreadyStarted)
            }
            Err(e) => Err(saga_error(e)),
        }
    }
}
