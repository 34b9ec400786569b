//! Client mistakes are 4xx problem+json with nothing stored — never 5xx.
mod support;

use serde_json::json;
use support::{Local, day};

#[tokio::test]
async fn invalid_requests_are_4xx_problems_and_store_nothing() {
    let rt = Local::start("invalid", &[]).await;
    let place = rt.place("olivia", 2, 10_000, true).await;
    let before = rt.events(None).await.len();

    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "reversed dates",
            json!({"placeId": place, "checkIn": day(5), "checkOut": day(3)})
                .to_string()
                .into_bytes(),
            422,
            "/problems/invalid-request",
        ),
        (
            "zero nights",
            json!({"placeId": place, "checkIn": day(5), "checkOut": day(5)})
                .to_string()
                .into_bytes(),
            422,
            "/problems/invalid-request",
        ),
        (
            "bad date",
            json!({"placeId": place, "checkIn": "2024-13-01", "checkOut": day(5)})
                .to_string()
                .into_bytes(),
            422,
            "/problems/invalid-request",
        ),
        (
            "epoch millis",
            json!({"placeId": place, "checkIn": 1708589735956u64, "checkOut": day(5)})
                .to_string()
                .into_bytes(),
            400,
            "/problems/malformed-request",
        ),
        (
            "more than 30 nights",
            json!({"placeId": place, "checkIn": day(3), "checkOut": day(34)})
                .to_string()
                .into_bytes(),
            422,
            "/problems/invalid-request",
        ),
        (
            "rooms < 1",
            json!({"placeId": place, "checkIn": day(3), "checkOut": day(4), "rooms": 0})
                .to_string()
                .into_bytes(),
            422,
            "/problems/invalid-request",
        ),
        (
            "fractional rooms",
            json!({"placeId": place, "checkIn": day(3), "checkOut": day(4), "rooms": 1.5})
                .to_string()
                .into_bytes(),
            400,
            "/problems/malformed-request",
        ),
        (
            "unknown place",
            json!({"placeId": "nope", "checkIn": day(3), "checkOut": day(4)})
                .to_string()
                .into_bytes(),
            404,
            "/problems/not-found",
        ),
        (
            "past check-in",
            json!({"placeId": place, "checkIn": "2020-01-01", "checkOut": "2020-01-02"})
                .to_string()
                .into_bytes(),
            422,
            "/problems/invalid-request",
        ),
        (
            "malformed JSON",
            b"{\"placeId\": ".to_vec(),
            400,
            "/problems/malformed-request",
        ),
        (
            "not an object",
            b"[1,2]".to_vec(),
            400,
            "/problems/malformed-request",
        ),
        (
            "unknown field",
            json!({"placeId": place, "checkIn": day(3), "checkOut": day(4), "amount": 1})
                .to_string()
                .into_bytes(),
            400,
            "/problems/malformed-request",
        ),
        ("empty body", Vec::new(), 400, "/problems/malformed-request"),
        (
            "oversize body",
            format!("{{\"placeId\": \"{}\"}}", "x".repeat(64 * 1024)).into_bytes(),
            413,
            "/problems/payload-too-large",
        ),
    ];
    for (what, body, status, kind) in cases {
        let (s, ctype, p) = rt
            .raw("POST", "/v1/reservations", Some("alice"), body)
            .await;
        assert_eq!(s, status, "{what}: {p}");
        assert_eq!(ctype, "application/problem+json", "{what}");
        assert_eq!(p["type"], kind, "{what}: {p}");
        assert_eq!(p["status"], status, "{what}");
        assert!(
            p["title"].is_string() && p["detail"].is_string(),
            "{what}: {p}"
        );
    }
    // No identity.
    let (s, ctype, p) = rt
        .raw(
            "POST",
            "/v1/reservations",
            None,
            json!({"placeId": place, "checkIn": day(3), "checkOut": day(4)})
                .to_string()
                .into_bytes(),
        )
        .await;
    assert_eq!(
        (s, ctype.as_str(), p["type"].as_str()),
        (
            401,
            "application/problem+json",
            Some("/problems/unauthenticated")
        )
    );
    // Unknown route and wrong method.
    let (s, _, p) = rt
        .raw("GET", "/v1/nothing-here", Some("alice"), vec![])
        .await;
    assert_eq!((s, p["type"].as_str()), (404, Some("/problems/not-found")));
    let (s, _, _) = rt
        .raw("DELETE", "/v1/reservations", Some("alice"), vec![])
        .await;
    assert_eq!(s, 405);
    // Places: invalid registration.
    for bad in [
        json!({"name": "", "roomCount": 1, "nightlyPrice": 1}),
        json!({"name": "x", "roomCount": -1, "nightlyPrice": 1}),
        json!({"name": "x", "roomCount": 1, "nightlyPrice": 1.5}),
    ] {
        let (s, _, p) = rt
            .raw(
                "POST",
                "/v1/places",
                Some("olivia"),
                bad.to_string().into_bytes(),
            )
            .await;
        assert!(s == 400 || s == 422, "{p}");
    }
    // Seed facade: fractional money and bad dates are refused too.
    let (s, _, p) = rt
        .raw("POST", "/accommodations", None, json!({"placeNm": "t", "usrId": "2", "strDt": "2024-02-21T00:00", "endDt": "20240222", "qty": "1", "amount": "5000", "placeId": place}).to_string().into_bytes())
        .await;
    assert_eq!(s, 422, "{p}");
    let (s, _, p) = rt
        .raw("POST", "/accommodations", None, json!({"placeNm": "t", "usrId": "2", "strDt": "20240221", "endDt": "20240222", "qty": "1", "amount": "50.5", "placeId": place}).to_string().into_bytes())
        .await;
    assert_eq!(s, 422, "{p}");

    // Nothing was stored: no new events and no reservation of alice's.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        rt.events(None).await.len(),
        before,
        "no event was published for a refused request"
    );
    let (_, mine) = rt.call("GET", "/v1/mypages", Some("alice"), None).await;
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(0));
}
