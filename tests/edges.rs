//! The edges a new user and an attacker found from outside, each through the real HTTP API of a
//! running local runtime: the price quoted is the price charged, development mode is bound to
//! loopback by name as well as by address, dates and names have one spelling, a request body
//! has one meaning, MyPage shows a voided payment, fault settings name what exists, stdout
//! carries only the event trace and the data files are the owner's alone.

use std::time::Duration;

use crate::support::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `GET /v1/places/{place}/quote` for one night `d` days ahead: (total, priceToken).
async fn quote(rt: &Local, user: &str, place: &str, d: i64) -> (i64, String) {
    let path = format!(
        "/v1/places/{place}/quote?checkIn={}&checkOut={}",
        day(d),
        day(d + 1)
    );
    let (s, q) = rt.call("GET", &path, Some(user), None).await;
    assert_eq!(s, 200, "{q}");
    let token = q["priceToken"].as_str().expect("priceToken").to_string();
    (q["total"].as_i64().expect("total"), token)
}

async fn book(rt: &Local, user: &str, place: &str, d: i64, token: Option<&str>) -> (u16, Value) {
    let mut body = json!({"placeId": place, "checkIn": day(d), "checkOut": day(d + 1)});
    if let Some(t) = token {
        body["priceToken"] = json!(t);
    }
    rt.call("POST", "/v1/reservations", Some(user), Some(body))
        .await
}

async fn set_price(rt: &Local, owner: &str, place: &str, price: i64) {
    let (s, b) = rt
        .call(
            "PATCH",
            &format!("/v1/places/{place}"),
            Some(owner),
            Some(json!({"nightlyPrice": price})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
}

/// The reproduction: an owner changes the price, a guest is quoted, the guest books. With 300 ms
/// of delivery jitter the reservation context's copy of the catalogue lags the change; the
/// guest must still be charged the quote (or told the price changed), never the old price.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_guest_is_charged_the_price_just_quoted() {
    let rt = std::sync::Arc::new(Local::start("quoted-price", &[]).await);
    rt.set_faults(json!({"jitterMs": 300})).await;
    // Ten owners at once, ten rounds each: 100 guests without a token, 100 with one.
    let mut owners = tokio::task::JoinSet::new();
    for i in 0..10 {
        let rt = rt.clone();
        owners.spawn(async move {
            let owner = format!("o{i}");
            let place = rt.place(&owner, 100, 5_000, true).await;
            let mut wrong = vec![];
            for round in 0..10 {
                let price = if round % 2 == 0 { 100 } else { 5_000 };
                set_price(&rt, &owner, &place, price).await;
                let guest = format!("g{i}-{round}");
                let d = 30 + round;
                // Without a token: priced from the place as it is now.
                let (total, token) = quote(&rt, &guest, &place, d).await;
                let (s, r) = book(&rt, &guest, &place, d, None).await;
                if total != price || s != 202 || r["amount"] != json!(total) {
                    wrong.push(format!("{guest} quoted {total}, no token: {s} {r}"));
                }
                // With the token, after the owner changed the price again: still the quote.
                set_price(&rt, &owner, &place, price + 1).await;
                let (s, r) = book(&rt, &guest, &place, d, Some(&token)).await;
                if s != 202 || r["amount"] != json!(total) {
                    wrong.push(format!("{guest} quoted {total}, with its token: {s} {r}"));
                }
            }
            wrong
        });
    }
    let mut wrong = vec![];
    while let Some(owner) = owners.join_next().await {
        wrong.extend(owner.expect("owner task"));
    }
    assert!(
        wrong.is_empty(),
        "{} of 200 charged another price: {wrong:#?}",
        wrong.len()
    );
}

#[tokio::test]
async fn an_expired_quote_whose_price_changed_is_a_409_with_the_new_total() {
    let rt = Local::start("quote-expiry", &["--param", "QuoteValiditySeconds=1"]).await;
    let place = rt.place("olivia", 5, 5_000, true).await;
    let (total, token) = quote(&rt, "alice", &place, 40).await;
    assert_eq!(total, 5_000);
    set_price(&rt, "olivia", &place, 100).await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (s, p) = book(&rt, "alice", &place, 40, Some(&token)).await;
    assert_eq!(s, 409, "{p}");
    assert_eq!(p["type"], "/problems/price-changed", "{p}");
    assert_eq!(p["total"], 100, "{p}");
    // A token for another stay is a client mistake; a made-up one is not a quote.
    let (s, p) = book(&rt, "alice", &place, 41, Some(&token)).await;
    assert_eq!((s, p["field"].as_str()), (422, Some("priceToken")), "{p}");
    let (s, p) = book(&rt, "alice", &place, 40, Some("not-a-token")).await;
    assert_eq!((s, p["field"].as_str()), (422, Some("priceToken")), "{p}");
    // Quoted again, it books at the new price.
    let (total, token) = quote(&rt, "alice", &place, 40).await;
    let (s, r) = book(&rt, "alice", &place, 40, Some(&token)).await;
    assert_eq!((s, r["amount"].as_i64()), (202, Some(total)), "{r}");
}

/// One raw HTTP/1.1 request with the given `Host` and `Origin`: the status code.
async fn with_host(rt: &Local, method: &str, path: &str, host: &str, origin: Option<&str>) -> u16 {
    let addr = rt.base.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let body = r#"{"sub":"victim"}"#;
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{origin}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(req.as_bytes()).await.expect("write");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.expect("read");
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn development_mode_answers_loopback_names_and_its_own_pages_only() {
    let rt = Local::start("rebinding", &[]).await;
    let port = rt.base.rsplit(':').next().expect("port").to_string();
    let attacker = format!("attacker.example:{port}");
    // The DNS-rebinding request of the finding.
    let origin = format!("http://{attacker}");
    assert_eq!(
        with_host(&rt, "POST", "/_local/token", &attacker, Some(&origin)).await,
        403
    );
    assert_eq!(
        with_host(&rt, "GET", "/v1/mypages", &attacker, None).await,
        403
    );
    // A loopback name, but a page of another site calling /_local.
    let local = format!("127.0.0.1:{port}");
    let other = Some("http://attacker.example");
    assert_eq!(
        with_host(&rt, "POST", "/_local/token", &local, other).await,
        403
    );
    // The runtime's own page (same origin) and tools that send no Origin.
    for host in [
        local.clone(),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let own = format!("http://{host}");
        assert_eq!(
            with_host(&rt, "POST", "/_local/token", &host, Some(&own)).await,
            200,
            "{host}"
        );
    }
    assert_eq!(
        with_host(&rt, "POST", "/_local/token", &local, None).await,
        200
    );
}

#[tokio::test]
async fn dates_names_subjects_and_bodies_have_one_spelling() {
    let rt = Local::start("one-spelling", &[]).await;
    let place = rt.place("olivia", 5, 1_000, true).await;
    // Signed or widened years are not dates (the stay itself is bookable).
    let (check_in, check_out) = (day(5), day(6));
    for (field, body) in [
        (
            "checkIn",
            json!({"placeId": place, "checkIn": format!("+{check_in}"), "checkOut": check_out}),
        ),
        (
            "checkOut",
            json!({"placeId": place, "checkIn": check_in, "checkOut": format!("+0{check_out}")}),
        ),
    ] {
        let (s, p) = rt
            .call("POST", "/v1/reservations", Some("alice"), Some(body))
            .await;
        assert_eq!((s, p["field"].as_str()), (422, Some(field)), "{p}");
        let detail = p["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("is not a date"), "{p}");
    }
    let path = format!("/v1/places/{place}");
    let rule =
        |from: String| json!({"priceRules": [{"from": from, "to": check_out, "nightlyPrice": 5}]});
    let (s, p) = rt
        .call(
            "PATCH",
            &path,
            Some("olivia"),
            Some(rule(format!("-{check_in}"))),
        )
        .await;
    assert_eq!(s, 400, "a rule's date of the wrong shape: {p}");
    assert!(
        p["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("is not a date"),
        "{p}"
    );
    let (s, p) = rt
        .call("PATCH", &path, Some("olivia"), Some(rule(check_in.clone())))
        .await;
    assert_eq!(s, 200, "the same rule well written: {p}");
    // Names that look blank or lie about their text.
    for name in [
        "\u{3164}\u{3164}",
        "\u{2800}",
        "\u{E0041}\u{E0042}",
        "sea\u{202E}weiv",
    ] {
        let body = json!({"name": name, "roomCount": 1, "nightlyPrice": 1});
        let (s, p) = rt
            .call("POST", "/v1/places", Some("olivia"), Some(body))
            .await;
        assert_eq!(s, 422, "{name:?}: {p}");
    }
    // Another spelling of a user is no user: none is minted, and a token naming one is refused.
    for sub in [" alice", "alice ", "alice\u{202E}", "alice\u{200B}"] {
        let (s, p) = rt
            .call("POST", "/_local/token", None, Some(json!({"sub": sub})))
            .await;
        assert_eq!(s, 422, "{sub:?}: {p}");
    }
    let (s, p) = rt.call("GET", "/v1/mypages", Some(" alice"), None).await;
    assert_eq!(s, 401, "{p}");
    // A repeated key is refused rather than read as its last (or first) value.
    let body = format!(
        r#"{{"placeId":"{place}","checkIn":"{}","checkOut":"{}","rooms":1,"rooms":100}}"#,
        day(5),
        day(6)
    );
    let (s, ctype, p) = rt
        .raw("POST", "/v1/reservations", Some("alice"), body.into_bytes())
        .await;
    assert_eq!(
        (s, ctype.as_str()),
        (400, "application/problem+json"),
        "{p}"
    );
    assert!(
        p["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("duplicate key 'rooms'"),
        "{p}"
    );
    let (s, mine) = rt.call("GET", "/v1/mypages", Some("alice"), None).await;
    assert_eq!(
        (s, mine["items"].as_array().map(Vec::len)),
        (200, Some(0)),
        "nothing stored: {mine}"
    );
}

#[tokio::test]
async fn mypage_shows_a_payment_voided_by_an_unavailable_provider() {
    // The breaker opens after one failure, so the saga cancels PAYMENT_UNAVAILABLE at once.
    let rt = Local::start("voided", &["--param", "PaymentFailureThreshold=1"]).await;
    let place = rt.place("olivia", 5, 1_000, true).await;
    rt.set_faults(json!({"payment": {"outage": true}})).await;
    let (s, r) = rt.reserve("alice", &place, &day(10), &day(11), 1).await;
    assert_eq!(s, 202, "{r}");
    let id = r["reservationId"].as_str().expect("id").to_string();
    let done = rt.wait_resting("alice", &id).await;
    assert_eq!(done["statusReason"], "PAYMENT_UNAVAILABLE", "{done}");
    let (_, payment) = rt.payment("alice", &id).await;
    assert_eq!(payment["status"], "VOIDED", "{payment}");
    rt.wait_for("MyPage shows VOIDED", || async {
        let (_, row) = rt
            .call("GET", &format!("/v1/mypages/{id}"), Some("alice"), None)
            .await;
        row["paymentStatus"] == "VOIDED" && row["reservationStatus"] == "CANCELLED"
    })
    .await;
}

#[tokio::test]
async fn fault_settings_name_what_exists_and_count_what_is_left() {
    let rt = Local::start("faults", &[]).await;
    for bad in [
        json!({"down": ["nosuch"]}),
        json!({"down": ["place", "paymnt"]}),
        json!({"steps": {"NoSuchFunction": {"error": "Lambda.Unknown"}}}),
    ] {
        let (s, p) = rt.call("PUT", "/_local/faults", None, Some(bad)).await;
        assert_eq!(s, 422, "{p}");
    }
    let (_, faults) = rt.call("GET", "/_local/faults", None, None).await;
    assert_eq!(faults["down"], json!([]), "unchanged: {faults}");
    // A context that is down answers as any dependency's outage: the cause is not in the body.
    rt.set_faults(json!({"down": ["place"]})).await;
    let body = json!({"name": "p", "roomCount": 1, "nightlyPrice": 1});
    let (s, p) = rt
        .call("POST", "/v1/places", Some("olivia"), Some(body))
        .await;
    assert_eq!(
        (s, p["type"].as_str()),
        (503, Some("/problems/unavailable")),
        "{p}"
    );
    assert!(
        !p.to_string().contains("place"),
        "the body names the cause: {p}"
    );
    rt.set_faults(json!({"down": []})).await;
    // A step set to fail twice: once both failures happened, none is left (it read 2 before).
    let step =
        json!({"steps": {"PlaceHoldNightsFunction": {"error": "Lambda.Unknown", "calls": 2}}});
    rt.set_faults(step).await;
    let place = rt.place("olivia", 5, 1_000, true).await;
    let (_, r) = rt.reserve("alice", &place, &day(10), &day(11), 1).await;
    let id = r["reservationId"].as_str().expect("id").to_string();
    rt.wait_resting("alice", &id).await;
    let (_, faults) = rt.call("GET", "/_local/faults", None, None).await;
    assert_eq!(
        faults["steps"]["PlaceHoldNightsFunction"]["calls"], 0,
        "{faults}"
    );
    // A start with a misspelt context is refused, naming it.
    let out = std::process::Command::new(bin())
        .args([
            "--dev",
            "--addr",
            "127.0.0.1:0",
            "--down",
            "places,paymnt",
            "--data-dir",
        ])
        .arg(fresh_dir("faults-start"))
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("paymnt") && err.contains("unknown context"),
        "{err}"
    );
    let line: Value =
        serde_json::from_str(err.lines().last().unwrap_or_default()).expect("JSON on stderr");
    assert_eq!(line["level"], "ERROR", "{line}");
}

#[tokio::test]
async fn stdout_is_the_event_trace_only_and_the_data_is_the_owners() {
    use std::os::unix::fs::PermissionsExt;
    let rt = Local::start("stdout", &[]).await;
    let place = rt.place("olivia", 5, 1_000, true).await;
    let (_, r) = rt.reserve("alice", &place, &day(10), &day(11), 1).await;
    let id = r["reservationId"].as_str().expect("id").to_string();
    rt.wait_resting("alice", &id).await;
    let lines = rt.stdout.lock().map(|l| l.clone()).unwrap_or_default();
    assert!(lines.len() >= 5, "the trace: {lines:?}");
    for line in &lines {
        let event: Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(event["detail-type"].is_string(), "{line}");
    }
    for file in ["reserveplace.db", "dev-issuer.key"] {
        let mode = std::fs::metadata(rt.data_dir.join(file))
            .expect(file)
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
}
