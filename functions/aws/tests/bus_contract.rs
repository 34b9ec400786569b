//! Event routing, one suite for both buses: the local runtime's matcher (quamina) and EventBridge
//! (the emulator), both loaded with `template.yaml`'s rules, must deliver every domain event to
//! exactly the consumers `docs/design.md` names. Publishing goes through the EventBridge adapter, so its
//! batching (at most 10 entries per `PutEvents`) is exercised too.
mod support;

use std::collections::{BTreeMap, BTreeSet};

use reserveplace_aws::EventBridgeBus;
use reserveplace_domain::events::{self, DomainEvent, EventName};
use reserveplace_wiring::RuleMatcher;
use serde_json::{Value, json};

/// (case, source, detail-type, extra detail, the targets that must receive it).
fn cases() -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    Value,
    Vec<&'static str>,
)> {
    const MYPAGE: &str = "MyPageProjectorFunction";
    const OWNER_VIEW: &str = "OwnerViewProjectorFunction";
    const SEARCH: &str = "SearchProjectionFunction";
    vec![
        (
            "registered",
            "reserveplace.place",
            "PlaceRegistered",
            json!({}),
            vec!["ReservationCatalogueFunction", SEARCH],
        ),
        (
            "updated",
            "reserveplace.place",
            "PlaceUpdated",
            json!({}),
            vec!["ReservationCatalogueFunction", SEARCH],
        ),
        (
            "held",
            "reserveplace.place",
            "RoomsHeld",
            json!({}),
            vec![SEARCH],
        ),
        (
            "released",
            "reserveplace.place",
            "RoomsReleased",
            json!({}),
            vec![SEARCH],
        ),
        (
            "placed",
            "reserveplace.reservation",
            "ReservationPlaced",
            json!({"status": "PENDING"}),
            vec![MYPAGE, OWNER_VIEW, "ReservationSagaStarterFunction"],
        ),
        (
            "paid",
            "reserveplace.reservation",
            "ReservationStatusChanged",
            json!({"status": "PAID"}),
            vec![MYPAGE, OWNER_VIEW, "NotificationSenderFunction"],
        ),
        (
            "confirmed",
            "reserveplace.reservation",
            "ReservationStatusChanged",
            json!({"status": "CONFIRMED"}),
            vec![
                MYPAGE,
                OWNER_VIEW,
                "NotificationSenderFunction",
                "LoyaltyAwarderFunction",
            ],
        ),
        (
            "customer-cancel",
            "reserveplace.reservation",
            "ReservationCanceled",
            json!({"reason": "CUSTOMER_CANCELLED"}),
            vec![
                MYPAGE,
                OWNER_VIEW,
                "PaymentRefundOnCancelFunction",
                "PlaceReleaseOnCancelFunction",
            ],
        ),
        (
            "owner-cancel",
            "reserveplace.reservation",
            "ReservationCanceled",
            json!({"reason": "OWNER_CANCELLED"}),
            vec![
                MYPAGE,
                OWNER_VIEW,
                "PaymentRefundOnCancelFunction",
                "PlaceReleaseOnCancelFunction",
            ],
        ),
        (
            "no-show",
            "reserveplace.reservation",
            "ReservationCanceled",
            json!({"reason": "NO_SHOW"}),
            vec![
                MYPAGE,
                OWNER_VIEW,
                "PaymentRefundOnCancelFunction",
                "PlaceReleaseOnCancelFunction",
            ],
        ),
        (
            "timeout-cancel",
            "reserveplace.reservation",
            "ReservationCanceled",
            json!({"reason": "OWNER_TIMEOUT"}),
            vec![MYPAGE, OWNER_VIEW],
        ),
        (
            "authorized",
            "reserveplace.payment",
            "PaymentAuthorized",
            json!({}),
            vec![MYPAGE],
        ),
        (
            "captured",
            "reserveplace.payment",
            "PaymentCaptured",
            json!({}),
            vec![MYPAGE],
        ),
        (
            "part-refunded",
            "reserveplace.payment",
            "PaymentRefunded",
            json!({}),
            vec![MYPAGE],
        ),
        (
            "approved-before-capture-existed",
            "reserveplace.payment",
            "PaymentApproved",
            json!({}),
            vec![MYPAGE],
        ),
        (
            "declined",
            "reserveplace.payment",
            "PaymentDeclined",
            json!({}),
            vec![MYPAGE],
        ),
        (
            "refunded-before-partial-refunds",
            "reserveplace.payment",
            "PaymentCancelApproved",
            json!({}),
            vec![MYPAGE],
        ),
        (
            "voided",
            "reserveplace.payment",
            "PaymentVoided",
            json!({}),
            vec![MYPAGE],
        ),
        (
            "owner-confirmed",
            "reserveplace.place",
            "ReservationConfirmed",
            json!({"decidedBy": "owner"}),
            vec!["PlaceResumeSagaFunction"],
        ),
        (
            "owner-rejected",
            "reserveplace.place",
            "ReservationCancelConfirmed",
            json!({"decidedBy": "owner"}),
            vec!["PlaceResumeSagaFunction"],
        ),
        (
            "instant-confirmed",
            "reserveplace.place",
            "ReservationConfirmed",
            json!({"decidedBy": "instant"}),
            vec![],
        ),
        (
            "wrong-source",
            "reserveplace.place",
            "ReservationPlaced",
            json!({}),
            vec![],
        ),
    ]
}

fn event(case: &str, source: &str, detail_type: &str, extra: &Value) -> DomainEvent {
    let kind = EventName::parse(detail_type).expect("an event of the catalogue");
    let reservation = "cba472a7-4de9-5314-bddd-80308e8b9337";
    let mut wire = serde_json::to_value(events::example(kind, reservation)).expect("event json");
    let common = json!({
        "eventId": format!("{case}-{}", uuid::Uuid::new_v4()),
        "occurredAt": "2026-11-24T06:25:03.021Z",
        "version": 1,
    });
    if let Some(d) = wire["detail"].as_object_mut() {
        for more in [&common, extra] {
            d.extend(more.as_object().cloned().unwrap_or_default());
        }
    }
    wire["source"] = json!(source);
    wire["time"] = json!("2026-11-24T06:25:03Z");
    serde_json::from_value(wire).expect("a well-formed event")
}

fn expected() -> BTreeMap<String, BTreeSet<String>> {
    cases()
        .into_iter()
        .map(|(case, _, _, _, targets)| {
            (
                case.to_owned(),
                targets.into_iter().map(str::to_owned).collect(),
            )
        })
        .collect()
}

fn case_of(event_id: &str) -> String {
    event_id
        .rsplitn(6, '-')
        .last()
        .unwrap_or_default()
        .to_owned()
}

/// `n` copies of one PlaceRegistered event.
fn registered(n: usize) -> Vec<DomainEvent> {
    (0..n)
        .map(|_| {
            event(
                "registered",
                "reserveplace.place",
                "PlaceRegistered",
                &json!({}),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_local_matcher_routes_every_event_as_the_spec_says() {
    let wiring = support::wiring();
    let matcher = RuleMatcher::new(&wiring.rules).expect("rules");
    let mut got: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (case, source, detail_type, extra, _) in cases() {
        let e = event(case, source, detail_type, &extra);
        let targets = got.entry(case.to_owned()).or_default();
        for i in matcher.matching(&e.to_bus_envelope()) {
            let consumer = wiring.consumer_of(&wiring.rules[i].target);
            targets.insert(consumer.expect("a consumer").to_owned());
        }
    }
    assert_eq!(got, expected());
}

#[tokio::test]
async fn eventbridge_routes_every_event_as_the_spec_says() {
    let bus = support::TemplateBus::create().await;
    let sdk = support::sdk().await;
    let publisher = EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&sdk), &bus.name);
    // 19 events in one call: the adapter splits them into batches of at most 10.
    let events: Vec<DomainEvent> = cases()
        .into_iter()
        .map(|(case, source, detail_type, extra, _)| event(case, source, detail_type, &extra))
        .collect();
    assert!(events.len() > reserveplace_aws::eventbridge::MAX_BATCH);
    publisher.publish(&events).await.expect("publish");

    let mut got: BTreeMap<String, BTreeSet<String>> = expected()
        .keys()
        .map(|k| (k.clone(), BTreeSet::new()))
        .collect();
    for (target, envelopes) in bus.drain().await {
        for envelope in envelopes {
            let id = envelope["detail"]["eventId"].as_str().expect("eventId");
            assert_eq!(
                envelope["source"],
                json!(
                    events
                        .iter()
                        .find(|e| e.event_id() == id)
                        .expect("known")
                        .source
                )
            );
            got.entry(case_of(id)).or_default().insert(target.clone());
        }
    }
    assert_eq!(got, expected());
}

#[tokio::test]
async fn large_publishes_arrive_whole_and_once() {
    let bus = support::TemplateBus::create().await;
    let sdk = support::sdk().await;
    let publisher = EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&sdk), &bus.name);
    let events: Vec<DomainEvent> = (0..37)
        .map(|_| {
            event(
                "registered",
                "reserveplace.place",
                "PlaceRegistered",
                &json!({"n": 1}),
            )
        })
        .collect();
    publisher.publish(&events).await.expect("publish");
    let delivered = bus.drain().await;
    // PlaceRegistered has two consumers: the reservation context's catalogue and search.
    let consumers = ["ReservationCatalogueFunction", "SearchProjectionFunction"];
    for target in consumers {
        let ids: BTreeSet<&str> = delivered[target]
            .iter()
            .map(|e| e["detail"]["eventId"].as_str().expect("eventId"))
            .collect();
        assert_eq!(delivered[target].len(), 37, "{target}: each once");
        assert_eq!(ids, events.iter().map(DomainEvent::event_id).collect());
    }
    assert!(
        delivered
            .iter()
            .filter(|(t, _)| !consumers.contains(&t.as_str()))
            .all(|(_, v)| v.is_empty())
    );
}

#[tokio::test]
async fn an_unreachable_bus_reports_every_event_as_failed() {
    let sdk = support::sdk().await;
    let publisher = EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&sdk), "no-such-bus");
    let events: Vec<DomainEvent> = registered(12);
    let err = publisher
        .publish(&events)
        .await
        .expect_err("nothing can be published");
    assert_eq!(err.failed, (0..12).collect::<Vec<_>>());
}

/// EventBridge accepts part of a batch: only the refused entries are sent again, so the accepted
/// ones arrive once, and what stays refused is reported by position.
#[tokio::test]
async fn refused_entries_are_retried_alone_and_reported() {
    let bus = support::TemplateBus::create().await;
    let sdk = support::sdk().await;
    let publisher = EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&sdk), &bus.name);
    let mut events: Vec<DomainEvent> = registered(13);
    // EventBridge refuses an entry without a source (InvalidArgument), whatever the retries.
    events[11].source = String::new();
    let err = publisher.publish(&events).await.expect_err("one refused");
    assert_eq!(err.failed, [11]);
    assert!(err.reason.contains("InvalidArgument"), "{}", err.reason);
    let delivered = bus.drain().await;
    let mut ids: Vec<&str> = delivered["ReservationCatalogueFunction"]
        .iter()
        .map(|e| e["detail"]["eventId"].as_str().expect("eventId"))
        .collect();
    ids.sort_unstable();
    let mut expected: Vec<&str> = events
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 11)
        .map(|(_, e)| e.event_id())
        .collect();
    expected.sort_unstable();
    assert_eq!(ids, expected, "every accepted event exactly once");
}
