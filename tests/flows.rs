//! The flows (reserve, saga, owner, cancel, status), end to end over HTTP against a running local runtime.

use crate::support::{Local, assert_subsequence, date_of, day, night_price, today};
use serde_json::json;

#[tokio::test]
async fn instant_book_confirms_with_the_specified_event_order() {
    let rt = Local::start("instant", &[]).await;
    let place = rt.place("olivia", 2, 50_000, true).await;
    let (s, r) = rt.reserve("alice", &place, &day(10), &day(12), 1).await;
    assert_eq!(s, 202, "{r}");
    assert_eq!(r["status"], "PENDING");
    assert_eq!(r["amount"], 100_000, "nightlyPrice x nights x rooms");
    let id = r["reservationId"].as_str().expect("id");

    rt.wait_status("alice", id, "CONFIRMED", None).await;
    let pay = rt.wait_payment("alice", id, "CAPTURED").await;
    let names = rt.event_names(id).await;
    assert_subsequence(
        &names,
        &[
            "ReservationPlaced",
            "PaymentAuthorized",
            "RoomsHeld",
            "ReservationConfirmed",
            "ReservationStatusChanged",
            "PaymentCaptured",
        ],
    );
    let events = rt.events(Some(id)).await;
    let last_change = events
        .iter()
        .rev()
        .find(|e| e["detail-type"] == "ReservationStatusChanged")
        .expect("status change");
    assert_eq!(last_change["detail"]["status"], "CONFIRMED");
    for e in &events {
        for f in ["eventId", "occurredAt", "reservationId", "version"] {
            assert!(!e["detail"][f].is_null(), "{f} missing in {e}");
        }
        assert!(
            e["source"]
                .as_str()
                .expect("source")
                .starts_with("reserveplace.")
        );
    }
    assert_eq!(rt.held("olivia", &place, &day(10)).await, 1);
    assert_eq!(rt.held("olivia", &place, &day(11)).await, 1);
    // Captured once the stay is confirmed: what was authorized is taken, and the ledger says so.
    assert_eq!(
        (pay["authorized"].as_i64(), pay["captured"].as_i64()),
        (Some(100_000), Some(100_000))
    );
    let moves: Vec<&str> = pay["ledger"]
        .as_array()
        .expect("ledger")
        .iter()
        .filter_map(|e| e["movement"].as_str())
        .collect();
    assert_eq!(moves, ["AUTHORIZE", "CAPTURE"], "{pay}");

    // Views follow from events: MyPage, notifications, loyalty (1% of the amount).
    rt.wait_for("mypage confirmed", || async {
        let (s, m) = rt
            .call("GET", &format!("/v1/mypages/{id}"), Some("alice"), None)
            .await;
        s == 200
            && m["reservationStatus"] == "CONFIRMED"
            && m["paymentStatus"] == "CAPTURED"
            && m["paymentCaptured"] == 100_000
            && m["amount"] == 100_000
    })
    .await;
    rt.wait_for("loyalty points", || async {
        let (_, l) = rt.call("GET", "/v1/loyalty", Some("alice"), None).await;
        l["points"] == 1000
    })
    .await;
    rt.wait_for("notification", || async {
        let (_, n) = rt
            .call("GET", "/v1/notifications", Some("alice"), None)
            .await;
        n["items"]
            .as_array()
            .is_some_and(|i| i.iter().any(|x| x["status"] == "CONFIRMED"))
    })
    .await;
    let (s, list) = rt.call("GET", "/v1/mypages", Some("alice"), None).await;
    assert_eq!(s, 200);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    // Another customer sees nothing of it.
    let (s, _) = rt
        .call(
            "GET",
            &format!("/v1/reservations/{id}"),
            Some("mallory"),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = rt
        .call("GET", &format!("/v1/mypages/{id}"), Some("mallory"), None)
        .await;
    assert_eq!(s, 404);
    // The owner sees it in the owner view.
    rt.wait_for("owner view", || async {
        let (_, o) = rt
            .call("GET", "/v1/owner/reservations", Some("olivia"), None)
            .await;
        o["items"].as_array().is_some_and(|i| {
            i.iter()
                .any(|x| x["reservationId"] == id && x["status"] == "CONFIRMED")
        })
    })
    .await;
}

#[tokio::test]
async fn request_to_book_confirmed_by_the_owner() {
    let rt = Local::start("owner-confirm", &[]).await;
    let place = rt.place("oscar", 1, 30_000, false).await;
    let (_, r) = rt.reserve("bob", &place, &day(5), &day(6), 1).await;
    let id = r["reservationId"].as_str().expect("id");
    rt.wait_status("bob", id, "AWAITING_OWNER", None).await;
    assert_eq!(
        rt.held("oscar", &place, &day(5)).await,
        1,
        "held while the owner decides"
    );
    // Someone else's owner cannot decide.
    let (s, _) = rt
        .call(
            "POST",
            &format!("/v1/owner/reservations/{id}/confirm"),
            Some("olivia"),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, d) = rt
        .call(
            "POST",
            &format!("/v1/owner/reservations/{id}/confirm"),
            Some("oscar"),
            None,
        )
        .await;
    assert_eq!((s, d["decision"].as_str()), (200, Some("CONFIRMED")), "{d}");
    rt.wait_status("bob", id, "CONFIRMED", None).await;
    // Deciding again the same way is idempotent; the other way is a conflict.
    let (s, _) = rt
        .call(
            "POST",
            &format!("/v1/owner/reservations/{id}/confirm"),
            Some("oscar"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, p) = rt
        .call(
            "POST",
            &format!("/v1/owner/reservations/{id}/reject"),
            Some("oscar"),
            None,
        )
        .await;
    assert_eq!(s, 409, "{p}");
    assert_eq!(p["type"], "/problems/conflict");
    assert_subsequence(
        &rt.event_names(id).await,
        &[
            "ReservationPlaced",
            "PaymentAuthorized",
            "RoomsHeld",
            "ReservationConfirmed",
            "ReservationStatusChanged",
            "PaymentCaptured",
        ],
    );
    rt.wait_payment("bob", id, "CAPTURED").await;
}

#[tokio::test]
async fn request_to_book_rejected_releases_and_refunds() {
    let rt = Local::start("owner-reject", &[]).await;
    let place = rt.place("oscar", 1, 30_000, false).await;
    let (_, r) = rt.reserve("bob", &place, &day(5), &day(7), 1).await;
    let id = r["reservationId"].as_str().expect("id");
    rt.wait_status("bob", id, "AWAITING_OWNER", None).await;
    let (s, _) = rt
        .call(
            "POST",
            &format!("/v1/owner/reservations/{id}/reject"),
            Some("oscar"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    rt.wait_status("bob", id, "CANCELLED", Some("OWNER_REJECTED"))
        .await;
    // Nothing was ever taken: the authorization is voided.
    assert_eq!(rt.payment("bob", id).await.1["status"], "VOIDED");
    assert_eq!(rt.held("oscar", &place, &day(5)).await, 0);
    assert_eq!(rt.held("oscar", &place, &day(6)).await, 0);
    assert_subsequence(
        &rt.event_names(id).await,
        &[
            "ReservationPlaced",
            "PaymentAuthorized",
            "RoomsHeld",
            "RoomsReleased",
            "ReservationCancelConfirmed",
            "PaymentVoided",
            "ReservationCanceled",
        ],
    );
}

#[tokio::test]
async fn request_to_book_times_out_releases_and_refunds() {
    let rt = Local::start(
        "owner-timeout",
        &["--param", "OwnerDecisionTimeoutSeconds=1"],
    )
    .await;
    let place = rt.place("oscar", 1, 30_000, false).await;
    let (_, r) = rt.reserve("bob", &place, &day(5), &day(6), 1).await;
    let id = r["reservationId"].as_str().expect("id");
    rt.wait_status("bob", id, "CANCELLED", Some("OWNER_TIMEOUT"))
        .await;
    // Nothing was ever taken: the authorization is voided.
    assert_eq!(rt.payment("bob", id).await.1["status"], "VOIDED");
    assert_eq!(rt.held("oscar", &place, &day(5)).await, 0);
    let (s, _) = rt
        .call(
            "POST",
            &format!("/v1/owner/reservations/{id}/confirm"),
            Some("oscar"),
            None,
        )
        .await;
    assert_eq!(s, 409, "too late to confirm");
    assert_subsequence(
        &rt.event_names(id).await,
        &[
            "PaymentAuthorized",
            "RoomsHeld",
            "RoomsReleased",
            "ReservationCancelConfirmed",
            "PaymentVoided",
            "ReservationCanceled",
        ],
    );
}

#[tokio::test]
async fn sold_out_is_refunded_in_the_specified_order() {
    let rt = Local::start("sold-out", &[]).await;
    let place = rt.place("olivia", 1, 10_000, true).await;
    let (_, first) = rt.reserve("alice", &place, &day(3), &day(4), 1).await;
    let first = first["reservationId"].as_str().expect("id").to_string();
    rt.wait_status("alice", &first, "CONFIRMED", None).await;
    let (_, second) = rt.reserve("bob", &place, &day(3), &day(4), 1).await;
    let second = second["reservationId"].as_str().expect("id");
    rt.wait_status("bob", second, "CANCELLED", Some("SOLD_OUT"))
        .await;
    assert_eq!(rt.payment("bob", second).await.1["status"], "VOIDED");
    assert_eq!(rt.held("olivia", &place, &day(3)).await, 1);
    assert_subsequence(
        &rt.event_names(second).await,
        &[
            "ReservationPlaced",
            "PaymentAuthorized",
            "ReservationCancelConfirmed",
            "PaymentVoided",
            "ReservationCanceled",
        ],
    );
    let names = rt.event_names(second).await;
    assert!(
        !names.iter().any(|n| n.starts_with("Rooms")),
        "a sold-out stay holds and releases nothing: {names:?}"
    );
    rt.wait_for("mypage cancelled and voided", || async {
        let (_, m) = rt
            .call("GET", &format!("/v1/mypages/{second}"), Some("bob"), None)
            .await;
        m["reservationStatus"] == "CANCELLED"
            && m["paymentStatus"] == "VOIDED"
            && m["paymentCaptured"] == 0
            && m["amount"] == 10_000
    })
    .await;
}

#[tokio::test]
async fn payment_declined_cancels_without_holding() {
    let rt = Local::start("declined", &["--payment-decline-rate", "1"]).await;
    let place = rt.place("olivia", 1, 10_000, true).await;
    let (_, r) = rt.reserve("alice", &place, &day(3), &day(4), 1).await;
    let id = r["reservationId"].as_str().expect("id");
    rt.wait_status("alice", id, "CANCELLED", Some("PAYMENT_DECLINED"))
        .await;
    assert_eq!(rt.payment("alice", id).await.1["status"], "DECLINED");
    assert_eq!(rt.held("olivia", &place, &day(3)).await, 0);
    let names = rt.event_names(id).await;
    assert!(names.contains(&"PaymentDeclined".to_string()));
    assert!(
        !names.iter().any(|n| n.starts_with("Rooms")),
        "nothing held, nothing released: {names:?}"
    );
}

#[tokio::test]
async fn payment_outage_fails_fast_with_payment_unavailable() {
    let rt = Local::start("outage", &["--payment-outage"]).await;
    let place = rt.place("olivia", 1, 10_000, true).await;
    let started = std::time::Instant::now();
    let (s, r) = rt.reserve("alice", &place, &day(3), &day(4), 1).await;
    assert_eq!(s, 202, "reservations are still accepted");
    let id = r["reservationId"].as_str().expect("id");
    let done = rt
        .wait_status("alice", id, "CANCELLED", Some("PAYMENT_UNAVAILABLE"))
        .await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "answered fast: {:?}",
        started.elapsed()
    );
    assert_eq!(done["statusReason"], "PAYMENT_UNAVAILABLE");
    // Nothing was charged, and the payment is voided so a late or replayed charge cannot take money.
    let (s, p) = rt.payment("alice", id).await;
    assert_eq!((s, p["status"].as_str()), (200, Some("VOIDED")), "{p}");
    assert!(
        !rt.event_names(id)
            .await
            .contains(&"PaymentAuthorized".to_string())
    );
    rt.wait_for("try-again notification", || async {
        let (_, n) = rt
            .call("GET", "/v1/notifications", Some("alice"), None)
            .await;
        n["items"].as_array().is_some_and(|i| {
            i.iter().any(|x| {
                x["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("try again later"))
            })
        })
    })
    .await;
    // Once the provider is back, a new reservation goes through (one failure did not open the circuit).
    rt.set_faults(json!({"payment": {"outage": false}})).await;
    let (_, r) = rt.reserve("alice", &place, &day(5), &day(6), 1).await;
    let id = r["reservationId"].as_str().expect("id");
    rt.wait_status("alice", id, "CONFIRMED", None).await;
}

#[tokio::test]
async fn multi_night_holds_are_all_or_nothing() {
    let rt = Local::start("all-or-nothing", &[]).await;
    let place = rt.place("olivia", 1, 10_000, true).await;
    // Night 11 is taken.
    let (_, a) = rt.reserve("alice", &place, &day(11), &day(12), 1).await;
    rt.wait_status(
        "alice",
        a["reservationId"].as_str().expect("id"),
        "CONFIRMED",
        None,
    )
    .await;
    // 10..13 overlaps night 11: nothing of it may be held.
    let (_, b) = rt.reserve("bob", &place, &day(10), &day(13), 1).await;
    rt.wait_status(
        "bob",
        b["reservationId"].as_str().expect("id"),
        "CANCELLED",
        Some("SOLD_OUT"),
    )
    .await;
    assert_eq!(rt.held("olivia", &place, &day(10)).await, 0);
    assert_eq!(rt.held("olivia", &place, &day(11)).await, 1);
    assert_eq!(rt.held("olivia", &place, &day(12)).await, 0);
    // Adjacent stays do not overlap (checkOut is exclusive).
    let (_, c) = rt.reserve("carol", &place, &day(12), &day(14), 1).await;
    rt.wait_status(
        "carol",
        c["reservationId"].as_str().expect("id"),
        "CONFIRMED",
        None,
    )
    .await;
    assert_eq!(rt.held("olivia", &place, &day(12)).await, 1);
    assert_eq!(rt.held("olivia", &place, &day(13)).await, 1);
    // More rooms than the place has is sold out too.
    let (_, d) = rt.reserve("dave", &place, &day(20), &day(21), 2).await;
    rt.wait_status(
        "dave",
        d["reservationId"].as_str().expect("id"),
        "CANCELLED",
        Some("SOLD_OUT"),
    )
    .await;
}

/// Cancelling at each status: exactly one refund and one release where they were taken.
#[tokio::test]
async fn customer_cancel_at_every_status() {
    let rt = Local::start("cancel", &["--payment-latency-ms", "300"]).await;
    let instant = rt.place("olivia", 5, 10_000, true).await;
    let request = rt.place("oscar", 5, 10_000, false).await;

    // PENDING: cancelled while the (slow) payment is in flight.
    let (_, r) = rt.reserve("alice", &instant, &day(3), &day(5), 1).await;
    let pending = r["reservationId"].as_str().expect("id").to_string();
    let (s, c) = rt
        .call(
            "POST",
            &format!("/v1/reservations/{pending}/cancel"),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["status"], "CANCELLED");
    assert_eq!(c["statusReason"], "CUSTOMER_CANCELLED");

    // AWAITING_OWNER
    let (_, r) = rt.reserve("alice", &request, &day(3), &day(5), 1).await;
    let awaiting = r["reservationId"].as_str().expect("id").to_string();
    rt.wait_status("alice", &awaiting, "AWAITING_OWNER", None)
        .await;
    let (s, _) = rt
        .call(
            "POST",
            &format!("/v1/reservations/{awaiting}/cancel"),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(s, 200);

    // CONFIRMED
    let (_, r) = rt.reserve("alice", &instant, &day(6), &day(7), 2).await;
    let confirmed = r["reservationId"].as_str().expect("id").to_string();
    rt.wait_status("alice", &confirmed, "CONFIRMED", None).await;
    let (s, _) = rt
        .call(
            "POST",
            &format!("/v1/reservations/{confirmed}/cancel"),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(s, 200);

    // Someone else cannot cancel it.
    let (s, _) = rt
        .call(
            "POST",
            &format!("/v1/reservations/{confirmed}/cancel"),
            Some("mallory"),
            None,
        )
        .await;
    assert_eq!(s, 404);

    for id in [&pending, &awaiting, &confirmed] {
        let r = rt
            .wait_status("alice", id, "CANCELLED", Some("CUSTOMER_CANCELLED"))
            .await;
        assert_eq!(r["statusReason"], "CUSTOMER_CANCELLED");
        // Each cancel came before the policy keeps anything: the payment ends keeping nothing,
        // voided before capture or refunded after it, once.
        rt.wait_for("payment settled", || async {
            let (s, p) = rt.payment("alice", id).await;
            s == 404 || p["status"] == "REFUNDED" || p["status"] == "VOIDED"
        })
        .await;
        let (_, p) = rt.payment("alice", id).await;
        assert_eq!(p["kept"].as_i64().unwrap_or(0), 0, "{p}");
        // The ledger: authorized at most once, and released (voided or refunded) once if so.
        let moves: Vec<&str> = p["ledger"]
            .as_array()
            .map(|l| l.iter().filter_map(|e| e["movement"].as_str()).collect())
            .unwrap_or_default();
        let count = |m: &str| moves.iter().filter(|x| **x == m).count();
        assert!(
            count("AUTHORIZE") <= 1,
            "authorized at most once: {moves:?}"
        );
        assert_eq!(
            count("VOID") + count("REFUND"),
            count("AUTHORIZE"),
            "every authorization released once: {moves:?}"
        );
        if count("CAPTURE") == 1 {
            assert_eq!(count("REFUND"), 1, "a capture is refunded: {moves:?}");
        }
    }
    // The awaiting one was never captured: its authorization is voided.
    assert_eq!(rt.payment("alice", &awaiting).await.1["status"], "VOIDED");
    // Everything released: every night back to zero.
    rt.wait_for("all nights released", || async {
        rt.nights("olivia", &instant)
            .await
            .iter()
            .all(|(_, h)| *h == 0)
            && rt
                .nights("oscar", &request)
                .await
                .iter()
                .all(|(_, h)| *h == 0)
    })
    .await;
    // The saga of the pending one finished by compensating, not by holding anything.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert!(
        rt.nights("olivia", &instant)
            .await
            .iter()
            .all(|(_, h)| *h == 0)
    );
    assert_eq!(
        rt.reservation("alice", &pending).await["status"],
        "CANCELLED"
    );
    // The search read model sees each hold given back exactly once (none for the pending one).
    for (id, holds) in [(&pending, 0), (&awaiting, 1), (&confirmed, 1)] {
        rt.wait_for("rooms released once", || async {
            let names = rt.event_names(id).await;
            let count = |name: &str| names.iter().filter(|n| *n == name).count();
            (count("RoomsHeld"), count("RoomsReleased")) == (holds, holds)
        })
        .await;
    }
}

#[tokio::test]
async fn repeated_cancel_succeeds_and_changes_nothing() {
    let rt = Local::start("recancel", &[]).await;
    let place = rt.place("olivia", 2, 10_000, true).await;
    let (_, r) = rt.reserve("alice", &place, &day(3), &day(4), 1).await;
    let id = r["reservationId"].as_str().expect("id");
    rt.wait_status("alice", id, "CONFIRMED", None).await;
    let (s1, first) = rt
        .call(
            "POST",
            &format!("/v1/reservations/{id}/cancel"),
            Some("alice"),
            None,
        )
        .await;
    let (s2, second) = rt
        .call(
            "POST",
            &format!("/v1/reservations/{id}/cancel"),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(
        first["version"], second["version"],
        "the second cancel changed nothing"
    );
    rt.wait_for("payment released", || async {
        let p = rt.payment("alice", id).await.1;
        (p["status"] == "REFUNDED" || p["status"] == "VOIDED") && p["kept"] == 0
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let names = rt.event_names(id).await;
    assert_eq!(
        names.iter().filter(|n| *n == "ReservationCanceled").count(),
        1,
        "{names:?}"
    );
    assert_eq!(
        names
            .iter()
            .filter(|n| *n == "PaymentRefunded" || *n == "PaymentVoided")
            .count(),
        1,
        "{names:?}"
    );
    assert_eq!(rt.held("olivia", &place, &day(3)).await, 0);
    rt.wait_for("the rooms released once", || async {
        let names = rt.event_names(id).await;
        names.iter().filter(|n| *n == "RoomsReleased").count() == 1
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let names = rt.event_names(id).await;
    assert_eq!(
        names.iter().filter(|n| *n == "RoomsReleased").count(),
        1,
        "released once, however often cancelled: {names:?}"
    );
}

#[tokio::test]
async fn idempotency_key_gives_one_reservation() {
    let rt = Local::start("idem", &[]).await;
    let place = rt.place("olivia", 3, 10_000, true).await;
    let body = json!({"placeId": place, "checkIn": day(3), "checkOut": day(4), "rooms": 1});
    let key = [("idempotency-key", "order-42")];
    let (s1, a) = rt
        .call_with(
            "POST",
            "/v1/reservations",
            Some("alice"),
            Some(body.clone()),
            &key,
        )
        .await;
    let (s2, b) = rt
        .call_with(
            "POST",
            "/v1/reservations",
            Some("alice"),
            Some(body.clone()),
            &key,
        )
        .await;
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(a["reservationId"], b["reservationId"]);
    let other = json!({"placeId": place, "checkIn": day(5), "checkOut": day(6), "rooms": 1});
    let (s3, p) = rt
        .call_with("POST", "/v1/reservations", Some("alice"), Some(other), &key)
        .await;
    assert_eq!(s3, 409, "same key, different request: {p}");
    let id = a["reservationId"].as_str().expect("id");
    rt.wait_status("alice", id, "CONFIRMED", None).await;
    assert_eq!(rt.held("olivia", &place, &day(3)).await, 1, "one effect");
    let placed = rt
        .event_names(id)
        .await
        .iter()
        .filter(|n| *n == "ReservationPlaced")
        .count();
    assert_eq!(placed, 1);
}

#[tokio::test]
async fn every_published_event_is_printed_on_stdout_in_publish_order() {
    let rt = Local::start("stdout", &[]).await;
    let place = rt.place("olivia", 1, 10_000, true).await;
    let (_, r) = rt.reserve("alice", &place, &day(3), &day(4), 1).await;
    let id = r["reservationId"].as_str().expect("id");
    rt.wait_status("alice", id, "CONFIRMED", None).await;
    let listed = rt.events(None).await;
    rt.wait_for("stdout trace complete", || async {
        rt.printed_events().len() >= listed.len()
    })
    .await;
    let printed = rt.printed_events();
    assert_eq!(
        printed[..listed.len()],
        listed[..],
        "stdout lines equal GET /_local/events, in the same order"
    );
    for e in &printed {
        for k in ["detail-type", "source", "time", "detail"] {
            assert!(!e[k].is_null(), "{k} in {e}");
        }
    }
}

/// Reservations are accepted while the owner side (place context) is down; their work waits and
/// completes once it is back.
#[tokio::test]
async fn reservations_are_accepted_while_the_owner_side_is_down() {
    let rt = Local::start("down", &[]).await;
    let place = rt.place("olivia", 2, 10_000, true).await;
    rt.set_faults(json!({"down": ["place"]})).await;
    let mut ids = Vec::new();
    for user in ["a", "b", "c"] {
        let (s, r) = rt.reserve(user, &place, &day(3), &day(4), 1).await;
        assert_eq!(s, 202, "accepted while the place context is down: {r}");
        ids.push((user, r["reservationId"].as_str().expect("id").to_string()));
    }
    // Owner-side HTTP answers 503 problem+json meanwhile (a retryable fault, not a client error).
    let (s, p) = rt
        .call("GET", &format!("/v1/places/{place}"), Some("olivia"), None)
        .await;
    assert_eq!(
        (s, p["type"].as_str()),
        (503, Some("/problems/unavailable"))
    );
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    for (user, id) in &ids {
        let st = rt.reservation(user, id).await["status"].clone();
        assert!(
            st == "PAID" || st == "PENDING",
            "waiting for the place context: {st}"
        );
    }
    rt.set_faults(json!({"down": []})).await;
    let mut confirmed = 0;
    for (user, id) in &ids {
        rt.wait_for("saga completes", || async {
            let st = rt.reservation(user, id).await["status"].clone();
            st == "CONFIRMED" || st == "CANCELLED"
        })
        .await;
        if rt.reservation(user, id).await["status"] == "CONFIRMED" {
            confirmed += 1;
        }
    }
    assert_eq!(
        confirmed, 2,
        "two rooms, three requests: two confirmed, one sold out"
    );
    assert_eq!(rt.held("olivia", &place, &day(3)).await, 2);
}

/// A price calendar prices the quote, the reservation's amount and its payment alike; changing
/// the rules later moves quotes but not the amount of a reservation already placed.
#[tokio::test]
async fn a_price_calendar_prices_the_quote_the_reservation_and_its_payment_alike() {
    let rt = Local::start("calendar", &[]).await;
    // A season over the stay, then dearer weekends: a week holds both kinds of night.
    let (from, to) = (today() + 10, today() + 17);
    let rules = json!([
        {"from": date_of(from), "to": date_of(from + 3), "nightlyPrice": 150_000},
        {"from": date_of(from - 30), "to": date_of(from + 60), "nightlyPrice": 180_000, "days": ["FRI", "SAT"]},
    ]);
    let place = rt
        .place_with(
            "olivia",
            json!({"name": "Hanok", "roomCount": 3, "nightlyPrice": 100_000, "city": "Seoul",
                "guests": 2, "priceRules": rules, "instantBook": true}),
        )
        .await;
    let expected: Vec<i64> = (from..to)
        .map(|d| night_price(100_000, &rules, d))
        .collect();
    assert!(
        expected.contains(&180_000) && expected.contains(&150_000) && expected.contains(&100_000),
        "the week mixes season, weekend and base nights: {expected:?}"
    );
    let total = 2 * expected.iter().sum::<i64>();
    let quote_path = format!(
        "/v1/places/{place}/quote?checkIn={}&checkOut={}&rooms=2",
        date_of(from),
        date_of(to)
    );
    let (s, q) = rt.call("GET", &quote_path, Some("alice"), None).await;
    assert_eq!(s, 200, "{q}");
    let prices: Vec<i64> = q["nights"]
        .as_array()
        .expect("nights")
        .iter()
        .map(|n| n["nightlyPrice"].as_i64().expect("price"))
        .collect();
    assert_eq!(prices, expected, "{q}");
    assert_eq!(q["nights"][0]["date"], date_of(from).as_str());
    assert_eq!(
        (q["total"].as_i64(), q["available"].as_bool()),
        (Some(total), Some(true))
    );
    assert!(
        q["nights"]
            .as_array()
            .expect("nights")
            .iter()
            .all(|n| n["free"] == 3)
    );

    let (s, r) = rt
        .reserve("alice", &place, &date_of(from), &date_of(to), 2)
        .await;
    assert_eq!((s, r["amount"].as_i64()), (202, Some(total)), "{r}");
    let id = r["reservationId"].as_str().expect("id");
    rt.wait_status("alice", id, "CONFIRMED", None).await;
    let (_, pay) = rt.payment("alice", id).await;
    assert_eq!(pay["amount"].as_i64(), Some(total), "{pay}");
    // The held rooms show in the next quote.
    let (_, q) = rt.call("GET", &quote_path, Some("alice"), None).await;
    assert_eq!(q["nights"][0]["free"], 1, "{q}");
    assert_eq!(q["available"], false, "{q}");

    // New rules: quotes follow at once; the placed reservation keeps its amount.
    let (s, p) = rt
        .call(
            "PATCH",
            &format!("/v1/places/{place}"),
            Some("olivia"),
            Some(json!({"priceRules": [], "description": "Renovated."})),
        )
        .await;
    assert_eq!((s, p["priceRules"].clone()), (200, json!([])), "{p}");
    assert_eq!(
        (p["city"].as_str(), p["guests"].as_i64()),
        (Some("Seoul"), Some(2))
    );
    let one_room = quote_path.replace("rooms=2", "rooms=1");
    let (_, q) = rt.call("GET", &one_room, Some("alice"), None).await;
    assert_eq!(q["total"].as_i64(), Some(7 * 100_000), "{q}");
    assert_eq!(
        rt.reservation("alice", id).await["amount"].as_i64(),
        Some(total)
    );
}
