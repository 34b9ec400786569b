//! The outbox relay: a DynamoDB Streams consumer (one per context table) that publishes the events
//! of new outbox items. What could not be published is reported as a batch item failure, so the
//! stream delivers it again; nothing committed is lost, and a repeat is harmless (consumers
//! deduplicate by `eventId`). A refusal for good fails the whole invocation ([`RelayError`]).
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use reserveplace_domain::events::DomainEvent;
use serde_dynamo::AttributeValue;

use crate::dynamodb::outbox;
use crate::eventbridge::EventBridgeBus;

fn string_attr<'a>(record: &'a EventRecord, name: &str) -> Option<&'a str> {
    match record.change.new_image.get(name)? {
        AttributeValue::S(s) => Some(s.as_str()),
        _ => None,
    }
}

/// The outbox events of a stream batch, with the sequence number of the record each came from.
/// Removals (TTL expiry) and other items are skipped; a malformed outbox item is logged and
/// skipped, because redelivering it cannot make it readable.
pub fn outbox_events(batch: &Event) -> Vec<(String, DomainEvent)> {
    let mut out = Vec::new();
    for record in &batch.records {
        if !matches!(record.event_name.as_str(), "INSERT" | "MODIFY") {
            continue;
        }
        match outbox::event_of(
            string_attr(record, "pk"),
            string_attr(record, outbox::EVENT_ATTR),
        ) {
            Some(Ok(event)) => out.push((
                record.change.sequence_number.clone().unwrap_or_default(),
                event,
            )),
            Some(Err(e)) => tracing::error!(error = %e, "skipping unreadable outbox item"),
            None => {}
        }
    }
    out
}

/// The bus refused the batch for good (missing bus, missing permission): redelivering it record
/// by record would only repeat the refusal. The invocation fails instead, so the function's
/// error metric shows it, and the event source mapping's own retry limit and on-failure
/// destination end it.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[error("outbox relay misconfigured: {0}")]
pub struct RelayError(pub String);

/// Publishes a stream batch's outbox events; the failures name the records to deliver again.
pub async fn relay(
    bus: &EventBridgeBus,
    batch: Event,
) -> Result<DynamoDbEventResponse, RelayError> {
    let events = outbox_events(&batch);
    let mut response = DynamoDbEventResponse::default();
    if events.is_empty() {
        return Ok(response);
    }
    let (sequence, events): (Vec<String>, Vec<DomainEvent>) = events.into_iter().unzip();
    match bus.publish(&events).await {
        Ok(()) => tracing::info!(published = events.len(), "outbox events published"),
        Err(e) if e.permanent => {
            tracing::error!(error = %e, "outbox events refused for good: the bus or its permission is misconfigured");
            return Err(RelayError(e.to_string()));
        }
        Err(e) => {
            tracing::error!(error = %e, "outbox events not published; the stream will redeliver them");
            response.batch_item_failures = e
                .failed
                .iter()
                .map(|&i| {
                    let mut f = DynamoDbBatchItemFailure::default();
                    f.item_identifier = Some(sequence[i].clone());
                    f
                })
                .collect();
        }
    }
    Ok(response)
}
