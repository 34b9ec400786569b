//! Client mistakes are 4xx problem+json with nothing stored — never 5xx.

use crate::support::{Local, day};
use serde_json::json;

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
    // Place facts and price rules: the offending field is named.
    let rule = |from: &str, to: &str, extra: serde_json::Value| {
        let mut r = json!({"from": from, "to": to, "nightlyPrice": 1});
        if let (Some(r), Some(extra)) = (r.as_object_mut(), extra.as_object()) {
            r.extend(extra.clone());
        }
        r
    };
    let ok = rule("2027-01-01", "2027-02-01", json!({}));
    for (bad, field) in [
        (json!({"city": "   "}), "city"),
        (json!({"city": "c".repeat(61)}), "city"),
        (json!({"address": "a".repeat(201)}), "address"),
        (json!({"description": "d".repeat(1001)}), "description"),
        (json!({"guests": 0}), "guests"),
        (json!({"guests": 21}), "guests"),
        (json!({"priceRules": vec![ok.clone(); 51]}), "priceRules"),
        (
            json!({"priceRules": [ok.clone(), rule("2027-01-02", "2027-01-02", json!({}))]}),
            "priceRules[1].to",
        ),
        (
            json!({"priceRules": [rule("2027-01-01", "2028-01-03", json!({}))]}),
            "priceRules[0].to",
        ),
        (
            json!({"priceRules": [rule("2027-01-01", "2027-01-02", json!({"nightlyPrice": 100_000_001}))]}),
            "priceRules[0].nightlyPrice",
        ),
        (
            json!({"priceRules": [rule("2027-01-01", "2027-01-02", json!({"days": ["SAT", "SAT"]}))]}),
            "priceRules[0].days",
        ),
    ] {
        let mut body = json!({"name": "x", "roomCount": 1, "nightlyPrice": 1});
        if let (Some(b), Some(bad)) = (body.as_object_mut(), bad.as_object()) {
            b.extend(bad.clone());
        }
        let (s, _, p) = rt
            .raw(
                "POST",
                "/v1/places",
                Some("olivia"),
                body.to_string().into_bytes(),
            )
            .await;
        assert_eq!((s, p["field"].as_str()), (422, Some(field)), "{p}");
        // The same through PATCH, for the patchable fields.
        if bad.get("city").is_none() {
            let (s, _, p) = rt
                .raw(
                    "PATCH",
                    &format!("/v1/places/{place}"),
                    Some("olivia"),
                    bad.to_string().into_bytes(),
                )
                .await;
            assert_eq!((s, p["field"].as_str()), (422, Some(field)), "PATCH {p}");
        }
    }
    // A weekday that does not exist and a rule with an unknown field do not parse (400).
    for bad in [
        json!({"priceRules": [rule("2027-01-01", "2027-01-02", json!({"days": ["FUN"]}))]}),
        json!({"priceRules": [rule("2027-01-01", "2027-01-02", json!({"price": 5}))]}),
    ] {
        let (s, _, p) = rt
            .raw(
                "PATCH",
                &format!("/v1/places/{place}"),
                Some("olivia"),
                bad.to_string().into_bytes(),
            )
            .await;
        assert_eq!(s, 400, "{p}");
    }
    // The city is fixed at registration: PATCH has no such field.
    let (s, _, p) = rt
        .raw(
            "PATCH",
            &format!("/v1/places/{place}"),
            Some("olivia"),
            json!({"city": "Busan"}).to_string().into_bytes(),
        )
        .await;
    assert_eq!(
        (s, p["type"].as_str()),
        (400, Some("/problems/malformed-request")),
        "{p}"
    );
    assert!(
        p["detail"].as_str().is_some_and(|d| d.contains("city")),
        "{p}"
    );
    // Quotes: the stay follows a reservation's rules.
    for (query, field) in [
        (
            format!("checkIn={}&checkOut={}", day(5), day(3)),
            "checkOut",
        ),
        (
            format!("checkIn={}&checkOut={}", day(3), day(34)),
            "checkOut",
        ),
        (format!("checkIn={}", day(3)), "checkOut"),
        (format!("checkIn=2024-13-01&checkOut={}", day(3)), "checkIn"),
        (
            format!("checkIn={}&checkOut={}&rooms=0", day(3), day(4)),
            "rooms",
        ),
        (
            format!("checkIn={}&checkOut={}&rooms=1.5", day(3), day(4)),
            "rooms",
        ),
        (
            format!("checkIn={}&checkOut={}&rooms=101", day(3), day(4)),
            "rooms",
        ),
        (
            "checkIn=2020-01-01&checkOut=2020-01-02".to_string(),
            "checkIn",
        ),
    ] {
        let (s, ctype, p) = rt
            .raw(
                "GET",
                &format!("/v1/places/{place}/quote?{query}"),
                Some("alice"),
                vec![],
            )
            .await;
        assert_eq!(
            (s, ctype.as_str()),
            (422, "application/problem+json"),
            "{query}: {p}"
        );
        assert_eq!(p["field"].as_str(), Some(field), "{query}: {p}");
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

/// POSTs `body` with exactly these headers (and the caller's development token).
async fn post(
    rt: &Local,
    path: &str,
    user: &str,
    headers: &[(&str, reqwest::header::HeaderValue)],
    body: Vec<u8>,
) -> (u16, String, serde_json::Value, reqwest::header::HeaderMap) {
    let mut req = rt
        .http
        .post(format!("{}{path}", rt.base))
        .header("authorization", format!("Bearer dev:{user}"))
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, v.clone());
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let head = resp.headers().clone();
    let ctype = head
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = resp.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (status, ctype, value, head)
}

fn hv(s: &str) -> reqwest::header::HeaderValue {
    reqwest::header::HeaderValue::from_bytes(s.as_bytes()).expect("header value")
}

fn assert_problem(what: &str, got: (u16, &str, &serde_json::Value), status: u16, kind: &str) {
    let (s, ctype, p) = got;
    assert_eq!(s, status, "{what}: {p}");
    assert_eq!(ctype, "application/problem+json", "{what}");
    assert_eq!(p["type"], kind, "{what}: {p}");
    assert_eq!(p["status"], status, "{what}");
}

/// Inputs the API used to take although `openapi.yaml` (or common sense) refuses them.
#[tokio::test]
async fn unreadable_headers_odd_text_far_dates_and_non_json_bodies_are_refused() {
    let rt = Local::start("invalid-more", &[]).await;
    let place = rt.place("olivia", 2, 10_000, true).await;
    let json = hv("application/json");
    let stay = |check_in: String, check_out: String| {
        json!({"placeId": place, "checkIn": check_in, "checkOut": check_out})
            .to_string()
            .into_bytes()
    };

    // A non-ASCII Idempotency-Key is refused, not silently ignored.
    let (s, ct, p, _) = post(
        &rt,
        "/v1/reservations",
        "alice",
        &[
            ("content-type", json.clone()),
            ("idempotency-key", hv("caf\u{e9}-1")),
        ],
        stay(day(3), day(4)),
    )
    .await;
    assert_problem(
        "non-ASCII key",
        (s, &ct, &p),
        400,
        "/problems/invalid-idempotency-key",
    );

    // Place names: control characters, invisible-only, too many characters.
    for (what, name) in [
        ("NUL", "a\u{0}b".to_string()),
        ("ESC", "\u{1b}[31mred".to_string()),
        ("newline", "two\nlines".to_string()),
        ("C1", "x\u{85}".to_string()),
        ("zero-width only", "\u{200B}\u{200C}\u{200D}".to_string()),
        ("BOM only", "\u{FEFF}".to_string()),
        ("word joiner and spaces", " \u{2060} ".to_string()),
        ("201 characters", "한".repeat(201)),
    ] {
        let body = json!({"name": name, "roomCount": 1, "nightlyPrice": 1}).to_string();
        let (s, ct, p, _) = post(
            &rt,
            "/v1/places",
            "olivia",
            &[("content-type", json.clone())],
            body.into_bytes(),
        )
        .await;
        assert_problem(what, (s, &ct, &p), 422, "/problems/invalid-request");
        assert_eq!(p["field"], "name", "{what}");
    }
    // The limit counts characters, as `maxLength` does: 200 three-byte characters are accepted.
    let wide = json!({"name": "한".repeat(200), "roomCount": 1, "nightlyPrice": 1}).to_string();
    let (s, _, p, _) = post(
        &rt,
        "/v1/places",
        "olivia",
        &[("content-type", json.clone())],
        wide.into_bytes(),
    )
    .await;
    assert_eq!(s, 201, "{p}");

    // Money bounds that keep every amount and point sum inside 64 bits.
    for (what, price) in [
        ("above the maximum", json!(100_000_001)),
        ("i64::MAX", json!(i64::MAX)),
    ] {
        let body = json!({"name": "p", "roomCount": 1, "nightlyPrice": price}).to_string();
        let (s, ct, p, _) = post(
            &rt,
            "/v1/places",
            "olivia",
            &[("content-type", json.clone())],
            body.into_bytes(),
        )
        .await;
        assert_problem(what, (s, &ct, &p), 422, "/problems/invalid-request");
    }

    // Dates: at most 1825 days (five years) ahead.
    for (what, body) in [
        ("9999-12-30", stay("9999-12-30".into(), "9999-12-31".into())),
        ("1826 days ahead", stay(day(1826), day(1827))),
    ] {
        let (s, ct, p, _) = post(
            &rt,
            "/v1/reservations",
            "alice",
            &[("content-type", json.clone())],
            body,
        )
        .await;
        assert_problem(what, (s, &ct, &p), 422, "/problems/invalid-request");
        assert_eq!(p["field"], "checkIn", "{what}");
    }

    // A body must be declared JSON.
    for (what, headers) in [
        ("no content type", vec![]),
        ("text/plain", vec![("content-type", hv("text/plain"))]),
        (
            "a form",
            vec![("content-type", hv("application/x-www-form-urlencoded"))],
        ),
        (
            "latin-1 JSON",
            vec![("content-type", hv("application/json; charset=iso-8859-1"))],
        ),
    ] {
        let (s, ct, p, _) = post(
            &rt,
            "/v1/reservations",
            "alice",
            &headers,
            stay(day(3), day(4)),
        )
        .await;
        assert_problem(what, (s, &ct, &p), 415, "/problems/unsupported-media-type");
        let body = json!({"name": "x", "roomCount": 1, "nightlyPrice": 1}).to_string();
        let (s, ct, p, _) = post(&rt, "/v1/places", "olivia", &headers, body.into_bytes()).await;
        assert_problem(what, (s, &ct, &p), 415, "/problems/unsupported-media-type");
    }

    // 405 names the methods the path serves.
    let resp = rt
        .http
        .delete(format!("{}/v1/places", rt.base))
        .header("authorization", "Bearer dev:olivia")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 405);
    let allow = resp
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut methods: Vec<&str> = allow.split(',').map(str::trim).collect();
    methods.sort_unstable();
    assert_eq!(methods, ["GET", "POST"], "Allow: {allow}");

    // Nothing of alice's was stored by any refused request.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (_, mine) = rt.call("GET", "/v1/mypages", Some("alice"), None).await;
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(0), "{mine}");

    // A valid body with a charset parameter is accepted.
    let (s, _, p, _) = post(
        &rt,
        "/v1/reservations",
        "alice",
        &[("content-type", hv("application/json; charset=UTF-8"))],
        stay(day(3), day(4)),
    )
    .await;
    assert_eq!(s, 202, "{p}");
}

/// Amounts at the bounds: the largest stay is 3×10^11 and its points add up exactly; an amount
/// beyond the bounds is refused at the API, so no loyalty award can ever overflow later.
#[tokio::test]
async fn the_largest_amounts_add_up_and_larger_ones_are_refused() {
    let rt = Local::start("invalid-money", &[]).await;
    let place = rt.place("olivia", 200, 100_000_000, true).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (s, r) = rt.reserve("alice", &place, &day(10), &day(40), 100).await;
        assert_eq!(s, 202, "{r}");
        assert_eq!(r["amount"], 300_000_000_000i64, "{r}");
        ids.push(r["reservationId"].as_str().expect("id").to_string());
    }
    for id in &ids {
        rt.wait_status("alice", id, "CONFIRMED", None).await;
    }
    rt.wait_for("both awards", || async {
        let (_, b) = rt.call("GET", "/v1/loyalty", Some("alice"), None).await;
        b["points"] == 6_000_000_000i64
    })
    .await;

    // The seed facade takes the client's amount: bounded the same way.
    let (s, _, p) = rt
        .raw(
            "POST",
            "/reservationManagements",
            None,
            json!({"placeId": "1", "stock": "5"})
                .to_string()
                .into_bytes(),
        )
        .await;
    assert!(s == 201 || s == 200, "{p}");
    let huge = json!({"placeNm": "t", "usrId": "2", "strDt": "20300101", "endDt": "20300102", "qty": "1", "amount": i64::MAX.to_string(), "placeId": "1"});
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (s, ct, p) = loop {
        let got = rt
            .raw(
                "POST",
                "/accommodations",
                None,
                huge.to_string().into_bytes(),
            )
            .await;
        // 404: the place has not reached the reservation context's catalogue yet.
        if got.0 != 404 || std::time::Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_problem(
        "seed amount i64::MAX",
        (s, &ct, &p),
        422,
        "/problems/invalid-request",
    );

    // The seed's place name is a name like any other: bounded, no control characters.
    for (what, name) in [
        ("15,000-character placeNm", "x".repeat(15_000)),
        ("placeNm with NUL", "test\u{0}01".to_string()),
    ] {
        let body = json!({"placeNm": name, "usrId": "2", "strDt": "20300101", "endDt": "20300102", "qty": "1", "amount": "5000", "placeId": "1"});
        let (s, ct, p) = rt
            .raw(
                "POST",
                "/accommodations",
                None,
                body.to_string().into_bytes(),
            )
            .await;
        assert_problem(what, (s, &ct, &p), 422, "/problems/invalid-request");
    }
}
