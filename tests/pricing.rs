//! Price calendars over HTTP against the running runtime: the quote, the reservation's amount and
//! the payment's amount agree for stays crossing a season, weekends and a special (the last rule
//! covering a night wins), for several rooms, and after the owner replaces the rules (new
//! reservations pay the new prices, existing ones keep theirs). The quote's nights carry each
//! night's price and free rooms, and `available` turns false when a night is full. Expected prices
//! are worked out here from the rules sent, independently of the server.

use std::time::{Duration, Instant};

use crate::support::{Local, date_of, night_price, today};
use serde_json::{Value, json};

const BASE: i64 = 100_000;
const ROOMS: i64 = 3;

fn stay_path(place: &str, check_in: i64, check_out: i64, rooms: Option<i64>) -> String {
    let mut p = format!(
        "/v1/places/{place}/quote?checkIn={}&checkOut={}",
        date_of(check_in),
        date_of(check_out)
    );
    if let Some(r) = rooms {
        p += &format!("&rooms={r}");
    }
    p
}

/// A quote, checked night by night against `rules` and the rooms `held` per night (given as
/// (night, held) pairs; other nights hold nothing). Answers the quote.
async fn quote(
    rt: &Local,
    place: &str,
    rules: &Value,
    stay: (i64, i64, i64),
    held: &[(i64, i64)],
) -> Value {
    let (check_in, check_out, rooms) = stay;
    let (s, q) = rt
        .call(
            "GET",
            &stay_path(place, check_in, check_out, Some(rooms)),
            Some("quoter"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{q}");
    assert_eq!(q["placeId"], place);
    assert_eq!(
        (
            q["checkIn"].as_str(),
            q["checkOut"].as_str(),
            q["rooms"].as_i64()
        ),
        (
            Some(date_of(check_in).as_str()),
            Some(date_of(check_out).as_str()),
            Some(rooms)
        )
    );
    let nights = q["nights"].as_array().cloned().unwrap_or_default();
    assert_eq!(nights.len() as i64, check_out - check_in, "{q}");
    let mut sum = 0;
    let mut available = true;
    for (d, n) in (check_in..check_out).zip(&nights) {
        let price = night_price(BASE, rules, d);
        let free = ROOMS
            - held
                .iter()
                .filter(|(h, _)| *h == d)
                .map(|(_, r)| r)
                .sum::<i64>();
        assert_eq!(n["date"], date_of(d).as_str(), "{q}");
        assert_eq!(n["nightlyPrice"], price, "night {} of {q}", date_of(d));
        assert_eq!(n["free"], free.max(0), "night {} of {q}", date_of(d));
        sum += price;
        available &= rooms <= free;
    }
    assert_eq!(q["total"], sum * rooms, "{q}");
    assert_eq!(q["available"], available, "{q}");
    q
}

/// Reserves the stay and follows it to CONFIRMED; its amount must be `total`, and so must the
/// payment's.
async fn book(rt: &Local, user: &str, place: &str, stay: (i64, i64, i64), total: i64) -> String {
    let (s, r) = rt
        .reserve(user, place, &date_of(stay.0), &date_of(stay.1), stay.2)
        .await;
    assert_eq!(s, 202, "{r}");
    assert_eq!(
        r["amount"], total,
        "the reservation's amount is the quote's total: {r}"
    );
    let id = r["reservationId"].as_str().expect("id").to_string();
    rt.wait_status(user, &id, "CONFIRMED", None).await;
    assert_paid(rt, user, &id, total).await;
    id
}

async fn assert_paid(rt: &Local, user: &str, id: &str, total: i64) {
    let r = rt.reservation(user, id).await;
    assert_eq!(r["amount"], total, "{r}");
    let (s, p) = rt.payment(user, id).await;
    assert_eq!((s, &p["amount"]), (200, &json!(total)), "{p}");
}

/// Nights `from..to` each holding `rooms`.
fn holding(from: i64, to: i64, rooms: i64) -> Vec<(i64, i64)> {
    (from..to).map(|d| (d, rooms)).collect()
}

#[tokio::test]
async fn quote_reservation_and_payment_agree_across_rules_rooms_and_a_rule_change() {
    let rt = Local::start("pricing", &[]).await;
    let a = today() + 40;
    // A season, every weekend of the year over it, then a special that beats both.
    let rules = json!([
        {"from": date_of(a + 5), "to": date_of(a + 20), "nightlyPrice": 150_000},
        {"from": date_of(today()), "to": date_of(today() + 365), "nightlyPrice": 180_000,
         "days": ["FRI", "SAT"]},
        {"from": date_of(a + 10), "to": date_of(a + 12), "nightlyPrice": 90_000},
    ]);
    let place = rt
        .place_with(
            "olivia",
            json!({"name": "Seasons", "roomCount": ROOMS, "nightlyPrice": BASE, "city": "Seoul",
                "instantBook": true, "priceRules": rules}),
        )
        .await;
    let (s, p) = rt
        .call("GET", &format!("/v1/places/{place}"), Some("olivia"), None)
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(
        p["place"]["priceRules"], rules,
        "the rules are kept as given, in order"
    );

    // 25 nights crossing everything, 1 room; 10 nights with 2 rooms; 3 nights with all 3 rooms.
    let long = (a, a + 25, 1);
    let q = quote(&rt, &place, &rules, long, &[]).await;
    let distinct: std::collections::BTreeSet<i64> = q["nights"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["nightlyPrice"].as_i64())
        .collect();
    assert_eq!(
        distinct,
        [90_000, BASE, 150_000, 180_000].into(),
        "the stay crosses every price"
    );
    let long_total = q["total"].as_i64().expect("total");
    let long_id = book(&rt, "alice", &place, long, long_total).await;

    let pair = (a + 3, a + 13, 2);
    let held = holding(a, a + 25, 1);
    let pair_total = quote(&rt, &place, &rules, pair, &held).await["total"]
        .as_i64()
        .expect("total");
    let pair_id = book(&rt, "bob", &place, pair, pair_total).await;

    let all = (a + 26, a + 29, 3);
    let all_total = quote(&rt, &place, &rules, all, &[]).await["total"]
        .as_i64()
        .expect("total");
    let all_id = book(&rt, "carol", &place, all, all_total).await;

    // Full nights: available false for any room count; a free night next to them still sells.
    let mut held = holding(a, a + 25, 1);
    held.extend(holding(a + 3, a + 13, 2));
    held.extend(holding(a + 26, a + 29, 3));
    for stay in [
        (a + 2, a + 5, 1),
        (a + 12, a + 14, 1),
        (a + 25, a + 27, 1),
        (a + 28, a + 29, 2),
    ] {
        let q = quote(&rt, &place, &rules, stay, &held).await;
        assert_eq!(q["available"], false, "{q}");
    }
    for stay in [
        (a + 13, a + 15, 2),
        (a + 25, a + 26, 3),
        (a + 29, a + 31, 3),
    ] {
        let q = quote(&rt, &place, &rules, stay, &held).await;
        assert_eq!(q["available"], true, "{q}");
    }
    let q = quote(&rt, &place, &rules, (a + 29, a + 30, ROOMS + 1), &held).await;
    assert_eq!(q["available"], false, "more rooms than the place has: {q}");
    // rooms defaults to 1.
    let (s, q) = rt
        .call(
            "GET",
            &stay_path(&place, a + 29, a + 31, None),
            Some("quoter"),
            None,
        )
        .await;
    assert_eq!((s, q["rooms"].as_i64()), (200, Some(1)), "{q}");

    // The owner replaces the rules: the quote follows at once (the place's own record).
    let new_rules = json!([
        {"from": date_of(a + 5), "to": date_of(a + 20), "nightlyPrice": 200_000},
        {"from": date_of(a + 40), "to": date_of(a + 140), "nightlyPrice": 70_000},
    ]);
    let (s, body) = rt
        .call(
            "PATCH",
            &format!("/v1/places/{place}"),
            Some("olivia"),
            Some(json!({"priceRules": new_rules})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["priceRules"], new_rules, "{body}");
    quote(&rt, &place, &new_rules, long, &held).await;

    // New reservations pay the new prices once the reservation side's copy of the catalogue has
    // the change (built from PlaceUpdated): each attempt books fresh nights, and any amount is
    // either the old price or the new one.
    rt.wait_for("PlaceUpdated published", || async {
        rt.events(None)
            .await
            .iter()
            .any(|e| e["detail-type"] == "PlaceUpdated" && e["detail"]["placeId"] == place.as_str())
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut k = 0;
    loop {
        let stay = (a + 40 + 2 * k, a + 42 + 2 * k, 2);
        let old = (stay.0..stay.1)
            .map(|d| night_price(BASE, &rules, d))
            .sum::<i64>()
            * 2;
        let new = quote(&rt, &place, &new_rules, stay, &[]).await["total"]
            .as_i64()
            .expect("total");
        assert_ne!(old, new, "the change must show in this stay");
        let user = format!("late{k}");
        let (s, r) = rt
            .reserve(&user, &place, &date_of(stay.0), &date_of(stay.1), stay.2)
            .await;
        assert_eq!(s, 202, "{r}");
        let amount = r["amount"].as_i64().expect("amount");
        assert!(
            amount == old || amount == new,
            "{amount}: neither {old} nor {new}"
        );
        if amount == new {
            let id = r["reservationId"].as_str().expect("id");
            rt.wait_status(&user, id, "CONFIRMED", None).await;
            assert_paid(&rt, &user, id, new).await;
            break;
        }
        assert!(
            Instant::now() < deadline,
            "new reservations never paid the new prices"
        );
        k += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The reservations made before the change keep what they were charged.
    assert_paid(&rt, "alice", &long_id, long_total).await;
    assert_paid(&rt, "bob", &pair_id, pair_total).await;
    assert_paid(&rt, "carol", &all_id, all_total).await;
}

/// A client mistake: 4xx problem+json (not a missing route or a refused token).
async fn assert_problem(rt: &Local, method: &str, path: &str, body: Option<Value>) {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let (s, ctype, p) = rt.raw(method, path, Some("olivia"), bytes).await;
    assert!(
        (400..500).contains(&s) && s != 401 && s != 404,
        "{method} {path}: {s} {p}"
    );
    assert!(
        ctype.starts_with("application/problem+json"),
        "{method} {path}: {ctype} {p}"
    );
}

#[tokio::test]
async fn bad_quotes_and_bad_rules_are_client_errors() {
    let rt = Local::start("pricing-bad", &[]).await;
    let place = rt.place("olivia", 2, BASE, true).await;
    let a = today() + 10;
    for path in [
        stay_path(&place, a + 2, a + 2, None),
        stay_path(&place, a + 2, a + 1, None),
        stay_path(&place, a, a + 31, None),
        stay_path(&place, a, a + 1, Some(0)),
        stay_path(&place, a, a + 1, Some(-2)),
        format!("/v1/places/{place}/quote?checkOut={}", date_of(a)),
        format!("/v1/places/{place}/quote?checkIn=2027-13-01&checkOut=2027-13-02"),
        format!(
            "/v1/places/{place}/quote?checkIn={}&checkOut={}&rooms=x",
            date_of(a),
            date_of(a + 1)
        ),
    ] {
        assert_problem(&rt, "GET", &path, None).await;
    }
    let (s, _, p) = rt
        .raw(
            "GET",
            &stay_path("no-such-place", a, a + 1, None),
            Some("olivia"),
            Vec::new(),
        )
        .await;
    assert_eq!(s, 404, "{p}");

    let rule = |from: i64, to: i64, price: i64, days: Value| {
        let mut r = json!({"from": date_of(from), "to": date_of(to), "nightlyPrice": price});
        if !days.is_null() {
            r["days"] = days;
        }
        r
    };
    let many: Vec<Value> = (0..51)
        .map(|i| rule(a + i, a + i + 1, BASE, Value::Null))
        .collect();
    let bad_rules = [
        json!([rule(a + 2, a + 2, BASE, Value::Null)]),
        json!([rule(a + 3, a + 2, BASE, Value::Null)]),
        json!([rule(a, a + 367, BASE, Value::Null)]),
        json!([rule(a, a + 2, -1, Value::Null)]),
        json!([rule(a, a + 2, BASE, json!(["FRI", "FRI"]))]),
        json!([rule(a, a + 2, BASE, json!(["FUNDAY"]))]),
        json!([{"from": "2027-02-30", "to": "2027-03-02", "nightlyPrice": BASE}]),
        json!([{"from": date_of(a), "to": date_of(a + 1), "nightlyPrice": BASE, "extra": 1}]),
        Value::Array(many),
    ];
    for rules in bad_rules {
        let register =
            json!({"name": "x", "roomCount": 1, "nightlyPrice": BASE, "priceRules": rules});
        assert_problem(&rt, "POST", "/v1/places", Some(register)).await;
        let patch = json!({"priceRules": rules});
        assert_problem(&rt, "PATCH", &format!("/v1/places/{place}"), Some(patch)).await;
    }
    // The city is fixed at registration.
    let patch = json!({"city": "Busan"});
    assert_problem(&rt, "PATCH", &format!("/v1/places/{place}"), Some(patch)).await;
}
