//! The saga engine's callback port ([`SagaCallbacks`]): a token nobody waits for is `TaskGone`,
//! which callers treat as "already resumed".
use async_trait::async_trait;
use reserveplace_domain::saga::{SagaCallbacks, SagaError};
use serde_json::json;

#[async_trait]
pub trait SagaFixture: Send + Sync {
    fn callbacks(&self) -> &dyn SagaCallbacks;
    /// A token of a task that no execution waits on (well-formed for the engine).
    fn unknown_token(&self) -> String;
}

#[macro_export]
macro_rules! saga_contract {
    ($fixture:expr) => {
        #[tokio::test]
        async fn unknown_tokens_are_gone() {
            let fixture = $fixture.await;
            $crate::saga::unknown_tokens_are_gone(&fixture).await;
        }
    };
}

pub async fn unknown_tokens_are_gone(f: &dyn SagaFixture) {
    let token = f.unknown_token();
    let success = f
        .callbacks()
        .send_task_success(&token, json!({"decision": "CONFIRMED"}))
        .await;
    assert!(
        matches!(success, Err(SagaError::TaskGone(_))),
        "{success:?}"
    );
    let failure = f
        .callbacks()
        .send_task_failure(&token, "Reservation.Cancelled", "cancelled by the customer")
        .await;
    assert!(
        matches!(failure, Err(SagaError::TaskGone(_))),
        "{failure:?}"
    );
}
