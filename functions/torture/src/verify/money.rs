//! Money: payments that agree with their reservations, no double charge or refund, and loyalty
//! points that follow the confirmed stays.

use std::collections::BTreeMap;

use super::Case;
use super::verdict::counts_line;
use crate::Check;

/// Payments agree with reservations, in status and in amount.
pub(super) fn payments_agree_with_reservations(c: &Case<'_>) -> Check {
    let mut combos: BTreeMap<String, usize> = BTreeMap::new();
    let mut bad = Vec::new();
    for o in &c.found {
        let s = o.status();
        let p = o.payment_status();
        *combos.entry(format!("{s}→{p}")).or_default() += 1;
        let ok = match (s.as_str(), p.as_str()) {
            (_, "APPROVED") => s == "CONFIRMED" || s == "AWAITING_OWNER",
            ("CONFIRMED" | "AWAITING_OWNER", _) => false,
            (_, "REFUNDED") => s.starts_with("CANCELLED"),
            ("CANCELLED/PAYMENT_DECLINED", p) => p == "DECLINED",
            ("CANCELLED/PAYMENT_UNAVAILABLE", p) => p == "none" || p == "VOIDED",
            // SYSTEM_ERROR: a step after the charge failed for good; the saga refunded.
            (
                "CANCELLED/SOLD_OUT"
                | "CANCELLED/OWNER_REJECTED"
                | "CANCELLED/OWNER_TIMEOUT"
                | "CANCELLED/SYSTEM_ERROR",
                p,
            ) => p == "REFUNDED",
            ("CANCELLED/CUSTOMER_CANCELLED", p) => {
                matches!(p, "none" | "VOIDED" | "REFUNDED" | "DECLINED")
            }
            _ => false,
        };
        if !ok {
            bad.push(format!("{} is {s} with payment {p}", o.id));
        }
        if let (Some(pay), Some(res)) = (&o.payment, &o.res)
            && pay.get("amount") != res.get("amount")
        {
            bad.push(format!(
                "{}: payment amount {} ≠ reservation amount {}",
                o.id, pay["amount"], res["amount"]
            ));
        }
    }
    c.verdict(
        "every APPROVED payment is on a CONFIRMED (or AWAITING_OWNER) stay, REFUNDED ones on CANCELLED",
        &bad,
        counts_line(&combos),
    )
}

/// Never charged twice, refunded at most once, one ReservationPlaced per reservation.
pub(super) fn never_charged_twice(c: &Case<'_>) -> Check {
    let mut twice = Vec::new();
    let (mut charges, mut refunds, mut declines) = (0, 0, 0);
    for o in &c.found {
        let (placed, approved, refunded, declined) = (
            o.count("ReservationPlaced"),
            o.count("PaymentApproved"),
            o.count("PaymentCancelApproved"),
            o.count("PaymentDeclined"),
        );
        charges += approved;
        refunds += refunded;
        declines += declined;
        if placed != 1 || approved > 1 || refunded > 1 || declined > 1 {
            twice.push(format!(
                "{}: ReservationPlaced×{placed} PaymentApproved×{approved} PaymentCancelApproved×{refunded} PaymentDeclined×{declined}",
                o.id
            ));
        }
        if refunded > approved || (approved > 0 && declined > 0) {
            twice.push(format!("{}: events {:?}", o.id, o.names()));
        }
        let p = o.payment_status();
        let consistent = match p.as_str() {
            "APPROVED" => approved == 1 && refunded == 0,
            "REFUNDED" => approved == 1 && refunded == 1,
            "DECLINED" => declined == 1 && approved == 0,
            _ => approved == 0 && declined == 0,
        };
        if !consistent {
            twice.push(format!("{}: payment {p} but events {:?}", o.id, o.names()));
        }
    }
    c.verdict(
        "never charged twice (at most one PaymentApproved per reservation, refunds at most once)",
        &twice,
        format!(
            "{} reservations: {charges} PaymentApproved, {refunds} PaymentCancelApproved, {declines} PaymentDeclined",
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
            .filter(|o| &o.t.stay.user == user && o.status() == "CONFIRMED")
            .map(|o| {
                o.res
                    .as_ref()
                    .and_then(|r| r["amount"].as_i64())
                    .unwrap_or(0)
                    / 100
            })
            .sum();
        if *points != want {
            loyal.push(format!(
                "{user}: {points} points, confirmed stays give {want}"
            ));
        }
    }
    c.verdict(
        "loyalty points = 1% of each user's CONFIRMED stays",
        &loyal,
        format!("{} users", c.w.loyalty.len()),
    )
}
