use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reserveplace_domain::payment::{PaymentProvider, ProviderCharge, ProviderError};

/// A provider slower than the budget counts as unavailable (fail fast, open the circuit), the way
/// the seed's Hystrix timeout did.
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
    async fn charge(
        &self,
        reservation_id: &str,
        user_id: &str,
        amount: i64,
    ) -> Result<ProviderCharge, ProviderError> {
        tokio::time::timeout(
            self.budget,
            self.inner.charge(reservation_id, user_id, amount),
        )
        .await
        .unwrap_or_else(|_| {
            Err(ProviderError::Unavailable(format!(
                "no answer within {} ms",
                self.budget.as_millis()
            )))
        })
    }

    async fn refund(
        &self,
        reservation_id: &str,
        provider_ref: &str,
        amount: i64,
    ) -> Result<(), ProviderError> {
        // Refunds are retried until they succeed, so a slow one is just a transient failure.
        tokio::time::timeout(
            self.budget,
            self.inner.refund(reservation_id, provider_ref, amount),
        )
        .await
        .unwrap_or_else(|_| Err(ProviderError::Transient("refund timed out".into())))
    }
}
