//! What a cancel keeps, at the boundaries of its policy, and when a no-show can be marked.
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::terms::{CancellationPolicy, Currency, LocalTime, PlaceZone};

/// A confirmed two-night stay in Seoul checking in 2030-05-10 (15:00 local, 06:00 UTC), booked on
/// 2030-04-01 at 80,001 a night under `policy`.
fn stay(policy: &CancellationPolicy) -> Reservation {
    let zone = PlaceZone::parse("Asia/Seoul").expect("zone");
    let check_in = time::macros::date!(2030 - 05 - 10);
    let snapshot = policy
        .resolve(
            &zone,
            Currency::KRW,
            datetime!(2030-04-01 00:00 UTC),
            (check_in, LocalTime::check_in()),
            &[80_001, 80_001],
        )
        .expect("policy");
    Reservation {
        reservation_id: "r".into(),
        user_id: "u".into(),
        place_id: "p".into(),
        place_name: "Inn".into(),
        owner_id: "o".into(),
        check_in: "2030-05-10".into(),
        check_out: "2030-05-12".into(),
        nights: 2,
        rooms: 1,
        amount: 160_002,
        status: ReservationStatus::Confirmed,
        status_reason: None,
        terms: BookingTerms {
            cancellation_policy: Some(snapshot),
            ..BookingTerms::default()
        },
        cancellation: None,
        version: 4,
        created_at: "2030-04-01T00:00:00Z".into(),
        updated_at: "2030-04-01T00:00:00Z".into(),
    }
}

#[test]
fn a_cancel_keeps_what_the_window_in_force_keeps_to_the_minute() {
    let r = stay(&CancellationPolicy::Moderate);
    // MODERATE: full refund until 5 days before 15:00 local (2030-05-05 06:00 UTC), then half,
    // rounded down in the guest's favour (80,001 of 160,002).
    let deadline = datetime!(2030-05-05 06:00 UTC);
    for (at, kept) in [
        (deadline - Duration::minutes(1), 0),
        (deadline, 80_001),
        (deadline + Duration::minutes(1), 80_001),
    ] {
        let c = cancellation_at(&r, at);
        assert_eq!(
            (c.penalty_amount, c.refund_amount),
            (kept, 160_002 - kept),
            "{at}"
        );
        assert_eq!(c.policy.as_deref(), Some("MODERATE"));
    }
    assert_eq!(
        cancellation_at(&r, deadline - Duration::hours(1))
            .changes_at
            .as_deref(),
        Some("2030-05-05T06:00:00Z"),
        "the quote says when it changes"
    );
    // The two amounts always add up to what was paid.
    let mut odd = stay(&CancellationPolicy::Moderate);
    odd.amount = 160_001;
    let c = cancellation_at(&odd, deadline);
    assert_eq!(c.penalty_amount + c.refund_amount, 160_001);
}

#[test]
fn nothing_is_kept_before_the_stay_is_confirmed() {
    let mut r = stay(&CancellationPolicy::NonRefundable);
    r.status = ReservationStatus::AwaitingOwner;
    let c = cancellation_at(&r, datetime!(2030-05-01 00:00 UTC));
    assert_eq!((c.penalty_amount, c.refund_amount), (0, 160_002));
    r.status = ReservationStatus::Confirmed;
    assert_eq!(
        cancellation_at(&r, datetime!(2030-05-01 00:00 UTC)).penalty_amount,
        160_002
    );
}

#[test]
fn an_owner_cancel_refunds_everything() {
    let r = stay(&CancellationPolicy::NonRefundable);
    let c = owner_cancellation(&r, datetime!(2030-05-09 00:00 UTC));
    assert_eq!((c.penalty_amount, c.refund_amount), (0, 160_002));
}

#[test]
fn a_no_show_is_marked_from_local_midnight_after_check_in_and_keeps_the_check_in_penalty() {
    // FLEXIBLE keeps the first night from 24 h before check-in: a no-show keeps that night.
    let r = stay(&CancellationPolicy::Flexible);
    // Midnight after 2030-05-10 in Seoul is 2030-05-10 15:00 UTC.
    let from: OffsetDateTime = datetime!(2030-05-10 15:00 UTC);
    assert!(matches!(
        no_show_at(&r, from - Duration::minutes(1)),
        Err(crate::error::DomainError::Conflict(_))
    ));
    let c = no_show_at(&r, from).expect("no-show");
    assert_eq!((c.penalty_amount, c.refund_amount), (80_001, 80_001));
    // Booked before policies: everything is kept.
    let mut legacy = r.clone();
    legacy.terms.cancellation_policy = None;
    let c = no_show_at(&legacy, datetime!(2030-05-11 00:00 UTC)).expect("no-show");
    assert_eq!(c.penalty_amount, 160_002);
}
