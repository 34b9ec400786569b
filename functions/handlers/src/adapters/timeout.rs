use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reserveplace_domain::payment::{
    AuthorizeCall, MoveCall, PaymentProvider, ProviderCharge, ProviderError,
};

/// A provider slower than the budget counts against the circuit, the way the seed's Hystrix
/// timeout did, but its call may have acted: the outcome is unknown, never a failure.
pub struct TimeoutProvider {
    inner: Arc<dyn PaymentProvider>,
    budget: Duration,
}

impl TimeoutProvider {
    pub fn new(inner: Arc<dyn PaymentProvider>, budget_ms: u64) -> Self {
        Self {
            inner,
            budget: Duration::from_millis(budget_ms.max(1)),
        }
    }
}

#[async_trait]
impl PaymentProvider for TimeoutProvider {
    async fn authorize(&self, call: AuthorizeCall<'_>) -> Result<ProviderCharge, ProviderError> {
        tokio::time::timeout(self.budget, self.inner.authorize(call))
            .await
            .unwrap_or_else(|_| {
                Err(ProviderError::Unknown(format!(
                    "no answer within {} ms",
                    self.budget.as_millis()
                )))
            })
    }

    async fn apply(&self, call: MoveCall<'_>) -> Result<(), ProviderError> {
        // Captures, voids and refunds are retried with the same key until they are known, so a
        // slow one is a transient failure, never a failed one.
        let what = call.movement.as_str();
        tokio::time::timeout(self.budget, self.inner.apply(call))
            .await
            .unwrap_or_else(|_| Err(ProviderError::Transient(format!("{what} timed out"))))
    }
}
