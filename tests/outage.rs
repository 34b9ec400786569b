//! A context down for longer than any retry of the old design: each event consumer reads its own
//! queue (as on AWS), whose backoff and `maxReceiveCount` from `template.yaml` outlast a week, so
//! the work completes when the context is back, with no operator action. The runtime's queue clock
//! runs faster (`--time-scale`), so days pass in seconds with the template's own delays.
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Local, day};

/// Queue milliseconds per wall millisecond: three days take about 13 s.
const FAST: u32 = 20_000;

/// Waits `queue_seconds` of the runtime's queue clock running at `scale`.
async fn pass(queue_seconds: u64, scale: u32) {
    tokio::time::sleep(Duration::from_millis(
        queue_seconds * 1000 / u64::from(scale),
    ))
    .await;
}

/// Each queue's row of `GET /_local/queues`, by name.
async fn queues(rt: &Local) -> Vec<Value> {
    let (s, body) = rt.call("GET", "/_local/queues", None, None).await;
    assert_eq!(s, 200, "{body}");
    body["queues"].as_array().cloned().unwrap_or_default()
}

/// Nothing waits in any queue, dead-letter queues included.
async fn assert_drained(rt: &Local) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows = queues(rt).await;
        let busy: Vec<&Value> = rows
            .iter()
            .filter(|q| q["visible"] != 0 || q["hidden"] != 0)
            .collect();
        if busy.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "queues never drained: {busy:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Books a stay on an instant-book place and waits until it is CONFIRMED.
async fn confirmed_stay(rt: &Local, user: &str, place: &str, night: i64) -> String {
    let (s, r) = rt
        .reserve(user, place, &day(night), &day(night + 2), 1)
        .await;
    assert_eq!(s, 202, "{r}");
    let id = r["reservationId"].as_str().expect("id").to_owned();
    rt.wait_status(user, &id, "CONFIRMED", None).await;
    id
}

/// Customers cancel paid stays while the payment context is down for `down_seconds` of queue
/// time; once it is back, each payment is refunded exactly once and the nights are released.
async fn cancels_survive_a_payment_outage(tag: &str, scale: u32, down_seconds: u64) {
    let rt = Local::start(tag, &["--time-scale", &scale.to_string()]).await;
    let place = rt.place("olivia", 3, 10_000, true).await;
    let stays = [
        ("alice", confirmed_stay(&rt, "alice", &place, 10).await),
        ("bob", confirmed_stay(&rt, "bob", &place, 20).await),
    ];
    rt.set_faults(json!({"down": ["payment"]})).await;
    for (user, id) in &stays {
        let (s, c) = rt
            .call(
                "POST",
                &format!("/v1/reservations/{id}/cancel"),
                Some(user),
                None,
            )
            .await;
        assert_eq!((s, c["status"].as_str()), (200, Some("CANCELLED")), "{c}");
    }
    pass(down_seconds, scale).await;
    for (_, id) in &stays {
        let names = rt.event_names(id).await;
        assert!(
            !names
                .iter()
                .any(|n| n == "PaymentRefunded" || n == "PaymentVoided"),
            "refunded while the payment context was down: {names:?}"
        );
    }
    let refund_queue = queues(&rt)
        .await
        .into_iter()
        .find(|q| q["consumer"] == "PaymentRefundOnCancelFunction")
        .expect("the refund consumer's queue");
    let waiting = refund_queue["hidden"].as_u64().unwrap_or(0)
        + refund_queue["visible"].as_u64().unwrap_or(0);
    assert_eq!(
        waiting, 2,
        "both cancels wait for the payment context: {refund_queue}"
    );
    rt.set_faults(json!({"down": []})).await;
    for (user, id) in &stays {
        // Voided if the cancel settled before the confirmed stay's capture, refunded after it:
        // nothing kept either way, released once.
        rt.wait_for("released", || async {
            let (s, p) = rt.payment(user, id).await;
            s == 200 && (p["status"] == "REFUNDED" || p["status"] == "VOIDED") && p["kept"] == 0
        })
        .await;
        let refunds = rt
            .event_names(id)
            .await
            .into_iter()
            .filter(|n| n == "PaymentRefunded" || n == "PaymentVoided")
            .count();
        assert_eq!(refunds, 1, "{id} released {refunds} times");
    }
    for night in [10, 11, 20, 21] {
        assert_eq!(
            rt.held("olivia", &place, &day(night)).await,
            0,
            "night {night}"
        );
    }
    assert_drained(&rt).await;
}

/// Three days: the refund happens once the payment context is back.
#[tokio::test]
async fn a_payment_context_down_for_three_days_refunds_every_cancel_once_back() {
    cancels_survive_a_payment_outage("outage-3d", FAST, 3 * 86_400).await;
}

/// The 16-minute outage that used to leave both payments taken: the old local bus gave up after
/// 185 tries within about 15 minutes and dead-lettered both refunds for good.
#[tokio::test]
async fn a_sixteen_minute_payment_outage_refunds_both_cancels() {
    cancels_survive_a_payment_outage("outage-16m", 200, 16 * 60).await;
}

/// A projection down for three days: MyPage shows the final state once it is back.
#[tokio::test]
async fn mypage_down_for_three_days_shows_the_final_state_once_back() {
    let rt = Local::start("outage-mypage", &["--time-scale", &FAST.to_string()]).await;
    let place = rt.place("olivia", 2, 10_000, true).await;
    rt.set_faults(json!({"down": ["mypage"]})).await;
    let id = confirmed_stay(&rt, "alice", &place, 10).await;
    pass(3 * 86_400, FAST).await;
    let (s, _) = rt
        .call("GET", &format!("/v1/mypages/{id}"), Some("alice"), None)
        .await;
    assert_eq!(s, 503, "the MyPage context is still down");
    rt.set_faults(json!({"down": []})).await;
    rt.wait_for("mypage confirmed", || async {
        let (s, m) = rt
            .call("GET", &format!("/v1/mypages/{id}"), Some("alice"), None)
            .await;
        s == 200 && m["reservationStatus"] == "CONFIRMED" && m["paymentStatus"] == "CAPTURED"
    })
    .await;
    assert_drained(&rt).await;
}
