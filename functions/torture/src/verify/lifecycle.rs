//! Each reservation's life: nothing acknowledged is lost, everything ends (saga included), the
//! events tell the documented story with the right amount, and answered commands were honoured.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Case;
use super::verdict::{counts_line, show};
use super::world::{st, status_of};
use crate::Check;

/// Nothing acknowledged is lost.
pub(super) fn nothing_acknowledged_is_lost(c: &Case<'_>) -> Check {
    let w = c.w;
    let lost: Vec<String> = w
        .obs
        .iter()
        .filter(|o| o.res.is_none())
        .map(|o| format!("{} (user {}) answered 202 but is gone", o.id, o.t.stay.user))
        .collect();
    c.verdict(
        "every 202-acknowledged reservation exists",
        &lost,
        format!(
            "{} acknowledged, {} found",
            w.obs.len(),
            w.obs.len() - lost.len()
        ),
    )
}

/// Nothing left half-way: every reservation is final (but for AWAITING_OWNER where allowed),
/// with a reason exactly when it is CANCELLED.
pub(super) fn nothing_left_half_way(c: &Case<'_>) -> Check {
    let mut stuck = Vec::new();
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    for o in &c.found {
        let s = o.status();
        *statuses.entry(s.clone()).or_default() += 1;
        let res = o.res.as_ref().expect("filtered");
        let reason_ok = if st(res, "status") == "CANCELLED" {
            !st(res, "statusReason").is_empty()
        } else {
            res["statusReason"].is_null()
        };
        let ok = match s.as_str() {
            "CONFIRMED" => true,
            "AWAITING_OWNER" => !c.place_of(o).instant && c.extra.allow_awaiting,
            s => s.starts_with("CANCELLED/"),
        };
        if !ok || !reason_ok {
            stuck.push(format!(
                "{} left {s} (reason {})",
                o.id, res["statusReason"]
            ));
        }
    }
    c.verdict(
        if c.extra.allow_awaiting {
            "no reservation left non-final except AWAITING_OWNER (request-to-book)"
        } else {
            "no reservation left non-final (every owner decision made or timed out)"
        },
        &stuck,
        counts_line(&statuses),
    )
}

/// Every saga finished or compensated.
pub(super) fn every_saga_finished(c: &Case<'_>) -> Check {
    let mut sagas: BTreeMap<String, usize> = BTreeMap::new();
    let mut unfinished = Vec::new();
    for o in &c.found {
        let e = o
            .execution
            .as_ref()
            .map(|x| st(x, "status"))
            .unwrap_or_else(|| "NO EXECUTION".into());
        *sagas.entry(e.clone()).or_default() += 1;
        let ok = e == "SUCCEEDED" || (e == "RUNNING" && o.status() == "AWAITING_OWNER");
        if !ok {
            let x = o.execution.clone().unwrap_or(Value::Null);
            unfinished.push(format!(
                "{} ({}) saga {e} at {} error {} cause {} history {}",
                o.id,
                o.status(),
                x["currentState"],
                x["error"],
                x["cause"],
                x["history"]
            ));
        }
    }
    c.verdict(
        "every saga finished or compensated (RUNNING only while awaiting the owner)",
        &unfinished,
        counts_line(&sagas),
    )
}

/// Event order (`docs/design.md`, section 2) and amounts.
pub(super) fn events_in_order_and_amounts_right(c: &Case<'_>) -> Check {
    let mut order = Vec::new();
    for o in &c.found {
        let s = o.status();
        let want: &[&str] = match s.as_str() {
            "CONFIRMED" => &[
                "ReservationPlaced",
                "PaymentAuthorized",
                "ReservationConfirmed",
                "ReservationStatusChanged",
                "PaymentCaptured",
            ],
            "CANCELLED/SOLD_OUT" | "CANCELLED/OWNER_REJECTED" | "CANCELLED/OWNER_TIMEOUT" => &[
                "ReservationPlaced",
                "PaymentAuthorized",
                "ReservationCancelConfirmed",
                "PaymentVoided",
                "ReservationCanceled",
            ],
            _ => &[],
        };
        let mut it = o.events.iter();
        let mut good = true;
        for (k, name) in want.iter().enumerate() {
            let last_confirmed = s == "CONFIRMED" && k == 3;
            good &= it.any(|e| {
                e["detail-type"] == *name
                    && (!last_confirmed || e["detail"]["status"] == "CONFIRMED")
            });
        }
        if !good {
            order.push(format!("{} ({s}): {:?}", o.id, o.names()));
        }
        let p = c.place_of(o);
        let amount = p.price * o.t.stay.nights * o.t.stay.rooms;
        if o.res.as_ref().and_then(|r| r["amount"].as_i64()) != Some(amount) {
            order.push(format!(
                "{}: amount {} ≠ nightlyPrice×nights×rooms {amount}",
                o.id,
                o.res
                    .as_ref()
                    .map(|r| r["amount"].clone())
                    .unwrap_or_default()
            ));
        }
    }
    c.verdict(
        "events in the documented order; amount = nightlyPrice × nights × rooms",
        &order,
        format!(
            "{} event traces checked",
            c.found.iter().map(|o| o.events.len()).sum::<usize>()
        ),
    )
}

/// Commands that were answered were honoured.
pub(super) fn answered_commands_honoured(c: &Case<'_>) -> Check {
    let mut dishonoured = Vec::new();
    let (mut cancels, mut confirms, mut rejects) = (0, 0, 0);
    for o in &c.found {
        let s = o.status();
        if let Some(cancel) = &o.t.cancel {
            cancels += 1;
            let answered = status_of(cancel);
            if s != answered {
                dishonoured.push(format!(
                    "{}: the cancel was answered {answered} but it ends {s}",
                    o.id
                ));
            }
        }
        if let Some((confirm, 200)) = c.extra.decisions.get(&o.id) {
            let honoured = if *confirm {
                confirms += 1;
                s == "CONFIRMED" || s == "CANCELLED/CUSTOMER_CANCELLED"
            } else {
                rejects += 1;
                s == "CANCELLED/OWNER_REJECTED" || s == "CANCELLED/CUSTOMER_CANCELLED"
            };
            // A step after the decision may still fail for good: then the saga refunds and
            // releases (checked above), which overrides the owner's answer.
            if !honoured && s != "CANCELLED/SYSTEM_ERROR" {
                dishonoured.push(format!(
                    "{}: the owner's {} was answered 200 but it ends {s}",
                    o.id,
                    if *confirm { "confirm" } else { "reject" }
                ));
            }
        }
    }
    c.verdict(
        "answered cancels and owner decisions were honoured",
        &dishonoured,
        format!("{cancels} cancels, {confirms} confirms, {rejects} rejects answered 200"),
    )
}

/// A failed check when some read of the API failed while gathering; none otherwise.
pub(super) fn api_could_be_read(c: &Case<'_>) -> Option<Check> {
    (!c.w.errors.is_empty()).then(|| {
        Check::new(
            format!("{}: the API could be read", c.prefix),
            false,
            show(&c.w.errors),
        )
    })
}
