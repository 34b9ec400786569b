//! Place facts (register, patch, older stored places), quotes, and the reservation's amount priced
//! by the same function as the quote.
use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::error::{DomainError, DomainResult};
use crate::events::Event;
use crate::reservation::{CatalogPlace, PlaceReservation, ReservationService};
use crate::store::memory::MemoryTable;
use crate::store::{Table, Write};
use crate::test_support::FixedClock;

const NOW: i64 = 1_767_225_600; // 2026-01-01 (a Thursday)

fn date(text: &str) -> time::Date {
    crate::stay::parse_date("date", text).expect("date")
}

fn rule(from: &str, to: &str, price: i64, days: Option<Vec<Day>>) -> PriceRule {
    PriceRule {
        from: date(from),
        to: date(to),
        nightly_price: price,
        days,
    }
}

/// 2026-01-02 is a Friday, 01-03 a Saturday.
fn hanok() -> RegisterPlace {
    RegisterPlace {
        city: "  Seoul ".into(),
        address: "12 Bukchon-ro".into(),
        description: "Quiet.\nNear the palace.".into(),
        guests: 4,
        price_rules: vec![
            rule("2026-01-01", "2026-03-01", 150, None),
            rule(
                "2026-01-01",
                "2027-01-01",
                180,
                Some(vec![Day::Fri, Day::Sat]),
            ),
        ],
        ..RegisterPlace::new(" Hanok ", 3, 100)
    }
}

fn service() -> (Arc<MemoryTable>, PlaceService) {
    let table = Arc::new(MemoryTable::default());
    let svc = PlaceService::new(table.clone(), Arc::new(FixedClock::at(NOW)), 60);
    (table, svc)
}

fn field(r: DomainResult<impl std::fmt::Debug>) -> String {
    match r {
        Err(DomainError::Invalid { field, .. }) => field,
        other => panic!("expected an invalid field, got {other:?}"),
    }
}

fn query(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn a_registered_place_keeps_its_facts_trimmed_and_its_event_carries_them() {
    let (table, svc) = service();
    let (p, _) = svc
        .register("olivia", "p1".into(), hanok())
        .await
        .expect("register");
    assert_eq!(
        (p.facts.name.as_str(), p.facts.city.as_str()),
        ("Hanok", "Seoul")
    );
    assert_eq!(p.facts.description, "Quiet.\nNear the palace.");
    assert_eq!((p.facts.guests, p.facts.price_rules.len()), (4, 2));
    assert_eq!(svc.get_place("p1").await.expect("read"), Some(p.clone()));
    let events = table.events();
    let Some(Event::PlaceRegistered(e)) = events.last().map(|e| e.event.clone()) else {
        panic!("no PlaceRegistered: {events:?}");
    };
    assert_eq!((e.place_id.as_str(), &e.place), ("p1", &p.facts));
    // The stored item and the event detail are flat objects with the JSON names.
    let detail: serde_json::Value =
        serde_json::from_str(&events[events.len() - 1].detail_json()).expect("json");
    assert_eq!(detail["city"], "Seoul");
    assert_eq!(detail["priceRules"][1]["days"], json!(["FRI", "SAT"]));
}

#[tokio::test]
async fn facts_out_of_bounds_are_refused_with_the_field_named() {
    let (_, svc) = service();
    let cases: Vec<(RegisterPlace, &str)> = vec![
        (
            RegisterPlace {
                city: " \t ".into(),
                ..hanok()
            },
            "city",
        ),
        (
            RegisterPlace {
                city: "c".repeat(61),
                ..hanok()
            },
            "city",
        ),
        (
            RegisterPlace {
                city: "Seo\u{85}ul".into(),
                ..hanok()
            },
            "city",
        ),
        (
            RegisterPlace {
                address: "a".repeat(201),
                ..hanok()
            },
            "address",
        ),
        (
            RegisterPlace {
                address: "a\nb".into(),
                ..hanok()
            },
            "address",
        ),
        (
            RegisterPlace {
                description: "d".repeat(1001),
                ..hanok()
            },
            "description",
        ),
        (
            RegisterPlace {
                description: "bell\u{7}".into(),
                ..hanok()
            },
            "description",
        ),
        (
            RegisterPlace {
                guests: 0,
                ..hanok()
            },
            "guests",
        ),
        (
            RegisterPlace {
                guests: 21,
                ..hanok()
            },
            "guests",
        ),
        (
            RegisterPlace {
                price_rules: vec![rule("2026-02-01", "2026-01-01", 1, None)],
                ..hanok()
            },
            "priceRules[0].to",
        ),
    ];
    for (i, (cmd, want)) in cases.into_iter().enumerate() {
        let got = field(svc.register("olivia", format!("bad{i}"), cmd).await);
        assert_eq!(got, want, "case {i}");
    }
    // At the bounds: accepted; a city of 60 characters padded with spaces counts trimmed.
    let edge = RegisterPlace {
        city: format!("  {}  ", "한".repeat(60)),
        address: "a".repeat(200),
        description: "d".repeat(1000),
        guests: 20,
        price_rules: vec![rule("2026-01-01", "2027-01-02", MAX_PRICE, None); 50],
        ..hanok()
    };
    svc.register("olivia", "edge".into(), edge)
        .await
        .expect("the bounds are allowed");
}

#[tokio::test]
async fn a_patch_replaces_the_rules_and_never_the_city() {
    let (table, svc) = service();
    svc.register("olivia", "p1".into(), hanok())
        .await
        .expect("register");
    let patch = UpdatePlace {
        price_rules: Some(vec![rule("2026-05-01", "2026-05-08", 90, None)]),
        description: Some(String::new()),
        guests: Some(1),
        ..Default::default()
    };
    let p = svc.update("olivia", "p1", patch).await.expect("patch");
    assert_eq!(
        p.facts.price_rules,
        [rule("2026-05-01", "2026-05-08", 90, None)]
    );
    assert_eq!((p.facts.city.as_str(), p.facts.guests), ("Seoul", 1));
    assert_eq!(
        (p.facts.description.as_str(), p.facts.address.as_str()),
        ("", "12 Bukchon-ro")
    );
    let Some(Event::PlaceUpdated(e)) = table.events().last().map(|e| e.event.clone()) else {
        panic!("no PlaceUpdated");
    };
    assert_eq!(e.place, p.facts);
    let bad = UpdatePlace {
        price_rules: Some(vec![rule(
            "2026-05-01",
            "2026-05-02",
            1,
            Some(vec![Day::Mon, Day::Mon]),
        )]),
        ..Default::default()
    };
    assert_eq!(
        field(svc.update("olivia", "p1", bad).await),
        "priceRules[0].days"
    );
    // The body has no city: a client sending one is refused before anything is read.
    let with_city = serde_json::from_value::<UpdatePlace>(json!({"city": "Busan"}));
    assert!(with_city.is_err());
    let unchanged = svc.get_place("p1").await.expect("read").expect("place");
    assert_eq!(unchanged.facts.city, "Seoul");
    // An idempotent registration repeat must describe the same place, rules included.
    svc.register_idempotent("olivia", "k", hanok())
        .await
        .expect("first");
    let other_rules = RegisterPlace {
        price_rules: vec![],
        ..hanok()
    };
    assert!(matches!(
        svc.register_idempotent("olivia", "k", other_rules).await,
        Err(DomainError::Conflict(_))
    ));
    assert!(
        !svc.register_idempotent("olivia", "k", hanok())
            .await
            .expect("repeat")
            .1
    );
}

#[tokio::test]
async fn a_place_stored_before_the_new_facts_still_reads() {
    let (table, svc) = service();
    let old = json!({"pk": "PLACE#old", "sk": "PLACE", "placeId": "old", "ownerId": "olivia",
        "name": "Cabin", "roomCount": 2, "nightlyPrice": 5000, "instantBook": false,
        "createdAt": "t", "updatedAt": "t", "version": 4});
    let item = old.as_object().cloned().expect("object");
    table
        .transact(vec![Write::Put { item, cond: None }], vec![])
        .await
        .expect("put");
    let p = svc.get_place("old").await.expect("read").expect("place");
    assert_eq!(
        p.facts,
        PlaceFacts {
            instant_book: false,
            ..PlaceFacts::new("Cabin", 2, 5000)
        }
    );
    assert_eq!((p.facts.guests, p.version), (DEFAULT_GUESTS, 4));
}

#[tokio::test]
async fn a_quote_prices_each_night_and_counts_the_free_rooms() {
    let (_, svc) = service();
    svc.register("olivia", "p1".into(), hanok())
        .await
        .expect("register");
    // Thu 2026-01-01 (season), Fri 01-02 and Sat 01-03 (weekend), Sun 01-04 (season).
    let q = query(&[
        ("checkIn", "2026-01-01"),
        ("checkOut", "2026-01-05"),
        ("rooms", "2"),
    ]);
    let quote = svc.quote("alice", "p1", &q).await.expect("quote");
    let prices: Vec<i64> = quote.nights.iter().map(|n| n.price.nightly_price).collect();
    assert_eq!(prices, [150, 180, 180, 150]);
    assert_eq!(
        (quote.total, quote.available, quote.rooms),
        (2 * 660, true, 2)
    );
    assert!(quote.nights.iter().all(|n| n.free == 3));
    let json = serde_json::to_value(&quote).expect("json");
    assert_eq!(
        json["nights"][1],
        json!({"date": "2026-01-02", "nightlyPrice": 180, "free": 3})
    );
    assert_eq!(
        (json["checkIn"].as_str(), json["name"].as_str()),
        (Some("2026-01-01"), Some("Hanok"))
    );

    // Two rooms held on the Saturday leave one free there: 2 rooms are no longer available.
    let hold = StayRef {
        room_type_id: STANDARD_ROOM_TYPE.into(),
        reservation_id: "r1".into(),
        place_id: "p1".into(),
        check_in: "2026-01-03".into(),
        check_out: "2026-01-04".into(),
        rooms: 2,
        version: 1,
    };
    assert_eq!(
        svc.hold_nights(&hold).await.expect("hold").outcome,
        HoldState::Held
    );
    let quote = svc.quote("alice", "p1", &q).await.expect("quote");
    let free: Vec<i64> = quote.nights.iter().map(|n| n.free).collect();
    assert_eq!((free, quote.available), (vec![3, 3, 1, 3], false));
    // A stay across a month's end reads both months.
    let q = query(&[("checkIn", "2026-01-30"), ("checkOut", "2026-02-02")]);
    assert_eq!(
        svc.quote("alice", "p1", &q)
            .await
            .expect("quote")
            .nights
            .len(),
        3
    );

    // The stay follows a reservation's rules; unknown and seed places are 404.
    for (bad, want) in [
        (
            vec![("checkIn", "2026-01-05"), ("checkOut", "2026-01-05")],
            "checkOut",
        ),
        (
            vec![("checkIn", "2026-01-01"), ("checkOut", "2026-02-01")],
            "checkOut",
        ),
        (
            vec![("checkIn", "2025-12-01"), ("checkOut", "2025-12-02")],
            "checkIn",
        ),
        (vec![("checkOut", "2026-01-02")], "checkIn"),
        (
            vec![("checkIn", "2026-1-01"), ("checkOut", "2026-01-02")],
            "checkIn",
        ),
        (
            vec![
                ("checkIn", "2026-01-01"),
                ("checkOut", "2026-01-02"),
                ("rooms", "101"),
            ],
            "rooms",
        ),
        (
            vec![
                ("checkIn", "2026-01-01"),
                ("checkOut", "2026-01-02"),
                ("rooms", "two"),
            ],
            "rooms",
        ),
    ] {
        assert_eq!(
            field(svc.quote("alice", "p1", &query(&bad)).await),
            want,
            "{bad:?}"
        );
    }
    let ok = query(&[("checkIn", "2026-01-01"), ("checkOut", "2026-01-02")]);
    assert!(matches!(
        svc.quote("alice", "nope", &ok).await,
        Err(DomainError::NotFound { .. })
    ));
    svc.register("seed", crate::seed::place_id("1"), hanok())
        .await
        .expect("seed place");
    let seed_id = crate::seed::place_id("1");
    assert!(matches!(
        svc.quote("alice", &seed_id, &ok).await,
        Err(DomainError::NotFound { .. })
    ));
}

fn stay_of(check_in: &str, check_out: &str, rooms: i64, token: Option<&str>) -> PlaceReservation {
    PlaceReservation {
        place_id: "p1".into(),
        check_in: check_in.into(),
        check_out: check_out.into(),
        rooms,
        price_token: token.map(str::to_string),
        ..Default::default()
    }
}

/// The place service with a quote validity of 60 s, the reservation service reading its table,
/// and their shared clock.
fn quoting() -> (PlaceService, ReservationService, Arc<FixedClock>) {
    let places = Arc::new(MemoryTable::default());
    let clock = Arc::new(FixedClock::at(NOW));
    let svc = PlaceService::new(places.clone(), clock.clone(), 60).with_quote_validity(60);
    let reservations =
        ReservationService::new(Arc::new(MemoryTable::default()), places, clock.clone());
    (svc, reservations, clock)
}

fn new_price(price: i64) -> UpdatePlace {
    UpdatePlace {
        nightly_price: Some(price),
        price_rules: Some(vec![]),
        ..Default::default()
    }
}

#[tokio::test]
async fn the_reservation_amount_is_the_quote_total() {
    let (svc, reservations, _) = quoting();
    svc.register("olivia", "p1".into(), hanok())
        .await
        .expect("register");
    let q = query(&[
        ("checkIn", "2026-01-01"),
        ("checkOut", "2026-01-05"),
        ("rooms", "3"),
    ]);
    let quote = svc.quote("alice", "p1", &q).await.expect("quote");
    let cmd = stay_of("2026-01-01", "2026-01-05", 3, None);
    let (r, _) = reservations.place("alice", cmd, None).await.expect("place");
    assert_eq!((r.amount, quote.total), (3 * 660, 3 * 660));
}

#[tokio::test]
async fn a_booking_is_priced_from_the_place_as_it_is_now_without_waiting_for_an_event() {
    let (svc, reservations, _) = quoting();
    svc.register("olivia", "p1".into(), RegisterPlace::new("Cabin", 5, 5_000))
        .await
        .expect("register");
    svc.update("olivia", "p1", new_price(100))
        .await
        .expect("patch");
    let cmd = stay_of("2026-01-10", "2026-01-11", 1, None);
    let (r, _) = reservations.place("alice", cmd, None).await.expect("place");
    assert_eq!(
        r.amount, 100,
        "no catalogue copy was fed: the place is read"
    );
}

async fn book(
    reservations: &ReservationService,
    user: &str,
    stay: PlaceReservation,
) -> DomainResult<i64> {
    reservations
        .place(user, stay, None)
        .await
        .map(|(r, _)| r.amount)
}

#[tokio::test]
async fn a_price_token_holds_its_quote_for_its_guest_once_until_it_expires() {
    let (svc, reservations, clock) = quoting();
    svc.register("olivia", "p1".into(), RegisterPlace::new("Cabin", 5, 5_000))
        .await
        .expect("register");
    let q = query(&[("checkIn", "2026-01-10"), ("checkOut", "2026-01-12")]);
    let quote = svc.quote("alice", "p1", &q).await.expect("quote");
    assert_eq!(quote.total, 10_000);
    assert_eq!(quote.valid_until, "2026-01-01T00:01:00Z");
    svc.update("olivia", "p1", new_price(100))
        .await
        .expect("patch");
    let token = Some(quote.price_token.as_str());
    let stay = |check_out: &str, rooms: i64, token: Option<&str>| {
        stay_of("2026-01-10", check_out, rooms, token)
    };
    // Bound to its guest, stay and rooms.
    for (user, other) in [
        ("bob", stay("2026-01-12", 1, token)),
        ("alice", stay("2026-01-13", 1, token)),
        ("alice", stay("2026-01-12", 2, token)),
    ] {
        assert_eq!(field(book(&reservations, user, other).await), "priceToken");
    }
    // One second before the end it still holds, although the price fell since; then it is used.
    clock.advance_ms(59_000);
    let held = book(&reservations, "alice", stay("2026-01-12", 1, token)).await;
    assert_eq!(held, Ok(10_000));
    assert!(matches!(
        book(&reservations, "alice", stay("2026-01-12", 1, token)).await,
        Err(DomainError::Conflict(_))
    ));
    // At the end of its validity, with the price changed since: 409 with the current total.
    let quote = svc.quote("alice", "p1", &q).await.expect("quote");
    assert_eq!(quote.total, 200);
    svc.update("olivia", "p1", new_price(300))
        .await
        .expect("patch");
    clock.advance_ms(60_000);
    let token = Some(quote.price_token.as_str());
    match book(&reservations, "alice", stay("2026-01-12", 1, token)).await {
        Err(DomainError::PriceChanged { total, .. }) => assert_eq!(total, 600),
        other => panic!("expected a changed price, got {other:?}"),
    }
    // An expired quote whose price did not change still books at that price.
    let quote = svc.quote("alice", "p1", &q).await.expect("quote");
    clock.advance_ms(3_600_000);
    let token = Some(quote.price_token.as_str());
    assert_eq!(
        book(&reservations, "alice", stay("2026-01-12", 1, token)).await,
        Ok(600)
    );
    // A token nobody issued, or not as issued.
    let unknown = Some("0123456789abcdef0123456789abcdef");
    assert!(matches!(
        book(&reservations, "alice", stay("2026-01-12", 1, unknown)).await,
        Err(DomainError::PriceChanged { total: 600, .. })
    ));
    for bad in ["x", "0123456789ABCDEF0123456789ABCDEF"] {
        let bad = stay("2026-01-12", 1, Some(bad));
        assert_eq!(field(book(&reservations, "alice", bad).await), "priceToken");
    }
}

#[test]
fn a_catalogue_copy_written_before_rules_prices_at_the_place_price() {
    let old = json!({"placeId": "p1", "ownerId": "olivia", "name": "Cabin", "nightlyPrice": 70,
        "version": 2, "pk": "CATALOG#p1", "sk": "PLACE"});
    let copy: CatalogPlace = serde_json::from_value(old).expect("old copy");
    let stay = crate::stay::Stay::parse("2026-01-02", "2026-01-04").expect("stay");
    assert!(copy.price_rules.is_empty());
    assert_eq!(pricing::stay_total(copy.prices(), &stay, 2), Ok(280));
}

#[tokio::test]
async fn a_repeat_is_answered_before_its_quote_is_checked() {
    let (svc, reservations, clock) = quoting();
    svc.register("olivia", "p1".into(), RegisterPlace::new("Cabin", 5, 5_000))
        .await
        .expect("register");
    let q = query(&[("checkIn", "2026-01-10"), ("checkOut", "2026-01-11")]);
    let quote = svc.quote("alice", "p1", &q).await.expect("quote");
    let with = |token: &str| stay_of("2026-01-10", "2026-01-11", 1, Some(token));
    let (first, created) = reservations
        .place("alice", with(&quote.price_token), Some("trip"))
        .await
        .expect("first");
    assert!(created);
    // The answer was lost; by the retry the quote expired, the price changed, and the page
    // may even have quoted again: the retry still names the one reservation.
    svc.update("olivia", "p1", new_price(100))
        .await
        .expect("patch");
    clock.advance_ms(7_200_000);
    let newer = svc.quote("alice", "p1", &q).await.expect("quote");
    for token in [&quote.price_token, &newer.price_token] {
        let (again, created) = reservations
            .place("alice", with(token), Some("trip"))
            .await
            .expect("repeat");
        assert_eq!(
            (again.reservation_id.as_str(), again.amount, created),
            (first.reservation_id.as_str(), 5_000, false)
        );
    }
}
