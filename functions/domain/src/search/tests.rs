//! The search read model on the in-memory table: redelivery, reordering, catalogue versions,
//! stays across a month boundary, and the query's rules, order and pages.
use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::keys::*;
use super::*;
use crate::error::DomainError;
use crate::events::{self, Event, EventMeta, EventName, HoldFacts, PlaceCatalogued, RoomsChanged};
use crate::stay::parse_date;
use crate::store::memory::MemoryTable;
use crate::test_support::FixedClock;

/// 2027-01-10T00:00:00Z: the stays below are bookable.
const NOW: i64 = 1_799_539_200;

fn setup() -> (Arc<MemoryTable>, SearchService) {
    let table = MemoryTable::new();
    let svc = SearchService::new(table.clone(), Arc::new(FixedClock::at(NOW)));
    (table, svc)
}

fn place_event(id: &str, city: &str, version: u64, room_count: i64, price: i64) -> Event {
    let Event::PlaceRegistered(mut p) = events::example(EventName::PlaceRegistered, "").event
    else {
        unreachable!("example(PlaceRegistered) is a PlaceRegistered")
    };
    p.meta = EventMeta::new(version, "2027-01-01T00:00:00.000Z");
    p.place_id = id.into();
    p.place.name = format!("place {id}");
    p.place.city = city.into();
    p.place.room_count = room_count;
    p.place.nightly_price = price;
    p.place.reconcile_room_types();
    if version == 1 {
        Event::PlaceRegistered(p)
    } else {
        Event::PlaceUpdated(p)
    }
}

fn catalogued(e: &Event) -> &PlaceCatalogued {
    match e {
        Event::PlaceRegistered(p) | Event::PlaceUpdated(p) => p,
        _ => unreachable!("a catalogue event"),
    }
}

fn rooms(held: bool, res: &str, place: &str, check_in: &str, check_out: &str, n: i64) -> Event {
    let changed = RoomsChanged {
        meta: EventMeta::new(1, "2027-01-01T00:00:00.000Z"),
        hold: HoldFacts {
            room_type_id: crate::place::STANDARD_ROOM_TYPE.into(),
            reservation_id: res.into(),
            place_id: place.into(),
            owner_id: "owner-1".into(),
            check_in: parse_date("checkIn", check_in).expect("date"),
            check_out: parse_date("checkOut", check_out).expect("date"),
            rooms: n,
            hold_version: if held { 1 } else { 2 },
        },
    };
    if held {
        Event::RoomsHeld(changed)
    } else {
        Event::RoomsReleased(changed)
    }
}

/// The rooms held on each day of a month item (absent days left out).
fn month(table: &MemoryTable, city: &str, month: &str, place: &str) -> BTreeMap<String, i64> {
    table
        .item(&month_key(&city_key(city), month, place))
        .map(|item| {
            item.into_iter()
                .filter(|(k, _)| k.starts_with('d'))
                .filter_map(|(k, v)| Some((k, v.as_i64()?)))
                .collect()
        })
        .unwrap_or_default()
}

fn days(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn query(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn search(svc: &SearchService, pairs: &[(&str, &str)]) -> SearchPage {
    svc.search(&query(pairs)).await.expect("search")
}

fn ids(page: &SearchPage) -> Vec<&str> {
    page.items.iter().map(|h| h.place_id.as_str()).collect()
}

#[tokio::test]
async fn a_redelivered_hold_counts_once_and_its_release_takes_it_back() {
    let (table, svc) = setup();
    svc.apply(&place_event("p1", "Seoul", 1, 3, 100))
        .await
        .expect("place");
    let held = rooms(true, "r1", "p1", "2027-03-05", "2027-03-07", 2);
    assert!(svc.apply(&held).await.expect("held"));
    assert!(
        !svc.apply(&held).await.expect("again"),
        "a repeat changes nothing"
    );
    assert_eq!(
        month(&table, "seoul", "2027-03", "p1"),
        days(&[("d05", 2), ("d06", 2)])
    );
    let released = rooms(false, "r1", "p1", "2027-03-05", "2027-03-07", 2);
    assert!(svc.apply(&released).await.expect("released"));
    assert!(!svc.apply(&released).await.expect("again"));
    assert!(!svc.apply(&held).await.expect("held after release"));
    assert_eq!(
        month(&table, "seoul", "2027-03", "p1"),
        days(&[("d05", 0), ("d06", 0)])
    );
}

#[tokio::test]
async fn a_release_before_its_hold_leaves_a_tombstone_and_the_hold_counts_nothing() {
    let (table, svc) = setup();
    svc.apply(&place_event("p1", "Seoul", 1, 3, 100))
        .await
        .expect("place");
    let released = rooms(false, "r1", "p1", "2027-03-05", "2027-03-07", 1);
    assert!(svc.apply(&released).await.expect("tombstone"));
    let marker = table.item(&hold_marker_key("r1")).expect("marker");
    assert_eq!(marker["state"], json!("RELEASED"));
    let held = rooms(true, "r1", "p1", "2027-03-05", "2027-03-07", 1);
    assert!(!svc.apply(&held).await.expect("late hold"));
    assert_eq!(month(&table, "seoul", "2027-03", "p1"), BTreeMap::new());
    let page = search(
        &svc,
        &[
            ("city", "seoul"),
            ("checkIn", "2027-03-05"),
            ("checkOut", "2027-03-07"),
        ],
    )
    .await;
    assert_eq!(page.items[0].free, 3);
}

#[tokio::test]
async fn the_catalogue_moves_only_to_newer_place_versions() {
    let (table, svc) = setup();
    assert!(
        svc.apply(&place_event("p1", "Seoul", 3, 5, 300))
            .await
            .expect("v3")
    );
    assert!(
        !svc.apply(&place_event("p1", "Seoul", 2, 4, 200))
            .await
            .expect("v2 late")
    );
    assert!(
        !svc.apply(&place_event("p1", "Seoul", 1, 1, 100))
            .await
            .expect("v1 late")
    );
    assert!(
        !svc.apply(&place_event("p1", "Seoul", 3, 5, 300))
            .await
            .expect("v3 again")
    );
    let item = table
        .item(&catalogue_key("seoul", "p1"))
        .expect("catalogue item");
    assert_eq!(item["placeVersion"], json!(3));
    assert_eq!(item["roomCount"], json!(5));
    assert_eq!(item["nightlyPrice"], json!(300));
    assert!(
        svc.apply(&place_event("p1", "Seoul", 4, 6, 400))
            .await
            .expect("v4")
    );
    let item = table
        .item(&catalogue_key("seoul", "p1"))
        .expect("catalogue item");
    assert_eq!(
        (item["placeVersion"].clone(), item["roomCount"].clone()),
        (json!(4), json!(6))
    );
}

#[tokio::test]
async fn a_stay_across_a_month_boundary_counts_in_both_months() {
    let (table, svc) = setup();
    svc.apply(&place_event("p1", "Seoul", 1, 2, 100))
        .await
        .expect("place");
    svc.apply(&rooms(true, "r1", "p1", "2027-01-30", "2027-02-02", 1))
        .await
        .expect("r1");
    svc.apply(&rooms(true, "r2", "p1", "2027-01-31", "2027-02-01", 1))
        .await
        .expect("r2");
    assert_eq!(
        month(&table, "Seoul", "2027-01", "p1"),
        days(&[("d30", 1), ("d31", 2)])
    );
    assert_eq!(month(&table, "Seoul", "2027-02", "p1"), days(&[("d01", 1)]));
    // 01-31 is full; the night before and the one after each have a room left.
    let across = [
        ("city", "SEOUL "),
        ("checkIn", "2027-01-30"),
        ("checkOut", "2027-02-02"),
    ];
    assert_eq!(ids(&search(&svc, &across).await), Vec::<&str>::new());
    let after = search(
        &svc,
        &[
            ("city", "seoul"),
            ("checkIn", "2027-02-01"),
            ("checkOut", "2027-02-03"),
        ],
    )
    .await;
    assert_eq!((ids(&after), after.items[0].free), (vec!["p1"], 1));
    svc.apply(&rooms(false, "r2", "p1", "2027-01-31", "2027-02-01", 1))
        .await
        .expect("release");
    let page = search(&svc, &across).await;
    assert_eq!((ids(&page), page.items[0].free), (vec!["p1"], 1));
    assert_eq!(page.items[0].total, 300, "three nights at 100");
}

#[tokio::test]
async fn a_hold_before_its_place_is_catalogued_waits_and_is_counted_once_it_arrives() {
    let (table, svc) = setup();
    let held = rooms(true, "r1", "p1", "2027-03-05", "2027-03-06", 1);
    assert!(svc.apply(&held).await.expect("pending"));
    assert!(!svc.apply(&held).await.expect("again"));
    let marker = table.item(&hold_marker_key("r1")).expect("marker");
    assert_eq!(marker["state"], json!("PENDING"));
    assert!(table.item(&pending_key("p1", "r1")).is_some());
    // Held and released before the place is known: nothing is ever counted.
    svc.apply(&rooms(true, "r2", "p1", "2027-03-05", "2027-03-07", 1))
        .await
        .expect("r2 pending");
    svc.apply(&rooms(false, "r2", "p1", "2027-03-05", "2027-03-07", 1))
        .await
        .expect("r2 released");
    assert!(table.item(&pending_key("p1", "r2")).is_none());
    assert_eq!(month(&table, "seoul", "2027-03", "p1"), BTreeMap::new());
    // The catalogue event counts what waited, once, however often it is delivered.
    assert!(
        svc.apply(&place_event("p1", "Seoul", 1, 2, 100))
            .await
            .expect("place")
    );
    assert!(
        !svc.apply(&place_event("p1", "Seoul", 1, 2, 100))
            .await
            .expect("again")
    );
    assert_eq!(month(&table, "seoul", "2027-03", "p1"), days(&[("d05", 1)]));
    let marker = table.item(&hold_marker_key("r1")).expect("marker");
    assert_eq!(
        (marker["state"].clone(), marker["cityKey"].clone()),
        (json!("HELD"), json!("seoul"))
    );
    assert!(table.item(&pending_key("p1", "r1")).is_none());
    assert!(!svc.apply(&held).await.expect("late redelivery"));
    svc.apply(&rooms(false, "r1", "p1", "2027-03-05", "2027-03-06", 1))
        .await
        .expect("release");
    assert_eq!(month(&table, "seoul", "2027-03", "p1"), days(&[("d05", 0)]));
    // A place without a city is never found, and its holds only leave their marker.
    assert!(
        !svc.apply(&place_event("p2", "", 1, 1, 100))
            .await
            .expect("no city")
    );
    assert!(
        svc.apply(&rooms(true, "r3", "p2", "2027-03-05", "2027-03-06", 1))
            .await
            .expect("r3")
    );
    assert!(table.item(&catalogue_key("", "p2")).is_none());
    assert_eq!(month(&table, "", "2027-03", "p2"), BTreeMap::new());
    assert_eq!(
        table.item(&hold_marker_key("r3")).expect("marker")["state"],
        json!("HELD")
    );
}

#[tokio::test]
async fn search_filters_prices_sorts_and_pages() {
    let (_, svc) = setup();
    for (id, price) in [("p-b", 200), ("p-a", 200), ("p-c", 100), ("p-d", 50)] {
        svc.apply(&place_event(id, "Busan", 1, 2, price))
            .await
            .expect("place");
    }
    svc.apply(&place_event("p-x", "Seoul", 1, 2, 10))
        .await
        .expect("other city");
    // p-d is full on one night.
    svc.apply(&rooms(true, "r1", "p-d", "2027-03-06", "2027-03-07", 2))
        .await
        .expect("hold");
    // Weekend rule on p-c: Fri 2027-03-05 at 400.
    let mut rules = place_event("p-c", "Busan", 2, 2, 100);
    if let Event::PlaceUpdated(p) = &mut rules {
        p.place.price_rules = serde_json::from_value(
            json!([{"from": "2027-03-01", "to": "2027-04-01", "nightlyPrice": 400, "days": ["FRI"]}]),
        )
        .expect("rules");
        p.place.reconcile_room_types();
    }
    svc.apply(&rules).await.expect("rules");
    let stay = [
        ("city", "busan"),
        ("checkIn", "2027-03-05"),
        ("checkOut", "2027-03-07"),
    ];
    let all = search(&svc, &stay).await;
    let totals: Vec<(&str, i64)> = all
        .items
        .iter()
        .map(|h| (h.place_id.as_str(), h.total))
        .collect();
    assert_eq!(totals, [("p-a", 400), ("p-b", 400), ("p-c", 500)]);
    assert_eq!(all.next_cursor, None);
    let first = search(&svc, &[&stay[..], &[("limit", "2")]].concat()).await;
    assert_eq!(ids(&first), ["p-a", "p-b"]);
    let cursor = first.next_cursor.clone().expect("a next page");
    let second = search(
        &svc,
        &[&stay[..], &[("limit", "2"), ("cursor", &cursor)]].concat(),
    )
    .await;
    assert_eq!(
        (ids(&second), second.next_cursor.clone()),
        (vec!["p-c"], None)
    );
    // Two rooms: the totals double; guests filter on guests x rooms (example places sleep 2).
    let two = search(
        &svc,
        &[&stay[..], &[("rooms", "2"), ("guests", "4")]].concat(),
    )
    .await;
    assert_eq!(
        two.items.iter().map(|h| h.total).collect::<Vec<_>>(),
        [800, 800, 1000]
    );
    let five = search(&svc, &[&stay[..], &[("guests", "3")]].concat()).await;
    assert!(
        five.items.is_empty(),
        "one room of 2 guests does not sleep 3"
    );
}

#[tokio::test]
async fn bad_requests_and_tampered_cursors_are_invalid_not_faults() {
    let (_, svc) = setup();
    svc.apply(&place_event("p1", "Seoul", 1, 2, 100))
        .await
        .expect("place");
    let ok = [
        ("city", "Seoul"),
        ("checkIn", "2027-03-05"),
        ("checkOut", "2027-03-07"),
    ];
    let field_of = |r: Result<SearchPage, DomainError>| match r {
        Err(DomainError::Invalid { field, .. }) => field,
        other => format!("not invalid: {other:?}"),
    };
    let other_search = search(
        &svc,
        &[
            ("city", "Seoul"),
            ("checkIn", "2027-03-05"),
            ("checkOut", "2027-03-06"),
            ("limit", "1"),
        ],
    )
    .await;
    assert_eq!(other_search.next_cursor, None, "one place: no next page");
    let forged = "3a".repeat(3);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("checkIn", "2027-03-05"), ("checkOut", "2027-03-07")],
            "city",
        ),
        (
            vec![
                ("city", "  "),
                ("checkIn", "2027-03-05"),
                ("checkOut", "2027-03-07"),
            ],
            "city",
        ),
        (
            vec![("city", "Seoul"), ("checkOut", "2027-03-07")],
            "checkIn",
        ),
        (
            vec![
                ("city", "Seoul"),
                ("checkIn", "2027-3-05"),
                ("checkOut", "2027-03-07"),
            ],
            "checkIn",
        ),
        (
            vec![
                ("city", "Seoul"),
                ("checkIn", "2027-03-07"),
                ("checkOut", "2027-03-05"),
            ],
            "checkOut",
        ),
        (
            vec![
                ("city", "Seoul"),
                ("checkIn", "2026-03-05"),
                ("checkOut", "2026-03-07"),
            ],
            "checkIn",
        ),
        ([&ok[..], &[("rooms", "0")]].concat(), "rooms"),
        ([&ok[..], &[("rooms", "1.5")]].concat(), "rooms"),
        ([&ok[..], &[("guests", "0")]].concat(), "guests"),
        ([&ok[..], &[("limit", "51")]].concat(), "limit"),
        ([&ok[..], &[("cursor", "zz")]].concat(), "cursor"),
        ([&ok[..], &[("cursor", "abc")]].concat(), "cursor"),
        ([&ok[..], &[("cursor", forged.as_str())]].concat(), "cursor"),
        ([&ok[..], &[("cursor", "e29883")]].concat(), "cursor"),
    ];
    for (pairs, want) in cases {
        assert_eq!(
            field_of(svc.search(&query(&pairs)).await),
            want,
            "{pairs:?}"
        );
    }
    // A cursor of another search (other stay) does not page this one.
    let (_, svc2) = setup();
    for id in ["a", "b"] {
        svc2.apply(&place_event(id, "Seoul", 1, 2, 100))
            .await
            .expect("place");
    }
    let page = search(&svc2, &[&ok[..], &[("limit", "1")]].concat()).await;
    let cursor = page.next_cursor.expect("cursor");
    // One character of the position changed, or an upper-case hex digit: refused.
    let last = cursor.len() - 1;
    let flipped = if cursor.ends_with('1') { "2" } else { "1" };
    let altered = format!("{}{flipped}", &cursor[..last]);
    let upper = cursor.to_uppercase();
    for bad in [altered.as_str(), upper.as_str()] {
        let pairs = [&ok[..], &[("limit", "1"), ("cursor", bad)]].concat();
        assert_eq!(
            field_of(svc2.search(&query(&pairs)).await),
            "cursor",
            "{bad}"
        );
    }
    let shorter = [
        ("city", "Seoul"),
        ("checkIn", "2027-03-05"),
        ("checkOut", "2027-03-06"),
        ("cursor", cursor.as_str()),
    ];
    assert_eq!(field_of(svc2.search(&query(&shorter)).await), "cursor");
}

#[tokio::test]
async fn read_units_count_the_items_each_query_returned() {
    let (table, svc) = setup();
    let stay = [
        ("city", "Seoul"),
        ("checkIn", "2027-03-30"),
        ("checkOut", "2027-04-02"),
    ];
    // Nothing yet: three empty Queries (catalogue, March, April) at the minimum each.
    assert_eq!(search(&svc, &stay).await.read_units.to_string(), "1.5");
    let mut places = Vec::new();
    for i in 0..40 {
        let e = place_event(&format!("place-{i:02}"), "Seoul", 1, 2, 100);
        svc.apply(&e).await.expect("place");
        places.push(catalogued(&e).place_id.clone());
    }
    svc.apply(&rooms(
        true,
        "r1",
        "place-00",
        "2027-03-30",
        "2027-04-02",
        1,
    ))
    .await
    .expect("hold");
    let catalogue: Vec<_> = places
        .iter()
        .filter_map(|p| table.item(&catalogue_key("seoul", p)))
        .collect();
    let bytes: u64 = catalogue.iter().map(read_units::item_size).sum();
    assert!(
        bytes > 4096 * 2,
        "40 catalogue items span more than 8 KB: {bytes}"
    );
    let expected = bytes.div_ceil(4096) + 1 + 1; // catalogue + one month item in each month
    let page = search(&svc, &stay).await;
    assert_eq!(page.read_units.halves, expected);
    assert_eq!(page.items.len(), 20, "the default limit");
    let v: Value = serde_json::to_value(&page).expect("json");
    assert!(v.get("readUnits").is_none(), "a header, not a field");
}

/// The worked example of `docs/design.md` ("Search read model"): 10,000 places in one city.
#[test]
fn the_worked_example_of_the_design_holds() {
    use crate::item::to_item;
    let uuid = "0193a9e4-7b1c-7d3e-9f00-0123456789ab";
    let Event::PlaceRegistered(mut p) = events::example(EventName::PlaceRegistered, "").event
    else {
        unreachable!("example(PlaceRegistered) is a PlaceRegistered")
    };
    p.place.name = "Hanok by the palace".into();
    p.place.city = "Seoul".into();
    p.place.address = "1 Jongno, Jongno-gu".into();
    p.place.description = "x".repeat(200);
    p.place.room_count = 12;
    p.place.nightly_price = 120_000;
    p.place.price_rules = serde_json::from_value(json!([
        {"from": "2027-07-01", "to": "2027-09-01", "nightlyPrice": 150000},
        {"from": "2027-01-01", "to": "2028-01-01", "nightlyPrice": 180000, "days": ["FRI", "SAT"]}
    ]))
    .expect("rules");
    p.place.reconcile_room_types();
    let place = SearchPlace {
        place_id: uuid.into(),
        facts: p.place,
        place_version: 3,
    };
    let catalogue = place.item(&catalogue_key("seoul", uuid));
    assert_eq!(read_units::item_size(&catalogue), 557);
    // Terms equal to their defaults are left out and read back as the same place.
    let back: SearchPlace = crate::item::from_item(catalogue.clone()).expect("decodes");
    assert_eq!(back, place);
    let mut dear = place.clone();
    dear.facts.currency = crate::terms::Currency::parse("USD").expect("usd");
    dear.facts.rate_plans[0].price_adjustment_percent = 5;
    let item = dear.item(&catalogue_key("seoul", uuid));
    assert!(item.contains_key("currency") && item.contains_key("ratePlans"));
    assert_eq!(
        crate::item::from_item::<SearchPlace>(item).expect("decodes"),
        dear
    );
    let mut held = to_item(&month_key("seoul", "2027-03", uuid), None, &json!({}));
    assert_eq!(read_units::item_size(&held), 77);
    for d in 1..=10 {
        held.insert(format!("d{d:02}"), json!(3));
    }
    assert_eq!(read_units::item_size(&held), 127);
    let q = ReadUnits::eventually_consistent_query;
    let (c, m) = (q(&vec![catalogue; 10_000]), q(&vec![held.clone(); 10_000]));
    assert_eq!(
        (c.to_string(), m.to_string()),
        ("680.5".into(), "155.5".into())
    );
    assert_eq!((c + m).to_string(), "836");
    assert_eq!((c + m + m).to_string(), "991.5", "a stay across two months");
    // A second room type: the item then lists the room types, and its days count per room type.
    let mut hotel = place.clone();
    hotel.facts.room_types.push(crate::place::RoomType {
        room_type_id: "suite".into(),
        name: "Suite".into(),
        ..crate::place::RoomType::standard(2, 4, 300_000, vec![])
    });
    let item = hotel.item(&catalogue_key("seoul", uuid));
    assert_eq!(read_units::item_size(&item), 700);
    assert!(!item.contains_key("roomCount") && !item.contains_key("priceRules"));
    assert_eq!(
        crate::item::from_item::<SearchPlace>(item).expect("decodes"),
        hotel,
        "the top-level fields read back as the first room type's"
    );
    let mut both = held.clone();
    for d in 1..=10 {
        both.insert(format!("d{d:02}#suite"), json!(1));
    }
    assert_eq!(read_units::item_size(&both), 237);
}
