//! Room types over HTTP against the running runtime: one hotel sells doubles and suites, each with
//! its own count, size, calendar, plans, stay rules and inventory.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::support::{Local, date_of, today};
use serde_json::{Value, json};

fn hotel(city: &str) -> Value {
    json!({
        "name": "Harbour Hotel", "city": city, "instantBook": true,
        "roomTypes": [
            {"name": "Double", "roomCount": 10, "maxGuests": 2, "nightlyPrice": 100_000},
            {"roomTypeId": "suite", "name": "Suite", "roomCount": 2, "maxGuests": 4, "nightlyPrice": 250_000,
             "priceRules": [{"from": date_of(today() + 30), "to": date_of(today() + 60), "nightlyPrice": 300_000}]}
        ],
        "ratePlans": [
            {"ratePlanId": "std", "name": "Standard"},
            {"ratePlanId": "pkg", "name": "Suite with breakfast", "roomTypeIds": ["suite"],
             "priceAdjustmentPercent": 20, "cancellationPolicy": "NON_REFUNDABLE"}
        ],
        "restrictions": [
            {"from": date_of(today() + 10), "to": date_of(today() + 70), "minStay": 2, "roomTypeIds": ["suite"]}
        ]
    })
}

fn booking(place: &str, check_in: i64, check_out: i64, extra: Value) -> Value {
    let mut body =
        json!({"placeId": place, "checkIn": date_of(check_in), "checkOut": date_of(check_out)});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    body
}

/// The catalogue, the quote's offers, the booking's checks and snapshot, search and the owner's
/// calendar, for a hotel of two room types.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hotel_sells_two_room_types_from_one_place() {
    let rt = Local::start("room-types", &[]).await;
    let city = format!("Harbourtown-{}", std::process::id());
    let place = rt.place_with("owner-h", hotel(&city)).await;
    let (s, p) = rt
        .call("GET", &format!("/v1/places/{place}"), Some("owner-h"), None)
        .await;
    assert_eq!(s, 200, "{p}");
    let types: Vec<&str> = p["place"]["roomTypes"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["roomTypeId"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(types, ["room-1", "suite"], "ids assigned where absent");
    // The top-level fields describe the first room type, for clients written before room types.
    assert_eq!(
        (
            &p["place"]["roomCount"],
            &p["place"]["nightlyPrice"],
            &p["place"]["guests"]
        ),
        (&json!(10), &json!(100_000), &json!(2))
    );

    // In the suites' season, two nights: every (room type, plan) the plans sell.
    let (a, b) = (today() + 31, today() + 33);
    let path = format!(
        "/v1/places/{place}/quote?checkIn={}&checkOut={}",
        date_of(a),
        date_of(b)
    );
    let (s, q) = rt.call("GET", &path, Some("guest-h"), None).await;
    assert_eq!(s, 200, "{q}");
    let offers: Vec<(String, String, i64, i64)> = q["offers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|o| {
            (
                o["roomType"]["roomTypeId"]
                    .as_str()
                    .unwrap_or_default()
                    .into(),
                o["ratePlanId"].as_str().unwrap_or_default().into(),
                o["total"].as_i64().unwrap_or(-1),
                o["free"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    let want = [
        ("room-1", "std", 200_000, 10),
        ("suite", "std", 600_000, 2),
        ("suite", "pkg", 720_000, 2),
    ]
    .map(|(t, p, total, free)| (t.to_string(), p.to_string(), total, free));
    assert_eq!(offers, want, "{q}");

    // One night is below the suites' minimum stay, not the doubles'.
    let one_night = format!(
        "/v1/places/{place}/quote?checkIn={}&checkOut={}",
        date_of(a),
        date_of(a + 1)
    );
    let (s, q1) = rt.call("GET", &one_night, Some("guest-h"), None).await;
    assert_eq!(s, 200, "{q1}");
    assert_eq!(q1["offers"].as_array().map(Vec::len), Some(1), "{q1}");
    let refused = [
        (json!({"roomTypeId": "suite"}), a + 1, "checkOut"),
        (json!({"roomTypeId": "nope"}), b, "roomTypeId"),
        (
            json!({"roomTypeId": "room-1", "ratePlanId": "pkg"}),
            b,
            "ratePlanId",
        ),
        (
            json!({"roomTypeId": "room-1", "guests": {"adults": 3}}),
            b,
            "guests",
        ),
        (
            json!({"roomTypeId": "suite", "rooms": 1, "guests": {"adults": 4, "children": 1}}),
            b,
            "guests",
        ),
    ];
    for (extra, check_out, field) in refused {
        let body = booking(&place, a, check_out, extra.clone());
        let (s, r) = rt
            .call("POST", "/v1/reservations", Some("guest-h"), Some(body))
            .await;
        assert_eq!((s, r["field"].as_str()), (422, Some(field)), "{extra}: {r}");
    }

    // The package names its room type: a booking naming only the plan gets a suite.
    let body = booking(
        &place,
        a,
        b,
        json!({"ratePlanId": "pkg", "guests": {"adults": 2, "children": 2}}),
    );
    let (s, r) = rt
        .call("POST", "/v1/reservations", Some("guest-h"), Some(body))
        .await;
    assert_eq!(s, 202, "{r}");
    assert_eq!(r["amount"], 720_000, "{r}");
    assert_eq!(
        r["roomType"],
        json!({"roomTypeId": "suite", "name": "Suite"})
    );
    let id = r["reservationId"].as_str().expect("id").to_string();
    let done = rt.wait_resting("guest-h", &id).await;
    assert_eq!(done["status"], "CONFIRMED", "{done}");
    let (s, d) = rt
        .call(
            "POST",
            "/v1/reservations",
            Some("guest-h"),
            Some(booking(&place, a, b, json!({}))),
        )
        .await;
    assert_eq!(s, 202, "{d}");
    assert_eq!(d["roomType"]["roomTypeId"], "room-1", "the first room type");
    let double = d["reservationId"].as_str().expect("id").to_string();
    rt.wait_resting("guest-h", &double).await;
    let held = rt.held_by_type("owner-h", &place).await;
    for night in [a, a + 1] {
        for t in ["suite", "room-1"] {
            assert_eq!(held.get(&(t.into(), date_of(night))), Some(&1), "{held:?}");
        }
    }

    // Search shows the hotel once, at its cheapest offer that sleeps the party.
    let search = |guests: i64| {
        format!(
            "/v1/search?city={city}&checkIn={}&checkOut={}&guests={guests}",
            date_of(a),
            date_of(b)
        )
    };
    let mut hit = Value::Null;
    for _ in 0..200 {
        let (s, page) = rt.call("GET", &search(2), Some("guest-h"), None).await;
        assert_eq!(s, 200, "{page}");
        hit = page["items"][0].clone();
        if page["items"].as_array().map(Vec::len) == Some(1) && hit["free"] == 9 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(
        (
            &hit["roomTypeId"],
            &hit["ratePlanId"],
            &hit["total"],
            &hit["free"]
        ),
        (&json!("room-1"), &json!("std"), &json!(200_000), &json!(9)),
        "{hit}"
    );
    let mut page = Value::Null;
    for _ in 0..200 {
        page = rt.call("GET", &search(4), Some("guest-h"), None).await.1;
        if page["items"][0]["free"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let hit = &page["items"][0];
    assert_eq!(
        (
            &hit["roomTypeId"],
            &hit["total"],
            &hit["free"],
            &hit["guests"]
        ),
        (&json!("suite"), &json!(600_000), &json!(1), &json!(4)),
        "{page}"
    );
}

/// Two room types of one place booked at once, each by more guests than it has rooms: each sells
/// exactly its own rooms, and one never takes the other's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_room_types_of_one_place_never_overbook_in_a_race() {
    let rt = Arc::new(Local::start("room-types-race", &[]).await);
    let place = rt
        .place_with(
            "owner-r",
            json!({"name": "Race Inn", "roomTypes": [
                {"roomTypeId": "double", "name": "Double", "roomCount": 3, "nightlyPrice": 10_000},
                {"roomTypeId": "suite", "name": "Suite", "roomCount": 2, "nightlyPrice": 30_000}
            ]}),
        )
        .await;
    let night = today() + 20;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let rt = rt.clone();
        let place = place.clone();
        tasks.push(tokio::spawn(async move {
            let room_type = if i % 2 == 0 { "double" } else { "suite" };
            let user = format!("racer-{i}");
            let body = booking(&place, night, night + 1, json!({"roomTypeId": room_type}));
            let (s, r) = rt
                .call("POST", "/v1/reservations", Some(&user), Some(body))
                .await;
            assert_eq!(s, 202, "{r}");
            let id = r["reservationId"].as_str().expect("id").to_string();
            let done = rt.wait_resting(&user, &id).await;
            (room_type, done)
        }));
    }
    let mut confirmed: BTreeMap<&str, i64> = BTreeMap::new();
    for t in tasks {
        let (room_type, done) = t.await.expect("task");
        match done["status"].as_str() {
            Some("CONFIRMED") => *confirmed.entry(room_type).or_default() += 1,
            Some("CANCELLED") => assert_eq!(done["statusReason"], "SOLD_OUT", "{done}"),
            other => panic!("{other:?}: {done}"),
        }
    }
    assert_eq!(
        confirmed,
        BTreeMap::from([("double", 3), ("suite", 2)]),
        "each room type sells exactly its rooms"
    );
    let held = rt.held_by_type("owner-r", &place).await;
    assert_eq!(
        held,
        BTreeMap::from([
            (("double".into(), date_of(night)), 3),
            (("suite".into(), date_of(night)), 2)
        ])
    );
}

/// Room types change through `roomTypes`; one with rooms held cannot go below them or away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_type_with_rooms_held_is_not_lowered_below_them_nor_removed() {
    let rt = Local::start("room-types-change", &[]).await;
    let city = format!("Changeton-{}", std::process::id());
    let place = rt.place_with("owner-c", hotel(&city)).await;
    let (a, b) = (today() + 12, today() + 14);
    let (s, r) = rt
        .call(
            "POST",
            "/v1/reservations",
            Some("guest-c"),
            Some(booking(
                &place,
                a,
                b,
                json!({"roomTypeId": "suite", "rooms": 2}),
            )),
        )
        .await;
    assert_eq!(s, 202, "{r}");
    let id = r["reservationId"].as_str().expect("id").to_string();
    assert_eq!(rt.wait_resting("guest-c", &id).await["status"], "CONFIRMED");
    let patch = |body: Value| {
        let rt = &rt;
        let path = format!("/v1/places/{place}");
        async move { rt.call("PATCH", &path, Some("owner-c"), Some(body)).await }
    };
    let double =
        json!({"roomTypeId": "room-1", "name": "Double", "roomCount": 10, "nightlyPrice": 100_000});
    let suite = |count: i64| json!({"roomTypeId": "suite", "name": "Suite", "roomCount": count, "nightlyPrice": 250_000, "maxGuests": 4});
    let (s, body) = patch(json!({"roomTypes": [double.clone()]})).await;
    assert_eq!(
        (s, body["field"].as_str()),
        (422, Some("ratePlans[1].roomTypeIds")),
        "a plan still sells suites: {body}"
    );
    let only_doubles = json!({"roomTypes": [double.clone()], "restrictions": [],
        "ratePlans": [{"ratePlanId": "std", "name": "Standard"}]});
    let (s, body) = patch(only_doubles).await;
    assert_eq!(s, 409, "removing the suites: {body}");
    let (s, body) = patch(json!({"roomTypes": [double.clone(), suite(1)]})).await;
    assert_eq!(s, 409, "below the two held: {body}");
    let (s, body) = patch(json!({"roomCount": 4})).await;
    assert_eq!(
        (s, body["field"].as_str()),
        (422, Some("roomCount")),
        "{body}"
    );
    let family = json!({"name": "Family", "roomCount": 1, "maxGuests": 5, "nightlyPrice": 180_000});
    let (s, body) = patch(json!({"roomTypes": [double, suite(3), family]})).await;
    assert_eq!(s, 200, "{body}");
    let ids: Vec<&str> = body["roomTypes"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["roomTypeId"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, ["room-1", "suite", "room-2"]);
    // The booking made before keeps what it was sold.
    let r = rt.reservation("guest-c", &id).await;
    assert_eq!(r["roomType"]["name"], "Suite");
    let held = rt.held_by_type("owner-c", &place).await;
    assert_eq!(held.get(&("suite".into(), date_of(a))), Some(&2));
}

/// Mistakes in room types are 4xx naming the room type's field, and a body that describes its
/// rooms twice, differently, is malformed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_room_types_are_refused_at_their_field() {
    let rt = Local::start("room-types-bad", &[]).await;
    let double = json!({"name": "Double", "roomCount": 2, "nightlyPrice": 100});
    let cases = [
        (
            json!({"roomTypes": [double, {"name": "Suite", "roomCount": 1, "nightlyPrice": 100, "maxGuests": 0}]}),
            422,
            "roomTypes[1].maxGuests",
        ),
        (
            json!({"roomTypes": [{"name": "Double", "roomCount": -1, "nightlyPrice": 100}]}),
            422,
            "roomTypes[0].roomCount",
        ),
        (
            json!({"roomTypes": [{"name": "Double", "roomCount": 1, "nightlyPrice": 100,
                "priceRules": [{"from": "2027-02-01", "to": "2027-01-01", "nightlyPrice": 1}]}]}),
            422,
            "roomTypes[0].priceRules[0].to",
        ),
        (
            json!({"roomTypes": [{"roomTypeId": "a", "name": "A", "roomCount": 1, "nightlyPrice": 1},
                              {"roomTypeId": "a", "name": "B", "roomCount": 1, "nightlyPrice": 1}]}),
            422,
            "roomTypes[1].roomTypeId",
        ),
        (
            json!({"roomTypes": [double], "ratePlans": [{"name": "Only suites", "roomTypeIds": ["suite"]}]}),
            422,
            "ratePlans[0].roomTypeIds",
        ),
        (
            json!({"roomTypes": [double, {"roomTypeId": "suite", "name": "Suite", "roomCount": 1, "nightlyPrice": 1}],
                "ratePlans": [{"name": "Suites", "roomTypeIds": ["suite"]}]}),
            422,
            "ratePlans",
        ),
        (
            json!({"roomTypes": [double], "restrictions": [{"from": "2027-01-01", "to": "2027-01-02", "closed": true, "roomTypeIds": ["x"]}]}),
            422,
            "restrictions[0].roomTypeIds",
        ),
        (json!({"roomTypes": [double], "roomCount": 3}), 400, ""),
        (json!({"roomTypes": []}), 400, ""),
    ];
    for (extra, status, field) in cases {
        let mut body = json!({"name": "Bad Inn"});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let (s, p) = rt
            .call("POST", "/v1/places", Some("owner-b"), Some(body))
            .await;
        assert_eq!(s, status, "{extra}: {p}");
        assert_eq!(
            p["field"].as_str().unwrap_or_default(),
            field,
            "{extra}: {p}"
        );
    }
}
