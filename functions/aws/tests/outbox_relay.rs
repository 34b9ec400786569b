//! The outbox on AWS, end to end on the emulator: a transaction commits a change and its event in
//! one `TransactWriteItems`; the table's stream carries the outbox item; the relay (the
//! `outbox-relay` Lambda's handler) publishes it on a bus wired with the template's rules.
//! A cancelled transaction leaves nothing to publish. Nothing is published by the writer itself.
mod support;

use aws_lambda_events::event::dynamodb::Event;
use reserveplace_aws::{DynamoDbTable, EventBridgeBus};
use reserveplace_domain::events::{self, DomainEvent, EventName};
use reserveplace_domain::store::{Cond, Table, Write};
use serde_json::{Value, json};

fn placed(reservation: &str) -> DomainEvent {
    events::example(EventName::ReservationPlaced, reservation)
}

fn reservation_item(id: &str) -> serde_json::Map<String, Value> {
    json!({"pk": format!("RESERVATION#{id}"), "sk": "META", "status": "PENDING"})
        .as_object()
        .cloned()
        .expect("object")
}

/// Reads the table's stream from the start, as Lambda's event source mapping would, and shapes
/// the records into the event the relay function receives.
async fn stream_batch(table: &str) -> Event {
    let records = support::stream_records_at(&support::endpoint(), table).await;
    serde_json::from_value(json!({"Records": records})).expect("a DynamoDB stream event")
}

async fn setup() -> (DynamoDbTable, String, support::TemplateBus, EventBridgeBus) {
    let sdk = support::sdk().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let name = format!("{}-ReservationTable", uuid::Uuid::new_v4().simple());
    let def = &support::wiring().tables["ReservationTable"];
    assert!(def.stream, "the template streams the reservation table");
    support::create_table(&client, def, &name).await;
    let bus = support::TemplateBus::create().await;
    let publisher = EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&sdk), &bus.name);
    (DynamoDbTable::new(client, &name), name, bus, publisher)
}

#[tokio::test]
async fn committed_events_reach_their_consumers_and_cancelled_ones_never_exist() {
    let (table, name, bus, publisher) = setup().await;
    let committed = placed("r-committed");
    table
        .transact(
            vec![Write::Put {
                item: reservation_item("r-committed"),
                cond: Some(Cond::NotExists),
            }],
            vec![committed.clone()],
        )
        .await
        .expect("commit");
    let cancelled = placed("r-committed");
    let err = table
        .transact(
            vec![Write::Put {
                item: reservation_item("r-committed"),
                cond: Some(Cond::NotExists),
            }],
            vec![cancelled.clone()],
        )
        .await
        .expect_err("the reservation exists");
    assert!(err.is_condition_failed());
    assert!(
        bus.drain().await.values().all(Vec::is_empty),
        "the writer publishes nothing itself"
    );

    let batch = stream_batch(&name).await;
    assert_eq!(
        batch.records.len(),
        2,
        "the reservation item and one outbox item"
    );
    let response = reserveplace_aws::relay::relay(&publisher, batch)
        .await
        .expect("published");
    assert!(response.batch_item_failures.is_empty());

    let delivered = bus.drain().await;
    for target in [
        "MyPageProjectorFunction",
        "OwnerViewProjectorFunction",
        "ReservationSagaStarterFunction",
    ] {
        let ids: Vec<&str> = delivered[target]
            .iter()
            .map(|e| e["detail"]["eventId"].as_str().expect("eventId"))
            .collect();
        assert_eq!(
            ids,
            [committed.event_id()],
            "{target} gets the committed event once"
        );
        let committed_detail = serde_json::to_value(&committed).expect("json")["detail"].clone();
        assert_eq!(delivered[target][0]["detail"], committed_detail, "whole");
        assert_eq!(
            delivered[target][0]["detail-type"],
            json!("ReservationPlaced")
        );
    }
    let total: usize = delivered.values().map(Vec::len).sum();
    assert_eq!(total, 3, "nobody else, and the cancelled event nowhere");
}

/// Two committed outbox events, the stream batch that carries them and their sequence numbers.
async fn two_outbox_records() -> (Event, Vec<String>) {
    let (table, name, _bus, _publisher) = setup().await;
    let events = [placed("r-1"), placed("r-2")];
    table
        .transact(
            vec![Write::Put {
                item: reservation_item("r-1"),
                cond: None,
            }],
            events.to_vec(),
        )
        .await
        .expect("commit");
    let batch = stream_batch(&name).await;
    let outbox_sequence: Vec<String> = reserveplace_aws::relay::outbox_events(&batch)
        .into_iter()
        .map(|(seq, _)| seq)
        .collect();
    assert_eq!(outbox_sequence.len(), 2);
    (batch, outbox_sequence)
}

#[tokio::test]
async fn records_an_unreachable_bus_did_not_take_are_reported_for_redelivery() {
    let (batch, outbox_sequence) = two_outbox_records().await;
    // Nothing listens there: a network failure, worth redelivering. SDK retries off to keep the
    // test short; the relay's own retries still run.
    let sdk = support::sdk().await;
    let config = aws_sdk_eventbridge::config::Builder::from(&sdk)
        .endpoint_url("http://127.0.0.1:9")
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    let down = EventBridgeBus::new(aws_sdk_eventbridge::Client::from_conf(config), "bus");
    let response = reserveplace_aws::relay::relay(&down, batch)
        .await
        .expect("a transient failure is reported per record, not as a failed invocation");
    let failed: Vec<String> = response
        .batch_item_failures
        .iter()
        .filter_map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(
        failed, outbox_sequence,
        "both outbox records go back to the stream"
    );
}

#[tokio::test]
async fn a_missing_bus_fails_the_invocation_instead_of_looping_on_redelivery() {
    let (batch, _) = two_outbox_records().await;
    let sdk = support::sdk().await;
    let missing = EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&sdk), "no-such-bus");
    let started = std::time::Instant::now();
    let err = reserveplace_aws::relay::relay(&missing, batch)
        .await
        .expect_err("a bus that does not exist is a misconfiguration");
    assert!(
        err.to_string().contains("ResourceNotFoundException"),
        "{err}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_millis(300),
        "refused for good: not retried with backoff ({:?})",
        started.elapsed()
    );
}
