//! The seed README's httpie walkthrough, unchanged (every value a JSON string, as httpie sends it),
//! with the event order of `docs/design.md` (section 2) for each reservation.

use crate::support::{Local, assert_subsequence};
use serde_json::json;

#[tokio::test]
async fn seed_walkthrough_runs_unchanged() {
    let rt = Local::start("seed", &[]).await;
    // http POST localhost:8080/reservationManagements placeId=1 stock=1
    let (s, b) = rt
        .call(
            "POST",
            "/reservationManagements",
            None,
            Some(json!({"placeId": "1", "stock": "1"})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["stock"], 1);
    rt.wait_for("catalogue", || async {
        rt.events(None)
            .await
            .iter()
            .any(|e| e["detail-type"] == "PlaceRegistered")
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    // http POST localhost:8080/accommodations placeNm=test01 status=예약처리 usrId=2 strDt=20240221 endDt=20240222 qty=1 amount=5000 placeId=1
    let body = |usr: &str| json!({"placeNm": "test01", "status": "예약처리", "usrId": usr, "strDt": "20240221", "endDt": "20240222", "qty": "1", "amount": "5000", "placeId": "1"});
    let (s, first) = rt
        .call("POST", "/accommodations", None, Some(body("2")))
        .await;
    assert_eq!(s, 201, "{first}");
    assert_eq!(first["orderId"], 1);
    assert_eq!(first["status"], "예약처리");
    assert_eq!(first["amount"], 5000);
    rt.wait_for("mypage 1 예약완료", || async {
        let (s, m) = rt.call("GET", "/mypages/1", None, None).await;
        s == 200 && m["status"] == "예약완료"
    })
    .await;
    let (_, m) = rt.call("GET", "/mypages/1", None, None).await;
    assert_eq!(m["placeNm"], "test01");
    assert_eq!(m["usrId"], "2");
    assert_eq!(m["placeId"], 1);
    assert_eq!(m["amount"], 5000);

    // http POST ... usrId=33 (same night, stock exhausted)
    let (s, second) = rt
        .call("POST", "/accommodations", None, Some(body("33")))
        .await;
    assert_eq!(s, 201, "{second}");
    assert_eq!(second["orderId"], 2);
    rt.wait_for("mypage 2 예약취소", || async {
        let (s, m) = rt.call("GET", "/mypages/2", None, None).await;
        s == 200 && m["status"] == "예약취소" && m["payStatus"] == "결제취소"
    })
    .await;
    let (_, m2) = rt.call("GET", "/mypages/2", None, None).await;
    assert_eq!(m2["amount"], 5000, "the seed left a null amount here");

    assert_subsequence(
        &rt.event_names("1").await,
        &[
            "ReservationPlaced",
            "PaymentAuthorized",
            "RoomsHeld",
            "ReservationConfirmed",
            "ReservationStatusChanged",
            "PaymentCaptured",
        ],
    );
    let confirmed = rt.events(Some("1")).await;
    assert!(
        confirmed
            .iter()
            .any(|e| e["detail-type"] == "ReservationStatusChanged"
                && e["detail"]["status"] == "CONFIRMED")
    );
    assert_subsequence(
        &rt.event_names("2").await,
        &[
            "ReservationPlaced",
            "PaymentAuthorized",
            "ReservationCancelConfirmed",
            "PaymentVoided",
            "ReservationCanceled",
        ],
    );
    // Numbers work as numbers too.
    let (s, _) = rt
        .call(
            "POST",
            "/reservationManagements",
            None,
            Some(json!({"placeId": 2, "stock": 3})),
        )
        .await;
    assert_eq!(s, 201);
    // Updating the stock of an existing place answers 200.
    let (s, b) = rt
        .call(
            "POST",
            "/reservationManagements",
            None,
            Some(json!({"placeId": "2", "stock": "5"})),
        )
        .await;
    assert_eq!((s, b["stock"].as_i64()), (200, Some(5)));
}

/// Reserves one night as a seed client would (every value a string).
fn seed_booking(usr: &str, place: &str, night: (&str, &str), amount: &str) -> serde_json::Value {
    json!({"placeNm": "x", "status": "예약처리", "usrId": usr, "strDt": night.0, "endDt": night.1, "qty": "1", "amount": amount, "placeId": place})
}

/// The facade acts only inside its own world: it can neither book a `/v1` place nor act in a `/v1`
/// user's name, and what it shows never includes a `/v1` reservation.
#[tokio::test]
async fn anonymous_seed_calls_cannot_touch_v1_users_or_places() {
    let rt = Local::start("seed-isolation", &[]).await;
    let place = rt.place("olivia", 1, 30_000, true).await;
    let (ci, co) = (crate::support::day(30), crate::support::day(31));
    let night = (ci.replace('-', ""), co.replace('-', ""));
    let night = (night.0.as_str(), night.1.as_str());

    // A /v1 place through the facade, in a /v1 user's name, at a made-up amount: unknown there.
    let (s, b) = rt
        .call(
            "POST",
            "/accommodations",
            None,
            Some(seed_booking("alice", &place, night, "1")),
        )
        .await;
    assert_eq!(s, 404, "the facade must not know /v1 places: {b}");
    // Nor can it change the /v1 place's stock.
    let (s, _) = rt
        .call(
            "POST",
            "/reservationManagements",
            None,
            Some(json!({"placeId": place, "stock": "0"})),
        )
        .await;
    assert!(
        s == 201 || s == 200,
        "a seed place of that name is its own place"
    );
    let (_, p) = rt
        .call("GET", &format!("/v1/places/{place}"), Some("olivia"), None)
        .await;
    assert_eq!(p["place"]["roomCount"], 1, "{p}");

    // A seed booking in the seed's own place, under a usrId that is also a /v1 user's id.
    let (s, _) = rt
        .call(
            "POST",
            "/reservationManagements",
            None,
            Some(json!({"placeId": "1", "stock": "1"})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, order) = rt
        .call(
            "POST",
            "/accommodations",
            None,
            Some(seed_booking("alice", "1", night, "5000")),
        )
        .await;
    assert_eq!(s, 201, "{order}");
    assert_eq!(order["usrId"], "alice");
    rt.wait_for("seed order 1 confirmed", || async {
        let (s, m) = rt.call("GET", "/mypages/1", None, None).await;
        s == 200 && m["status"] == "예약완료"
    })
    .await;
    let (_, m) = rt.call("GET", "/mypages/1", None, None).await;
    assert_eq!(
        (m["usrId"].clone(), m["placeId"].clone()),
        (json!("alice"), json!(1))
    );

    // The /v1 user alice sees none of it: no stay, no payment, no points.
    let (s, list) = rt.call("GET", "/v1/mypages", Some("alice"), None).await;
    assert_eq!(s, 200);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0), "{list}");
    let (s, _) = rt
        .call("GET", "/v1/reservations/1", Some("alice"), None)
        .await;
    assert_eq!(s, 404);
    let (s, _) = rt.call("GET", "/v1/mypages/1", Some("alice"), None).await;
    assert_eq!(s, 404);
    let (s, _) = rt.payment("alice", "1").await;
    assert_eq!(s, 404);
    // Nor can a /v1 subject spelled like the facade's internal ids reach the seed's world.
    for who in ["seed:user:alice", "seed:owner"] {
        let (s, _) = rt.call("GET", "/v1/reservations/1", Some(who), None).await;
        assert!(s == 401 || s == 404, "{who}: {s}");
        let (s, l) = rt.call("GET", "/v1/mypages", Some(who), None).await;
        assert!(
            s == 401 || l["items"].as_array().is_some_and(Vec::is_empty),
            "{who}: {l}"
        );
    }

    // /v1 refuses seed places: neither shown nor bookable.
    let (s, _) = rt.call("GET", "/v1/places/1", Some("olivia"), None).await;
    assert_eq!(s, 404);
    let (s, _) = rt
        .call("GET", "/v1/places/seed:place:1", Some("olivia"), None)
        .await;
    assert_eq!(s, 404);
    for id in ["1", "seed:place:1"] {
        let (s, b) = rt.reserve("bob", id, &ci, &co, 1).await;
        assert_eq!(s, 404, "{id}: {b}");
    }

    // The real customer still gets the /v1 place's only room on that night.
    let (s, r) = rt.reserve("bob", &place, &ci, &co, 1).await;
    assert_eq!(s, 202, "{r}");
    let id = r["reservationId"].as_str().expect("id").to_string();
    rt.wait_status("bob", &id, "CONFIRMED", None).await;
    // And the facade never shows a /v1 reservation.
    let (s, _) = rt.call("GET", &format!("/mypages/{id}"), None, None).await;
    assert_eq!(s, 404);

    let (_, points) = rt.call("GET", "/v1/loyalty", Some("alice"), None).await;
    assert_eq!(points["points"].as_i64().unwrap_or(0), 0, "{points}");

    // The facade's amounts are bounded.
    let (s, b) = rt
        .call(
            "POST",
            "/accommodations",
            None,
            Some(seed_booking("2", "1", night, "100000001")),
        )
        .await;
    assert_eq!(s, 422, "{b}");
}

/// An idempotent registration's id is random: nobody can register it first and make the owner's
/// own request fail; nor can anyone predict the id of an idempotent reservation.
#[tokio::test]
async fn idempotent_ids_cannot_be_predicted_or_squatted() {
    let rt = Local::start("seed-squat", &[]).await;
    // The id olivia's `Idempotency-Key: k1` used to name: a UUIDv5 of a namespace in the source,
    // the owner and the key — computable by anyone.
    let predicted = "d8ba2602-7976-5803-8781-c004e6570b51";
    let (s, b) = rt
        .call(
            "POST",
            "/reservationManagements",
            None,
            Some(json!({"placeId": predicted, "stock": "5"})),
        )
        .await;
    assert!(s == 201 || s == 422, "{b}");

    let body =
        json!({"name": "Sea view", "roomCount": 2, "nightlyPrice": 50000, "instantBook": true});
    let key = [("idempotency-key", "k1")];
    let (s, first) = rt
        .call_with(
            "POST",
            "/v1/places",
            Some("olivia"),
            Some(body.clone()),
            &key,
        )
        .await;
    assert_eq!(s, 201, "the owner's own request must succeed: {first}");
    let id = first["placeId"].as_str().expect("placeId").to_string();
    assert_ne!(id, predicted);
    let (s, again) = rt
        .call_with(
            "POST",
            "/v1/places",
            Some("olivia"),
            Some(body.clone()),
            &key,
        )
        .await;
    assert_eq!((s, again["placeId"].as_str()), (200, Some(id.as_str())));
    // The same key of another owner is another place; a different body under the key is a conflict.
    let (s, other) = rt
        .call_with(
            "POST",
            "/v1/places",
            Some("oscar"),
            Some(body.clone()),
            &key,
        )
        .await;
    assert_eq!(s, 201);
    assert_ne!(other["placeId"].as_str(), Some(id.as_str()));
    let changed =
        json!({"name": "Sea view", "roomCount": 3, "nightlyPrice": 50000, "instantBook": true});
    let (s, _) = rt
        .call_with("POST", "/v1/places", Some("olivia"), Some(changed), &key)
        .await;
    assert_eq!(s, 409);

    // Reservations: the id under an Idempotency-Key is random too, and stable for repeats.
    let place = rt.place("olivia", 2, 100, true).await;
    let stay = json!({"placeId": place, "checkIn": crate::support::day(20), "checkOut": crate::support::day(21)});
    let key = [("idempotency-key", "trip-1")];
    let (s, r1) = rt
        .call_with(
            "POST",
            "/v1/reservations",
            Some("alice"),
            Some(stay.clone()),
            &key,
        )
        .await;
    assert_eq!(s, 202, "{r1}");
    let rid = r1["reservationId"].as_str().expect("id").to_string();
    // What alice's `Idempotency-Key: trip-1` used to name, likewise.
    let guessed = "ddf8a2ed-fd1d-5a4f-870e-ad43b652e2b0";
    assert_ne!(
        rid, guessed,
        "a reservation id must not be derivable from user and key"
    );
    let (s, r2) = rt
        .call_with("POST", "/v1/reservations", Some("alice"), Some(stay), &key)
        .await;
    assert_eq!((s, r2["reservationId"].as_str()), (202, Some(rid.as_str())));
}

/// Many seed clients at once: every one gets its own order number, none a 5xx.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_seed_reservations_all_get_distinct_order_numbers() {
    let rt = std::sync::Arc::new(Local::start("seed-concurrent", &[]).await);
    let (s, _) = rt
        .call(
            "POST",
            "/reservationManagements",
            None,
            Some(json!({"placeId": "1", "stock": "100"})),
        )
        .await;
    assert_eq!(s, 201);
    // Only contention for order numbers here: let the catalogue copy arrive first.
    rt.wait_for("catalogue", || async {
        rt.events(None)
            .await
            .iter()
            .any(|e| e["detail-type"] == "PlaceRegistered")
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let clients: Vec<_> = (0..128)
        .map(|i| {
            let rt = rt.clone();
            tokio::spawn(async move {
                rt.call(
                    "POST",
                    "/accommodations",
                    None,
                    Some(seed_booking(
                        &i.to_string(),
                        "1",
                        ("20240221", "20240222"),
                        "5000",
                    )),
                )
                .await
            })
        })
        .collect();
    let mut orders = Vec::new();
    for c in clients {
        let (s, b) = c.await.expect("join");
        assert_eq!(s, 201, "{b}");
        orders.push(b["orderId"].as_i64().expect("orderId"));
    }
    orders.sort_unstable();
    assert_eq!(
        orders,
        (1..=128).collect::<Vec<i64>>(),
        "distinct, consecutive order numbers"
    );
}

/// A client that registers a place and books it at once is not told the place does not exist,
/// even while events are delivered late (here: up to 400 ms).
#[tokio::test]
async fn a_place_can_be_booked_right_after_registering_it() {
    let rt = Local::start("seed-ryw", &["--delivery-jitter-ms", "400"]).await;
    for round in 0..3 {
        let (s, p) = rt
            .call("POST", "/v1/places", Some("olivia"), Some(json!({"name": "Cabin", "roomCount": 1, "nightlyPrice": 100, "instantBook": true})))
            .await;
        assert_eq!(s, 201, "{p}");
        let place = p["placeId"].as_str().expect("placeId");
        let (s, r) = rt
            .reserve(
                "alice",
                place,
                &crate::support::day(10),
                &crate::support::day(11),
                1,
            )
            .await;
        assert_eq!(s, 202, "round {round}: {r}");

        let seed_place = format!("ryw{round}");
        let (s, _) = rt
            .call(
                "POST",
                "/reservationManagements",
                None,
                Some(json!({"placeId": seed_place, "stock": "1"})),
            )
            .await;
        assert_eq!(s, 201);
        let (s, b) = rt
            .call(
                "POST",
                "/accommodations",
                None,
                Some(seed_booking(
                    "2",
                    &seed_place,
                    ("20240221", "20240222"),
                    "5000",
                )),
            )
            .await;
        assert_eq!(s, 201, "round {round}: {b}");
    }
}

/// The facade's place ids are any text; its `Location` header stays a valid URI reference.
#[tokio::test]
async fn a_seed_location_header_percent_encodes_the_place_id() {
    let rt = Local::start("seed-location", &[]).await;
    let resp = reqwest::Client::new()
        .post(format!("{}/reservationManagements", rt.base))
        .json(&json!({"placeId": "Û a/b", "stock": 1}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 201);
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    assert_eq!(
        location.as_deref(),
        Some("/reservationManagements/%C3%9B%20a%2Fb")
    );
}
