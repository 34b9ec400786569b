//! Unit tests of the rules that end-to-end tests reach only by luck of timing.
use std::sync::Arc;

use crate::clock::Clock;
use crate::error::DomainError;
use crate::place::*;
use crate::reservation::CancelReason;
use crate::store::Table;
use crate::store::memory::MemoryTable;
use crate::test_support::FixedClock;

fn date(text: &str) -> time::Date {
    crate::stay::parse_date("date", text).expect("date")
}

const NOW: i64 = 1_767_225_600; // 2026-01-01

/// The one room type of a place of `count` rooms.
fn room_types(count: i64) -> [RoomType; 1] {
    [RoomType::standard(count, 2, 100, vec![])]
}

fn stay(id: &str, place: &str, check_in: &str, check_out: &str, rooms: i64) -> StayRef {
    StayRef {
        room_type_id: STANDARD_ROOM_TYPE.into(),
        reservation_id: id.into(),
        place_id: place.into(),
        check_in: check_in.into(),
        check_out: check_out.into(),
        rooms,
        version: 1,
    }
}

async fn place_service(rooms: i64, instant: bool) -> (Arc<MemoryTable>, PlaceService, String) {
    let table = Arc::new(MemoryTable::default());
    let svc = PlaceService::new(table.clone(), Arc::new(FixedClock::at(NOW)), 60);
    let (p, created) = svc
        .register(
            "owner",
            "p1".into(),
            RegisterPlace {
                instant_book: instant,
                ..RegisterPlace::new("Sea view", rooms, 100)
            },
        )
        .await
        .expect("register");
    assert!(created);
    (table, svc, p.place_id)
}

#[tokio::test]
async fn holds_are_all_or_nothing_and_idempotent() {
    let (table, svc, place) = place_service(1, true).await;
    let a = svc
        .hold_nights(&stay("a", &place, "2026-02-02", "2026-02-03", 1))
        .await
        .expect("hold a");
    assert_eq!(a.outcome, HoldState::Held);
    assert!(a.instant_book);
    // Replaying the same hold changes nothing.
    assert_eq!(
        svc.hold_nights(&stay("a", &place, "2026-02-02", "2026-02-03", 1))
            .await
            .expect("replay")
            .outcome,
        HoldState::Held
    );
    let b = svc
        .hold_nights(&stay("b", &place, "2026-02-01", "2026-02-04", 1))
        .await
        .expect("hold b");
    assert_eq!(b.outcome, HoldState::SoldOut);
    let nights = svc
        .availability_from(&place, Some(date("2026-01-01")), &room_types(1))
        .await
        .expect("nights");
    let held: Vec<(String, i64)> = nights.into_iter().map(|n| (n.night, n.held)).collect();
    assert_eq!(held, vec![("2026-02-02".to_string(), 1)], "b held nothing");
    assert_eq!(
        table.event_names(),
        vec![
            "PlaceRegistered",
            "RoomsHeld",
            "ReservationConfirmed",
            "ReservationCancelConfirmed"
        ]
    );
}

#[tokio::test]
async fn release_before_hold_leaves_a_tombstone() {
    let (_, svc, place) = place_service(2, true).await;
    let s = stay("late", &place, "2026-02-02", "2026-02-05", 1);
    assert_eq!(svc.release_nights(&s).await.expect("release"), None);
    assert_eq!(
        svc.hold_nights(&s).await.expect("hold").outcome,
        HoldState::Released,
        "a cancelled stay is never held"
    );
    assert!(
        svc.availability_from(&place, Some(date("2026-01-01")), &room_types(2))
            .await
            .expect("nights")
            .is_empty()
    );
}

#[tokio::test]
async fn owner_decisions_race_the_timeout_safely() {
    let (table, svc, place) = place_service(1, false).await;
    let s = stay("r", &place, "2026-03-01", "2026-03-03", 1);
    assert_eq!(
        svc.hold_nights(&s).await.expect("hold").outcome,
        HoldState::Held
    );
    assert_eq!(
        svc.request_owner_decision("r", "tok").await.expect("token"),
        TokenOutcome::Stored
    );
    let confirmed = svc.decide("owner", "r", true).await.expect("confirm");
    assert_eq!(confirmed.decision, OwnerDecision::Confirmed);
    // The timeout firing after the decision must not release a confirmed stay.
    assert_eq!(
        svc.expire_owner_decision("r")
            .await
            .expect("expire")
            .decision,
        OwnerDecision::Confirmed
    );
    assert_eq!(
        svc.availability_from(&place, Some(date("2026-01-01")), &room_types(1))
            .await
            .expect("nights")[0]
            .held,
        1
    );
    assert!(matches!(
        svc.decide("owner", "r", false).await,
        Err(DomainError::Conflict(_))
    ));
    assert!(matches!(
        svc.decide("intruder", "r", true).await,
        Err(DomainError::NotFound { .. })
    ));
    assert_eq!(
        svc.pending_token("r").await.expect("token"),
        Some(("tok".into(), OwnerDecision::Confirmed))
    );
    assert!(
        table
            .event_names()
            .contains(&"ReservationConfirmed".to_string())
    );
}

/// Every change of the rooms held on nights commits its RoomsHeld / RoomsReleased in the same
/// transaction (the search read model counts them); a change that moves no room commits none.
#[tokio::test]
async fn every_night_change_commits_its_rooms_event() {
    use crate::events::Event;
    let (table, svc, place) = place_service(2, false).await;
    let s = |id: &str, rooms| stay(id, &place, "2026-02-27", "2026-03-02", rooms);
    svc.hold_nights(&s("rejected", 1)).await.expect("hold");
    svc.decide("owner", "rejected", false)
        .await
        .expect("reject");
    svc.hold_nights(&s("late", 1)).await.expect("hold");
    svc.expire_owner_decision("late").await.expect("timeout");
    svc.hold_nights(&s("cancelled", 2)).await.expect("hold");
    svc.release_nights(&s("cancelled", 2))
        .await
        .expect("release");
    svc.release_nights(&s("cancelled", 2)).await.expect("again");
    svc.hold_nights(&s("sold-out", 3)).await.expect("sold out");
    svc.release_nights(&s("first", 1)).await.expect("tombstone");
    svc.hold_nights(&s("first", 1)).await.expect("late hold");
    svc.hold_nights(&s("confirmed", 1)).await.expect("hold");
    svc.decide("owner", "confirmed", true)
        .await
        .expect("confirm");
    let events = table.events();
    let of = |id: &str| -> Vec<&str> {
        events
            .iter()
            .filter(|e| e.reservation_id() == id)
            .map(|e| e.detail_type())
            .collect()
    };
    let released = ["RoomsHeld", "RoomsReleased", "ReservationCancelConfirmed"];
    assert_eq!(of("rejected"), released);
    assert_eq!(of("late"), released);
    assert_eq!(of("cancelled"), ["RoomsHeld", "RoomsReleased"]);
    assert_eq!(of("sold-out"), ["ReservationCancelConfirmed"]);
    assert_eq!(of("first"), Vec::<&str>::new());
    assert_eq!(of("confirmed"), ["RoomsHeld", "ReservationConfirmed"]);
    let rooms: Vec<(&str, i64, u64)> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::RoomsHeld(r) | Event::RoomsReleased(r)
                if r.hold.reservation_id == "cancelled" =>
            {
                Some((e.detail_type(), r.hold.rooms, r.hold.hold_version))
            }
            _ => None,
        })
        .collect();
    assert_eq!(rooms, [("RoomsHeld", 2, 1), ("RoomsReleased", 2, 2)]);
    let nights = svc
        .availability_from(&place, None, &room_types(2))
        .await
        .expect("nights");
    assert!(
        nights.iter().all(|n| n.held == 1),
        "only the confirmed stay holds: {nights:?}"
    );
}

#[tokio::test]
async fn a_decision_before_the_token_is_reported_to_the_callback_task() {
    let (_, svc, place) = place_service(1, false).await;
    svc.hold_nights(&stay("r", &place, "2026-03-01", "2026-03-02", 1))
        .await
        .expect("hold");
    svc.decide("owner", "r", false).await.expect("reject");
    assert_eq!(
        svc.request_owner_decision("r", "tok").await.expect("token"),
        TokenOutcome::AlreadyDecided(OwnerDecision::Rejected)
    );
    assert_eq!(
        svc.availability_from(&place, Some(date("2026-01-01")), &room_types(1))
            .await
            .expect("nights")[0]
            .held,
        0,
        "rejection released"
    );
}

#[tokio::test]
async fn lowering_the_room_count_below_a_held_night_is_refused() {
    let (_, svc, place) = place_service(3, true).await;
    for id in ["a", "b"] {
        svc.hold_nights(&stay(id, &place, "2026-02-02", "2026-02-03", 1))
            .await
            .expect("hold");
    }
    let lower = |n| UpdatePlace {
        room_count: Some(n),
        ..Default::default()
    };
    assert!(matches!(
        svc.update("owner", &place, lower(1)).await,
        Err(DomainError::Conflict(_))
    ));
    // The refused change left no cap behind: a third room can still be sold.
    assert_eq!(
        svc.hold_nights(&stay("c", &place, "2026-02-02", "2026-02-03", 1))
            .await
            .expect("hold")
            .outcome,
        HoldState::Held
    );
    assert!(matches!(
        svc.update("owner", &place, lower(2)).await,
        Err(DomainError::Conflict(_))
    ));
    let p = svc
        .update("owner", &place, lower(3))
        .await
        .expect("same count");
    assert_eq!(p.facts.room_count, 3);
    let p = svc
        .update(
            "owner",
            &place,
            UpdatePlace {
                room_count: Some(5),
                ..Default::default()
            },
        )
        .await
        .expect("raise");
    assert_eq!(p.facts.room_count, 5);
    assert!(matches!(
        svc.update("someone", &place, lower(4)).await,
        Err(DomainError::Forbidden(_))
    ));
}

#[tokio::test]
async fn a_redelivered_cancel_still_finds_the_waiting_token() {
    let (_, svc, place) = place_service(1, false).await;
    let s = stay("r", &place, "2026-03-01", "2026-03-02", 1);
    svc.hold_nights(&s).await.expect("hold");
    assert_eq!(
        svc.request_owner_decision("r", "tok").await.expect("token"),
        TokenOutcome::Stored
    );
    assert_eq!(
        svc.release_nights(&s).await.expect("release"),
        Some("tok".to_string())
    );
    // The first SendTaskFailure may have failed: the redelivery must be able to send it again.
    assert_eq!(
        svc.release_nights(&s).await.expect("again"),
        Some("tok".to_string())
    );
    assert_eq!(
        svc.availability_from(&place, Some(date("2026-01-01")), &room_types(1))
            .await
            .expect("nights")[0]
            .held,
        0,
        "released once"
    );
}

#[tokio::test]
async fn a_replayed_hold_reports_why_it_was_released() {
    let (_, svc, place) = place_service(1, false).await;
    let s = stay("r", &place, "2026-03-01", "2026-03-02", 1);
    svc.hold_nights(&s).await.expect("hold");
    svc.decide("owner", "r", false).await.expect("reject");
    let replay = svc.hold_nights(&s).await.expect("replay");
    assert_eq!(
        (replay.outcome, replay.decision),
        (HoldState::Released, OwnerDecision::Rejected)
    );
}

#[tokio::test]
async fn lowering_the_room_count_counts_past_nights_too() {
    let (_, svc, place) = place_service(2, true).await;
    // A night before "today" (the seed facade accepts any date).
    for id in ["a", "b"] {
        svc.hold_nights(&stay(id, &place, "2025-12-31", "2026-01-01", 1))
            .await
            .expect("hold");
    }
    let lower = UpdatePlace {
        room_count: Some(1),
        ..Default::default()
    };
    assert!(matches!(
        svc.update("owner", &place, lower).await,
        Err(DomainError::Conflict(_))
    ));
}

#[tokio::test]
async fn a_cap_left_by_a_crashed_lowering_expires_and_the_owner_can_clear_it() {
    let table = Arc::new(MemoryTable::default());
    let clock = Arc::new(FixedClock::at(NOW));
    let svc = PlaceService::new(table.clone(), clock.clone(), 60);
    let (p, _) = svc
        .register("owner", "p1".into(), RegisterPlace::new("Sea view", 5, 100))
        .await
        .expect("register");
    // Phase 1 of a lowering 5 -> 4 committed, then the process died.
    let mut capped = p.clone();
    capped.pending_room_counts = [(STANDARD_ROOM_TYPE.to_string(), 4)].into();
    capped.pending_since_ms = Some(clock.now_millis());
    capped.version += 1;
    table
        .transact(
            vec![crate::store::Write::Put {
                item: crate::item::to_item(&Place::key("p1"), None, &capped),
                cond: None,
            }],
            vec![],
        )
        .await
        .expect("cap");
    // While the cap is fresh a hold waits (a transient error the saga retries) instead of refusing.
    assert!(matches!(
        svc.hold_nights(&stay("a", "p1", "2026-02-02", "2026-02-03", 5))
            .await,
        Err(DomainError::Unavailable(_))
    ));
    clock.advance_ms(STALE_CAP_MS + 1);
    assert_eq!(
        svc.hold_nights(&stay("b", "p1", "2026-02-02", "2026-02-03", 5))
            .await
            .expect("hold")
            .outcome,
        HoldState::Held,
        "a stale cap does not"
    );
    // Re-sending the same count clears the leftover.
    let same = UpdatePlace {
        room_count: Some(5),
        ..Default::default()
    };
    let p = svc.update("owner", "p1", same).await.expect("update");
    assert_eq!(p.facts.room_count, 5);
    assert!(p.pending_room_counts.is_empty());
}

#[test]
fn store_errors_map_to_transient_or_permanent_domain_errors() {
    use crate::store::StoreError;
    let domain = |e: StoreError| DomainError::from(e);
    // Worth a retry: a lost race or an unreachable store.
    assert!(matches!(
        domain(StoreError::ConditionFailed { failed: vec![0] }),
        DomainError::Unavailable(_)
    ));
    assert!(matches!(
        domain(StoreError::Unavailable("throttled".into())),
        DomainError::Unavailable(_)
    ));
    // Never worth one: the deployment or the request this code built is wrong.
    assert!(matches!(
        domain(StoreError::Misconfigured("no such table".into())),
        DomainError::Misconfigured(m) if m.contains("no such table")
    ));
    assert!(matches!(
        domain(StoreError::Invalid("item too large".into())),
        DomainError::Misconfigured(_)
    ));
    assert!(StoreError::Unavailable(String::new()).is_transient());
    assert!(!StoreError::Misconfigured(String::new()).is_transient());
}

#[tokio::test]
async fn a_stored_record_that_no_longer_decodes_is_a_permanent_error() {
    let (table, svc, place_id) = place_service(2, true).await;
    let mut broken = crate::store::Item::new();
    broken.insert("pk".into(), Place::key(&place_id).pk.into());
    broken.insert("sk".into(), Place::key(&place_id).sk.into());
    broken.insert("roomCount".into(), "not a number".into());
    table
        .transact(
            vec![crate::store::Write::Put {
                item: broken,
                cond: None,
            }],
            vec![],
        )
        .await
        .expect("overwrite");
    let err = svc.get_place(&place_id).await.expect_err("undecodable");
    assert!(
        matches!(&err, DomainError::Misconfigured(m) if m.contains("does not decode")),
        "{err:?}"
    );
}

/// A reason is stored and travels as its JSON name: `as_str` cannot drift from serde's.
#[test]
fn a_cancel_reasons_name_is_its_json_string() {
    for reason in CancelReason::ALL {
        assert_eq!(
            serde_json::to_value(reason).expect("serialize"),
            serde_json::json!(reason.as_str())
        );
    }
}
