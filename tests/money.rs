//! Money as a card provider moves it, over HTTP: a booking is authorized, captured once the stay is
//! confirmed, voided by every compensation before capture, and a customer's cancel keeps exactly
//! what the cancellation quote said, the rest refunded through the provider. The payment's ledger
//! and the simulated provider's recorded calls (`GET /_local/payments/{id}`) must agree.

use serde_json::{Value, json};

use crate::support::{Local, day};

/// The movements of a payment's ledger, in order, with their amounts.
fn ledger(p: &Value) -> Vec<(String, i64)> {
    p["ledger"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|e| {
                    (
                        e["movement"].as_str().unwrap_or_default().to_string(),
                        e["amount"].as_i64().unwrap_or(-1),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What the provider did for a reservation: (operation, amount) of each call that moved money.
async fn provider_moves(rt: &Local, id: &str) -> Vec<(String, i64)> {
    let (s, b) = rt
        .call("GET", &format!("/_local/payments/{id}"), None, None)
        .await;
    assert_eq!(s, 200, "{b}");
    b["calls"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter(|c| c["moved"] == true)
                .map(|c| {
                    (
                        c["operation"].as_str().unwrap_or_default().to_string(),
                        c["amount"].as_i64().unwrap_or(-1),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn moves(list: &[(&str, i64)]) -> Vec<(String, i64)> {
    list.iter().map(|(m, a)| (m.to_string(), *a)).collect()
}

async fn book(rt: &Local, user: &str, place: &str, plan: &str, night: i64) -> String {
    let (s, r) = rt
        .call(
            "POST",
            "/v1/reservations",
            Some(user),
            Some(
                json!({"placeId": place, "checkIn": day(night), "checkOut": day(night + 1),
                        "rooms": 1, "ratePlanId": plan}),
            ),
        )
        .await;
    assert_eq!(s, 202, "{r}");
    r["reservationId"].as_str().expect("id").to_string()
}

async fn cancel(rt: &Local, user: &str, id: &str) -> Value {
    let (s, r) = rt
        .call(
            "POST",
            &format!("/v1/reservations/{id}/cancel"),
            Some(user),
            None,
        )
        .await;
    assert_eq!(s, 200, "{r}");
    r
}

async fn quote(rt: &Local, user: &str, id: &str) -> Value {
    let (s, q) = rt
        .call(
            "GET",
            &format!("/v1/reservations/{id}/cancellation"),
            Some(user),
            None,
        )
        .await;
    assert_eq!(s, 200, "{q}");
    q
}

/// A confirmed stay's cancel keeps what its policy keeps, to the minor unit: the quote, the
/// cancel's answer, the ledger and the provider say the same amounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_refunds_exactly_what_its_quote_said() {
    let rt = Local::start("money-cancel", &[]).await;
    // 10,001 a night: half of it is 5,000.5, kept rounded down in the guest's favour.
    let place = rt
        .place_with(
            "owner-m",
            json!({"name": "Harbour Inn", "roomCount": 3, "nightlyPrice": 10_001,
                   "ratePlans": [
                       {"ratePlanId": "flex", "name": "Flexible"},
                       {"ratePlanId": "half", "name": "Half back",
                        "cancellationPolicy": {"tiers": [{"penaltyPercent": 50}]}},
                       {"ratePlanId": "nr", "name": "Non-refundable",
                        "cancellationPolicy": "NON_REFUNDABLE"}]}),
        )
        .await;
    for (plan, night, kept) in [("flex", 20, 0), ("half", 21, 5_000), ("nr", 22, 10_001)] {
        let id = book(&rt, "mina", &place, plan, night).await;
        rt.wait_status("mina", &id, "CONFIRMED", None).await;
        rt.wait_payment("mina", &id, "CAPTURED").await;
        let q = quote(&rt, "mina", &id).await;
        assert_eq!(
            (q["penaltyAmount"].as_i64(), q["refundAmount"].as_i64()),
            (Some(kept), Some(10_001 - kept)),
            "{plan}: {q}"
        );
        assert_eq!(q["currency"], "KRW");
        assert!(q["why"].as_str().is_some_and(|w| !w.is_empty()), "{q}");
        let r = cancel(&rt, "mina", &id).await;
        let c = &r["cancellation"];
        assert_eq!(
            (&c["penaltyAmount"], &c["refundAmount"]),
            (&q["penaltyAmount"], &q["refundAmount"]),
            "{plan}: the cancel keeps what the quote said: {r}"
        );
        let refunded = 10_001 - kept;
        rt.wait_for("the refund", || async {
            let p = rt.payment("mina", &id).await.1;
            p["refunded"] == refunded && p["kept"] == kept
        })
        .await;
        let p = rt.payment("mina", &id).await.1;
        let status = match kept {
            0 => "REFUNDED",
            10_001 => "CAPTURED",
            _ => "PARTIALLY_REFUNDED",
        };
        assert_eq!(p["status"], status, "{plan}: {p}");
        let mut want = vec![("AUTHORIZE", 10_001), ("CAPTURE", 10_001)];
        if refunded > 0 {
            want.push(("REFUND", refunded));
        }
        assert_eq!(ledger(&p), moves(&want), "{plan}: {p}");
        // The provider moved the same money (the authorization is no movement of it).
        let mut at_provider = provider_moves(&rt, &id).await;
        at_provider.retain(|(op, _)| op != "authorize");
        let mut sent = vec![("capture", 10_001)];
        if refunded > 0 {
            sent.push(("refund", refunded));
        }
        assert_eq!(at_provider, moves(&sent), "{plan}");
        // The quote of a cancelled reservation is what its cancel did; MyPage shows the amounts.
        assert_eq!(quote(&rt, "mina", &id).await["penaltyAmount"], kept);
        rt.wait_for("mypage amounts", || async {
            let (_, m) = rt
                .call("GET", &format!("/v1/mypages/{id}"), Some("mina"), None)
                .await;
            m["paymentRefunded"] == refunded && m["cancellation"]["penaltyAmount"] == kept
        })
        .await;
    }
    // Loyalty follows the money kept: 1% of each price once confirmed, down to 1% of what each
    // cancellation kept (0, 50 and 100 points of 10,001).
    rt.wait_for("loyalty of what was kept", || async {
        let (_, l) = rt.call("GET", "/v1/loyalty", Some("mina"), None).await;
        l["points"] == 150 && l["entries"].as_array().is_some_and(|e| e.len() == 6)
    })
    .await;
    let (_, l) = rt.call("GET", "/v1/loyalty", Some("mina"), None).await;
    let cancelled: Vec<(i64, i64)> = l["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["status"] == "CANCELLED")
        .map(|e| {
            (
                e["kept"].as_i64().unwrap_or(-1),
                e["points"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    let mut cancelled = cancelled;
    cancelled.sort();
    assert_eq!(cancelled, vec![(0, -100), (5_000, -50), (10_001, 0)], "{l}");
    // Nobody else gets a quote.
    let id = book(&rt, "mina", &place, "flex", 25).await;
    let (s, _) = rt
        .call(
            "GET",
            &format!("/v1/reservations/{id}/cancellation"),
            Some("mallory"),
            None,
        )
        .await;
    assert_eq!(s, 404);
}

/// Before the stay is confirmed nothing is taken: the owner's rejection and the customer's cancel
/// of a stay still awaiting the owner each void the authorization, even on a non-refundable rate,
/// and the provider never captures or refunds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compensation_before_capture_moves_no_money() {
    let rt = Local::start("money-void", &[]).await;
    let place = rt
        .place_with(
            "owner-v",
            json!({"name": "Hill Lodge", "roomCount": 2, "nightlyPrice": 30_000,
                   "instantBook": false,
                   "ratePlans": [{"ratePlanId": "nr", "name": "Non-refundable",
                                  "cancellationPolicy": "NON_REFUNDABLE"}]}),
        )
        .await;
    let rejected = book(&rt, "jun", &place, "nr", 30).await;
    let cancelled = book(&rt, "jun", &place, "nr", 31).await;
    for id in [&rejected, &cancelled] {
        rt.wait_status("jun", id, "AWAITING_OWNER", None).await;
        assert_eq!(rt.payment("jun", id).await.1["status"], "AUTHORIZED");
    }
    let (s, _) = rt
        .call(
            "POST",
            &format!("/v1/owner/reservations/{rejected}/reject"),
            Some("owner-v"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let q = quote(&rt, "jun", &cancelled).await;
    assert_eq!(
        (q["penaltyAmount"].as_i64(), q["refundAmount"].as_i64()),
        (Some(0), Some(30_000)),
        "{q}"
    );
    cancel(&rt, "jun", &cancelled).await;
    for id in [&rejected, &cancelled] {
        let p = rt.wait_payment("jun", id, "VOIDED").await;
        assert_eq!(
            ledger(&p),
            moves(&[("AUTHORIZE", 30_000), ("VOID", 30_000)]),
            "{p}"
        );
        assert_eq!(
            (p["captured"].as_i64(), p["kept"].as_i64()),
            (Some(0), Some(0))
        );
        assert_eq!(
            provider_moves(&rt, id).await,
            moves(&[("authorize", 30_000), ("void", 30_000)]),
            "the provider was asked to hold and release, nothing else"
        );
    }
}

/// The owner cancels a confirmed non-refundable stay: everything goes back. A no-show cannot be
/// marked before the check-in day has passed, nor by anybody but the owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_cancel_refunds_everything_and_a_no_show_waits_for_the_check_in_day() {
    let rt = Local::start("money-owner", &[]).await;
    let place = rt
        .place_with(
            "owner-o",
            json!({"name": "River House", "roomCount": 1, "nightlyPrice": 20_000,
                   "ratePlans": [{"ratePlanId": "nr", "name": "Non-refundable",
                                  "cancellationPolicy": "NON_REFUNDABLE"}]}),
        )
        .await;
    let id = book(&rt, "lee", &place, "nr", 40).await;
    rt.wait_status("lee", &id, "CONFIRMED", None).await;
    rt.wait_payment("lee", &id, "CAPTURED").await;
    let owner_ends = |who: &'static str, what: &'static str| {
        let rt = &rt;
        let id = id.clone();
        async move {
            rt.call(
                "POST",
                &format!("/v1/owner/reservations/{id}/{what}"),
                Some(who),
                None,
            )
            .await
        }
    };
    let (s, p) = owner_ends("owner-o", "no-show").await;
    assert_eq!(s, 409, "{p}");
    assert!(
        p["detail"]
            .as_str()
            .is_some_and(|d| d.contains("end of the check-in day")),
        "{p}"
    );
    assert_eq!(owner_ends("lee", "cancel").await.0, 404, "only its owner");
    let (s, r) = owner_ends("owner-o", "cancel").await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (&r["statusReason"], &r["cancellation"]["refundAmount"]),
        (&json!("OWNER_CANCELLED"), &json!(20_000))
    );
    assert_eq!(
        owner_ends("owner-o", "cancel").await.0,
        200,
        "repeating changes nothing"
    );
    assert_eq!(
        owner_ends("owner-o", "no-show").await.0,
        409,
        "no longer confirmed"
    );
    let p = rt.wait_payment("lee", &id, "REFUNDED").await;
    assert_eq!(
        ledger(&p),
        moves(&[
            ("AUTHORIZE", 20_000),
            ("CAPTURE", 20_000),
            ("REFUND", 20_000)
        ])
    );
    rt.wait_for("the night released", || async {
        rt.held("owner-o", &place, &day(40)).await == 0
    })
    .await;
}

/// The booking names its card (`paymentMethod`): a malformed one is the client's mistake at its
/// field; the simulation's declining test card declines the booking without holding anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_pays_with_the_card_it_names() {
    let rt = Local::start("money-card", &[]).await;
    let place = rt.place("owner-c", 2, 15_000, true).await;
    let body = |card: &str| json!({"placeId": place, "checkIn": day(50), "checkOut": day(51), "paymentMethod": card});
    let (s, p) = rt
        .call(
            "POST",
            "/v1/reservations",
            Some("kim"),
            Some(body("4242 4242 4242 4242")),
        )
        .await;
    assert_eq!(s, 422, "{p}");
    assert!(p.to_string().contains("paymentMethod"), "{p}");
    let (s, r) = rt
        .call(
            "POST",
            "/v1/reservations",
            Some("kim"),
            Some(body("pm_sim_decline")),
        )
        .await;
    assert_eq!(s, 202, "{r}");
    let id = r["reservationId"].as_str().expect("id");
    rt.wait_status("kim", id, "CANCELLED", Some("PAYMENT_DECLINED"))
        .await;
    let p = rt.payment("kim", id).await.1;
    assert_eq!(
        (p["status"].as_str(), p["authorized"].as_i64()),
        (Some("DECLINED"), Some(0)),
        "{p}"
    );
    assert_eq!(rt.held("owner-c", &place, &day(50)).await, 0);
    let (s, r) = rt
        .call(
            "POST",
            "/v1/reservations",
            Some("kim"),
            Some(body("pm_card_visa")),
        )
        .await;
    assert_eq!(s, 202, "{r}");
    let id = r["reservationId"].as_str().expect("id");
    rt.wait_status("kim", id, "CONFIRMED", None).await;
    assert_eq!(
        rt.reservation("kim", id).await["paymentMethod"],
        "pm_card_visa"
    );
    let (s, p) = rt
        .call_with(
            "POST",
            "/v1/payments/webhooks/stripe",
            None,
            Some(json!({})),
            &[("stripe-signature", "t=1,v1=00")],
        )
        .await;
    assert_eq!(s, 404, "the simulation sends no webhooks: {p}");
    // The provider holds the money and the answer is lost: the step asks again with the same key
    // and learns the hold instead of cancelling a booking whose money is held.
    let (s, r) = rt
        .call(
            "POST",
            "/v1/reservations",
            Some("kim"),
            Some(
                json!({"placeId": place, "checkIn": day(52), "checkOut": day(53),
                        "paymentMethod": "pm_sim_timeout"}),
            ),
        )
        .await;
    assert_eq!(s, 202, "{r}");
    let id = r["reservationId"].as_str().expect("id");
    rt.wait_status("kim", id, "CONFIRMED", None).await;
    let p = rt.wait_payment("kim", id, "CAPTURED").await;
    assert_eq!(
        ledger(&p),
        moves(&[("AUTHORIZE", 15_000), ("CAPTURE", 15_000)])
    );
    let (_, calls) = rt
        .call("GET", &format!("/_local/payments/{id}"), None, None)
        .await;
    let authorizations: Vec<(&str, bool)> = calls["calls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["operation"] == "authorize")
        .map(|c| {
            (
                c["idempotencyKey"].as_str().unwrap_or(""),
                c["moved"] == true,
            )
        })
        .collect();
    let key = format!("{id}:authorize:1");
    assert_eq!(
        authorizations,
        vec![(key.as_str(), true), (key.as_str(), false)],
        "asked twice with one key, held once"
    );
}

/// The whole system on a real provider's API: the local runtime with `--payment-provider stripe`
/// against localstripe. A booking authorizes a PaymentIntent with manual capture and captures it
/// once confirmed; a late cancel under a policy keeping half refunds the other half at Stripe;
/// a booking without a card is declined; a card Stripe declines cancels the booking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_stripe_the_money_moves_at_stripe_as_the_ledger_says() {
    let base = crate::localstripe::url();
    let rt = Local::start(
        "money-stripe",
        &[
            "--payment-provider",
            "stripe",
            "--stripe-api-base",
            &base,
            &format!("env:STRIPE_SECRET_KEY={}", crate::localstripe::SECRET_KEY),
            &format!("env:STRIPE_WEBHOOK_SECRET={WEBHOOK_SECRET}"),
        ],
    )
    .await;
    let place = rt
        .place_with(
            "owner-s",
            json!({"name": "Pier Rooms", "roomCount": 3, "nightlyPrice": 10_001,
                   "ratePlans": [{"ratePlanId": "half", "name": "Half back",
                                  "cancellationPolicy": {"tiers": [{"penaltyPercent": 50}]}}]}),
        )
        .await;
    let reserve = |night: i64, card: Option<&str>| {
        let mut body = json!({"placeId": place, "checkIn": day(night), "checkOut": day(night + 1)});
        if let Some(card) = card {
            body["paymentMethod"] = json!(card);
        }
        body
    };
    let book = |night: i64, card: Option<&'static str>| {
        let body = reserve(night, card);
        let rt = &rt;
        async move {
            let (s, r) = rt
                .call("POST", "/v1/reservations", Some("sam"), Some(body))
                .await;
            assert_eq!(s, 202, "{r}");
            r["reservationId"].as_str().expect("id").to_string()
        }
    };
    let paid = book(60, Some("pm_card_visa")).await;
    rt.wait_status("sam", &paid, "CONFIRMED", None).await;
    let p = rt.wait_payment("sam", &paid, "CAPTURED").await;
    let intent = p["providerRef"]
        .as_str()
        .expect("the PaymentIntent")
        .to_string();
    assert!(intent.starts_with("pi_"), "{p}");
    let at_stripe = crate::localstripe::moved(&base, &intent).await;
    assert_eq!((at_stripe.captured, at_stripe.refunded), (10_001, 0));
    let r = cancel(&rt, "sam", &paid).await;
    assert_eq!(r["cancellation"]["penaltyAmount"], 5_000, "{r}");
    rt.wait_payment("sam", &paid, "PARTIALLY_REFUNDED").await;
    let at_stripe = crate::localstripe::moved(&base, &intent).await;
    assert_eq!(
        (at_stripe.captured, at_stripe.refunded),
        (10_001, 5_001),
        "Stripe refunded what the ledger says"
    );
    for (night, card) in [(61, None), (62, Some("pm_card_chargeCustomerFail"))] {
        let id = book(night, card).await;
        rt.wait_status("sam", &id, "CANCELLED", Some("PAYMENT_DECLINED"))
            .await;
        assert_eq!(rt.payment("sam", &id).await.1["status"], "DECLINED");
    }
    stripes_webhooks_are_verified_and_applied_once(&rt, &base, &paid, &intent).await;
}

const WEBHOOK_SECRET: &str = "whsec_e2e";

/// Delivers `event` to the webhook route as Stripe does: signed `t.body` with the endpoint's
/// secret, `age` seconds ago.
async fn deliver(rt: &Local, event: &Value, secret: &str, age: i64) -> (u16, Value) {
    let t = time::OffsetDateTime::now_utc().unix_timestamp() - age;
    let body = serde_json::to_string(event).expect("json");
    let signature = reserveplace_functions::adapters::sign_stripe_webhook(&body, secret, t);
    rt.call_with(
        "POST",
        "/v1/payments/webhooks/stripe",
        None,
        Some(event.clone()),
        &[("stripe-signature", &signature)],
    )
    .await
}

/// The webhook route on the same run: a forged, altered or stale delivery is refused as a 400; a
/// refund Stripe reports failed is reversed in the ledger and sent anew at Stripe, once however
/// often it is delivered; a dispute flags the owner's row.
async fn stripes_webhooks_are_verified_and_applied_once(
    rt: &Local,
    base: &str,
    id: &str,
    intent: &str,
) {
    let refund = crate::localstripe::refunds(base, intent)
        .await
        .into_iter()
        .find(|r| r["metadata"]["idempotency_key"].is_string())
        .expect("the adapter's refund");
    let mut failed = refund.clone();
    failed["status"] = json!("failed");
    failed["failure_reason"] = json!("expired_or_canceled_card");
    let event = json!({"id": "evt_refund_failed_1", "object": "event", "type": "refund.failed",
                       "data": {"object": failed}});
    let (s, p) = rt
        .call(
            "POST",
            "/v1/payments/webhooks/stripe",
            None,
            Some(event.clone()),
        )
        .await;
    assert_eq!(
        (s, &p["type"]),
        (400, &json!("/problems/unverified-signature")),
        "{p}"
    );
    for (secret, age) in [("whsec_forged", 0), (WEBHOOK_SECRET, 301)] {
        let (s, p) = deliver(rt, &event, secret, age).await;
        assert_eq!(s, 400, "{secret} {age}s: {p}");
    }
    let before = ledger(&rt.payment("sam", id).await.1);
    for (n, want) in [(1, json!("REFUND_FAILED")), (2, json!("REPEATED"))] {
        let (s, r) = deliver(rt, &event, WEBHOOK_SECRET, 0).await;
        assert_eq!((s, &r["outcome"]), (200, &want), "delivery {n}: {r}");
    }
    let p = rt.payment("sam", id).await.1;
    let after = ledger(&p);
    assert_eq!(
        after[before.len()..],
        moves(&[("REFUND_FAILED", 5_001), ("REFUND", 5_001)])[..],
        "{p}"
    );
    assert_eq!(
        (p["status"].as_str(), p["kept"].as_i64()),
        (Some("PARTIALLY_REFUNDED"), Some(5_000))
    );
    let ours = crate::localstripe::refunds(base, intent)
        .await
        .into_iter()
        .filter(|r| r["metadata"]["idempotency_key"].is_string())
        .count();
    assert_eq!(ours, 2, "the refund was sent anew once, under a new key");

    let dispute = json!({"id": "evt_dispute_1", "object": "event", "type": "charge.dispute.created",
        "data": {"object": {"id": "dp_1", "object": "dispute", "amount": 5_000, "currency": "krw",
                            "reason": "fraudulent", "payment_intent": intent, "status": "needs_response"}}});
    let (s, r) = deliver(rt, &dispute, WEBHOOK_SECRET, 0).await;
    assert_eq!((s, &r["outcome"]), (200, &json!("APPLIED")), "{r}");
    rt.wait_for("the owner's row flags the dispute", || async {
        let (_, rows) = rt
            .call("GET", "/v1/owner/reservations", Some("owner-s"), None)
            .await;
        rows["items"].as_array().into_iter().flatten().any(|row| {
            row["reservationId"] == id
                && row["dispute"]["reason"] == "fraudulent"
                && row["dispute"]["amount"] == 5_000
        })
    })
    .await;
    let unrelated = json!({"id": "evt_other", "type": "customer.created", "data": {"object": {}}});
    let (s, r) = deliver(rt, &unrelated, WEBHOOK_SECRET, 0).await;
    assert_eq!((s, &r["outcome"]), (200, &json!("IGNORED")), "{r}");
}
