//! The invariants on small hand-built worlds: each judges what it claims, and the report keeps
//! its order.

use std::collections::BTreeMap;

use serde_json::json;
use time::Date;

use super::*;
use crate::Check;
use crate::plan::{PlaceRef, Stay};

/// One owner-confirmed stay (decision answered 200) that a later step's system error
/// cancelled; the saga left its payment `payment` (VOIDED, or CAPTURED when it kept the money).
fn world(payment: &str) -> (World, Extra) {
    let base = Date::from_calendar_date(2030, time::Month::May, 1).expect("date");
    let stay = Stay {
        user: "u1".into(),
        place: 0,
        start: 0,
        nights: 1,
        rooms: 1,
    };
    let mut events = vec![
        json!({"detail-type": "ReservationPlaced"}),
        json!({"detail-type": "PaymentAuthorized"}),
    ];
    let entry = |movement: &str| json!({"movement": movement, "amount": 100});
    let (captured, voided, ledger) = if payment == "VOIDED" {
        events.push(json!({"detail-type": "PaymentVoided"}));
        (0, 100, vec![entry("AUTHORIZE"), entry("VOID")])
    } else {
        events.push(json!({"detail-type": "PaymentCaptured"}));
        (100, 0, vec![entry("AUTHORIZE"), entry("CAPTURE")])
    };
    let obs = Observed {
        id: "r1".into(),
        t: Tracked::new(stay),
        res: Some(json!({"status": "CANCELLED", "statusReason": "SYSTEM_ERROR", "amount": 100})),
        payment: Some(json!({"status": payment, "amount": 100, "authorized": 100,
            "captured": captured, "voided": voided, "refunded": 0, "kept": captured,
            "ledger": ledger})),
        mypage: None,
        events,
        execution: None,
    };
    let place = PlaceRef {
        id: "p1".into(),
        owner: "o1".into(),
        room_type: crate::plan::STANDARD.into(),
        shared: false,
        rooms: 1,
        price: 100,
        instant: false,
    };
    let w = World {
        base,
        places: vec![place],
        nights: vec![(1, BTreeMap::from([(night(base), 0)]))],
        obs: vec![obs],
        lists: BTreeMap::new(),
        owner_rows: vec![Vec::new()],
        loyalty: BTreeMap::new(),
        pending: vec![None],
        errors: Vec::new(),
    };
    let extra = Extra {
        sampler: None,
        decisions: BTreeMap::from([("r1".to_string(), (true, 200))]),
        allow_awaiting: false,
        capacity_floor: BTreeMap::new(),
        resizes: None,
    };
    (w, extra)
}

fn night(base: Date) -> String {
    crate::plan::night(base, 0)
}

fn passed(checks: &[Check], name: &str) -> bool {
    checks
        .iter()
        .find(|c| c.name.contains(name))
        .unwrap_or_else(|| panic!("no check {name}"))
        .passed
}

#[test]
fn a_voided_system_error_is_a_valid_cancelled_outcome() {
    let (w, extra) = world("VOIDED");
    let checks = invariants("t", &w, &extra);
    assert!(
        passed(&checks, "owner decisions were honoured"),
        "{checks:?}"
    );
    assert!(passed(&checks, "the books balance"), "{checks:?}");
    assert!(passed(&checks, "money moved once"), "{checks:?}");
}

#[test]
fn a_system_error_that_kept_the_money_is_still_reported() {
    let (w, extra) = world("CAPTURED");
    let checks = invariants("t", &w, &extra);
    assert!(!passed(&checks, "the books balance"), "{checks:?}");
}

#[test]
fn the_report_lists_every_invariant_once_in_order() {
    let (mut w, extra) = world("VOIDED");
    let names = |checks: &[Check]| checks.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    let expected: Vec<String> = [
        "every 202-acknowledged reservation exists",
        "no night above its room count",
        "rooms held per night = rooms of CONFIRMED + AWAITING_OWNER stays",
        "the books balance: payments fit their reservations, ledgers add up, nothing stays authorized, captured − refunded = what each end keeps",
        "money moved once (at most one authorization, capture and refund per reservation; every payment event is a ledger entry)",
        "no stay refused SOLD_OUT while each of its nights had room",
        "no room-count change left a cap behind (no pendingRoomCounts after quiescence)",
        "no reservation left non-final (every owner decision made or timed out)",
        "every saga finished or compensated (RUNNING only while awaiting the owner)",
        "every MyPage row equals its reservation (status, reason, amount, dates, rooms, payment)",
        "every owner-view row equals its reservation",
        "loyalty points = 1% of what each user's stays keep (confirmed: the price; cancelled: the penalty)",
        "events in the documented order; amount = nightlyPrice × nights × rooms",
        "answered cancels and owner decisions were honoured",
    ]
    .iter()
    .map(|n| format!("t: {n}"))
    .collect();
    assert_eq!(names(&invariants("t", &w, &extra)), expected);

    // A failed read of the API is reported last, as a failure of its own.
    w.errors.push("GET /v1/loyalty: connection refused".into());
    let checks = invariants("t", &w, &extra);
    let last = checks.last().expect("checks");
    assert_eq!(checks.len(), expected.len() + 1);
    assert_eq!(last.name, "t: the API could be read");
    assert!(!last.passed);
    assert_eq!(last.detail, "\"GET /v1/loyalty: connection refused\"");
}

#[test]
fn an_overbooked_night_fails_its_invariant_with_the_figures() {
    let (mut w, extra) = world("VOIDED");
    let night = w.nights[0].1.keys().next().cloned().expect("a night");
    w.nights[0].1.insert(night.clone(), 2);
    let case = Case::new("t", &w, &extra);
    let check = capacity::no_night_above_its_room_count(&case);
    assert!(!check.passed);
    assert_eq!(
        check.detail,
        format!(
            "1 violation(s): \"place p1 standard night {night}: held 2 of 1\" | 1 nights of 1 (place, room type) inventories, fullest 2/1 rooms"
        )
    );
}

#[test]
fn a_lost_reservation_fails_only_the_first_invariant() {
    let (mut w, extra) = world("VOIDED");
    w.obs[0].res = None;
    let case = Case::new("t", &w, &extra);
    assert!(
        case.found.is_empty(),
        "only existing reservations are judged further"
    );
    let check = lifecycle::nothing_acknowledged_is_lost(&case);
    assert!(!check.passed);
    assert!(
        check
            .detail
            .contains("r1 (user u1) answered 202 but is gone"),
        "{check:?}"
    );
    assert!(
        check.detail.ends_with("1 acknowledged, 0 found"),
        "{check:?}"
    );
}
