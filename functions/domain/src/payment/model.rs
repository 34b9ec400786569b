use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::store::Key;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    /// [결제완료]
    Approved,
    Declined,
    /// [결제취소]
    Refunded,
    /// Cancelled before any charge: a later charge attempt must not charge.
    Voided,
}

/// What a payment is: the payment record and its events carry this one type, so they cannot drift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentFacts {
    pub payment_id: String,
    pub reservation_id: String,
    pub user_id: String,
    /// The reservation's amount, in integer minor units.
    pub amount: i64,
    pub status: PaymentStatus,
    /// The provider's reference of the charge (absent until it was approved).
    pub provider_ref: Option<String>,
    pub decline_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    #[serde(flatten)]
    pub facts: PaymentFacts,
    /// Why it was refunded or voided (the reservation's cancel reason), so a replayed saga ends the
    /// same way as the run that compensated.
    #[serde(default)]
    pub refund_reason: Option<String>,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

impl Payment {
    /// One item per reservation: this is what makes "at most one charge" hold.
    pub fn key(reservation_id: &str) -> Key {
        Key::new(format!("PAY#{reservation_id}"), "PAY")
    }
}

/// What the saga's charge step answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChargeOutcome {
    Approved,
    Declined,
    /// Circuit open or provider overloaded: fail fast, "try again later".
    Unavailable,
    /// The reservation was cancelled before the charge took effect (refunded if it had).
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeResult {
    pub outcome: ChargeOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    /// For CANCELLED: the reason recorded by the refund (a cancel reason of the reservation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundResult {
    /// True when this call (or an earlier one) left the payment REFUNDED; false when nothing was charged.
    pub refunded: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ProviderCharge {
    Approved { provider_ref: String },
    Declined { reason: String },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// Outage, overload or timeout: counts against the circuit and fails the reservation fast.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// A blip worth retrying with backoff.
    #[error("payment provider transient error: {0}")]
    Transient(String),
}

/// The payment provider. Calls are idempotent per reservation (the provider's idempotency key).
#[async_trait]
pub trait PaymentProvider: Send + Sync {
    async fn charge(
        &self,
        reservation_id: &str,
        user_id: &str,
        amount: i64,
    ) -> Result<ProviderCharge, ProviderError>;
    async fn refund(
        &self,
        reservation_id: &str,
        provider_ref: &str,
        amount: i64,
    ) -> Result<(), ProviderError>;
}
