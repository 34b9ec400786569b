//! What a customer's cancel keeps and refunds: the one function the cancellation quote and the
//! cancel itself both call, so a quote equals the refund then made to the minor unit (rounding:
//! see `terms::policy`).
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::model::{Reservation, ReservationStatus};
use crate::terms::{Currency, format_amount};

/// The amounts of a cancel and why. Stored on the reservation when it is cancelled and carried by
/// ReservationCanceled, so the payment context refunds exactly this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cancellation {
    pub refund_amount: i64,
    pub penalty_amount: i64,
    pub currency: Currency,
    /// The policy applied (a preset's name or CUSTOM); absent when none applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// In plain words.
    pub why: String,
    /// When the amounts change next (the next window of the policy), if they do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes_at: Option<String>,
    /// The instant the amounts are for.
    pub at: String,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// What a customer's cancel of `r` at `at` keeps. Only a confirmed stay is kept by its policy:
/// before the owner (or the instant-book hold) confirmed it, nothing is sure and nothing is kept.
pub fn cancellation_at(r: &Reservation, at: OffsetDateTime) -> Cancellation {
    let currency = r.terms.currency;
    let amount = |a: i64| format_amount(a, currency);
    let full = |why: String| Cancellation {
        refund_amount: r.amount,
        penalty_amount: 0,
        currency,
        policy: None,
        why,
        changes_at: None,
        at: rfc3339(at),
    };
    if r.status != ReservationStatus::Confirmed {
        return full(format!(
            "Not confirmed yet: a cancel now refunds everything ({}).",
            amount(r.amount)
        ));
    }
    let Some(policy) = &r.terms.cancellation_policy else {
        return full(format!(
            "Booked before cancellation policies: a full refund ({}).",
            amount(r.amount)
        ));
    };
    let penalty = policy.penalty_at(at).clamp(0, r.amount);
    let refund = r.amount - penalty;
    let changes_at = policy
        .windows
        .iter()
        .find(|w| w.from > at)
        .map(|w| rfc3339(w.from));
    let what = match penalty {
        0 => format!("a full refund ({})", amount(refund)),
        p if p == r.amount => format!("no refund ({} kept)", amount(p)),
        p => format!("{} kept, {} refunded", amount(p), amount(refund)),
    };
    Cancellation {
        refund_amount: refund,
        penalty_amount: penalty,
        currency,
        policy: Some(policy.name.clone()),
        why: format!(
            "{} policy, cancelling now: {what}. {}",
            policy.name, policy.description.en
        ),
        changes_at,
        at: rfc3339(at),
    }
}
