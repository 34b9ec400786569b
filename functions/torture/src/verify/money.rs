//! Money: payments that agree with their reservations, no double charge or refund, and loyalty
//! points that follow the confirmed stays.

use std::collections::BTreeMap;

use super::Case;
use super::verdict::counts_line;
use crate::Check;

/// A number of a JSON object (0 when absent).
fn num(v: &serde_json::Value, field: &str) -> i64 {
    v[field].as_i64().unwrap_or(0)
}

/// The books balance: each payment's status fits its reservation, its ledger adds up to its sums,
/// nothing stays held once the saga settled, and captured − refunded is what the reservation's
/// end keeps (its price when confirmed, what its cancel's policy kept, else nothing).
pub(super) fn payments_agree_with_reservations(c: &Case<'_>) -> Check {
    let mut combos: BTreeMap<String, usize> = BTreeMap::new();
    let mut bad = Vec::new();
    let mut kept_total = 0;
    for o in &c.found {
        let s = o.status();
        let p = o.payment_status();
        *combos.entry(format!("{s}→{p}")).or_default() += 1;
        let ok = match (s.as_str(), p.as_str()) {
            ("CONFIRMED", p) => p == "CAPTURED",
            ("AWAITING_OWNER", p) => p == "AUTHORIZED",
            ("CANCELLED/PAYMENT_DECLINED", p) => p == "DECLINED",
            ("CANCELLED/PAYMENT_UNAVAILABLE", p) => p == "none" || p == "VOIDED",
            // SYSTEM_ERROR: a step after the authorization failed for good; the saga voided.
            (
                "CANCELLED/SOLD_OUT"
                | "CANCELLED/OWNER_REJECTED"
                | "CANCELLED/OWNER_TIMEOUT"
                | "CANCELLED/SYSTEM_ERROR",
                p,
            ) => p == "VOIDED",
            ("CANCELLED/CUSTOMER_CANCELLED", p) => matches!(
                p,
                "none" | "VOIDED" | "REFUNDED" | "PARTIALLY_REFUNDED" | "CAPTURED" | "DECLINED"
            ),
            _ => false,
        };
        if !ok {
            bad.push(format!("{} is {s} with payment {p}", o.id));
        }
        let (Some(pay), Some(res)) = (&o.payment, &o.res) else {
            continue;
        };
        if pay.get("amount") != res.get("amount") {
            bad.push(format!(
                "{}: payment amount {} ≠ reservation amount {}",
                o.id, pay["amount"], res["amount"]
            ));
        }
        let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
        for e in pay["ledger"].as_array().into_iter().flatten() {
            *sums
                .entry(e["movement"].as_str().unwrap_or("?"))
                .or_default() += num(e, "amount");
        }
        for (field, movement) in [
            ("authorized", "AUTHORIZE"),
            ("captured", "CAPTURE"),
            ("voided", "VOID"),
            ("refunded", "REFUND"),
        ] {
            let entries = sums.get(movement).copied().unwrap_or(0);
            if num(pay, field) != entries {
                bad.push(format!(
                    "{}: {field} {} but its ledger entries add up to {entries}",
                    o.id, pay[field]
                ));
            }
        }
        let open = num(pay, "authorized") - num(pay, "captured") - num(pay, "voided");
        if open != 0 && s != "AWAITING_OWNER" {
            bad.push(format!(
                "{}: {open} still authorized on a settled {s}",
                o.id
            ));
        }
        let kept = num(pay, "captured") - num(pay, "refunded");
        let want = match s.as_str() {
            "CONFIRMED" => num(res, "amount"),
            "CANCELLED/CUSTOMER_CANCELLED" => num(&res["cancellation"], "penaltyAmount"),
            _ => 0,
        };
        if kept != want || num(pay, "kept") != kept {
            bad.push(format!(
                "{}: {s} keeps {kept} (says {}), its end keeps {want}",
                o.id, pay["kept"]
            ));
        }
        kept_total += kept;
    }
    c.verdict(
        "the books balance: payments fit their reservations, ledgers add up, nothing stays authorized, captured − refunded = what each end keeps",
        &bad,
        format!("{}; {kept_total} kept in all", counts_line(&combos)),
    )
}

/// Money moved once: at most one authorization, capture and refund per reservation, each event
/// of the payment a movement of its ledger.
pub(super) fn never_charged_twice(c: &Case<'_>) -> Check {
    let mut twice = Vec::new();
    let (mut authorized, mut captures, mut refunds, mut declines) = (0, 0, 0, 0);
    for o in &c.found {
        let Some(pay) = &o.payment else {
            if o.count("PaymentAuthorized") > 0 {
                twice.push(format!("{}: authorized without a payment", o.id));
            }
            continue;
        };
        let mut entries: BTreeMap<String, usize> = BTreeMap::new();
        for e in pay["ledger"].as_array().into_iter().flatten() {
            *entries
                .entry(e["movement"].as_str().unwrap_or("?").to_string())
                .or_default() += 1;
        }
        let n = |m: &str| entries.get(m).copied().unwrap_or(0);
        let (placed, declined) = (o.count("ReservationPlaced"), o.count("PaymentDeclined"));
        authorized += n("AUTHORIZE");
        captures += n("CAPTURE");
        refunds += n("REFUND");
        declines += declined;
        if placed != 1 || n("AUTHORIZE") > 1 || n("CAPTURE") > 1 || n("REFUND") > 1 || declined > 1
        {
            twice.push(format!(
                "{}: ledger {entries:?}, ReservationPlaced×{placed}",
                o.id
            ));
        }
        for (event, movement) in [
            ("PaymentAuthorized", "AUTHORIZE"),
            ("PaymentCaptured", "CAPTURE"),
            ("PaymentRefunded", "REFUND"),
        ] {
            if o.count(event) != n(movement) {
                twice.push(format!(
                    "{}: {event}×{} but {} {movement} entries: {:?}",
                    o.id,
                    o.count(event),
                    n(movement),
                    o.names()
                ));
            }
        }
    }
    c.verdict(
        "money moved once (at most one authorization, capture and refund per reservation; every payment event is a ledger entry)",
        &twice,
        format!(
            "{} reservations: {authorized} authorizations, {captures} captures, {refunds} refunds, {declines} declines",
            c.found.len()
        ),
    )
}

/// Loyalty: 1% of each user's CONFIRMED stays (a cancelled confirmation takes it back).
pub(super) fn loyalty_is_one_percent_of_confirmed(c: &Case<'_>) -> Check {
    let mut loyal = Vec::new();
    for (user, points) in &c.w.loyalty {
        let want: i64 = c
            .found
            .iter()
            .filter(|o| &o.t.stay.user == user)
            .map(|o| {
                let res = o.res.as_ref();
                // A cancelled stay keeps points for what its cancellation kept.
                let kept = match o.status().as_str() {
                    "CONFIRMED" => res.and_then(|r| r["amount"].as_i64()),
                    s if s.starts_with("CANCELLED") => {
                        res.and_then(|r| r["cancellation"]["penaltyAmount"].as_i64())
                    }
                    _ => None,
                };
                kept.unwrap_or(0) / 100
            })
            .sum();
        if *points != want {
            loyal.push(format!(
                "{user}: {points} points, what the stays keep gives {want}"
            ));
        }
    }
    c.verdict(
        "loyalty points = 1% of what each user's stays keep (confirmed: the price; cancelled: the penalty)",
        &loyal,
        format!("{} users", c.w.loyalty.len()),
    )
}
