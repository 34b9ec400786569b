//! What a customer's cancel keeps and refunds: the one function the cancellation quote and the
//! cancel itself both call, so a quote equals the refund then made to the minor unit (rounding:
//! see `terms::policy`).
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::model::{Reservation, ReservationStatus};
use crate::error::{DomainError, DomainResult};
use crate::stay::parse_date;
use crate::terms::{Currency, LocalTime, PlaceZone, format_amount};

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

/// The owner cancels a confirmed stay: the guest gets everything back, whatever the policy.
pub fn owner_cancellation(r: &Reservation, at: OffsetDateTime) -> Cancellation {
    Cancellation {
        refund_amount: r.amount,
        penalty_amount: 0,
        currency: r.terms.currency,
        policy: None,
        why: format!(
            "The owner cancelled: a full refund ({}).",
            format_amount(r.amount, r.terms.currency)
        ),
        changes_at: None,
        at: rfc3339(at),
    }
}

/// The guest did not arrive: from the end of the check-in day (midnight in the place's zone) the
/// owner may say so, and the stay keeps what a cancel at check-in would have kept (everything
/// for a booking made before cancellation policies).
pub fn no_show_at(r: &Reservation, at: OffsetDateTime) -> DomainResult<Cancellation> {
    let check_in = parse_date("checkIn", &r.check_in)?;
    let next_day = check_in
        .next_day()
        .ok_or_else(|| DomainError::invalid("checkIn", "has no next day"))?;
    let policy = r.terms.cancellation_policy.as_ref();
    let zone = policy.map_or_else(PlaceZone::default, |p| p.time_zone.clone());
    let from = zone.instant(next_day, LocalTime::midnight())?;
    if at < from {
        return Err(DomainError::Conflict(format!(
            "a no-show can be marked from {} (the end of the check-in day, {})",
            zone.local(from),
            zone.name()
        )));
    }
    let penalty = policy
        .map_or(r.amount, |p| p.penalty_at(p.check_in_at))
        .clamp(0, r.amount);
    let currency = r.terms.currency;
    Ok(Cancellation {
        refund_amount: r.amount - penalty,
        penalty_amount: penalty,
        currency,
        policy: policy.map(|p| p.name.clone()),
        why: format!(
            "No-show: {} kept, {} refunded (what a cancel at check-in keeps).",
            format_amount(penalty, currency),
            format_amount(r.amount - penalty, currency)
        ),
        changes_at: None,
        at: rfc3339(at),
    })
}
