//! The read models: every MyPage row and owner-view row equals its reservation.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Case;
use super::world::{Observed, st};
use crate::Check;

/// What MyPage should show for a reservation and its payment, field by field; the differences.
pub fn mypage_diff(res: &Value, payment: Option<&Value>, row: Option<&Value>) -> Vec<String> {
    let Some(row) = row else {
        return vec!["no MyPage row".into()];
    };
    let mut d = Vec::new();
    let pairs = [
        ("status", "reservationStatus"),
        ("statusReason", "statusReason"),
        ("amount", "amount"),
        ("checkIn", "checkIn"),
        ("checkOut", "checkOut"),
        ("rooms", "rooms"),
        ("placeId", "placeId"),
        ("placeName", "placeName"),
        ("userId", "userId"),
        ("version", "version"),
    ];
    for (rf, mf) in pairs {
        if res.get(rf) != row.get(mf) {
            d.push(format!(
                "{mf} {} ≠ {}",
                row.get(mf).unwrap_or(&Value::Null),
                res.get(rf).unwrap_or(&Value::Null)
            ));
        }
    }
    let pay = payment.map(|p| st(p, "status")).unwrap_or_default();
    let want = match pay.as_str() {
        // VOIDED too: the views learn that no money will move (PaymentVoided).
        "AUTHORIZED" | "CAPTURED" | "PARTIALLY_REFUNDED" | "DECLINED" | "REFUNDED" | "VOIDED" => {
            Value::String(pay.clone())
        }
        _ => Value::Null,
    };
    let got = row.get("paymentStatus").cloned().unwrap_or(Value::Null);
    if got != want {
        d.push(format!(
            "paymentStatus {got} ≠ {want} (payment {})",
            if pay.is_empty() { "none" } else { &pay }
        ));
    }
    d
}

/// MyPage rows equal their reservations, and each user's list shows each once.
pub(super) fn mypage_rows_equal_reservations(c: &Case<'_>) -> Check {
    let (w, obs) = (c.w, &c.found);
    let mut diffs = Vec::new();
    for o in obs {
        let d = mypage_diff(
            o.res.as_ref().expect("filtered"),
            o.payment.as_ref(),
            o.mypage.as_ref(),
        );
        if !d.is_empty() {
            diffs.push(format!("{} ({}): {}", o.id, o.status(), d.join(", ")));
        }
    }
    let mut list_rows = 0;
    for (user, list) in &w.lists {
        list_rows += list.len();
        let mine: Vec<&&Observed> = obs.iter().filter(|o| &o.t.stay.user == user).collect();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for row in list {
            *seen.entry(st(row, "reservationId")).or_default() += 1;
            let id = st(row, "reservationId");
            match mine.iter().find(|o| o.id == id) {
                Some(o) if o.mypage.as_ref() != Some(row) => diffs.push(format!(
                    "{id}: the list row of {user} differs from GET /v1/mypages/{id}: {}",
                    mypage_diff(
                        o.res.as_ref().expect("filtered"),
                        o.payment.as_ref(),
                        Some(row)
                    )
                    .join(", ")
                )),
                Some(_) => {}
                None => diffs.push(format!(
                    "{user} has a MyPage row for {id}, which was never acknowledged to them"
                )),
            }
        }
        if list.len() < 200 {
            for o in &mine {
                match seen.get(&o.id) {
                    Some(1) => {}
                    n => diffs.push(format!(
                        "{} appears {} times in the list of {user}",
                        o.id,
                        n.copied().unwrap_or(0)
                    )),
                }
            }
        }
    }
    c.verdict(
        "every MyPage row equals its reservation (status, reason, amount, dates, rooms, payment)",
        &diffs,
        format!(
            "{} rows compared, {} list rows of {} users",
            obs.len(),
            list_rows,
            w.lists.len()
        ),
    )
}

/// The owner view agrees too.
pub(super) fn owner_rows_equal_reservations(c: &Case<'_>) -> Check {
    let mut owner_diffs = Vec::new();
    let mut owner_compared = 0;
    for (i, rows) in c.w.owner_rows.iter().enumerate() {
        for o in c.found.iter().filter(|o| o.t.stay.place == i) {
            let res = o.res.as_ref().expect("filtered");
            match rows.iter().find(|r| st(r, "reservationId") == o.id) {
                None => owner_diffs.push(format!("{} missing from the owner view", o.id)),
                Some(r) => {
                    owner_compared += 1;
                    for f in [
                        "status",
                        "statusReason",
                        "amount",
                        "checkIn",
                        "checkOut",
                        "rooms",
                    ] {
                        if r.get(f) != res.get(f) {
                            owner_diffs.push(format!(
                                "{}: owner view {f} {} ≠ {}",
                                o.id,
                                r.get(f).unwrap_or(&Value::Null),
                                res.get(f).unwrap_or(&Value::Null)
                            ));
                        }
                    }
                }
            }
        }
    }
    c.verdict(
        "every owner-view row equals its reservation",
        &owner_diffs,
        format!("{owner_compared} rows compared"),
    )
}
