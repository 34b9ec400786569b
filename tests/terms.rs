//! Rate plans, cancellation policies, local time, currency and guests over HTTP against the
//! running runtime. Deadlines are worked out here from the rules of each zone (Kolkata is
//! UTC+05:30 all year; London moves to summer time on the last Sunday of March), independently
//! of the server's time zone database.

use crate::support::{Local, Rng, date_of, night_price, today, weekday_of};
use serde_json::{Value, json};

fn stay(place: &str, check_in: i64, check_out: i64, rooms: i64) -> String {
    format!(
        "/v1/places/{place}/quote?checkIn={}&checkOut={}&rooms={rooms}",
        date_of(check_in),
        date_of(check_out)
    )
}

async fn quote(rt: &Local, user: &str, path: &str) -> Value {
    let (s, q) = rt.call("GET", path, Some(user), None).await;
    assert_eq!(s, 200, "{q}");
    q
}

fn offer<'a>(q: &'a Value, plan: &str) -> &'a Value {
    q["offers"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["ratePlanId"] == plan))
        .unwrap_or_else(|| panic!("no offer {plan} in {q}"))
}

fn froms(policy: &Value) -> Vec<String> {
    policy["windows"]
        .as_array()
        .map(|w| {
            w.iter()
                .map(|w| w["from"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn penalties(policy: &Value) -> Vec<i64> {
    policy["windows"]
        .as_array()
        .map(|w| {
            w.iter()
                .filter_map(|w| w["penaltyAmount"].as_i64())
                .collect()
        })
        .unwrap_or_default()
}

/// A USD place in Kolkata with check-in at 16:00 and three plans: the server names the plans
/// without an id, a booking keeps a snapshot of its plan, nights, policy and party that the
/// owner's later changes do not touch, and the owner sees who arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_place_sells_rate_plans_whose_policies_resolve_at_its_local_check_in() {
    let rt = Local::start("terms", &[]).await;
    let register = json!({
        "name": "Lake Palace Rooms", "roomCount": 5, "nightlyPrice": 18_000, "guests": 2,
        "currency": "USD", "timeZone": "Asia/Kolkata", "checkInTime": "16:00",
        "ratePlans": [
            {"name": "Flexible"},
            {"name": "Non-refundable", "priceAdjustmentPercent": -10, "cancellationPolicy": "NON_REFUNDABLE"},
            {"ratePlanId": "early", "name": "Early bird", "priceAdjustmentPercent": -5,
             "cancellationPolicy": {"tiers": [{"penaltyPercent": 0},
                {"daysBeforeCheckIn": 7, "penaltyNights": 1},
                {"hoursBeforeCheckIn": 0, "penaltyPercent": 100}]}}
        ]
    });
    let place = rt.place_with("owner-t", register).await;
    let (s, p) = rt
        .call("GET", &format!("/v1/places/{place}"), Some("owner-t"), None)
        .await;
    assert_eq!(s, 200, "{p}");
    let p = &p["place"];
    let ids: Vec<&str> = p["ratePlans"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["ratePlanId"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, ["plan-1", "plan-2", "early"], "{p}");
    assert_eq!(
        (
            &p["currency"],
            &p["timeZone"],
            &p["checkInTime"],
            &p["checkOutTime"]
        ),
        (
            &json!("USD"),
            &json!("Asia/Kolkata"),
            &json!("16:00"),
            &json!("11:00")
        )
    );
    assert_eq!(p["ratePlans"][0]["cancellationPolicy"], "FLEXIBLE");

    let (d, nights) = (today() + 30, 2);
    let q = quote(&rt, "guest-t", &stay(&place, d, d + nights, 2)).await;
    assert_eq!(q["currency"], "USD");
    let check_in_at = format!("{}T10:30:00Z", date_of(d));
    for (plan, night, name) in [
        ("plan-1", 18_000, "FLEXIBLE"),
        ("plan-2", 16_200, "NON_REFUNDABLE"),
        ("early", 17_100, "CUSTOM"),
    ] {
        let o = offer(&q, plan);
        assert_eq!(o["total"], night * nights * 2, "{o}");
        assert_eq!(o["nights"][0]["nightlyPrice"], night, "{o}");
        assert_eq!(o["cancellationPolicy"]["name"], name, "{o}");
        assert_eq!(o["cancellationPolicy"]["checkInAt"], check_in_at.as_str());
        assert_eq!(o["cancellationPolicy"]["currency"], "USD");
    }
    assert_eq!(q["total"], offer(&q, "plan-1")["total"]);
    // FLEXIBLE: from 24 h before 16:00 in Kolkata (10:30 UTC), the first night of both rooms.
    let flexible = &offer(&q, "plan-1")["cancellationPolicy"];
    assert_eq!(froms(flexible)[1], format!("{}T10:30:00Z", date_of(d - 1)));
    assert_eq!(penalties(flexible), [0, 36_000]);
    assert!(
        flexible["description"]["en"]
            .as_str()
            .is_some_and(|t| t.contains("360.00 USD kept") && t.contains("Asia/Kolkata")),
        "{flexible}"
    );
    // The custom plan: a night from 7 days before (calendar days at 16:00 local), all at check-in.
    let early = &offer(&q, "early")["cancellationPolicy"];
    assert_eq!(
        froms(early)[1..],
        [format!("{}T10:30:00Z", date_of(d - 7)), check_in_at.clone()]
    );
    assert_eq!(penalties(early), [0, 34_200, 68_400]);

    // The party must fit the rooms: 5 guests do not fit 2 rooms of 2.
    let book = |plan: &str, guests: Value, token: &Value| {
        json!({"placeId": place, "checkIn": date_of(d), "checkOut": date_of(d + nights),
               "rooms": 2, "ratePlanId": plan, "priceToken": token, "guests": guests,
               "leadGuest": {"name": "Asha Rao", "email": "asha@example.com", "phone": "+91 98765 43210"},
               "specialRequest": "A quiet room, please."})
    };
    let token = q["priceToken"].clone();
    let (s, e) = rt
        .call(
            "POST",
            "/v1/reservations",
            Some("guest-t"),
            Some(book("plan-2", json!({"adults": 4, "children": 1}), &token)),
        )
        .await;
    assert_eq!((s, &e["field"]), (422, &json!("guests")), "{e}");
    let (s, e) = rt
        .call(
            "POST",
            "/v1/reservations",
            Some("guest-t"),
            Some(book("nope", json!({"adults": 2}), &token)),
        )
        .await;
    assert_eq!((s, &e["field"]), (422, &json!("ratePlanId")), "{e}");
    let (s, r) = rt
        .call(
            "POST",
            "/v1/reservations",
            Some("guest-t"),
            Some(book("plan-2", json!({"adults": 3, "children": 1}), &token)),
        )
        .await;
    assert_eq!(s, 202, "{r}");
    let id = r["reservationId"].as_str().expect("id").to_string();
    assert_eq!(r["amount"], 64_800);
    assert_eq!(r["currency"], "USD");
    assert_eq!(r["ratePlan"]["ratePlanId"], "plan-2");
    assert_eq!(r["nightPrices"][1]["nightlyPrice"], 16_200);
    assert_eq!(r["guests"], json!({"adults": 3, "children": 1}));
    assert_eq!(r["leadGuest"]["name"], "Asha Rao");
    assert_eq!(r["cancellationPolicy"]["name"], "NON_REFUNDABLE");
    assert_eq!(penalties(&r["cancellationPolicy"]), [64_800]);
    let booked = rt.wait_status("guest-t", &id, "CONFIRMED", None).await;

    // The owner changes the prices and drops the plan: the booking keeps what it was sold.
    let (s, u) = rt
        .call(
            "PATCH",
            &format!("/v1/places/{place}"),
            Some("owner-t"),
            Some(json!({"nightlyPrice": 25_000, "checkInTime": "14:00",
                        "ratePlans": [{"ratePlanId": "plan-1", "name": "Flexible", "cancellationPolicy": "STRICT"}]})),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    let now = rt.reservation("guest-t", &id).await;
    for field in [
        "amount",
        "currency",
        "ratePlan",
        "nightPrices",
        "cancellationPolicy",
        "guests",
    ] {
        assert_eq!(now[field], booked[field], "{field} changed: {now}");
    }
    let (s, payment) = rt.payment("guest-t", &id).await;
    assert_eq!((s, &payment["amount"]), (200, &json!(64_800)), "{payment}");

    // The owner's view names the party, the lead guest and the request.
    rt.wait_for("the owner's row", || async {
        let (_, rows) = rt
            .call("GET", "/v1/owner/reservations", Some("owner-t"), None)
            .await;
        rows["items"].as_array().is_some_and(|items| {
            items.iter().any(|row| {
                row["reservationId"] == id.as_str()
                    && row["status"] == "CONFIRMED"
                    && row["leadGuest"]["email"] == "asha@example.com"
                    && row["specialRequest"] == "A quiet room, please."
                    && row["guests"]["adults"] == 3
                    && row["ratePlan"]["name"] == "Non-refundable"
            })
        })
    })
    .await;
}

/// London's summer time begins on the last Sunday of March: a MODERATE deadline five days before
/// a check-in just after it is at 15:00 GMT (15:00 UTC), while the check-in is 15:00 BST (14:00 UTC).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderate_and_strict_deadlines_keep_the_local_time_across_a_clock_change() {
    let rt = Local::start("terms-dst", &[]).await;
    let change = (today() + 10..today() + 400)
        .find(|d| {
            let date = date_of(*d);
            weekday_of(*d) == "SUN" && &date[5..7] == "03" && date[8..10] >= *"25"
        })
        .expect("a last Sunday of March within the horizon");
    let place = rt
        .place_with(
            "owner-l",
            json!({"name": "Thames House", "roomCount": 2, "nightlyPrice": 333, "currency": "GBP",
                   "timeZone": "Europe/London",
                   "ratePlans": [{"name": "Moderate", "cancellationPolicy": "MODERATE"},
                                 {"name": "Strict", "cancellationPolicy": "STRICT"}]}),
        )
        .await;
    let check_in = change + 2;
    let q = quote(&rt, "guest-l", &stay(&place, check_in, check_in + 1, 1)).await;
    let moderate = &offer(&q, "plan-1")["cancellationPolicy"];
    assert_eq!(
        moderate["checkInAt"],
        format!("{}T14:00:00Z", date_of(check_in))
    );
    assert_eq!(
        froms(moderate)[1],
        format!("{}T15:00:00Z", date_of(check_in - 5))
    );
    // Half of 333, rounded down: the guest's favour.
    assert_eq!(penalties(moderate), [0, 166]);
    assert_eq!(moderate["windows"][1]["refundAmount"], 167);
    let strict = &offer(&q, "plan-2")["cancellationPolicy"];
    // Check-in is at least 10 days away; a grace period needs 14.
    let seven_before = format!("{}T15:00:00Z", date_of(check_in - 7));
    if check_in - today() > 15 {
        assert_eq!(penalties(strict), [0, 166, 333], "{strict}");
        assert_eq!(froms(strict)[2], seven_before);
    } else {
        assert_eq!(froms(strict).last(), Some(&seven_before), "{strict}");
    }
}

/// Places of today's shape keep working: one standard FLEXIBLE plan, KRW, Asia/Seoul, check-in
/// at 15:00; and bodies the schema allows but no rule does are 422s naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_place_registered_as_before_gets_the_standard_plan_and_bad_terms_are_refused() {
    let rt = Local::start("terms-legacy", &[]).await;
    let place = rt.place("owner-k", 2, 100_000, true).await;
    let d = today() + 20;
    let (s, r) = rt
        .reserve("guest-k", &place, &date_of(d), &date_of(d + 1), 1)
        .await;
    assert_eq!(s, 202, "{r}");
    assert_eq!(r["currency"], "KRW");
    assert_eq!(r["ratePlan"]["ratePlanId"], "standard");
    assert_eq!(r["guests"], json!({"adults": 1, "children": 0}));
    let policy = &r["cancellationPolicy"];
    assert_eq!(policy["name"], "FLEXIBLE");
    assert_eq!(policy["timeZone"], "Asia/Seoul");
    assert_eq!(policy["checkInAt"], format!("{}T06:00:00Z", date_of(d)));

    let refused = [
        (json!({"timeZone": "Mars/Olympus"}), "timeZone"),
        (json!({"ratePlans": []}), "ratePlans"),
        (
            json!({"ratePlans": [{"name": "A", "ratePlanId": "x"}, {"name": "B", "ratePlanId": "x"}]}),
            "ratePlans[1].ratePlanId",
        ),
        (
            json!({"ratePlans": [{"name": "A", "priceAdjustmentPercent": -100}]}),
            "ratePlans[0].priceAdjustmentPercent",
        ),
        (
            json!({"ratePlans": [{"name": "A", "cancellationPolicy": {"tiers": [{"penaltyPercent": 0}, {"hoursBeforeCheckIn": 2, "penaltyPercent": 10}, {"hoursBeforeCheckIn": 48, "penaltyPercent": 50}]}}]}),
            "ratePlans[0].cancellationPolicy.tiers[2]",
        ),
    ];
    for (extra, field) in refused {
        let mut body = json!({"name": "Bad terms", "roomCount": 1, "nightlyPrice": 1});
        body.as_object_mut()
            .expect("object")
            .extend(extra.as_object().cloned().unwrap_or_default());
        let (s, e) = rt
            .call("POST", "/v1/places", Some("owner-k"), Some(body))
            .await;
        assert_eq!((s, e["field"].as_str()), (422, Some(field)), "{e}");
    }
    let (s, e) = rt
        .call(
            "POST",
            "/v1/places",
            Some("owner-k"),
            Some(json!({"name": "X", "roomCount": 1, "nightlyPrice": 1, "currency": "XYZ"})),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    assert!(
        e["detail"].as_str().is_some_and(|d| d.contains("ISO 4217")),
        "{e}"
    );
    let (s, e) = rt
        .call(
            "POST",
            "/v1/reservations",
            Some("guest-k"),
            Some(
                json!({"placeId": place, "checkIn": date_of(d), "checkOut": date_of(d + 1),
                          "leadGuest": {"name": "Kim", "email": "not-an-address"}}),
            ),
        )
        .await;
    assert_eq!(
        (s, e["field"].as_str()),
        (422, Some("leadGuest.email")),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_quote_and_booking_agree_on_every_offer() {
    let rt = Local::start("terms-agree", &[]).await;
    let mut rng = Rng::from_env("TERMS_SEED");
    let city = format!("Agreeville-{}", rng.next() % 1_000_000);
    let base_day = today() + 15;
    let mut places = vec![];
    for i in 0..4 {
        // One or two room types, each with its own calendar; a plan sells all or one of them.
        let types: Vec<(String, i64, Value)> = (0..rng.range(1, 2))
            .map(|t| {
                let rules = json!([
                    {"from": date_of(base_day + rng.range(0, 5)), "to": date_of(base_day + rng.range(6, 12)), "nightlyPrice": rng.range(500, 90_000)},
                    {"from": date_of(base_day), "to": date_of(base_day + 30), "nightlyPrice": rng.range(500, 90_000), "days": ["FRI", "SAT"]}
                ]);
                (format!("type-{t}"), rng.range(1, 30) * 1_000 + rng.range(0, 999), rules)
            })
            .collect();
        let room_types: Vec<Value> = types
            .iter()
            .map(|(id, base, rules)| {
                json!({"roomTypeId": id, "name": id, "roomCount": 60,
                                            "nightlyPrice": base, "priceRules": rules})
            })
            .collect();
        let mut plans: Vec<Value> = (0..rng.range(1, 3))
            .map(|j| json!({"name": format!("Plan {j}"), "priceAdjustmentPercent": rng.range(-30, 50),
                             "cancellationPolicy": *rng.pick(&["FLEXIBLE", "MODERATE", "STRICT", "NON_REFUNDABLE"])}))
            .collect();
        if types.len() > 1 && rng.chance(50) {
            plans.push(
                json!({"name": "Second type only", "roomTypeIds": ["type-1"],
                              "priceAdjustmentPercent": rng.range(-40, 0)}),
            );
        }
        let id = rt
            .place_with(
                "owner-a",
                json!({"name": format!("Agree {i}"), "city": city, "roomTypes": room_types, "ratePlans": plans}),
            )
            .await;
        places.push((id, types, plans));
    }
    for case in 0..4 {
        let check_in = base_day + rng.range(0, 10);
        let check_out = check_in + rng.range(1, 6);
        let rooms = rng.range(1, 3);
        let path = format!(
            "/v1/search?city={city}&checkIn={}&checkOut={}&rooms={rooms}&limit=50",
            date_of(check_in),
            date_of(check_out)
        );
        // Search follows the places by events: ask until every one is there.
        let mut hits = vec![];
        for _ in 0..200 {
            let (s, page) = rt.call("GET", &path, Some("guest-a"), None).await;
            assert_eq!(s, 200, "{page}");
            hits = page["items"].as_array().cloned().unwrap_or_default();
            if hits.len() == places.len() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert_eq!(hits.len(), places.len(), "search shows every place");
        for (id, types, plans) in &places {
            let q = quote(&rt, "guest-a", &stay(id, check_in, check_out, rooms)).await;
            let offers = q["offers"].as_array().cloned().unwrap_or_default();
            // Worked out here: every (room type, plan) a plan sells, each night's calendar price
            // of that room type adjusted and rounded down, times rooms.
            let mut want = vec![];
            for (type_id, base, rules) in types {
                for plan in plans {
                    let sells = plan["roomTypeIds"]
                        .as_array()
                        .is_none_or(|ids| ids.iter().any(|t| t == type_id.as_str()));
                    if sells {
                        let adjust = 100 + plan["priceAdjustmentPercent"].as_i64().unwrap_or(0);
                        let per_room: i64 = (check_in..check_out)
                            .map(|d| night_price(*base, rules, d) * adjust / 100)
                            .sum();
                        want.push((type_id.clone(), plan["name"].clone(), per_room * rooms));
                    }
                }
            }
            let got: Vec<(String, Value, i64)> = offers
                .iter()
                .map(|o| {
                    let type_id = o["roomType"]["roomTypeId"].as_str().unwrap_or_default();
                    (
                        type_id.to_string(),
                        o["name"].clone(),
                        o["total"].as_i64().unwrap_or(-1),
                    )
                })
                .collect();
            assert_eq!(got, want, "case {case}: {q}");
            let cheapest = offers
                .iter()
                .min_by_key(|o| o["total"].as_i64().unwrap_or(i64::MAX))
                .expect("an offer");
            let hit = hits
                .iter()
                .find(|h| h["placeId"] == id.as_str())
                .expect("in search");
            assert_eq!(
                (&hit["total"], &hit["roomTypeId"], &hit["ratePlanId"]),
                (
                    &cheapest["total"],
                    &cheapest["roomType"]["roomTypeId"],
                    &cheapest["ratePlanId"]
                ),
                "case {case}: search {hit} vs quote {q}"
            );
            for (k, o) in offers.iter().enumerate() {
                let mut body = json!({"placeId": id, "checkIn": date_of(check_in), "checkOut": date_of(check_out),
                                      "rooms": rooms, "roomTypeId": o["roomType"]["roomTypeId"],
                                      "ratePlanId": o["ratePlanId"]});
                // A quote's token is good for one booking: one offer per quote is booked with it.
                if k == case % offers.len() {
                    body["priceToken"] = q["priceToken"].clone();
                }
                let (s, r) = rt
                    .call("POST", "/v1/reservations", Some("guest-a"), Some(body))
                    .await;
                assert_eq!(s, 202, "case {case}: {r}");
                assert_eq!(r["amount"], o["total"], "case {case}: {r} vs {o}");
                assert_eq!(r["roomType"], o["roomType"], "case {case}");
                assert_eq!(
                    r["cancellationPolicy"]["name"],
                    o["cancellationPolicy"]["name"]
                );
            }
        }
    }
}

/// Every kind of stay rule at its boundary, through quote, booking and search alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stay_rules_refuse_the_same_stays_in_quote_booking_and_search() {
    let rt = Local::start("terms-rules", &[]).await;
    let b = today() + 40;
    // A Friday on or after `b`, for a weekend minimum stay.
    let friday = (b..b + 7)
        .find(|d| weekday_of(*d) == "FRI")
        .expect("a Friday");
    let city = format!("Ruleton-{}", Rng::from_env("RULES_SEED").next() % 1_000_000);
    let rules = json!([
        {"from": date_of(friday), "to": date_of(friday + 2), "days": ["FRI", "SAT"], "minStay": 2},
        {"from": date_of(b + 20), "to": date_of(b + 21), "maxStay": 3},
        {"from": date_of(b + 25), "to": date_of(b + 26), "closedToArrival": true},
        {"from": date_of(b + 27), "to": date_of(b + 28), "closedToDeparture": true},
        {"from": date_of(b + 30), "to": date_of(b + 32), "closed": true}
    ]);
    let place = rt
        .place_with(
            "owner-r",
            json!({"name": "Rule House", "roomCount": 50, "nightlyPrice": 1_000, "city": city, "restrictions": rules}),
        )
        .await;
    // (check-in, check-out, the field a refusal names or None when sold)
    let cases = [
        (friday, friday + 1, Some("checkOut")),
        (friday, friday + 2, None),
        (friday - 1, friday + 1, None),
        (b + 20, b + 23, None),
        (b + 20, b + 24, Some("checkOut")),
        (b + 19, b + 24, None),
        (b + 25, b + 26, Some("checkIn")),
        (b + 24, b + 26, None),
        (b + 26, b + 27, Some("checkOut")),
        (b + 26, b + 28, None),
        (b + 28, b + 30, None),
        (b + 29, b + 31, Some("checkIn")),
        (b + 31, b + 33, Some("checkIn")),
        (b + 32, b + 33, None),
    ];
    for (check_in, check_out, refused) in cases {
        let what = format!("{} to {}", date_of(check_in), date_of(check_out));
        let (s, q) = rt
            .call(
                "GET",
                &stay(&place, check_in, check_out, 1),
                Some("guest-r"),
                None,
            )
            .await;
        let (bs, r) = rt
            .reserve(
                "guest-r",
                &place,
                &date_of(check_in),
                &date_of(check_out),
                1,
            )
            .await;
        let path = format!(
            "/v1/search?city={city}&checkIn={}&checkOut={}",
            date_of(check_in),
            date_of(check_out)
        );
        let mut found = 0;
        for _ in 0..200 {
            let (_, page) = rt.call("GET", &path, Some("guest-r"), None).await;
            found = page["items"].as_array().map_or(0, Vec::len);
            if found == 1 || refused.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        match refused {
            Some(field) => {
                assert_eq!(
                    (s, q["field"].as_str()),
                    (422, Some(field)),
                    "quote {what}: {q}"
                );
                assert_eq!(
                    (bs, r["field"].as_str()),
                    (422, Some(field)),
                    "booking {what}: {r}"
                );
                assert_eq!(found, 0, "search {what}");
            }
            None => {
                assert_eq!(s, 200, "quote {what}: {q}");
                assert_eq!(bs, 202, "booking {what}: {r}");
                assert_eq!(found, 1, "search {what}");
            }
        }
    }
}
