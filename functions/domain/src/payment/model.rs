use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::ledger::{LedgerEntry, Movement, Sums};
use crate::store::Key;
use crate::terms::Currency;

/// Where a payment stands. Money is held by AUTHORIZED, taken by CAPTURED, and given back (in
/// part or whole) by the REFUNDED states; VOIDED and DECLINED never moved any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    /// An authorization was sent and its answer was lost: whoever touches the payment next asks
    /// the provider again with the same idempotency key before anything else moves.
    Authorizing,
    /// The card approved the amount; nothing is taken until capture.
    Authorized,
    /// [결제완료] taken. Payments stored before authorization existed say APPROVED.
    #[serde(alias = "APPROVED")]
    Captured,
    /// Some of what was captured went back; the rest is kept by the cancellation policy.
    PartiallyRefunded,
    /// [결제취소] everything captured went back.
    Refunded,
    /// Released before capture, or cancelled before any authorization: no money moved.
    Voided,
    Declined,
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
    #[serde(default)]
    pub currency: Currency,
    pub status: PaymentStatus,
    /// The provider's reference of the authorization (absent until it was approved).
    pub provider_ref: Option<String>,
    pub decline_reason: Option<String>,
    /// The ledger's sums so far.
    #[serde(flatten)]
    pub sums: Sums,
    /// The owner of the place (so the owner's view can show what happens to the money); empty
    /// on payments made before it was recorded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner_id: String,
    /// A dispute the card holder opened, as the provider reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispute: Option<Dispute>,
}

/// A chargeback the card holder opened with their bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dispute {
    /// Disputed, in the payment's minor units.
    pub amount: i64,
    /// The provider's reason code (e.g. `fraudulent`, `product_not_received`).
    pub reason: String,
    pub at: String,
}

impl PaymentFacts {
    /// Payments stored before the ledger have no sums: what their status says moved.
    pub(crate) fn with_legacy_sums(mut self) -> Self {
        if self.sums == Sums::default() {
            let a = self.amount;
            self.sums = match self.status {
                PaymentStatus::Captured => Sums::moved(a, a, 0, 0),
                PaymentStatus::Refunded => Sums::moved(a, a, 0, a),
                _ => Sums::default(),
            };
        }
        self
    }

    /// What the payment keeps: captured and not refunded.
    pub fn kept(&self) -> i64 {
        self.sums.captured - self.sums.refunded
    }
}

/// A provider operation decided and recorded before it is sent: after a crash between the
/// provider's answer and the ledger write, whoever touches the payment next sends it again with
/// the same idempotency key and records the answer, so the money moves once and is written once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingOperation {
    pub movement: Movement,
    pub amount: i64,
    pub idempotency_key: String,
    /// An authorization's card, to send it again as it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
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
    /// What the payment settles to keep once cancelled (absent while it is not being settled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingOperation>,
    /// How many ledger entries the payment has: the next one's number.
    #[serde(default)]
    pub entries: u32,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

impl Payment {
    /// One item per reservation: this is what makes "at most one authorization" hold.
    pub fn key(reservation_id: &str) -> Key {
        Key::new(format!("PAY#{reservation_id}"), "PAY")
    }
}

/// `GET /v1/reservations/{id}/payment`: the payment, its sums and every movement.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    #[serde(flatten)]
    pub facts: PaymentFacts,
    /// What the payment keeps: captured − refunded.
    pub kept: i64,
    pub ledger: Vec<LedgerEntry>,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

/// What the saga's authorization step answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChargeOutcome {
    /// The card approved the authorization (the seed's name; the state machine reads it).
    Approved,
    Declined,
    /// Circuit open or provider overloaded: fail fast, "try again later".
    Unavailable,
    /// The reservation was cancelled before the authorization took effect (voided if it had).
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeResult {
    pub outcome: ChargeOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    /// For CANCELLED: the reason recorded by the void (a cancel reason of the reservation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Where a settle or a capture left the payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settled {
    /// `None` when there is no payment (a tombstone was left, or nothing to capture).
    pub status: Option<PaymentStatus>,
    pub captured: i64,
    pub refunded: i64,
    pub kept: i64,
}

/// An authorization as the provider is asked for it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizeCall<'a> {
    pub reservation_id: &'a str,
    pub user_id: &'a str,
    pub amount: i64,
    pub currency: Currency,
    /// The card as the client obtained it from the provider (`paymentMethod` of the booking);
    /// `None` leaves the choice to the provider (the simulation approves).
    pub payment_method: Option<&'a str>,
    pub idempotency_key: &'a str,
}

/// A later operation on an authorization (`provider_ref`).
#[derive(Debug, Clone, PartialEq)]
pub struct MoveCall<'a> {
    pub provider_ref: &'a str,
    pub movement: Movement,
    /// Capture: what is taken (the rest of the authorization is released); refund: what goes
    /// back; void: the authorization's amount.
    pub amount: i64,
    pub currency: Currency,
    pub idempotency_key: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ProviderCharge {
    Approved { provider_ref: String },
    Declined { reason: String },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// Outage or overload, the request not taken: counts against the circuit and fails the
    /// reservation fast.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// A blip worth retrying with backoff.
    #[error("payment provider transient error: {0}")]
    Transient(String),
    /// The call was sent and no answer came back (a timeout, a cut connection, a 5xx): it may
    /// have acted. Neither success nor failure until the same call, with the same key, answers.
    #[error("payment provider outcome unknown: {0}")]
    Unknown(String),
    /// The provider refused the operation for good (e.g. capturing more than was authorized).
    #[error("payment provider refused: {0}")]
    Refused(String),
}

/// The payment provider. Every call carries an idempotency key derived from the reservation and
/// the operation: the same key repeated answers the first call's outcome and moves no more money.
#[async_trait]
pub trait PaymentProvider: Send + Sync {
    async fn authorize(&self, call: AuthorizeCall<'_>) -> Result<ProviderCharge, ProviderError>;
    /// Capture, void or refund.
    async fn apply(&self, call: MoveCall<'_>) -> Result<(), ProviderError>;
}
