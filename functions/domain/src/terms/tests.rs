//! Every preset at its boundaries: a minute before and after each deadline, in a zone far from
//! UTC and across a daylight-saving change.
use time::{Duration, OffsetDateTime, macros::datetime};

use super::*;
use crate::stay::parse_date;

fn resolve(
    policy: CancellationPolicy,
    zone: &str,
    booked: OffsetDateTime,
    check_in: &str,
    nights: &[i64],
) -> PolicySnapshot {
    let zone = PlaceZone::parse(zone).expect("zone");
    let day = parse_date("checkIn", check_in).expect("date");
    policy
        .resolve(
            &zone,
            Currency::KRW,
            booked,
            (day, LocalTime::CHECK_IN),
            nights,
        )
        .expect("resolves")
}

/// The penalty a minute before and a minute after `deadline` (and at it).
fn around(p: &PolicySnapshot, deadline: OffsetDateTime) -> (i64, i64, i64) {
    let minute = Duration::minutes(1);
    (
        p.penalty_at(deadline - minute),
        p.penalty_at(deadline),
        p.penalty_at(deadline + minute),
    )
}

fn froms(p: &PolicySnapshot) -> Vec<OffsetDateTime> {
    p.windows.iter().map(|w| w.from).collect()
}

#[test]
fn flexible_keeps_the_first_night_from_24_hours_before_local_check_in() {
    // Seoul is UTC+9: check-in 2027-05-10 15:00 is 06:00 UTC.
    let p = resolve(
        CancellationPolicy::Flexible,
        "Asia/Seoul",
        datetime!(2027-04-01 00:00 UTC),
        "2027-05-10",
        &[100, 250],
    );
    assert_eq!(p.check_in_at, datetime!(2027-05-10 06:00 UTC));
    let deadline = datetime!(2027-05-09 06:00 UTC);
    assert_eq!(froms(&p), [datetime!(2027-04-01 00:00 UTC), deadline]);
    assert_eq!(around(&p, deadline), (0, 100, 100));
    assert_eq!(p.refund_at(deadline), 250);
    assert_eq!(p.penalty_at(p.check_in_at + Duration::days(3)), 100);
}

#[test]
fn moderate_counts_days_on_the_local_calendar_across_a_daylight_saving_change() {
    // London moves to summer time on 2027-03-28. Check-in 2027-03-30 15:00 BST is 14:00 UTC;
    // five days earlier is 2027-03-25 15:00 GMT, which is 15:00 UTC, not 14:00.
    let p = resolve(
        CancellationPolicy::Moderate,
        "Europe/London",
        datetime!(2027-03-01 12:00 UTC),
        "2027-03-30",
        &[111, 111, 111],
    );
    assert_eq!(p.check_in_at, datetime!(2027-03-30 14:00 UTC));
    let deadline = datetime!(2027-03-25 15:00 UTC);
    assert_eq!(froms(&p)[1], deadline);
    // Half of 333, rounded down in the guest's favour; the refund is the rest.
    assert_eq!(around(&p, deadline), (0, 166, 166));
    assert_eq!(p.refund_at(deadline), 167);
}

#[test]
fn strict_in_a_zone_fourteen_hours_ahead_of_utc() {
    // Kiritimati is UTC+14: check-in 2027-02-01 15:00 is 01:00 UTC the same day.
    let booked = datetime!(2027-01-01 00:00 UTC);
    let p = resolve(
        CancellationPolicy::Strict,
        "Pacific/Kiritimati",
        booked,
        "2027-02-01",
        &[1_000, 1_001],
    );
    assert_eq!(p.check_in_at, datetime!(2027-02-01 01:00 UTC));
    let grace_end = booked + Duration::hours(48);
    let week_before = datetime!(2027-01-25 01:00 UTC);
    assert_eq!(froms(&p), [booked, grace_end, week_before]);
    assert_eq!(around(&p, grace_end), (0, 1_000, 1_000));
    assert_eq!(around(&p, week_before), (1_000, 2_001, 2_001));
}

#[test]
fn strict_grants_the_grace_period_only_fourteen_days_ahead() {
    // Check-in 2027-02-01 15:00 Seoul = 06:00 UTC; fourteen days earlier is 2027-01-18 06:00 UTC.
    let latest = datetime!(2027-01-18 06:00 UTC);
    let at = |booked| {
        resolve(
            CancellationPolicy::Strict,
            "Asia/Seoul",
            booked,
            "2027-02-01",
            &[500],
        )
    };
    assert_eq!(at(latest - Duration::minutes(1)).penalty_at(latest), 0);
    assert_eq!(at(latest).penalty_at(latest), 0);
    let late = at(latest + Duration::minutes(1));
    assert_eq!(late.penalty_at(latest + Duration::minutes(1)), 250);
    // Booked inside the last week: nothing is refunded from the start.
    let last_week = at(datetime!(2027-01-30 00:00 UTC));
    assert_eq!(last_week.windows.len(), 1);
    assert_eq!(last_week.windows[0].penalty_amount, 500);
}

#[test]
fn non_refundable_keeps_everything_from_the_booking() {
    let booked = datetime!(2027-06-01 09:30 UTC);
    let p = resolve(
        CancellationPolicy::NonRefundable,
        "America/New_York",
        booked,
        "2027-07-04",
        &[300, 300],
    );
    assert_eq!(froms(&p), [booked]);
    assert_eq!(p.penalty_at(booked), 600);
    assert_eq!(p.refund_at(booked), 0);
}

#[test]
fn a_booking_after_a_deadline_starts_in_its_tier() {
    // Booked 10 hours before check-in: the flexible deadline has passed already.
    let p = resolve(
        CancellationPolicy::Flexible,
        "UTC",
        datetime!(2027-05-10 05:00 UTC),
        "2027-05-10",
        &[70, 80],
    );
    assert_eq!(p.windows.len(), 1);
    assert_eq!(p.penalty_at(datetime!(2027-05-10 05:00 UTC)), 70);
}

#[test]
fn custom_tiers_by_hours_and_nights() {
    let policy: CancellationPolicy = serde_json::from_value(serde_json::json!({
        "tiers": [
            {"penaltyPercent": 0},
            {"hoursBeforeCheckIn": 72, "penaltyNights": 1},
            {"hoursBeforeCheckIn": 0, "penaltyPercent": 100}
        ],
        "graceHours": 24
    }))
    .expect("policy");
    policy.validate("p").expect("valid");
    let booked = datetime!(2027-05-01 00:00 UTC);
    let p = resolve(policy, "UTC", booked, "2027-05-10", &[10, 20, 30]);
    // 15:00 UTC check-in; 72 h earlier; the grace period ends before that and changes nothing.
    assert_eq!(
        froms(&p),
        [
            booked,
            datetime!(2027-05-07 15:00 UTC),
            datetime!(2027-05-10 15:00 UTC)
        ]
    );
    assert_eq!(
        p.windows
            .iter()
            .map(|w| w.penalty_amount)
            .collect::<Vec<_>>(),
        [0, 10, 60]
    );
    assert!(
        p.description.en.contains("full refund"),
        "{}",
        p.description.en
    );
    assert!(
        p.description.ko.contains("전액 환불"),
        "{}",
        p.description.ko
    );
}

#[test]
fn custom_policies_that_make_no_sense_are_refused_by_field() {
    let refused = |v: serde_json::Value| -> String {
        match serde_json::from_value::<CancellationPolicy>(v) {
            Err(e) => e.to_string(),
            Ok(p) => match p.validate("ratePlans[0].cancellationPolicy") {
                Err(crate::error::DomainError::Invalid { field, .. }) => field,
                other => panic!("accepted: {other:?}"),
            },
        }
    };
    use serde_json::json;
    assert!(refused(json!("LENIENT")).contains("FLEXIBLE, MODERATE"));
    assert_eq!(
        refused(json!({"tiers": [{"hoursBeforeCheckIn": 5, "penaltyPercent": 0}]})),
        "ratePlans[0].cancellationPolicy.tiers[0]"
    );
    assert_eq!(
        refused(
            json!({"tiers": [{"penaltyPercent": 0}, {"hoursBeforeCheckIn": 5, "daysBeforeCheckIn": 1, "penaltyPercent": 5}]})
        ),
        "ratePlans[0].cancellationPolicy.tiers[1]"
    );
    assert_eq!(
        refused(
            json!({"tiers": [{"penaltyPercent": 0}, {"hoursBeforeCheckIn": 5, "penaltyPercent": 5}, {"hoursBeforeCheckIn": 24, "penaltyPercent": 50}]})
        ),
        "ratePlans[0].cancellationPolicy.tiers[2]"
    );
    assert_eq!(
        refused(json!({"tiers": [{"penaltyPercent": 101}]})),
        "ratePlans[0].cancellationPolicy.tiers[0]"
    );
    assert_eq!(
        refused(json!({"tiers": []})),
        "ratePlans[0].cancellationPolicy.tiers"
    );
    assert!(
        refused(json!({"tiers": [{"penaltyPercent": 0}], "extra": 1})).contains("unknown field")
    );
}

#[test]
fn amounts_read_in_their_currency() {
    let usd = Currency::parse("USD").expect("usd");
    assert_eq!(format_amount(60_000, Currency::KRW), "60,000 KRW");
    assert_eq!(format_amount(123_450, usd), "1,234.50 USD");
    assert_eq!(format_amount(5, usd), "0.05 USD");
    let bhd = Currency::parse("BHD").expect("bhd");
    assert_eq!(format_amount(1_005, bhd), "1.005 BHD");
}
