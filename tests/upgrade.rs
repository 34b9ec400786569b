//! A data directory written by the previous release (`tests/fixtures/data-1b37cf4.sql`, dumped
//! from the runtime of commit 1b37cf4: two places of the old shape in "Upgradeville", one instant
//! and one request-to-book, each with a confirmed reservation, their payments, views and events)
//! opened by this one: old places read as one standard FLEXIBLE plan in KRW and Asia/Seoul, old
//! reservations keep their amounts, and everything still works on them.

use crate::support::{Local, date_of, fresh_dir, today};
use serde_json::{Value, json};

const HANOK: &str = "01a24bc3-05fd-7446-b46b-90448c8ccc2c";
const LOFT: &str = "01a24bc3-0694-72cf-9bc4-0c7d8a082aa1";
const HANOK_STAY: &str = "01a24bc3-0f12-727a-abd1-1cf62a474927";
const LOFT_STAY: &str = "01a24bc3-0f1e-72ea-a382-5b4d40376bb6";

fn restore_previous_release() -> std::path::PathBuf {
    let dir = fresh_dir("upgrade");
    let dump = include_str!("fixtures/data-1b37cf4.sql");
    let db = rusqlite::Connection::open(dir.join("reserveplace.db")).expect("open");
    db.execute_batch(dump).expect("restore the dump");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_of_the_previous_release_opens_and_keeps_working() {
    let rt = Local::start_in(restore_previous_release(), &[]).await;

    let (s, detail) = rt
        .call(
            "GET",
            &format!("/v1/places/{HANOK}"),
            Some("owner-v0"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{detail}");
    let place = &detail["place"];
    assert_eq!(
        (
            &place["currency"],
            &place["timeZone"],
            &place["checkInTime"]
        ),
        (&json!("KRW"), &json!("Asia/Seoul"), &json!("15:00"))
    );
    assert_eq!(
        place["ratePlans"],
        json!([{"ratePlanId": "standard", "name": "Standard rate",
                "priceAdjustmentPercent": 0, "cancellationPolicy": "FLEXIBLE"}])
    );
    // One room type, `standard`, described by the old fields; the old nights are its nights.
    assert_eq!(
        place["roomTypes"],
        json!([{"roomTypeId": "standard", "name": "Standard room", "roomCount": place["roomCount"],
                "maxGuests": place["guests"], "nightlyPrice": place["nightlyPrice"],
                "priceRules": place["priceRules"]}])
    );
    let nights = detail["nights"].as_array().cloned().unwrap_or_default();
    assert!(
        !nights.is_empty()
            && nights
                .iter()
                .all(|n| n["roomTypeId"] == "standard" && n["held"].as_i64() > Some(0)),
        "{detail}"
    );

    for (id, amount) in [(HANOK_STAY, 220_000), (LOFT_STAY, 160_000)] {
        let r = rt.reservation("guest-v0", id).await;
        assert_eq!(
            (
                &r["status"],
                &r["amount"],
                &r["currency"],
                &r["roomType"]["roomTypeId"]
            ),
            (
                &json!("CONFIRMED"),
                &json!(amount),
                &json!("KRW"),
                &json!("standard")
            ),
            "{r}"
        );
        assert!(
            r.get("cancellationPolicy").is_none(),
            "no policy was sold: {r}"
        );
        let (s, row) = rt
            .call("GET", &format!("/v1/mypages/{id}"), Some("guest-v0"), None)
            .await;
        assert_eq!((s, &row["amount"]), (200, &json!(amount)), "{row}");
    }
    let (s, rows) = rt
        .call("GET", "/v1/owner/reservations", Some("owner-v0"), None)
        .await;
    assert_eq!(s, 200, "{rows}");
    assert_eq!(rows["items"].as_array().map(Vec::len), Some(2), "{rows}");

    // Search reads the old catalogue items as the standard plan.
    let d = today() + 30;
    let (s, page) = rt
        .call(
            "GET",
            &format!(
                "/v1/search?city=Upgradeville&checkIn={}&checkOut={}",
                date_of(d),
                date_of(d + 1)
            ),
            Some("guest-n"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{page}");
    let hits: Vec<(&str, &str)> = page["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|h| Some((h["placeId"].as_str()?, h["ratePlanId"].as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(hits.len(), 2, "{page}");
    assert!(hits.iter().all(|(_, plan)| *plan == "standard"), "{page}");

    // A new booking of an old place gets the standard plan's terms.
    let (s, r) = rt
        .call(
            "POST",
            "/v1/reservations",
            Some("guest-n"),
            Some(
                json!({"placeId": HANOK, "checkIn": date_of(d), "checkOut": date_of(d + 1),
                        "guests": {"adults": 2}}),
            ),
        )
        .await;
    assert_eq!(s, 202, "{r}");
    assert_eq!(r["cancellationPolicy"]["name"], "FLEXIBLE");
    let id = r["reservationId"].as_str().expect("id").to_string();
    rt.wait_status("guest-n", &id, "CONFIRMED", None).await;

    // The owner gives the old place plans; the old stays keep what they were sold.
    let (s, u) = rt
        .call(
            "PATCH",
            &format!("/v1/places/{LOFT}"),
            Some("owner-v0"),
            Some(json!({"ratePlans": [{"name": "Flexible"}, {"name": "Saver", "priceAdjustmentPercent": -15, "cancellationPolicy": "NON_REFUNDABLE"}]})),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["ratePlans"][1]["ratePlanId"], "plan-2", "{u}");

    // A reservation of the old release is cancelled and refunded in full, as it was sold.
    let (s, c) = rt
        .call(
            "POST",
            &format!("/v1/reservations/{LOFT_STAY}/cancel"),
            Some("guest-v0"),
            None,
        )
        .await;
    assert!(s == 200 || s == 202, "{s} {c}");
    rt.wait_for("the refund", || async {
        let (_, p): (u16, Value) = rt.payment("guest-v0", LOFT_STAY).await;
        p["status"] == "REFUNDED" && p["amount"] == 160_000
    })
    .await;
}
